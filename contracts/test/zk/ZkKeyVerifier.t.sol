// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "../utils/Vm.sol";
import {ZkKeyVerifier} from "../../src/zk/ZkKeyVerifier.sol";
import {ZkInferenceVerifier} from "../../src/zk/ZkInferenceVerifier.sol";
import {ProofFixture} from "./ProofFixture.sol";

/// @notice The verifier that takes its key as constructor arguments agrees with the generated one on the same key
///         (the development key, copied from DigitsGroth16Verifier.sol): the fixture's proof passes, every tampered
///         statement or proof fails, and a key coordinate outside the field is refused at deployment.
contract ZkKeyVerifierTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function devKey() internal pure returns (uint256[22] memory) {
        return [
            uint256(0x2e935195ddfe531bada210e714cb5e42a3e9d189ffd2f78693b256bb2ea3e5e9),
            0x0c3aa3f761626b2cb63ac74ccdd1dbd861c9ac24744295561b42bb0a37f401c4,
            0x05fea4541c32972f83c1e10549ade2cad6826ceb3671e9e3bc4005456a890ec7,
            0x1bc8c46766738564daadec52cfbf9d5610e931780ddaf3403cf3f58187bf9843,
            0x1ea4903d1d628beb355a93fa254f26e1dcfa8408bb03ba0345b8fd23ee5fd047,
            0x2d3778d21efe90bc9f01302cb1d96f91d93998972a881ec6eb0dc7c517f5e97c,
            0x0cada823f34b659a0b6210c59fad30d0341cf3981b14886e440577e30d38d436,
            0x1cba77fa8e50523ac139ec811440c5fcda963f74c57c6fc6d76fad3b3955464a,
            0x28f395281833f72b5af5827f8e2bf31cb5b254ac8d826639d07649a3bcb476ea,
            0x251c0164f4329cd500276fa19c0503c12398945fba8bc2d06a4ab85e11887a52,
            0x048ae9adaff5f9c230bef5baedbfbea32c29b603ac66dc88e4f3fdef59b29252,
            0x1d98f05d6405e2b7e6a86e4996dab1361ea8659bd24996ba0d2cbdfbe8b487cf,
            0x04c4a2c041f62ff285db00b670cf5ef0ce2c6287e783b7f384609950db13cdfd,
            0x0951426a18254c5a0b4fc9b50d5ccfe48edaefb41e11a09f57c1e8d72cad3877,
            0x1a68e3981e286affd1f5cf10a77ebfde9db2186c9f3a378b4e935e90cb8c8050,
            0x2a6fe7aba31803fc12a5435f94c79261a1c576186f9ff5cc5f6961412f08035e,
            0x229b74fdbf71b8b408a8a97e08b10e37b407fc2663c6bf734c3182de9a8dbfa0,
            0x27ac8c0c76fc96b6d195a34e65b96a9ae52988543ef954085b83dd8271867290,
            0x2830c62c1d3d4d99fe0164fca8451b0c4f3cdc77ff03500463f6674e8fe30b17,
            0x1a9946fd9c619c85d9dd985c416e8e3ffdbcf18c4b29de043ff84aef0480b14c,
            0x15479b89372730af1402e35dd325354e56320059dafaefab28757bc41fc69b19,
            0x1ba66486edf5a8d381c0bb408f29f84a39c7f80c34fdff4d5d532e90cd9892cc
        ];
    }

    function test_agreesWithTheGeneratedVerifier() public {
        ZkKeyVerifier keyed = new ZkKeyVerifier(devKey());
        ZkInferenceVerifier generated = new ZkInferenceVerifier();
        bytes32 job = ProofFixture.JOB_ID;
        bytes32 spec = ProofFixture.SPEC;
        bytes memory result = ProofFixture.RESULT;
        bytes memory proof = ProofFixture.PROOF;
        vm.assertTrue(keyed.verify(job, spec, result, proof), "the fixture's proof");
        vm.assertTrue(generated.verify(job, spec, result, proof), "the generated verifier agrees");

        vm.assertFalse(keyed.verify(bytes32(uint256(job) ^ 1), spec, result, proof), "another job");
        vm.assertFalse(keyed.verify(job, ProofFixture.OTHER_MODEL_SPEC, result, proof), "another model");
        bytes memory other = bytes.concat(result);
        other[31] = bytes1(uint8(other[31]) ^ 1);
        vm.assertFalse(keyed.verify(job, spec, other, proof), "another output");
        vm.assertFalse(keyed.verify(job, spec, hex"00", proof), "a short result");
        for (uint256 i; i < 256; i += 37) {
            bytes memory flipped = bytes.concat(proof);
            flipped[i] = bytes1(uint8(flipped[i]) ^ 1);
            vm.assertFalse(keyed.verify(job, spec, result, flipped), "a flipped proof byte");
        }
        // A.y + q encodes the same point: refused, so a proof has one encoding only.
        bytes memory malleated = bytes.concat(proof);
        uint256 ay;
        assembly {
            ay := mload(add(malleated, 0x40))
        }
        uint256 q = 0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47;
        unchecked {
            uint256 shifted = ay + q;
            if (shifted > ay) {
                assembly {
                    mstore(add(malleated, 0x40), shifted)
                }
                vm.assertFalse(keyed.verify(job, spec, result, malleated), "A.y + q");
            }
        }
        uint256[22] memory stored = keyed.verifyingKey();
        uint256[22] memory given = devKey();
        for (uint256 i; i < 22; ++i) {
            vm.assertEq(stored[i], given[i], "the key reads back");
        }
    }

    function test_refusesAKeyOutsideTheField() public {
        uint256[22] memory vk = devKey();
        vk[5] = 0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47;
        vm.expectRevert(abi.encodeWithSelector(ZkKeyVerifier.CoordinateOutOfField.selector, 5));
        new ZkKeyVerifier(vk);
    }

    function test_gas_verify() public {
        ZkKeyVerifier keyed = new ZkKeyVerifier(devKey());
        uint256 before = gasleft();
        bool ok = keyed.verify(ProofFixture.JOB_ID, ProofFixture.SPEC, ProofFixture.RESULT, ProofFixture.PROOF);
        uint256 used = before - gasleft();
        vm.assertTrue(ok, "verifies");
        vm.snapshotValue("zk_key_verifier_verify", used);
        vm.assertLt(used, 260_000, "verification stays near the generated verifier's cost");
    }
}
