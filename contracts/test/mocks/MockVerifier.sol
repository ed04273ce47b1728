// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IResultVerifier} from "../../src/IResultVerifier.sol";

/// @notice A stand-in for a zk verifier: a "proof" is valid when it is keccak256(jobId, spec, result), so it binds
///         the job id the way a real verifier must (the proof of one job does not verify for another).
contract MockVerifier is IResultVerifier {
    function proofFor(bytes32 jobId, bytes32 spec, bytes memory result) public pure returns (bytes memory) {
        return abi.encode(keccak256(abi.encode(jobId, spec, result)));
    }

    function verify(bytes32 jobId, bytes32 spec, bytes calldata result, bytes calldata proof)
        external
        pure
        returns (bool)
    {
        return keccak256(proof) == keccak256(proofFor(jobId, spec, result));
    }
}
