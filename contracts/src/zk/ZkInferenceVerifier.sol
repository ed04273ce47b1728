// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IResultVerifier} from "../IResultVerifier.sol";
import {DigitsGroth16Verifier} from "./DigitsGroth16Verifier.sol";

/// @notice JobMarket's verifier for zk-inference jobs (`Mode.Proof`): the provider's result is the model's output
///         and its proof is a Groth16 proof (ocean-zk's digits MLP circuit) that the committed model, run on the
///         committed input, gives that output, made for this job.
/// @dev The circuit has three public inputs and the chain already holds all three, so nothing is hashed here:
///        job  = uint256(jobId) mod r   a proof made for one job fails for every other job
///        spec = proofSpecs[jobId]      Poseidon(model commitment, input commitment), fixed by the requester
///        out  = uint256(result)        the 10 logits packed 25 bits each (the result is exactly 32 bytes)
///      `spec` and `out` must already be canonical scalars (below r): reducing them would let two different
///      results verify with one proof. The job id is a keccak hash, so reducing it is safe (finding two ids
///      equal mod r means finding a keccak collision-like relation).
contract ZkInferenceVerifier is IResultVerifier, DigitsGroth16Verifier {
    function verify(bytes32 jobId, bytes32 spec, bytes calldata result, bytes calldata proof)
        external
        view
        returns (bool)
    {
        if (result.length != 32) return false;
        uint256 out = uint256(bytes32(result));
        if (uint256(spec) >= SNARK_SCALAR_FIELD || out >= SNARK_SCALAR_FIELD) return false;
        return _verifyGroth16(proof, [uint256(jobId) % SNARK_SCALAR_FIELD, uint256(spec), out]);
    }
}
