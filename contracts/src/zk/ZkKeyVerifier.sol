// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IResultVerifier} from "../IResultVerifier.sol";

/// @notice JobMarket's verifier for zk-inference jobs whose Groth16 verifying key is given at deployment: the key
///         a multi-party ceremony produced, passed as constructor arguments, so deploying needs no compiler and
///         the bytecode is the same for every key. Same statement as `ZkInferenceVerifier`: the provider's result
///         is the digits model's packed output, proven for this job, this spec (model and input commitments).
/// @dev Public inputs: uint256(jobId) mod r, spec, uint256(result); `spec` and the result must already be below r.
///      The key is 22 words: alpha (x, y), beta, gamma, delta (each G2 as x1, x0, y1, y0: the EVM precompile's
///      order) and IC0..IC3 (x, y). Every coordinate is checked below the base field at deployment; the pairing
///      precompile rejects points off the curve, so a bad key makes every proof fail, never one pass.
contract ZkKeyVerifier is IResultVerifier {
    uint256 internal constant SNARK_SCALAR_FIELD = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;
    uint256 internal constant BASE_FIELD = 0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47;

    uint256 internal immutable ALPHA_X;
    uint256 internal immutable ALPHA_Y;
    uint256 internal immutable BETA_X1;
    uint256 internal immutable BETA_X0;
    uint256 internal immutable BETA_Y1;
    uint256 internal immutable BETA_Y0;
    uint256 internal immutable GAMMA_X1;
    uint256 internal immutable GAMMA_X0;
    uint256 internal immutable GAMMA_Y1;
    uint256 internal immutable GAMMA_Y0;
    uint256 internal immutable DELTA_X1;
    uint256 internal immutable DELTA_X0;
    uint256 internal immutable DELTA_Y1;
    uint256 internal immutable DELTA_Y0;
    uint256 internal immutable IC0_X;
    uint256 internal immutable IC0_Y;
    uint256 internal immutable IC1_X;
    uint256 internal immutable IC1_Y;
    uint256 internal immutable IC2_X;
    uint256 internal immutable IC2_Y;
    uint256 internal immutable IC3_X;
    uint256 internal immutable IC3_Y;

    error CoordinateOutOfField(uint256 index);

    constructor(uint256[22] memory vk) {
        for (uint256 i; i < 22; ++i) {
            if (vk[i] >= BASE_FIELD) revert CoordinateOutOfField(i);
        }
        (ALPHA_X, ALPHA_Y) = (vk[0], vk[1]);
        (BETA_X1, BETA_X0, BETA_Y1, BETA_Y0) = (vk[2], vk[3], vk[4], vk[5]);
        (GAMMA_X1, GAMMA_X0, GAMMA_Y1, GAMMA_Y0) = (vk[6], vk[7], vk[8], vk[9]);
        (DELTA_X1, DELTA_X0, DELTA_Y1, DELTA_Y0) = (vk[10], vk[11], vk[12], vk[13]);
        (IC0_X, IC0_Y, IC1_X, IC1_Y) = (vk[14], vk[15], vk[16], vk[17]);
        (IC2_X, IC2_Y, IC3_X, IC3_Y) = (vk[18], vk[19], vk[20], vk[21]);
    }

    /// @notice The verifying key, in the constructor's order.
    function verifyingKey() external view returns (uint256[22] memory vk) {
        vk = [
            ALPHA_X,
            ALPHA_Y,
            BETA_X1,
            BETA_X0,
            BETA_Y1,
            BETA_Y0,
            GAMMA_X1,
            GAMMA_X0,
            GAMMA_Y1,
            GAMMA_Y0,
            DELTA_X1,
            DELTA_X0,
            DELTA_Y1,
            DELTA_Y0,
            IC0_X,
            IC0_Y,
            IC1_X,
            IC1_Y,
            IC2_X,
            IC2_Y,
            IC3_X,
            IC3_Y
        ];
    }

    function verify(bytes32 jobId, bytes32 spec, bytes calldata result, bytes calldata proof)
        external
        view
        returns (bool)
    {
        if (result.length != 32 || proof.length != 256) return false;
        uint256 out = uint256(bytes32(result));
        if (uint256(spec) >= SNARK_SCALAR_FIELD || out >= SNARK_SCALAR_FIELD) return false;
        // A.y must be canonical: the negation below would otherwise accept A.y + q as A.y.
        if (uint256(bytes32(proof[32:64])) >= BASE_FIELD) return false;
        (bool ok, uint256 vx, uint256 vy) =
            _linearCombination([uint256(jobId) % SNARK_SCALAR_FIELD, uint256(spec), out]);
        if (!ok) return false;
        return _pairing(proof, vx, vy);
    }

    /// @dev vk_x = IC0 + Σ input[i] · IC[i+1], with ecMul (0x07) and ecAdd (0x06).
    function _linearCombination(uint256[3] memory input) internal view returns (bool ok, uint256 x, uint256 y) {
        uint256[2][3] memory ic = [[IC1_X, IC1_Y], [IC2_X, IC2_Y], [IC3_X, IC3_Y]];
        uint256[4] memory acc = [IC0_X, IC0_Y, 0, 0];
        uint256[3] memory scaled;
        ok = true;
        for (uint256 i; i < 3; ++i) {
            scaled = [ic[i][0], ic[i][1], input[i]];
            assembly ("memory-safe") {
                ok := and(ok, staticcall(12000, 0x07, scaled, 0x60, add(acc, 0x40), 0x40))
                ok := and(ok, staticcall(300, 0x06, acc, 0x80, acc, 0x40))
            }
        }
        (x, y) = (acc[0], acc[1]);
    }

    /// @dev e(−A, B) · e(alpha, beta) · e(vk_x, gamma) · e(C, delta) = 1, with the pairing precompile (0x08).
    function _pairing(bytes calldata proof, uint256 vx, uint256 vy) internal view returns (bool ok) {
        uint256 ay = uint256(bytes32(proof[32:64]));
        uint256[24] memory p = [
            uint256(bytes32(proof[0:32])),
            (BASE_FIELD - ay) % BASE_FIELD,
            uint256(bytes32(proof[64:96])),
            uint256(bytes32(proof[96:128])),
            uint256(bytes32(proof[128:160])),
            uint256(bytes32(proof[160:192])),
            ALPHA_X,
            ALPHA_Y,
            BETA_X1,
            BETA_X0,
            BETA_Y1,
            BETA_Y0,
            vx,
            vy,
            GAMMA_X1,
            GAMMA_X0,
            GAMMA_Y1,
            GAMMA_Y0,
            uint256(bytes32(proof[192:224])),
            uint256(bytes32(proof[224:256])),
            DELTA_X1,
            DELTA_X0,
            DELTA_Y1,
            DELTA_Y0
        ];
        uint256[1] memory res;
        assembly ("memory-safe") {
            ok := staticcall(362000, 0x08, p, 0x300, res, 0x20)
        }
        ok = ok && res[0] == 1;
    }
}
