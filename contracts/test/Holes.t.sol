// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {NodeRegistry} from "../src/NodeRegistry.sol";
import {Rewards} from "../src/Rewards.sol";
import {OceanGovernor, GovernorBounds} from "../src/OceanGovernor.sol";
import {IResultVerifier} from "../src/IResultVerifier.sol";
import {MockVerifier} from "./mocks/MockVerifier.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

/// @notice A verifier that accepts nothing (stands for a broken or hostile verifier swapped in by governance).
contract RejectingVerifier is IResultVerifier {
    function verify(bytes32, bytes32, bytes calldata, bytes calldata) external pure returns (bool) {
        return false;
    }
}

/// @notice One test (or group) per finding of issue 15, "a protocol that pays only for honest work". Each fails on
///         the contracts before the fix (`git show 66d73df:contracts/src/JobMarket.sol`, where the same steps
///         either succeed where they must now revert, or pay, refund or count what they must not) and passes now.
///         (a) under-filled jobs and cancel; (b) job ids bound to chain and market; (c) offers bind the terms;
///         (d) every governable setting bounded; (e) a verifier change does not touch created jobs; (f) no-show
///         bond; (g) disagreement goes to arbitration; (h) dust jobs earn no reward units.
contract HolesTest is Fixture {
    bytes internal constant RESULT = hex"0155122011223344556677889900aabbccddeeff11223344556677889900aabbccddeeff";
    bytes internal constant WRONG = hex"01551220deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef";

    uint256 internal constant FEE = PRICE * FEE_BPS / 10_000;
    uint256 internal constant NET = PRICE - FEE;
    uint256 internal constant BOND = uint256(STAKE) * NO_SHOW_BPS / 10_000;
    uint256 internal constant SLASH = uint256(STAKE) * SLASH_BPS / 10_000;

    event NoShowBondTaken(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event ArbitrationStarted(bytes32 indexed jobId, uint40 commitDeadline, uint40 revealDeadline);
    event ProviderSlashed(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event JobFailed(bytes32 indexed jobId, uint256 refund);

    function setUp() public override {
        super.setUp();
        // Fifteen providers in all: a job of up to five can always draw arbiters outside itself.
        for (uint256 i; i < 10; ++i) {
            addProvider(0xC0C0 + i);
        }
        vm.prevrandao(bytes32(uint256(0x15)));
    }

    function create(JobMarket.JobRequest memory req, JobMarket.Offer[] memory o) internal returns (bytes32 jobId) {
        vm.prank(requester);
        jobId = market.createJob(req, o);
    }

    function expectCreateRevert(JobMarket.JobRequest memory req, JobMarket.Offer[] memory o, bytes memory err)
        internal
    {
        vm.prank(requester);
        vm.expectRevert(err);
        market.createJob(req, o);
    }

    function badSig(uint256 who) internal view returns (bytes memory) {
        return abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[who]);
    }

    // =========================================================================================================
    // (a) A job is fully assigned at birth; nobody can refund a provider's work away.
    // =========================================================================================================

    /// @dev Old: `createJob` with fewer offers than replicas made an Open job that `accept` filled later.
    function test_a_underfilledJobCannotExist() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        for (uint256 n; n < 3; ++n) {
            expectCreateRevert(
                req, offers(req, jobId, n, PRICE), abi.encodeWithSelector(JobMarket.OfferCountMismatch.selector, n, 3)
            );
        }
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Nonexistent), "no job");
        vm.assertEq(token.balanceOf(address(market)), 0, "nothing escrowed");
        // The half-filled path is gone from the ABI.
        (bool ok,) = address(market)
            .call(abi.encodeWithSignature("accept(bytes32,(address,uint96)[])", jobId, new JobMarket.Assignment[](0)));
        vm.assertFalse(ok, "no accept");
    }

    /// @dev Old: the requester created a 3-replica job with two offers, provider 0 committed its work, and the
    ///      requester cancelled the still-Open job and got the whole escrow back. Now that job cannot be created;
    ///      a created job cannot be failed before its reveal deadline, and the work is paid.
    function test_a_providersWorkCannotBeRefundedAway() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        bytes32 terms = termsOf(req, firstN(2));
        JobMarket.Offer[] memory two = new JobMarket.Offer[](2);
        two[0] = offerBy(jobId, 0, PRICE, terms);
        two[1] = offerBy(jobId, 1, PRICE, terms);
        expectCreateRevert(req, two, abi.encodeWithSelector(JobMarket.OfferCountMismatch.selector, 2, 3));

        JobMarket.Assignment[] memory a;
        (jobId, a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, RESULT);
        vm.prank(requester);
        (bool ok,) = address(market).call(abi.encodeWithSignature("cancel(bytes32)", jobId));
        vm.assertFalse(ok, "no cancel");
        (uint40 cd, uint40 rd) = deadlinesOf(jobId);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotExpired.selector, rd));
        market.expire(jobId, a);
        vm.warp(cd + 1);
        vm.prank(providers[0]);
        market.reveal(jobId, a, RESULT, noCommits());
        vm.assertEq(market.owed(providers[0]), NET, "provider 0 paid for its work");
        vm.assertEq(market.owed(providers[1]), NET, "provider 1 paid for its work");
    }

    // =========================================================================================================
    // (b) Job ids (and so offers, commitments and proofs) are bound to the chain and the market.
    // =========================================================================================================

    /// @dev Old: jobIdOf(requester, salt) = keccak256(requester, salt), the same on every market and chain.
    function test_b_jobIdBoundToMarketAndChain() public {
        JobMarket other = deployMarket(registry);
        bytes32 salt = bytes32(uint256(42));
        bytes32 here = market.jobIdOf(requester, salt);
        vm.assertNotEq(here, other.jobIdOf(requester, salt), "same id on another market");
        vm.chainId(block.chainid + 1);
        vm.assertNotEq(market.jobIdOf(requester, salt), here, "same id on another chain");
    }

    function test_b_offerForOneMarketRefusedByAnother() public {
        JobMarket other = deployMarket(registry);
        vm.prank(requester);
        token.approve(address(other), type(uint256).max);
        JobMarket.JobRequest memory req = request(3, 2);
        // Not only the signature domain differs: the job itself is another one (its commitments and proofs too).
        vm.assertNotEq(market.jobIdOf(requester, req.salt), other.jobIdOf(requester, req.salt), "twin job ids");
        JobMarket.Offer[] memory o = offers(req, market.jobIdOf(requester, req.salt), 3, PRICE);
        vm.prank(requester);
        vm.expectRevert(badSig(0));
        other.createJob(req, o);
        create(req, o); // the market they were signed for takes them
    }

    function test_b_offerForOneChainRefusedOnAFork() public {
        JobMarket.JobRequest memory req = request(3, 2);
        JobMarket.Offer[] memory o = offers(req, market.jobIdOf(requester, req.salt), 3, PRICE);
        uint256 chain = block.chainid;
        bytes32 id = market.jobIdOf(requester, req.salt);
        vm.chainId(chain + 1);
        vm.assertNotEq(market.jobIdOf(requester, req.salt), id, "the same job id on the fork");
        expectCreateRevert(req, o, badSig(0));
        vm.chainId(chain);
        create(req, o);
    }

    /// @dev Old: the same requester and salt on a second market gave the same job id, so a proof made for a job
    ///      on one market verified for the twin job on the other.
    function test_b_proofForOneMarketRefusedByAnother() public {
        MockVerifier v = new MockVerifier();
        vm.prank(address(timelock));
        market.setProofVerifier(v);
        JobMarket other = deployMarket(registry);
        other.setProofVerifier(v);
        vm.prank(requester);
        token.approve(address(other), type(uint256).max);

        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.Proof;
        req.proofSpec = keccak256("model");
        bytes32 idHere = create(req, offers(req, market.jobIdOf(requester, req.salt), 1, PRICE));
        JobMarket.Offer[] memory o = offerOn(other, req);
        vm.prank(requester);
        bytes32 idThere = other.createJob(req, o);

        bytes memory proof = v.proofFor(idHere, req.proofSpec, RESULT);
        JobMarket.Assignment[] memory a = assignmentOf(1, PRICE);
        vm.prank(providers[0]);
        vm.expectRevert(JobMarket.InvalidProof.selector);
        other.submitProof(idThere, a, RESULT, proof);
        vm.prank(providers[0]);
        market.submitProof(idHere, a, RESULT, proof);
    }

    /// @dev Provider 0's offer for `req` on market `m`.
    function offerOn(JobMarket m, JobMarket.JobRequest memory req) internal view returns (JobMarket.Offer[] memory o) {
        address[] memory list = new address[](1);
        list[0] = providers[0];
        bytes32 terms = m.termsHash(req, list);
        uint40 expiry = uint40(block.timestamp + 10 minutes);
        bytes32 digest = m.offerDigest(m.jobIdOf(requester, req.salt), providers[0], PRICE, expiry, terms);
        (bytes32 r, bytes32 vs) = sign(providerKeys[0], digest);
        o = new JobMarket.Offer[](1);
        o[0] = JobMarket.Offer(providers[0], PRICE, expiry, r, vs);
    }

    // =========================================================================================================
    // (c) An offer binds every term of the job, not only the job id and its price.
    // =========================================================================================================

    /// @dev Signs offers for `req` (providers 0..r-1 at PRICE) and returns them with a copy of the request.
    function signed(JobMarket.JobRequest memory req) internal view returns (JobMarket.Offer[] memory o) {
        o = offers(req, market.jobIdOf(requester, req.salt), req.replicas, PRICE);
    }

    function copy(JobMarket.JobRequest memory req) internal pure returns (JobMarket.JobRequest memory c) {
        c = JobMarket.JobRequest(
            req.salt,
            req.manifestCid,
            req.lateManifest,
            req.replicas,
            req.quorum,
            req.mode,
            req.pricePerReplica,
            req.commitDeadline,
            req.proofSpec,
            req.limitsHash,
            req.rebalanceAt
        );
    }

    /// @dev Old: the offer signed (jobId, provider, price, expiry) only; each change below created a job.
    function test_c_offerBindsManifest() public {
        JobMarket.JobRequest memory req = request(3, 2);
        JobMarket.Offer[] memory o = signed(req);
        JobMarket.JobRequest memory t = copy(req);
        t.manifestCid = hex"01701220ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
        expectCreateRevert(t, o, badSig(0));
        create(req, o);
    }

    function test_c_offerBindsQuorumAndReplicas() public {
        JobMarket.JobRequest memory req = request(3, 2);
        JobMarket.Offer[] memory o = signed(req);
        JobMarket.JobRequest memory t = copy(req);
        t.quorum = 3; // unanimity: one slow provider now blocks everyone's pay
        expectCreateRevert(t, o, badSig(0));
        // Two of the three offers for a 2-replica job (each provider agreed to a 3-replica job).
        t = copy(req);
        t.replicas = 2;
        t.quorum = 2;
        JobMarket.Offer[] memory two = new JobMarket.Offer[](2);
        (two[0], two[1]) = (o[0], o[1]);
        expectCreateRevert(t, two, badSig(0));
        // Mode: the same single provider offered for Quorum(1, 1), not for None.
        JobMarket.JobRequest memory one = request(1, 1);
        JobMarket.Offer[] memory o1 = signed(one);
        t = copy(one);
        t.mode = JobMarket.Mode.None;
        expectCreateRevert(t, o1, badSig(0));
        create(req, o);
    }

    function test_c_offerBindsDeadline() public {
        JobMarket.JobRequest memory req = request(3, 2);
        JobMarket.Offer[] memory o = signed(req);
        JobMarket.JobRequest memory t = copy(req);
        t.commitDeadline = req.commitDeadline - 30 minutes; // less time than the providers agreed to
        expectCreateRevert(t, o, badSig(0));
        t.commitDeadline = req.commitDeadline + 1 days; // stake locked longer than agreed
        expectCreateRevert(t, o, badSig(0));
        create(req, o);
    }

    function test_c_offerBindsPriceCap() public {
        JobMarket.JobRequest memory req = request(3, 2);
        JobMarket.Offer[] memory o = signed(req);
        JobMarket.JobRequest memory t = copy(req);
        t.pricePerReplica = PRICE * 2; // the cap sets what arbiters are paid and what the deposit is
        expectCreateRevert(t, o, badSig(0));
        create(req, o);
    }

    function test_c_offerBindsLimitsAndProofSpec() public {
        JobMarket.JobRequest memory req = request(3, 2);
        JobMarket.Offer[] memory o = signed(req);
        JobMarket.JobRequest memory t = copy(req);
        t.limitsHash = keccak256("fuel=1e12;memory=4GiB");
        expectCreateRevert(t, o, badSig(0));
        JobMarket.JobRequest memory p = request(1, 1);
        p.mode = JobMarket.Mode.Proof;
        p.proofSpec = keccak256("model A");
        JobMarket.Offer[] memory po = signed(p);
        t = copy(p);
        t.proofSpec = keccak256("model B");
        expectCreateRevert(t, po, badSig(0));
        create(req, o);
    }

    function test_c_offerBindsCoProvidersAndTheirOrder() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = signed(req);
        // Another set: provider 3 (a Sybil of the requester, say) replaces provider 2 and signs the new set.
        uint256[] memory idx = firstN(3);
        idx[2] = 3;
        JobMarket.Offer[] memory swapped = new JobMarket.Offer[](3);
        (swapped[0], swapped[1]) = (o[0], o[1]);
        swapped[2] = offerBy(jobId, 3, PRICE, termsOf(req, idx));
        expectCreateRevert(req, swapped, badSig(0));
        // The same set in another order.
        JobMarket.Offer[] memory reordered = new JobMarket.Offer[](3);
        (reordered[0], reordered[1], reordered[2]) = (o[1], o[0], o[2]);
        expectCreateRevert(req, reordered, badSig(1));
        create(req, o);
    }

    /// @dev A private job's manifest is made after the offers (its inputs are sealed to the providers that
    ///      offered), so the offer leaves the manifest open and binds everything else.
    function test_c_lateManifest_leavesOnlyTheManifestOpen() public {
        JobMarket.JobRequest memory req = request(3, 2);
        req.lateManifest = true;
        JobMarket.Offer[] memory o = signed(req);
        JobMarket.JobRequest memory t = copy(req);
        t.lateManifest = false;
        expectCreateRevert(t, o, badSig(0));
        t = copy(req);
        t.commitDeadline += 1 hours;
        expectCreateRevert(t, o, badSig(0));
        t = copy(req);
        t.limitsHash = bytes32(0);
        expectCreateRevert(t, o, badSig(0));
        t = copy(req);
        t.manifestCid = hex"0170122000000000000000000000000000000000000000000000000000000000000000aa";
        bytes32 jobId = create(t, o);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Assigned), "the sealed manifest is free");
    }

    // =========================================================================================================
    // (d) Every governable setting stays inside bounds fixed at deployment.
    // =========================================================================================================

    function oob(bytes4 selector, bytes32 name, uint256 value, uint256 min, uint256 max)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(selector, name, value, min, max);
    }

    /// @dev Old: any fee up to 100%, any slash, any reveal window of a minute or more.
    function test_d_marketSettersBounded() public {
        // Production-like bounds, owned by this test.
        JobMarket.Bounds memory b = JobMarket.Bounds({
            maxFeeBps: 1_000,
            minSlashBps: 500,
            maxSlashBps: 5_000,
            maxNoShowBps: 1_000,
            minRevealWindow: 10 minutes,
            maxRevealWindow: 1 days,
            minJobDuration: 1 minutes,
            maxJobDuration: 14 days,
            minArbitrationWindow: 30 minutes,
            maxArbitrationWindow: 2 days,
            maxMinRewardFee: 1 ether
        });
        JobMarket m = new JobMarket(token, registry, address(this), marketParams(), b);
        bytes4 e = JobMarket.OutOfBounds.selector;
        vm.expectRevert(oob(e, "feeBps", 1_001, 0, 1_000));
        m.setFeeBps(1_001);
        vm.expectRevert(oob(e, "slashBps", 499, 500, 5_000));
        m.setSlashBps(499); // governance cannot make cheating free
        vm.expectRevert(oob(e, "slashBps", 5_001, 500, 5_000));
        m.setSlashBps(5_001);
        vm.expectRevert(oob(e, "noShowBps", 1_001, 0, 1_000));
        m.setNoShowBps(1_001);
        vm.expectRevert(oob(e, "revealWindow", 10 minutes - 1, 10 minutes, 1 days));
        m.setRevealWindow(10 minutes - 1);
        vm.expectRevert(oob(e, "revealWindow", 1 days + 1, 10 minutes, 1 days));
        m.setRevealWindow(1 days + 1);
        vm.expectRevert(oob(e, "maxJobDuration", 14 days + 1, 1 minutes, 14 days));
        m.setMaxJobDuration(14 days + 1);
        vm.expectRevert(oob(e, "arbitrationWindow", 30 minutes - 1, 30 minutes, 2 days));
        m.setArbitrationWindow(30 minutes - 1);
        vm.expectRevert(oob(e, "minRewardFee", 1 ether + 1, 0, 1 ether));
        m.setMinRewardFee(1 ether + 1);
        // The bounds themselves are allowed.
        m.setFeeBps(1_000);
        m.setSlashBps(500);
        m.setNoShowBps(1_000);
        m.setRevealWindow(10 minutes);
        m.setArbitrationWindow(2 days);
        m.setMaxJobDuration(14 days);
        m.setMinRewardFee(1 ether);
        vm.assertEq(m.maxFeeBps(), 1_000, "bounds are readable");
        // And the deployment itself cannot start outside them.
        JobMarket.Params memory p = marketParams();
        p.slashBps = 100;
        vm.expectRevert(oob(e, "slashBps", 100, 500, 5_000));
        new JobMarket(token, registry, address(this), p, b);
    }

    /// @dev Old: any emission (up to the whole pool per epoch), no fee factor at all.
    function test_d_rewardsSettersBounded() public {
        bytes4 e = Rewards.OutOfBounds.selector;
        vm.startPrank(address(timelock));
        vm.expectRevert(oob(e, "emissionPerEpoch", MAX_EMISSION + 1, 0, MAX_EMISSION));
        rewards.setEmissionPerEpoch(MAX_EMISSION + 1);
        vm.expectRevert(oob(e, "feeFactorBps", MAX_FEE_FACTOR_BPS + 1, 0, MAX_FEE_FACTOR_BPS));
        rewards.setFeeFactorBps(MAX_FEE_FACTOR_BPS + 1);
        rewards.setEmissionPerEpoch(MAX_EMISSION);
        rewards.setFeeFactorBps(MAX_FEE_FACTOR_BPS);
        vm.stopPrank();
        vm.expectRevert(oob(e, "maxFeeFactorBps", 10_000, 0, 9_999));
        new Rewards(token, market, address(this), EMISSION, FEE_FACTOR_BPS, MAX_EMISSION, 10_000);
        vm.expectRevert(oob(e, "emissionPerEpoch", MAX_EMISSION + 1, 0, MAX_EMISSION));
        new Rewards(token, market, address(this), MAX_EMISSION + 1, FEE_FACTOR_BPS, MAX_EMISSION, 9_000);
    }

    /// @dev Old: any minimum stake, zero included (every registered address active, Sybils for free).
    function test_d_registrySettersBounded() public {
        bytes4 e = NodeRegistry.OutOfBounds.selector;
        vm.startPrank(address(timelock));
        vm.expectRevert(oob(e, "minStake", 0, MIN_STAKE_FLOOR, MIN_STAKE_CAP));
        registry.setMinStake(0);
        vm.expectRevert(oob(e, "minStake", MIN_STAKE_CAP + 1, MIN_STAKE_FLOOR, MIN_STAKE_CAP));
        registry.setMinStake(MIN_STAKE_CAP + 1);
        vm.expectRevert(oob(e, "unbondingDelay", MAX_UNBONDING + 1, 0, MAX_UNBONDING));
        registry.setUnbondingDelay(MAX_UNBONDING + 1);
        vm.stopPrank();
    }

    /// @dev Passes a one-call proposal through the governor and the timelock; returns the execute calldata.
    function passProposal(address target, bytes memory data, string memory description)
        internal
        returns (address[] memory t, uint256[] memory v, bytes[] memory c, bytes32 descHash)
    {
        t = new address[](1);
        v = new uint256[](1);
        c = new bytes[](1);
        t[0] = target;
        c[0] = data;
        descHash = keccak256(bytes(description));
        uint256 id = governor.propose(t, v, c, description);
        vm.roll(block.number + governor.votingDelay() + 1);
        governor.castVote(id, 1);
        vm.roll(block.number + governor.votingPeriod() + 1);
        governor.queue(t, v, c, descHash);
        vm.warp(block.timestamp + timelock.getMinDelay());
    }

    /// @dev Old: the governor's own settings were unbounded (a zero voting period, a quorum of 0%).
    function test_d_governorSettingsBounded() public {
        token.delegate(address(this));
        vm.roll(block.number + 1);
        bytes4 e = GovernorBounds.OutOfBounds.selector;
        GovernorBounds.Bounds memory b = governorBounds();

        bytes[4] memory calls_ = [
            abi.encodeWithSignature("setVotingDelay(uint48)", uint48(0)),
            abi.encodeWithSignature("setVotingPeriod(uint32)", uint32(b.maxVotingPeriod + 1)),
            abi.encodeWithSignature("setProposalThreshold(uint256)", b.maxProposalThreshold + 1),
            abi.encodeWithSignature("updateQuorumNumerator(uint256)", uint256(0))
        ];
        bytes[4] memory errs = [
            oob(e, "votingDelay", 0, b.minVotingDelay, b.maxVotingDelay),
            oob(e, "votingPeriod", b.maxVotingPeriod + 1, b.minVotingPeriod, b.maxVotingPeriod),
            oob(e, "proposalThreshold", b.maxProposalThreshold + 1, b.minProposalThreshold, b.maxProposalThreshold),
            oob(e, "quorumPercent", 0, b.minQuorumPercent, b.maxQuorumPercent)
        ];
        for (uint256 i; i < 4; ++i) {
            (address[] memory t, uint256[] memory v, bytes[] memory c, bytes32 h) =
                passProposal(address(governor), calls_[i], string.concat("bad setting ", vm.toString(i)));
            vm.expectRevert(errs[i]);
            governor.execute(t, v, c, h);
        }
        vm.assertEq(governor.votingDelay(), 1, "unchanged");
        vm.assertEq(governor.quorumNumerator(), 4, "unchanged");
        // Inside the bounds it works.
        (address[] memory t2, uint256[] memory v2, bytes[] memory c2, bytes32 h2) = passProposal(
            address(governor), abi.encodeWithSignature("updateQuorumNumerator(uint256)", uint256(10)), "quorum 10%"
        );
        governor.execute(t2, v2, c2, h2);
        vm.assertEq(governor.quorumNumerator(), 10, "changed within bounds");
        // A deployment outside its own bounds is refused.
        vm.expectRevert(oob(e, "quorumPercent", 60, b.minQuorumPercent, b.maxQuorumPercent));
        new OceanGovernor(IVotes(address(token)), timelock, 1, 50, 0, 60, b);
    }

    /// @dev Old: a plain TimelockController; `updateDelay(0)` made every later change (a verifier swap, a fee)
    ///      take effect without warning.
    function test_d_timelockDelayClamped() public {
        vm.startPrank(address(timelock));
        timelock.updateDelay(0);
        vm.assertEq(timelock.getMinDelay(), TIMELOCK_FLOOR, "clamped to the floor");
        timelock.updateDelay(365 days);
        vm.assertEq(timelock.getMinDelay(), TIMELOCK_CAP, "clamped to the cap");
        timelock.updateDelay(0);
        vm.stopPrank();
        // Even the governor (a proposer) cannot schedule below the floor.
        vm.prank(address(governor));
        vm.expectRevert(
            abi.encodeWithSelector(TimelockController.TimelockInsufficientDelay.selector, 0, TIMELOCK_FLOOR)
        );
        timelock.schedule(address(market), 0, abi.encodeCall(JobMarket.setFeeBps, (0)), bytes32(0), bytes32(0), 0);
        // And the guardian can cancel what is queued.
        bytes32 id = timelock.hashOperation(
            address(market), 0, abi.encodeCall(JobMarket.setFeeBps, (0)), bytes32(0), bytes32(0)
        );
        vm.prank(address(governor));
        timelock.schedule(
            address(market), 0, abi.encodeCall(JobMarket.setFeeBps, (0)), bytes32(0), bytes32(0), TIMELOCK_FLOOR
        );
        vm.prank(guardian);
        timelock.cancel(id);
        vm.assertFalse(timelock.isOperation(id), "cancelled by the guardian");
    }

    // =========================================================================================================
    // (e) A Proof job keeps the verifier it was created with.
    // =========================================================================================================

    /// @dev Old: submitProof read the market's current verifier, so a swap stranded (or faked) running jobs.
    function test_e_verifierChangeDoesNotTouchACreatedJob() public {
        MockVerifier v1 = new MockVerifier();
        vm.prank(address(timelock));
        market.setProofVerifier(v1);
        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.Proof;
        req.proofSpec = keccak256("model");
        bytes32 jobId = create(req, signed(req));

        RejectingVerifier v2 = new RejectingVerifier();
        vm.prank(address(timelock));
        market.setProofVerifier(v2);
        (, IResultVerifier fixedVerifier) = market.proofTerms(jobId);
        vm.assertEq(address(fixedVerifier), address(v1), "the job keeps v1");

        bytes memory proof = v1.proofFor(jobId, req.proofSpec, RESULT);
        vm.prank(providers[0]);
        market.submitProof(jobId, assignmentOf(1, PRICE), RESULT, proof);
        vm.assertEq(market.owed(providers[0]), NET, "paid under the verifier it agreed to");

        // A job created after the change uses the new verifier.
        JobMarket.JobRequest memory req2 = request(1, 1);
        req2.mode = JobMarket.Mode.Proof;
        req2.proofSpec = req.proofSpec;
        bytes32 job2 = create(req2, signed(req2));
        (, IResultVerifier v) = market.proofTerms(job2);
        vm.assertEq(address(v), address(v2), "new jobs take v2");
        bytes memory proof2 = v1.proofFor(job2, req.proofSpec, RESULT);
        JobMarket.Assignment[] memory a = assignmentOf(1, PRICE);
        vm.prank(providers[0]);
        vm.expectRevert(JobMarket.InvalidProof.selector);
        market.submitProof(job2, a, RESULT, proof2);
    }

    // =========================================================================================================
    // (f) An assigned provider that never commits loses a bond.
    // =========================================================================================================

    /// @dev Old: a no-show was neither paid nor slashed, so offering and not working cost nothing.
    function test_f_noShowBond_takenAtSettlement() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, RESULT);
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        uint256 before = token.balanceOf(treasury);
        vm.expectEmit(address(market));
        emit NoShowBondTaken(jobId, providers[2], BOND);
        vm.prank(providers[0]);
        market.reveal(jobId, a, RESULT, noCommits());
        (uint96 s,) = stakeOf(providers[2]);
        vm.assertEq(s, STAKE - BOND, "bond taken");
        vm.assertEq(token.balanceOf(treasury) - before, BOND, "to the treasury");
        vm.assertEq(market.owed(providers[2]), 0, "not paid");
    }

    function test_f_noShowBond_takenAtExpiry_noneAndProofModes() public {
        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.None;
        bytes32 noneJob = create(req, signed(req));
        MockVerifier v = new MockVerifier();
        vm.prank(address(timelock));
        market.setProofVerifier(v);
        JobMarket.JobRequest memory p = request(1, 1);
        p.mode = JobMarket.Mode.Proof;
        JobMarket.Offer[] memory po = new JobMarket.Offer[](1);
        po[0] = offerBy(market.jobIdOf(requester, p.salt), 1, PRICE, termsOf(p, _one(1)));
        bytes32 proofJob = create(p, po);

        (, uint40 rd) = deadlinesOf(noneJob);
        vm.warp(rd + 1);
        JobMarket.Assignment[] memory a0 = assignmentOf(1, PRICE);
        vm.expectEmit(address(market));
        emit NoShowBondTaken(noneJob, providers[0], BOND);
        market.expire(noneJob, a0);
        JobMarket.Assignment[] memory a1 = new JobMarket.Assignment[](1);
        a1[0] = JobMarket.Assignment(providers[1], PRICE);
        vm.expectEmit(address(market));
        emit NoShowBondTaken(proofJob, providers[1], BOND);
        market.expire(proofJob, a1);
        vm.assertEq(market.owed(requester), 2 * uint256(PRICE), "both refunded");
    }

    function _one(uint256 i) internal pure returns (uint256[] memory idx) {
        idx = new uint256[](1);
        idx[0] = i;
    }

    /// @dev The rate is copied at creation, like the fee and the slash.
    function test_f_noShowBond_rateFixedAtCreation() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(1, 1);
        vm.prank(address(timelock));
        market.setNoShowBps(MAX_NO_SHOW_BPS);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        market.expire(jobId, a);
        (uint96 s,) = stakeOf(providers[0]);
        vm.assertEq(s, STAKE - BOND, "the rate of the job's creation");
    }

    // =========================================================================================================
    // (g) Disagreement goes to arbitration instead of a free refund.
    // =========================================================================================================

    /// @dev r = 2, q = 2; provider 0 commits the result, provider 1 something else. Old: no quorum, so after the
    ///      reveal deadline the job failed: full refund, the honest provider unpaid, the cheat unslashed.
    function disputedPair() internal returns (bytes32 jobId, JobMarket.Assignment[] memory all) {
        JobMarket.Assignment[] memory a;
        (jobId, a) = createAssigned(2, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, WRONG);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        JobMarket.Assignment[] memory arbiters = expireAndDraw(jobId, a);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Arbitration), "arbitration, not a refund");
        vm.assertEq(market.owed(requester), 0, "no refund yet");
        vm.assertEq(arbiters.length, 2, "r arbiters");
        all = concat(a, arbiters);
    }

    function test_g_disagreement_arbitersSideWithTheTruth_minoritySlashed() public {
        (bytes32 jobId, JobMarket.Assignment[] memory all) = disputedPair();
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](2);
        sc[0] = signedCommitOf(jobId, 2, all[2].provider, RESULT);
        sc[1] = signedCommitOf(jobId, 3, all[3].provider, RESULT);
        uint256 treasuryBefore = token.balanceOf(treasury);
        vm.expectEmit(address(market));
        emit ProviderSlashed(jobId, providers[1], SLASH);
        vm.prank(requester);
        market.reveal(jobId, all, RESULT, sc);

        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Finalized), "finalized");
        vm.assertEq(market.owed(providers[0]), NET, "honest original paid");
        vm.assertEq(market.owed(all[2].provider), NET, "arbiter paid");
        vm.assertEq(market.owed(all[3].provider), NET, "arbiter paid");
        vm.assertEq(market.owed(providers[1]), 0, "minority not paid");
        (uint96 s1,) = stakeOf(providers[1]);
        vm.assertEq(s1, STAKE - SLASH, "minority slashed");
        vm.assertEq(token.balanceOf(treasury) - treasuryBefore, SLASH, "slash to the treasury");
        // Escrow 4 * PRICE: three paid, the rest (the slashed replica) refunded.
        vm.assertEq(market.owed(requester), uint256(PRICE), "unused escrow refunded");
        vm.assertEq(market.owed(treasury), 3 * FEE, "fees");
        vm.assertEq(market.workUnits(all[2].provider, 0), FEE, "arbiters did verified work");
    }

    /// @dev The arbiters side with the dissenter: then the dissent was the truth and the other original pays.
    function test_g_disagreement_majorityDecides_eitherWay() public {
        (bytes32 jobId, JobMarket.Assignment[] memory all) = disputedPair();
        for (uint256 i = 2; i < 4; ++i) {
            vm.prank(all[i].provider);
            market.commit(jobId, commitmentOf(WRONG, all[i].provider));
        }
        vm.prank(all[2].provider);
        market.reveal(jobId, all, WRONG, noCommits());
        vm.assertEq(market.owed(providers[1]), NET, "the original that agreed with the arbiters is paid");
        (uint96 s0,) = stakeOf(providers[0]);
        vm.assertEq(s0, STAKE - SLASH, "the other is slashed");
    }

    function test_g_arbitrationWithoutMajority_failsRefundsAll_nobodySlashed() public {
        (bytes32 jobId, JobMarket.Assignment[] memory all) = disputedPair();
        // One arbiter agrees with each side: 2 against 2.
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](2);
        sc[0] = signedCommitOf(jobId, 2, all[2].provider, RESULT);
        sc[1] = signedCommitOf(jobId, 3, all[3].provider, WRONG);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.QuorumNotReached.selector, 2, 3));
        market.reveal(jobId, all, RESULT, sc);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.QuorumNotReached.selector, 2, 3));
        market.reveal(jobId, all, WRONG, sc);

        (, uint40 ard) = deadlinesOf(jobId);
        vm.warp(ard + 1);
        vm.expectEmit(address(market));
        emit JobFailed(jobId, 4 * uint256(PRICE));
        market.expire(jobId, all);
        vm.assertEq(market.owed(requester), 4 * uint256(PRICE), "full refund, deposit included");
        for (uint256 i; i < 4; ++i) {
            (uint96 s,) = stakeOf(all[i].provider);
            vm.assertEq(s, STAKE, "nobody slashed without a verdict");
            vm.assertEq(market.owed(all[i].provider), 0, "nobody paid");
        }
    }

    /// @dev Three replicas: one right, one wrong, one silent. The silent one loses its bond once, is marked so
    ///      that it cannot commit during arbitration, and is neither slashed nor paid by the verdict.
    function test_g_arbitrationWithANoShow() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, WRONG);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        JobMarket.Assignment[] memory all = concat(a, expireAndDraw(jobId, a));
        vm.assertEq(all.length, 6, "three arbiters");
        (uint96 s2,) = stakeOf(providers[2]);
        vm.assertEq(s2, STAKE - BOND, "no-show bond taken at expiry");
        vm.prank(providers[2]);
        vm.expectRevert(JobMarket.AlreadyCommitted.selector);
        market.commit(jobId, commitmentOf(RESULT, providers[2]));

        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](3);
        for (uint8 i; i < 3; ++i) {
            sc[i] = signedCommitOf(jobId, 3 + i, all[3 + i].provider, RESULT);
        }
        vm.prank(requester);
        market.reveal(jobId, all, RESULT, sc);
        (s2,) = stakeOf(providers[2]);
        vm.assertEq(s2, STAKE - BOND, "not bonded twice, not slashed");
        (uint96 s1,) = stakeOf(providers[1]);
        vm.assertEq(s1, STAKE - SLASH, "dissenter slashed");
        vm.assertEq(market.owed(providers[0]), NET, "right original paid");
        vm.assertEq(market.owed(requester), 2 * uint256(PRICE), "6 escrowed, 4 paid");
    }

    /// @dev Arbiters that stay silent are drafted, not volunteers: no bond, no slash; the job then fails.
    function test_g_silentArbiters_untouched_jobFails() public {
        (bytes32 jobId, JobMarket.Assignment[] memory all) = disputedPair();
        (, uint40 ard) = deadlinesOf(jobId);
        vm.warp(ard + 1);
        market.expire(jobId, all);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Failed), "failed");
        for (uint256 i = 2; i < 4; ++i) {
            (uint96 s,) = stakeOf(all[i].provider);
            vm.assertEq(s, STAKE, "silent arbiter untouched");
        }
    }

    // =========================================================================================================
    // (h) Dust jobs earn no reward units.
    // =========================================================================================================

    function paidJobAt(uint96 price) internal returns (bytes32 jobId) {
        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.None;
        req.pricePerReplica = price;
        jobId = market.jobIdOf(requester, req.salt);
        create(req, offers(req, jobId, 1, price));
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](1);
        sc[0] = signedCommit(jobId, 0, RESULT);
        vm.prank(requester);
        market.reveal(jobId, assignmentOf(1, price), RESULT, sc);
    }

    /// @dev Old: units were the price paid, so any number of 1-wei jobs earned a share of the emission.
    function test_h_tinyJobsEarnNoRewardUnits() public {
        paidJobAt(39); // fee rounds to 0
        vm.assertEq(market.workUnits(providers[0], 0), 0, "fee 0: no units");
        uint96 belowMin = uint96(uint256(MIN_REWARD_FEE) * 10_000 / FEE_BPS - 40); // fee just under the minimum
        paidJobAt(belowMin);
        vm.assertLt(uint256(belowMin) * FEE_BPS / 10_000, MIN_REWARD_FEE, "fee below the minimum");
        vm.assertEq(market.workUnits(providers[0], 0), 0, "fee < minRewardFee: no units");
        vm.assertEq(market.epochUnits(0), 0, "the epoch has no work");
        vm.warp(block.timestamp + EPOCH);
        uint256[] memory e = new uint256[](1);
        vm.prank(providers[0]);
        vm.expectRevert(Rewards.NothingToClaim.selector);
        rewards.claim(e);

        // A job whose fee reaches the minimum counts its fee.
        paidJobAt(PRICE);
        vm.assertEq(market.workUnits(providers[0], 1), FEE, "units = the fee");
    }
}
