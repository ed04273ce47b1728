// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice A verifier for `Mode.Proof` jobs: one provider, paid when its proof verifies.
/// @dev `jobId` is part of what is verified so that a proof cannot be replayed for another job; `spec` is what
///      the requester fixed at creation (e.g. the model commitment of a zk-inference job).
interface IResultVerifier {
    function verify(bytes32 jobId, bytes32 spec, bytes calldata result, bytes calldata proof)
        external
        view
        returns (bool);
}
