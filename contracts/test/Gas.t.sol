// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {JobMarket} from "../src/JobMarket.sol";

/// @notice Gas of each step of a 3-replica job, recorded with `snapshotGasLastCall` into snapshots/Gas.json
///         (execution gas, without the 21,000 intrinsic gas and calldata of a real transaction; the Rust
///         integration test on Anvil measures real receipts).
contract GasTest is Fixture {
    bytes internal constant RESULT = hex"0155122011223344556677889900aabbccddeeff11223344556677889900aabbccddeeff";

    /// @dev One 3-replica job end to end with signed commitments; `label` prefixes the snapshot names.
    function runSignedLifecycle(string memory label) internal returns (uint256 total) {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(jobId, 3, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        total = vm.snapshotGasLastCall(string.concat(label, "createJob_3_offers"));

        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](3);
        for (uint8 i; i < 3; ++i) {
            sc[i] = signedCommit(jobId, i, RESULT);
        }
        vm.prank(requester);
        market.reveal(jobId, assignmentOf(3, PRICE), RESULT, sc);
        total += vm.snapshotGasLastCall(string.concat(label, "reveal_3_signed_commits"));
    }

    /// @dev The first job of the network pays for every account's first storage write (zero to non-zero).
    function test_gas_lifecycle_first_job() public {
        runSignedLifecycle("first_job_");
        vm.prank(providers[0]);
        market.withdraw();
        vm.snapshotGasLastCall("withdraw");
        uint256 net = PRICE - PRICE * FEE_BPS / 10_000;
        vm.assertEq(token.balanceOf(providers[0]), STAKE + net, "provider 0 withdrew its pay");
    }

    /// @dev Steady state: providers, treasury and requester already have balances in the market.
    function test_gas_lifecycle_steady_state() public {
        runSignedLifecycle("warmup_");
        uint256 total = runSignedLifecycle("steady_");
        vm.assertLe(total, 300_000, "3-replica lifecycle over 300k execution gas");
    }

    function test_gas_lifecycle_onchain_commits() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        for (uint256 i; i < 3; ++i) {
            vm.prank(providers[i]);
            market.commit(jobId, commitmentOf(RESULT, providers[i]));
        }
        vm.snapshotGasLastCall("commit");
        vm.prank(requester);
        market.reveal(jobId, a, RESULT, new JobMarket.SignedCommit[](0));
        vm.snapshotGasLastCall("reveal_3_onchain_commits");
    }

    function test_gas_accept() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        vm.prank(requester);
        market.createJob(req, new JobMarket.Offer[](0));
        vm.snapshotGasLastCall("createJob_open");
        vm.prank(providers[0]);
        market.accept(jobId, new JobMarket.Assignment[](0));
        vm.snapshotGasLastCall("accept_first");
    }
}
