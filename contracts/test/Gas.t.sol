// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Vm} from "./utils/Vm.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {MockVerifier} from "./mocks/MockVerifier.sol";

/// @notice Gas of every step of a job, recorded with `snapshotGasLastCall` into snapshots/GasTest.json.
/// @dev Runs isolated (forge-config below): every top-level call is its own transaction, so storage starts cold as
///      it does on chain, and a recorded number is that transaction's gas including the 21,000 intrinsic gas and
///      calldata (refunds not subtracted). Without isolation all calls of a test share one transaction, and slots
///      touched by an earlier call look warm, which under-counts later steps by thousands of gas.
///      docs/benchmarks.md has the table; the Rust integration test on Anvil measures real receipts.
/// forge-config: default.isolate = true
contract GasTest is Fixture {
    bytes internal constant RESULT = hex"0155122011223344556677889900aabbccddeeff11223344556677889900aabbccddeeff";

    /// @dev Records, next to a transaction's gas, its execution gas: minus the 21,000 intrinsic gas and the
    ///      calldata (EIP-2028: 16 per non-zero byte, 4 per zero byte).
    function recordExec(string memory name, uint256 txGas, bytes memory data) internal returns (uint256 exec) {
        uint256 cost = 21_000;
        for (uint256 i; i < data.length; ++i) {
            cost += data[i] == 0 ? 4 : 16;
        }
        exec = txGas - cost;
        vm.snapshotValue(string.concat(name, "_exec"), exec);
    }

    function signedAll(bytes32 jobId, uint8 n) internal view returns (JobMarket.SignedCommit[] memory sc) {
        sc = new JobMarket.SignedCommit[](n);
        for (uint8 i; i < n; ++i) {
            sc[i] = signedCommit(jobId, i, RESULT);
        }
    }

    /// @dev One 3-replica job end to end with signed commitments; `label` prefixes the snapshot names.
    function runSignedLifecycle(string memory label) internal returns (uint256 total) {
        (total,) = runSignedLifecycleExec(label);
    }

    /// @dev Returns the transaction gas and the execution gas of the whole lifecycle.
    function runSignedLifecycleExec(string memory label) internal returns (uint256 total, uint256 exec) {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        string memory name = string.concat(label, "createJob_3_offers");
        uint256 g = vm.snapshotGasLastCall(name);
        total = g;
        exec = recordExec(name, g, abi.encodeCall(JobMarket.createJob, (req, o)));

        JobMarket.SignedCommit[] memory sc = signedAll(jobId, 3);
        JobMarket.Assignment[] memory a = assignmentOf(3, PRICE);
        vm.prank(requester);
        market.reveal(jobId, a, RESULT, sc);
        name = string.concat(label, "reveal_3_signed_commits");
        g = vm.snapshotGasLastCall(name);
        total += g;
        exec += recordExec(name, g, abi.encodeCall(JobMarket.reveal, (jobId, a, RESULT, sc)));
    }

    /// @dev The first job of the network pays for every account's first storage write (zero to non-zero).
    /// @dev Anvil and every real chain refuse to deploy runtime code over EIP-170's 24,576 bytes; the market is
    ///      close to it (see `optimizer_runs` in foundry.toml), so say so here rather than at the first deployment.
    function test_jobMarketFitsEip170() public view {
        vm.assertLe(address(market).code.length, 24_576, "JobMarket runtime code over the EIP-170 limit");
    }

    function test_gas_lifecycle_first_job() public {
        (uint256 total, uint256 exec) = runSignedLifecycleExec("first_job_");
        vm.snapshotValue("first_job_lifecycle_total", total);
        vm.snapshotValue("first_job_lifecycle_total_exec", exec);
        vm.prank(providers[0]);
        market.withdraw();
        recordExec(
            "withdraw_provider", vm.snapshotGasLastCall("withdraw_provider"), abi.encodeCall(JobMarket.withdraw, ())
        );
        uint256 net = PRICE - PRICE * FEE_BPS / 10_000;
        vm.assertEq(token.balanceOf(providers[0]), STAKE + net, "provider 0 withdrew its pay");
    }

    /// @dev Steady state: providers, treasury and requester already have balances in the market.
    function test_gas_lifecycle_steady_state() public {
        runSignedLifecycle("warmup_");
        (uint256 total, uint256 exec) = runSignedLifecycleExec("steady_");
        vm.snapshotValue("steady_lifecycle_total", total);
        vm.snapshotValue("steady_lifecycle_total_exec", exec);
        vm.assertLe(total, 300_000, "3-replica lifecycle over 300k gas");
    }

    /// @dev Steady state with every provider committing in its own transaction instead of signing.
    function test_gas_lifecycle_onchain_commits() public {
        runSignedLifecycle("warmup_");
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        uint256 total = vm.snapshotGasLastCall("onchain_createJob_3_offers");
        uint256 exec = recordExec("onchain_createJob_3_offers", total, abi.encodeCall(JobMarket.createJob, (req, o)));
        for (uint256 i; i < 3; ++i) {
            bytes32 c = commitmentOf(RESULT, providers[i]);
            vm.prank(providers[i]);
            market.commit(jobId, c);
            string memory name = string.concat("commit_", vm.toString(i));
            uint256 g = vm.snapshotGasLastCall(name);
            total += g;
            exec += recordExec(name, g, abi.encodeCall(JobMarket.commit, (jobId, c)));
        }
        JobMarket.Assignment[] memory a = assignmentOf(3, PRICE);
        JobMarket.SignedCommit[] memory none = noCommits();
        vm.prank(requester);
        market.reveal(jobId, a, RESULT, none);
        uint256 rg = vm.snapshotGasLastCall("reveal_3_onchain_commits");
        total += rg;
        exec += recordExec("reveal_3_onchain_commits", rg, abi.encodeCall(JobMarket.reveal, (jobId, a, RESULT, none)));
        vm.snapshotValue("onchain_lifecycle_total", total);
        vm.snapshotValue("onchain_lifecycle_total_exec", exec);
    }

    /// @dev A provider reveals after the commit deadline with two on-chain commitments; the third never came.
    function test_gas_reveal_by_provider_late() public {
        runSignedLifecycle("warmup_");
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, RESULT);
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        vm.prank(providers[0]);
        market.reveal(jobId, a, RESULT, noCommits());
        vm.snapshotGasLastCall("reveal_by_provider_2_onchain");
    }

    /// @dev A 2-replica unanimous job whose providers disagree on chain: expire draws two arbiters (from 15
    ///      registered providers), they sign their commitments and the requester settles the arbitration.
    function test_gas_arbitration_r2() public {
        for (uint256 i; i < 10; ++i) {
            addProvider(0xC0C0 + i);
        }
        vm.prevrandao(bytes32(uint256(42)));
        runSignedLifecycle("warmup_");
        JobMarket.JobRequest memory req = request(2, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 2, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        vm.snapshotGasLastCall("arbitration_createJob_2_offers");
        bytes32 c0 = commitmentOf(RESULT, providers[0]);
        vm.prank(providers[0]);
        market.commit(jobId, c0);
        bytes32 c1 = commitmentOf(hex"0155", providers[1]);
        vm.prank(providers[1]);
        market.commit(jobId, c1);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);

        JobMarket.Assignment[] memory a = assignmentOf(2, PRICE);
        vm.recordLogs();
        market.expire(jobId, a);
        uint256 g = vm.snapshotGasLastCall("expire_into_arbitration_r2");
        recordExec("expire_into_arbitration_r2", g, abi.encodeCall(JobMarket.expire, (jobId, a)));
        JobMarket.Assignment[] memory all = concat(a, arbitersFrom(vm.getRecordedLogs()));
        vm.assertEq(all.length, 4, "two arbiters drawn");
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Arbitration), "in arbitration");

        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](2);
        sc[0] = signedCommitOf(jobId, 2, all[2].provider, RESULT);
        sc[1] = signedCommitOf(jobId, 3, all[3].provider, RESULT);
        vm.prank(requester);
        market.reveal(jobId, all, RESULT, sc);
        g = vm.snapshotGasLastCall("revealArbitration_r2_2_signed");
        recordExec("revealArbitration_r2_2_signed", g, abi.encodeCall(JobMarket.reveal, (jobId, all, RESULT, sc)));
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Finalized), "settled by arbitration");
    }

    function arbitersFrom(Vm.Log[] memory logs) internal view returns (JobMarket.Assignment[] memory arbiters) {
        bytes32 sig = keccak256("ProviderAssigned(bytes32,address,uint8,uint96)");
        uint256 n;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(market) && logs[i].topics[0] == sig) ++n;
        }
        arbiters = new JobMarket.Assignment[](n);
        n = 0;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(market) || logs[i].topics[0] != sig) continue;
            (, uint96 price) = abi.decode(logs[i].data, (uint8, uint96));
            arbiters[n++] = JobMarket.Assignment(address(uint160(uint256(logs[i].topics[2]))), price);
        }
    }

    function test_gas_createJobWithPermit() public {
        runSignedLifecycle("warmup_");
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        vm.prank(requester);
        token.approve(address(market), 0);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                requester,
                address(market),
                6 * uint256(PRICE),
                token.nonces(requester),
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(requesterKey, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
        vm.prank(requester);
        market.createJobWithPermit(req, o, deadline, v, r, s);
        vm.snapshotGasLastCall("createJobWithPermit_3_offers");
    }

    function test_gas_withdraw_and_expire() public {
        runSignedLifecycle("warmup_");
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        market.expire(jobId, a);
        vm.snapshotGasLastCall("expire_assigned_3_no_shows");

        vm.prank(requester);
        market.withdraw();
        vm.snapshotGasLastCall("withdraw_requester");
        vm.prank(treasury);
        market.withdraw();
        vm.snapshotGasLastCall("withdraw_treasury");
    }

    function test_gas_submitProof() public {
        MockVerifier verifier = new MockVerifier();
        vm.prank(address(timelock));
        market.setProofVerifier(verifier);
        runSignedLifecycle("warmup_");
        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.Proof;
        req.proofSpec = keccak256("spec");
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 1, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        vm.snapshotGasLastCall("createJob_proof_1_offer");
        JobMarket.Assignment[] memory a = assignmentOf(1, PRICE);
        bytes memory proof = verifier.proofFor(jobId, req.proofSpec, RESULT);
        vm.prank(providers[0]);
        market.submitProof(jobId, a, RESULT, proof);
        vm.snapshotGasLastCall("submitProof_mock_verifier");
    }

    function test_gas_rewards_claim() public {
        runSignedLifecycle("warmup_");
        vm.warp(block.timestamp + EPOCH);
        uint256[] memory list = new uint256[](1);
        vm.prank(providers[0]);
        rewards.claim(list);
        vm.snapshotGasLastCall("rewards_claim_first_of_epoch");
        vm.prank(providers[1]);
        rewards.claim(list);
        vm.snapshotGasLastCall("rewards_claim_one_epoch");
    }
}
