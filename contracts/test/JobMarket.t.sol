// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {NodeRegistry} from "../src/NodeRegistry.sol";
import {IResultVerifier} from "../src/IResultVerifier.sol";
import {MockVerifier} from "./mocks/MockVerifier.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Every path of the JobMarket: creation (one signed offer per replica, permit), commit, reveal (signed,
///         on-chain, mixed; early and late; by requester and provider), settlement money flows (arbitration
///         deposit, no-show bonds), expire (into arbitration or failure), arbitration, withdraw, Proof and None
///         modes, governance setters within their bounds, and a custom error for every bad input.
///         test/Holes.t.sol has one test per finding of issue 15.
contract JobMarketTest is Fixture {
    bytes internal constant RESULT = hex"0155122011223344556677889900aabbccddeeff11223344556677889900aabbccddeeff";
    bytes internal constant WRONG = hex"01551220deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
    bytes internal constant BOGUS = hex"0155122000000000000000000000000000000000000000000000000000000000000000ff";

    uint256 internal constant NET = PRICE - PRICE * FEE_BPS / 10_000; // what a provider earns per replica
    uint256 internal constant FEE = PRICE * FEE_BPS / 10_000;

    event JobCreated(
        bytes32 indexed jobId,
        address indexed requester,
        bytes manifestCid,
        uint8 replicas,
        uint8 quorum,
        JobMarket.Mode mode,
        uint96 pricePerReplica,
        uint40 commitDeadline,
        uint40 revealDeadline,
        bytes32 limitsHash
    );
    event ProviderAssigned(bytes32 indexed jobId, address indexed provider, uint8 index, uint96 price);
    event Committed(bytes32 indexed jobId, address indexed provider, bytes32 commitment);
    event JobFinalized(bytes32 indexed jobId, bytes resultCid, uint8 matches, uint256 refund);
    event ProviderPaid(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event ProviderSlashed(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event JobFailed(bytes32 indexed jobId, uint256 refund);
    event NoShowBondTaken(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event ArbitrationStarted(bytes32 indexed jobId, uint40 commitDeadline, uint40 revealDeadline);
    event Withdrawn(address indexed account, uint256 amount);

    // =========================================================================================================
    // helpers
    // =========================================================================================================

    function allSigned(bytes32 jobId, uint8 n, bytes memory cid)
        internal
        view
        returns (JobMarket.SignedCommit[] memory sc)
    {
        sc = new JobMarket.SignedCommit[](n);
        for (uint8 i; i < n; ++i) {
            sc[i] = signedCommit(jobId, i, cid);
        }
    }

    function revealAs(
        address who,
        bytes32 jobId,
        JobMarket.Assignment[] memory a,
        bytes memory cid,
        JobMarket.SignedCommit[] memory sc
    ) internal {
        vm.prank(who);
        market.reveal(jobId, a, cid, sc);
    }

    function expectCreateRevert(JobMarket.JobRequest memory req, JobMarket.Offer[] memory o, bytes memory err)
        internal
    {
        vm.prank(requester);
        vm.expectRevert(err);
        market.createJob(req, o);
    }

    function setVerifier(IResultVerifier v) internal {
        vm.prank(address(timelock));
        market.setProofVerifier(v);
    }

    // =========================================================================================================
    // createJob
    // =========================================================================================================

    function test_createJob_withOffers_assignsAndEscrows() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        uint256 before = token.balanceOf(requester);

        vm.expectEmit(address(market));
        emit JobCreated(
            jobId,
            requester,
            req.manifestCid,
            3,
            2,
            JobMarket.Mode.Quorum,
            PRICE,
            req.commitDeadline,
            req.commitDeadline + REVEAL_WINDOW,
            LIMITS
        );
        for (uint8 i; i < 3; ++i) {
            vm.expectEmit(address(market));
            emit ProviderAssigned(jobId, providers[i], i, PRICE);
        }
        vm.prank(requester);
        bytes32 got = market.createJob(req, o);

        vm.assertEq(got, jobId, "returned id");
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Assigned), "assigned");
        // Quorum mode escrows the budget and as much again as the arbitration deposit.
        vm.assertEq(market.escrowOf(JobMarket.Mode.Quorum, 3, PRICE), 6 * uint256(PRICE), "escrowOf");
        vm.assertEq(token.balanceOf(address(market)), 6 * uint256(PRICE), "escrow");
        vm.assertEq(token.balanceOf(requester), before - 6 * uint256(PRICE), "requester paid");
        checkStoredJob(jobId, req);
    }

    function checkStoredJob(bytes32 jobId, JobMarket.JobRequest memory req) internal view {
        JobMarket.Job memory job = market.jobOf(jobId);
        (address rq, uint40 cd, uint8 reps, uint8 quorum, JobMarket.Mode mode) =
            (job.requester, job.commitDeadline, job.replicas, job.quorum, job.mode);
        vm.assertEq(rq, requester, "requester");
        vm.assertEq(cd, req.commitDeadline, "commit deadline");
        vm.assertEq(reps, 3, "replicas");
        vm.assertEq(quorum, 2, "quorum");
        vm.assertEq(uint256(mode), uint256(JobMarket.Mode.Quorum), "mode");
        (uint96 ppr, uint40 rd, uint16 fee) = (job.pricePerReplica, job.revealDeadline, job.feeBps);
        vm.assertEq(rd, req.commitDeadline + REVEAL_WINDOW, "reveal deadline");
        vm.assertEq(ppr, PRICE, "price");
        vm.assertEq(fee, FEE_BPS, "fee copied");
        (uint16 slash, uint16 noShow, uint40 arbWindow, bytes32 ah) =
            (job.slashBps, job.noShowBps, job.arbitrationWindow, job.assignmentHash);
        vm.assertEq(slash, SLASH_BPS, "slash copied");
        vm.assertEq(noShow, NO_SHOW_BPS, "no-show bond copied");
        vm.assertEq(arbWindow, market.arbitrationWindow(), "arbitration window copied");
        vm.assertEq(ah, keccak256(abi.encode(assignmentOf(3, PRICE))), "assignment hash");
    }

    function test_createJob_escrowByMode() public view {
        vm.assertEq(market.escrowOf(JobMarket.Mode.None, 1, PRICE), PRICE, "None: the price");
        vm.assertEq(market.escrowOf(JobMarket.Mode.Proof, 1, PRICE), PRICE, "Proof: the price");
        vm.assertEq(market.escrowOf(JobMarket.Mode.Quorum, 1, PRICE), 2 * uint256(PRICE), "Quorum: doubled");
        vm.assertEq(market.escrowOf(JobMarket.Mode.Quorum, 5, PRICE), 10 * uint256(PRICE), "Quorum r=5");
    }

    function test_createJob_offersBelowCap_paidAtTheirOffer_restRefunded() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        bytes32 terms = termsOf(req, firstN(3));
        JobMarket.Offer[] memory o = new JobMarket.Offer[](3);
        o[0] = offerBy(jobId, 0, 8 ether, terms);
        o[1] = offerBy(jobId, 1, 9 ether, terms);
        o[2] = offerBy(jobId, 2, PRICE, terms);
        vm.prank(requester);
        market.createJob(req, o);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Assigned), "assigned at birth");

        JobMarket.Assignment[] memory a = new JobMarket.Assignment[](3);
        a[0] = JobMarket.Assignment(providers[0], 8 ether);
        a[1] = JobMarket.Assignment(providers[1], 9 ether);
        a[2] = JobMarket.Assignment(providers[2], PRICE);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        revealAs(requester, jobId, a, RESULT, sc);
        vm.assertEq(market.owed(requester), 6 * uint256(PRICE) - 27 ether, "difference and deposit refunded");
        vm.assertEq(market.owed(providers[0]), 8 ether - 8 ether * uint256(FEE_BPS) / 10_000, "p0 at its offer");
        vm.assertEq(market.owed(providers[2]), NET, "p2 at the cap");
    }

    function test_createJob_sameSaltDifferentRequesters_distinctIds() public view {
        bytes32 salt = bytes32(uint256(7));
        vm.assertNotEq(market.jobIdOf(requester, salt), market.jobIdOf(providers[0], salt), "ids are per requester");
        vm.assertEq(
            market.jobIdOf(requester, salt),
            keccak256(abi.encode(block.chainid, address(market), requester, salt)),
            "id formula"
        );
    }

    function test_createJob_reverts_offerCountMismatch() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        expectCreateRevert(req, noOffers(), abi.encodeWithSelector(JobMarket.OfferCountMismatch.selector, 0, 3));
        expectCreateRevert(
            req, offers(req, jobId, 2, PRICE), abi.encodeWithSelector(JobMarket.OfferCountMismatch.selector, 2, 3)
        );
        expectCreateRevert(
            req, offers(req, jobId, 4, PRICE), abi.encodeWithSelector(JobMarket.OfferCountMismatch.selector, 4, 3)
        );
    }

    function test_createJob_reverts_zeroReplicas() public {
        expectCreateRevert(request(0, 0), noOffers(), abi.encodeWithSelector(JobMarket.ZeroReplicas.selector));
    }

    function test_createJob_reverts_tooManyReplicas() public {
        expectCreateRevert(request(17, 9), noOffers(), abi.encodeWithSelector(JobMarket.TooManyReplicas.selector, 17));
    }

    function test_createJob_reverts_quorumAboveReplicas() public {
        expectCreateRevert(request(3, 4), noOffers(), abi.encodeWithSelector(JobMarket.QuorumOutOfRange.selector, 4, 3));
    }

    function test_createJob_reverts_zeroQuorum() public {
        expectCreateRevert(request(3, 0), noOffers(), abi.encodeWithSelector(JobMarket.QuorumOutOfRange.selector, 0, 3));
    }

    function test_createJob_reverts_quorumNotAMajority() public {
        // 2 of 4 could let two different results both reach quorum.
        expectCreateRevert(request(4, 2), noOffers(), abi.encodeWithSelector(JobMarket.QuorumOutOfRange.selector, 2, 4));
    }

    function test_createJob_reverts_noneModeWithReplicas() public {
        JobMarket.JobRequest memory req = request(3, 2);
        req.mode = JobMarket.Mode.None;
        expectCreateRevert(
            req, noOffers(), abi.encodeWithSelector(JobMarket.ModeNeedsOneReplica.selector, JobMarket.Mode.None)
        );
    }

    function test_createJob_reverts_proofModeWithReplicas() public {
        JobMarket.JobRequest memory req = request(2, 2);
        req.mode = JobMarket.Mode.Proof;
        expectCreateRevert(
            req, noOffers(), abi.encodeWithSelector(JobMarket.ModeNeedsOneReplica.selector, JobMarket.Mode.Proof)
        );
    }

    function test_createJob_reverts_zeroPrice() public {
        JobMarket.JobRequest memory req = request(3, 2);
        req.pricePerReplica = 0;
        expectCreateRevert(req, noOffers(), abi.encodeWithSelector(JobMarket.ZeroPrice.selector));
    }

    function test_createJob_reverts_deadlineNow() public {
        JobMarket.JobRequest memory req = request(3, 2);
        req.commitDeadline = uint40(block.timestamp);
        expectCreateRevert(
            req, noOffers(), abi.encodeWithSelector(JobMarket.DeadlineOutOfRange.selector, block.timestamp)
        );
    }

    function test_createJob_reverts_deadlinePast() public {
        vm.warp(1000);
        JobMarket.JobRequest memory req = request(3, 2);
        req.commitDeadline = 999;
        expectCreateRevert(req, noOffers(), abi.encodeWithSelector(JobMarket.DeadlineOutOfRange.selector, 999));
    }

    function test_createJob_reverts_deadlineBeyondMaxDuration() public {
        JobMarket.JobRequest memory req = request(3, 2);
        req.commitDeadline = uint40(block.timestamp + MAX_JOB + 1);
        expectCreateRevert(
            req, noOffers(), abi.encodeWithSelector(JobMarket.DeadlineOutOfRange.selector, req.commitDeadline)
        );
        // Exactly the maximum is allowed.
        req.commitDeadline = uint40(block.timestamp + MAX_JOB);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
    }

    function test_createJob_reverts_tooManyOffers() public {
        JobMarket.JobRequest memory req = request(1, 1);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        expectCreateRevert(
            req, offers(req, jobId, 2, PRICE), abi.encodeWithSelector(JobMarket.OfferCountMismatch.selector, 2, 1)
        );
    }

    function test_createJob_reverts_jobExists() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.JobExists.selector, jobId));
    }

    function test_createJob_reverts_offerExpired() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        vm.warp(block.timestamp + 11 minutes);
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.OfferExpired.selector, providers[0]));
    }

    function test_createJob_reverts_offerAbovePrice() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE + 1);
        expectCreateRevert(
            req, o, abi.encodeWithSelector(JobMarket.OfferAbovePrice.selector, providers[0], PRICE + 1, PRICE)
        );
    }

    function test_createJob_reverts_offerSignedByAnotherKey() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        bytes32 terms = termsOf(req, firstN(3));
        (o[1].r, o[1].vs) = sign(providerKeys[2], market.offerDigest(jobId, providers[1], PRICE, o[1].expiry, terms));
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[1]));
    }

    function test_createJob_reverts_offerForAnotherJob() public {
        JobMarket.JobRequest memory req = request(3, 2);
        JobMarket.Offer[] memory o = offers(req, keccak256("another job"), 3, PRICE);
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[0]));
    }

    function test_createJob_reverts_offerPriceTampered() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, 5 ether);
        o[2].price = 9 ether; // the requester cannot raise (or lower) what the provider signed
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[2]));
    }

    function test_createJob_reverts_offerExpiryTampered() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        o[1].expiry += 1 days;
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[1]));
    }

    function test_createJob_reverts_offerProviderAssignedTwice() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        uint256[] memory idx = firstN(3);
        idx[2] = 0; // providers[0] twice, and it signed exactly that
        bytes32 terms = termsOf(req, idx);
        JobMarket.Offer[] memory o = new JobMarket.Offer[](3);
        for (uint256 i; i < 3; ++i) {
            o[i] = offerBy(jobId, idx[i], PRICE, terms);
        }
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.ProviderAlreadyAssigned.selector, providers[0]));
    }

    function test_createJob_reverts_unregisteredProvider() public {
        uint256 key = 0xBAD;
        address stranger = vm.addr(key);
        JobMarket.JobRequest memory req = request(1, 1);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        address[] memory list = new address[](1);
        list[0] = stranger;
        bytes32 terms = market.termsHash(req, list);
        JobMarket.Offer[] memory o = new JobMarket.Offer[](1);
        uint40 expiry = uint40(block.timestamp + 1 hours);
        (bytes32 r, bytes32 vs) = sign(key, market.offerDigest(jobId, stranger, PRICE, expiry, terms));
        o[0] = JobMarket.Offer(stranger, PRICE, expiry, r, vs);
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.ProviderNotActive.selector, stranger));
    }

    function test_createJob_reverts_providerUnbondedBelowMinimum() public {
        vm.prank(providers[1]);
        registry.unbond(STAKE - MIN_STAKE + 1);
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.ProviderNotActive.selector, providers[1]));
    }

    function test_createJob_reverts_withoutAllowance() public {
        vm.prank(requester);
        token.approve(address(market), 0);
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        expectCreateRevert(
            req,
            offers(req, jobId, 3, PRICE),
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(market), 0, 6 * PRICE)
        );
    }

    // ---- permit ----

    function permitSig(uint256 key, uint256 value, uint256 deadline)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        address owner = vm.addr(key);
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                address(market),
                value,
                token.nonces(owner),
                deadline
            )
        );
        (v, r, s) = vm.sign(key, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
    }

    function test_createJobWithPermit_oneTransaction() public {
        uint256 key = 0xCAFE;
        address fresh = vm.addr(key);
        token.transfer(fresh, 100 ether);
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(fresh, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        (uint8 v, bytes32 r, bytes32 s) = permitSig(key, 6 * PRICE, block.timestamp + 1 hours);
        vm.assertEq(token.allowance(fresh, address(market)), 0, "no approve beforehand");

        vm.prank(fresh);
        market.createJobWithPermit(req, o, block.timestamp + 1 hours, v, r, s);

        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Assigned), "assigned");
        vm.assertEq(token.balanceOf(fresh), 40 ether, "escrowed budget and deposit");
        vm.assertEq(token.allowance(fresh, address(market)), 0, "permit used up exactly");
        vm.assertEq(token.nonces(fresh), 1, "permit consumed");
    }

    function test_createJobWithPermit_frontRunPermitStillCreates() public {
        uint256 key = 0xCAFE;
        address fresh = vm.addr(key);
        token.transfer(fresh, 100 ether);
        JobMarket.JobRequest memory req = request(3, 2);
        JobMarket.Offer[] memory o = offers(req, market.jobIdOf(fresh, req.salt), 3, PRICE);
        (uint8 v, bytes32 r, bytes32 s) = permitSig(key, 6 * PRICE, block.timestamp + 1 hours);
        // Someone copies the permit from the mempool and submits it first.
        token.permit(fresh, address(market), 6 * PRICE, block.timestamp + 1 hours, v, r, s);
        vm.prank(fresh);
        bytes32 jobId = market.createJobWithPermit(req, o, block.timestamp + 1 hours, v, r, s);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Assigned), "created anyway");
        vm.assertEq(token.balanceOf(fresh), 40 ether, "escrowed");
    }

    function test_createJobWithPermit_badPermitNoAllowance_reverts() public {
        uint256 key = 0xCAFE;
        address fresh = vm.addr(key);
        token.transfer(fresh, 100 ether);
        JobMarket.JobRequest memory req = request(3, 2);
        JobMarket.Offer[] memory o = offers(req, market.jobIdOf(fresh, req.salt), 3, PRICE);
        (uint8 v, bytes32 r, bytes32 s) = permitSig(0xDEAD, 6 * PRICE, block.timestamp + 1 hours);
        vm.prank(fresh);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(market), 0, 6 * PRICE)
        );
        market.createJobWithPermit(req, o, block.timestamp + 1 hours, v, r, s);
    }

    // =========================================================================================================
    // commit
    // =========================================================================================================

    function test_commit_storesAndEmits() public {
        (bytes32 jobId,) = createAssigned(3, 2);
        bytes32 c = commitmentOf(RESULT, providers[0]);
        vm.assertEq(c, commitmentOf(RESULT, providers[0]), "formula matches the contract");
        vm.expectEmit(address(market));
        emit Committed(jobId, providers[0], c);
        vm.prank(providers[0]);
        market.commit(jobId, c);
        vm.assertEq(market.commitments(jobId, providers[0]), c, "stored");
    }

    function test_commit_reverts_failedJob() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(1, 1);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        market.expire(jobId, a);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Failed));
        market.commit(jobId, bytes32(uint256(1)));
    }

    function test_commit_reverts_second() public {
        (bytes32 jobId,) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        vm.prank(providers[0]);
        vm.expectRevert(JobMarket.AlreadyCommitted.selector);
        market.commit(jobId, commitmentOf(WRONG, providers[0]));
    }

    function test_commit_reverts_zero() public {
        (bytes32 jobId,) = createAssigned(3, 2);
        vm.prank(providers[0]);
        vm.expectRevert(JobMarket.ZeroCommitment.selector);
        market.commit(jobId, bytes32(0));
    }

    function test_commit_reverts_afterDeadline() public {
        (bytes32 jobId,) = createAssigned(3, 2);
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd); // the deadline itself is still in time
        commitOnChain(jobId, 0, RESULT);
        vm.warp(cd + 1);
        bytes32 c = commitmentOf(RESULT, providers[1]);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.CommitClosed.selector, cd));
        market.commit(jobId, c);
    }

    function test_commit_reverts_unknownAndFinalJobs() public {
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Nonexistent));
        market.commit(keccak256("nope"), bytes32(uint256(1)));

        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        revealAs(requester, jobId, a, RESULT, sc);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Finalized));
        market.commit(jobId, bytes32(uint256(1)));
    }

    // =========================================================================================================
    // reveal: happy paths
    // =========================================================================================================

    function assertPaidAll(bytes32 jobId, uint256 n) internal view {
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Finalized), "finalized");
        for (uint256 i; i < n; ++i) {
            vm.assertEq(market.owed(providers[i]), NET, "provider paid net of fee");
        }
        vm.assertEq(market.owed(treasury), n * FEE, "fees to treasury");
    }

    function test_reveal_requester_signedCommits_early() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        for (uint8 i; i < 3; ++i) {
            vm.expectEmit(address(market));
            emit ProviderPaid(jobId, providers[i], NET);
        }
        vm.expectEmit(address(market));
        emit JobFinalized(jobId, RESULT, 3, 3 * uint256(PRICE));
        revealAs(requester, jobId, a, RESULT, sc);
        assertPaidAll(jobId, 3);
        vm.assertEq(market.owed(requester), 3 * uint256(PRICE), "only the unused arbitration deposit refunded");
        vm.assertEq(token.balanceOf(address(market)), 6 * uint256(PRICE), "all still held for withdrawal");
    }

    function test_reveal_requester_onChainCommits_early() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        for (uint256 i; i < 3; ++i) {
            commitOnChain(jobId, i, RESULT);
        }
        revealAs(requester, jobId, a, RESULT, noCommits());
        assertPaidAll(jobId, 3);
    }

    function test_reveal_requester_mixedCommits_early() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 1, RESULT);
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](2);
        sc[0] = signedCommit(jobId, 2, RESULT); // any order
        sc[1] = signedCommit(jobId, 0, RESULT);
        revealAs(requester, jobId, a, RESULT, sc);
        assertPaidAll(jobId, 3);
    }

    function test_reveal_byProvider_early_whenComplete() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        for (uint256 i; i < 3; ++i) {
            commitOnChain(jobId, i, RESULT);
        }
        revealAs(providers[2], jobId, a, RESULT, noCommits());
        assertPaidAll(jobId, 3);
    }

    function test_reveal_early_reverts_whenACommitmentIsMissing() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        (uint40 cd,) = deadlinesOf(jobId);
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](2);
        sc[0] = signedCommit(jobId, 0, RESULT);
        sc[1] = signedCommit(jobId, 1, RESULT);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.RevealTooEarly.selector, cd));
        market.reveal(jobId, a, RESULT, sc);
        // At the deadline itself the third provider may still commit, so it is still too early.
        vm.warp(cd);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.RevealTooEarly.selector, cd));
        market.reveal(jobId, a, RESULT, sc);
        // Right after it, the two commitments decide.
        vm.warp(cd + 1);
        revealAs(requester, jobId, a, RESULT, sc);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Finalized), "finalized late");
    }

    function test_reveal_byProvider_afterCommitDeadline_noShowLosesItsBond() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, RESULT);
        (uint40 cd, uint40 rd) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        (uint96 stakedBefore,) = stakeOf(providers[2]);
        uint256 bond = uint256(STAKE) * NO_SHOW_BPS / 10_000;
        uint256 treasuryBefore = token.balanceOf(treasury);

        vm.expectEmit(address(market));
        emit NoShowBondTaken(jobId, providers[2], bond);
        vm.expectEmit(address(market));
        emit JobFinalized(jobId, RESULT, 2, 4 * uint256(PRICE));
        revealAs(providers[1], jobId, a, RESULT, noCommits());

        vm.assertEq(market.owed(providers[0]), NET, "p0 paid");
        vm.assertEq(market.owed(providers[1]), NET, "p1 paid");
        vm.assertEq(market.owed(providers[2]), 0, "no-show not paid");
        (uint96 stakedAfter,) = stakeOf(providers[2]);
        vm.assertEq(stakedAfter, stakedBefore - bond, "no-show bond taken from the stake");
        vm.assertEq(token.balanceOf(treasury) - treasuryBefore, bond, "bond sent to the treasury");
        vm.assertEq(market.owed(requester), 4 * uint256(PRICE), "the no-show's replica and the deposit refunded");
        vm.assertEq(market.owed(treasury), 2 * FEE, "fees of the two paid");
        vm.assertLe(block.timestamp, rd, "within the reveal window");
    }

    function test_reveal_atRevealDeadline_stillAllowed() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, RESULT);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd);
        revealAs(providers[0], jobId, a, RESULT, noCommits());
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Finalized), "finalized at the deadline");
    }

    function test_reveal_requesterBogusCid_quorumNotReached_thenProvidersRevealTruth() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        for (uint256 i; i < 3; ++i) {
            commitOnChain(jobId, i, RESULT);
        }
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        // A requester trying to dodge payment reveals something nobody computed.
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.QuorumNotReached.selector, 0, 2));
        market.reveal(jobId, a, BOGUS, noCommits());
        // The providers reveal the real result and are paid.
        revealAs(providers[0], jobId, a, RESULT, noCommits());
        assertPaidAll(jobId, 3);
        vm.assertEq(market.owed(requester), 3 * uint256(PRICE), "no refund but the deposit for a delivered result");
    }

    function test_reveal_disagreeingMinoritySlashedAndNotPaid() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](3);
        sc[0] = signedCommit(jobId, 0, RESULT);
        sc[1] = signedCommit(jobId, 1, RESULT);
        sc[2] = signedCommit(jobId, 2, WRONG);
        uint256 slashAmount = uint256(STAKE) * SLASH_BPS / 10_000;
        uint256 treasuryBefore = token.balanceOf(treasury);

        vm.expectEmit(address(market));
        emit ProviderSlashed(jobId, providers[2], slashAmount);
        vm.expectEmit(address(market));
        emit JobFinalized(jobId, RESULT, 2, 4 * uint256(PRICE));
        revealAs(requester, jobId, a, RESULT, sc);

        vm.assertEq(market.owed(providers[2]), 0, "slashed provider not paid");
        (uint96 staked,) = stakeOf(providers[2]);
        vm.assertEq(staked, STAKE - slashAmount, "stake cut");
        vm.assertEq(token.balanceOf(treasury) - treasuryBefore, slashAmount, "slash sent to treasury");
        vm.assertEq(market.owed(providers[0]), NET, "majority paid");
        vm.assertEq(market.owed(requester), 4 * uint256(PRICE), "slashed provider's replica and deposit refunded");
    }

    function test_reveal_requesterCannotPickTheMinorityResult() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](3);
        sc[0] = signedCommit(jobId, 0, RESULT);
        sc[1] = signedCommit(jobId, 1, RESULT);
        sc[2] = signedCommit(jobId, 2, WRONG);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.QuorumNotReached.selector, 1, 2));
        market.reveal(jobId, a, WRONG, sc);
    }

    function test_reveal_fiveReplicas_twoDissentersSlashed() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(5, 3);
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](5);
        for (uint8 i; i < 5; ++i) {
            sc[i] = signedCommit(jobId, i, i < 3 ? RESULT : WRONG);
        }
        revealAs(requester, jobId, a, RESULT, sc);
        for (uint256 i; i < 5; ++i) {
            (uint96 staked,) = stakeOf(providers[i]);
            if (i < 3) {
                vm.assertEq(market.owed(providers[i]), NET, "majority paid");
                vm.assertEq(staked, STAKE, "majority not slashed");
            } else {
                vm.assertEq(market.owed(providers[i]), 0, "dissenter not paid");
                vm.assertLt(staked, STAKE, "dissenter slashed");
            }
        }
        vm.assertEq(market.owed(requester), 7 * uint256(PRICE), "two replicas and the deposit refunded");
    }

    /// @dev Five providers, three in the job: only two could arbitrate, so arbitration cannot start.
    function test_reveal_threeWaySplit_noQuorum_noArbitersLeft_expireRefundsAll() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, WRONG);
        commitOnChain(jobId, 2, BOGUS);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.QuorumNotReached.selector, 1, 2));
        market.reveal(jobId, a, RESULT, noCommits());
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        vm.expectEmit(address(market));
        emit JobFailed(jobId, 6 * uint256(PRICE));
        market.expire(jobId, a);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Failed), "failed, not in arbitration");
        vm.assertEq(market.owed(requester), 6 * uint256(PRICE), "full refund");
        for (uint256 i; i < 3; ++i) {
            (uint96 staked,) = stakeOf(providers[i]);
            vm.assertEq(staked, STAKE, "nobody slashed without a verdict");
        }
    }

    function test_reveal_signedCommitFillsMissingOnChainOne() public {
        // A provider that committed on chain need not sign; one that signed need not commit on chain.
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](1);
        sc[0] = signedCommit(jobId, 1, RESULT);
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        revealAs(providers[0], jobId, a, RESULT, sc);
        vm.assertEq(market.owed(providers[1]), NET, "signed commit counted");
    }

    /// @dev A provider whose commitment is on chain cannot be made a no-show by a requester that leaves it out.
    function test_reveal_onChainCommitCannotBeOmitted() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 2, RESULT);
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](2);
        sc[0] = signedCommit(jobId, 0, RESULT);
        sc[1] = signedCommit(jobId, 1, RESULT);
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        vm.prank(requester);
        market.reveal(jobId, a, RESULT, sc);
        vm.assertEq(market.owed(providers[2]), NET, "paid");
        (uint96 s,) = stakeOf(providers[2]);
        vm.assertEq(s, STAKE, "no bond");
    }

    /// @dev Documents a limit of the no-show bond (reported with issue 15): after the commit deadline whatever
    ///      was committed counts, and a commitment that exists only as a signature held by the requester is not
    ///      "committed" unless the requester includes it. A requester that leaves one out makes an honest
    ///      provider a no-show: unpaid, its replica refunded, its bond taken. A provider's defence is to commit on
    ///      chain before the commit deadline whenever the job is not settled yet (test above).
    function test_reveal_signedOnlyCommitLeftOut_afterDeadline_isANoShow() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](2);
        sc[0] = signedCommit(jobId, 0, RESULT);
        sc[1] = signedCommit(jobId, 1, RESULT);
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        vm.prank(requester);
        market.reveal(jobId, a, RESULT, sc); // provider 2's signature, also handed over, is left out
        vm.assertEq(market.owed(providers[2]), 0, "unpaid");
        (uint96 s,) = stakeOf(providers[2]);
        vm.assertEq(s, STAKE - uint256(STAKE) * NO_SHOW_BPS / 10_000, "bonded");
        vm.assertEq(market.owed(requester), 4 * uint256(PRICE), "its replica refunded to the requester");
    }

    function test_reveal_recordsWorkUnits() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](3);
        sc[0] = signedCommit(jobId, 0, RESULT);
        sc[1] = signedCommit(jobId, 1, RESULT);
        sc[2] = signedCommit(jobId, 2, WRONG);
        revealAs(requester, jobId, a, RESULT, sc);
        vm.assertEq(market.currentEpoch(), 0, "epoch 0");
        vm.assertEq(market.epochUnits(0), 2 * FEE, "units = fees paid for accepted results");
        vm.assertEq(market.workUnits(providers[0], 0), FEE, "per-provider units");
        vm.assertEq(market.workUnits(providers[2], 0), 0, "a slashed provider did no verified work");

        // Work in a later epoch rolls the earlier epoch's units into pastUnits; both stay readable.
        vm.warp(block.timestamp + EPOCH);
        (bytes32 job2, JobMarket.Assignment[] memory a2) = createAssigned(1, 1);
        JobMarket.SignedCommit[] memory sc2 = allSigned(job2, 1, RESULT);
        revealAs(requester, job2, a2, RESULT, sc2);
        vm.assertEq(market.workUnits(providers[0], 0), FEE, "epoch 0 kept");
        vm.assertEq(market.pastUnits(providers[0], 0), FEE, "rolled into pastUnits");
        vm.assertEq(market.workUnits(providers[0], 1), FEE, "epoch 1");
        vm.assertEq(market.epochUnits(1), FEE, "epoch 1 total");
        vm.assertEq(market.owed(providers[0]), 2 * NET, "paid for both");
    }

    function test_reveal_feeChangedByGovernance_doesNotAffectRunningJob() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        vm.prank(address(timelock));
        market.setFeeBps(5_000);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        revealAs(requester, jobId, a, RESULT, sc);
        vm.assertEq(market.owed(providers[0]), NET, "old fee applies");
    }

    // =========================================================================================================
    // reveal: bad inputs
    // =========================================================================================================

    function test_reveal_reverts_second() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        revealAs(requester, jobId, a, RESULT, sc);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Finalized));
        market.reveal(jobId, a, RESULT, sc);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Finalized));
        market.reveal(jobId, a, RESULT, sc);
    }

    function test_reveal_reverts_badSignature() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        // provider 1's commitment signed by provider 2
        sc[1] = signedCommitBy(jobId, 1, 2, RESULT);
        sc[1].commitment = commitmentOf(RESULT, providers[1]);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[1]));
        market.reveal(jobId, a, RESULT, sc);
    }

    function test_reveal_reverts_signatureOverAnotherCommitment() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, WRONG);
        // The requester swaps the commitment under provider 2's signature for a matching one.
        sc[2].commitment = commitmentOf(RESULT, providers[2]);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[2]));
        market.reveal(jobId, a, RESULT, sc);
    }

    function test_reveal_reverts_signedCommitFromAnotherJob() public {
        (bytes32 jobA,) = createAssigned(3, 2);
        (bytes32 jobB, JobMarket.Assignment[] memory b) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobA, 3, RESULT);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[0]));
        market.reveal(jobB, b, RESULT, sc);
    }

    function test_reveal_reverts_malformedSignature() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        sc[0].r = bytes32(0); // ecrecover yields address(0), which OZ ECDSA rejects
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSignature("ECDSAInvalidSignature()"));
        market.reveal(jobId, a, RESULT, sc);
    }

    function test_reveal_reverts_badCommitIndex() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        sc[2].index = 3;
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BadCommitIndex.selector, 3));
        market.reveal(jobId, a, RESULT, sc);
    }

    function test_reveal_reverts_wrongAssignmentList() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        // reordered
        JobMarket.Assignment[] memory swapped = assignmentOf(3, PRICE);
        (swapped[0], swapped[1]) = (swapped[1], swapped[0]);
        vm.prank(requester);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.reveal(jobId, swapped, RESULT, sc);
        // inflated price
        JobMarket.Assignment[] memory pricey = assignmentOf(3, PRICE);
        pricey[0].price = PRICE + 1;
        vm.prank(requester);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.reveal(jobId, pricey, RESULT, sc);
        // a provider swapped for another
        JobMarket.Assignment[] memory other = assignmentOf(3, PRICE);
        other[2].provider = providers[3];
        vm.prank(requester);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.reveal(jobId, other, RESULT, sc);
        // truncated
        JobMarket.Assignment[] memory shortList = assignmentOf(2, PRICE);
        vm.prank(requester);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.reveal(jobId, shortList, RESULT, noCommits());
        a;
    }

    function test_reveal_reverts_nonParticipant() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        for (uint256 i; i < 3; ++i) {
            commitOnChain(jobId, i, RESULT);
        }
        // a registered provider that is not assigned
        vm.prank(providers[4]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotParticipant.selector, providers[4]));
        market.reveal(jobId, a, RESULT, noCommits());
        // a stranger
        vm.prank(address(0x5757));
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotParticipant.selector, address(0x5757)));
        market.reveal(jobId, a, RESULT, noCommits());
    }

    function test_reveal_reverts_nonAssignedCommitIgnored() public {
        // A commitment by someone outside the assignment never counts toward quorum.
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 4, RESULT);
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.QuorumNotReached.selector, 1, 2));
        market.reveal(jobId, a, RESULT, noCommits());
    }

    function test_reveal_reverts_afterRevealDeadline() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.RevealClosed.selector, rd));
        market.reveal(jobId, a, RESULT, sc);
    }

    function test_reveal_reverts_unknownJob() public {
        JobMarket.Assignment[] memory a = assignmentOf(3, PRICE);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Nonexistent));
        market.reveal(keccak256("nope"), a, RESULT, noCommits());
    }

    // =========================================================================================================
    // expire / arbitration / withdraw
    // =========================================================================================================

    function test_expire_assignedJob_noCommitments_bondsEveryoneAndRefunds() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        (uint40 cd, uint40 rd) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotExpired.selector, rd));
        market.expire(jobId, a);
        vm.warp(rd);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotExpired.selector, rd));
        market.expire(jobId, a);
        vm.warp(rd + 1);
        uint256 bond = uint256(STAKE) * NO_SHOW_BPS / 10_000;
        for (uint256 i; i < 3; ++i) {
            vm.expectEmit(address(market));
            emit NoShowBondTaken(jobId, providers[i], bond);
        }
        vm.expectEmit(address(market));
        emit JobFailed(jobId, 6 * uint256(PRICE));
        vm.prank(address(0x5757)); // anyone may call
        market.expire(jobId, a);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Failed), "failed");
        vm.assertEq(market.owed(requester), 6 * uint256(PRICE), "full refund");
        vm.assertEq(token.balanceOf(treasury), 3 * bond, "three bonds to the treasury");
    }

    /// @dev Some commitments but no arbiters available (5 providers, 3 in the job): the job fails; the committed
    ///      providers are neither paid nor slashed, the silent one loses its bond.
    function test_expire_assignedJob_commitmentsButNoArbiters_fails() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, WRONG);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        vm.expectEmit(address(market));
        emit NoShowBondTaken(jobId, providers[2], uint256(STAKE) * NO_SHOW_BPS / 10_000);
        vm.expectEmit(address(market));
        emit JobFailed(jobId, 6 * uint256(PRICE));
        market.expire(jobId, a);
        vm.assertEq(market.owed(requester), 6 * uint256(PRICE), "full refund");
        vm.assertEq(market.owed(providers[0]), 0, "not paid");
        (uint96 s0,) = stakeOf(providers[0]);
        (uint96 s1,) = stakeOf(providers[1]);
        vm.assertEq(s0, STAKE, "committed: not bonded");
        vm.assertEq(s1, STAKE, "dissent without a verdict: not slashed");
    }

    function test_expire_reverts_wrongAssignment() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        JobMarket.Assignment[] memory other = assignmentOf(3, PRICE);
        other[2].provider = providers[3]; // would bond an innocent provider
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.expire(jobId, other);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.expire(jobId, assignmentOf(2, PRICE));
        market.expire(jobId, a);
    }

    function test_expire_reverts_finalOrUnknown() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        revealAs(requester, jobId, a, RESULT, sc);
        vm.warp(block.timestamp + 30 days);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Finalized));
        market.expire(jobId, a);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Nonexistent));
        market.expire(keccak256("nope"), a);
    }

    function test_expire_twice_reverts() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(1, 1);
        vm.warp(block.timestamp + 3 hours);
        market.expire(jobId, a);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Failed));
        market.expire(jobId, a);
        vm.assertEq(market.owed(requester), 2 * uint256(PRICE), "refunded once");
    }

    // ---- arbitration (more in Holes.t.sol) ----

    /// @dev Ten more providers, so that arbiters can be drawn outside any small job.
    function moreProviders() internal {
        for (uint256 i; i < 10; ++i) {
            addProvider(0xC0C0 + i);
        }
        vm.prevrandao(bytes32(uint256(42)));
    }

    /// @dev A 2-replica unanimous job whose providers disagree on chain, expired into arbitration.
    function disputed() internal returns (bytes32 jobId, JobMarket.Assignment[] memory all) {
        moreProviders();
        JobMarket.Assignment[] memory a;
        (jobId, a) = createAssigned(2, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, WRONG);
        (uint40 cd, uint40 rd) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.QuorumNotReached.selector, 1, 2));
        market.reveal(jobId, a, RESULT, noCommits());
        vm.warp(rd + 1);
        JobMarket.Assignment[] memory arbiters = expireAndDraw(jobId, a);
        vm.assertEq(arbiters.length, 2, "two arbiters");
        all = concat(a, arbiters);
    }

    function test_arbitration_startsWithFreshDeadlines_arbitersOutsideTheJob() public {
        (bytes32 jobId, JobMarket.Assignment[] memory all) = disputed();
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Arbitration), "in arbitration");
        (uint40 cd, uint40 rd) = deadlinesOf(jobId);
        // Counted from the job's reveal deadline (disputed() expired it one second after), not from the call.
        vm.assertEq(cd, block.timestamp - 1 + ARBITRATION_WINDOW, "arbitration commit deadline");
        vm.assertEq(rd, cd + REVEAL_WINDOW, "arbitration reveal deadline");
        JobMarket.Assignment[] memory arbiters = new JobMarket.Assignment[](2);
        (arbiters[0], arbiters[1]) = (all[2], all[3]);
        vm.assertEq(market.arbitrationHash(jobId), keccak256(abi.encode(arbiters)), "arbiters bound by hash");
        for (uint256 i = 2; i < 4; ++i) {
            vm.assertTrue(all[i].provider != providers[0] && all[i].provider != providers[1], "outside the job");
            vm.assertEq(all[i].price, PRICE, "arbiters at the price cap");
            vm.assertTrue(registry.isActive(all[i].provider), "active");
        }
        vm.assertTrue(all[2].provider != all[3].provider, "distinct arbiters");
        // The originals cannot change their commitments; a reveal by the originals alone no longer settles.
        vm.prank(providers[1]);
        vm.expectRevert(JobMarket.AlreadyCommitted.selector);
        market.commit(jobId, commitmentOf(RESULT, providers[1]));
        vm.prank(requester);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.reveal(jobId, assignmentOf(2, PRICE), RESULT, noCommits());
        // Expire waits for the arbitration's reveal deadline.
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotExpired.selector, rd));
        market.expire(jobId, assignmentOf(2, PRICE));
    }

    /// @dev Governance changing the windows after creation changes nothing for a running job: its arbitration
    ///      round uses the arbitration window and reveal window copied at creation.
    function test_arbitration_usesTheWindowsTheJobWasCreatedWith() public {
        moreProviders();
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(2, 2);
        vm.startPrank(address(timelock));
        market.setArbitrationWindow(3 hours);
        market.setRevealWindow(2 hours);
        vm.stopPrank();
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, WRONG);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        expireAndDraw(jobId, a);
        (uint40 acd, uint40 ard) = deadlinesOf(jobId);
        vm.assertEq(acd, rd + ARBITRATION_WINDOW, "the arbitration window of creation");
        vm.assertEq(ard, acd + REVEAL_WINDOW, "the reveal window of creation");
    }

    function test_arbitration_reveal_reverts_badInputs() public {
        (bytes32 jobId, JobMarket.Assignment[] memory all) = disputed();
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](2);
        sc[0] = signedCommitOf(jobId, 2, all[2].provider, RESULT);
        sc[1] = signedCommitOf(jobId, 3, all[3].provider, RESULT);
        // Only the originals: wrong length.
        vm.prank(requester);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.reveal(jobId, assignmentOf(2, PRICE), RESULT, sc);
        // Other arbiters than the drawn ones.
        JobMarket.Assignment[] memory fake = concat(assignmentOf(2, PRICE), assignmentOf(2, PRICE));
        vm.prank(requester);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.reveal(jobId, fake, RESULT, sc);
        // An original's commitment cannot arrive as a signature (it could have been made after the fact).
        JobMarket.SignedCommit[] memory late = new JobMarket.SignedCommit[](1);
        late[0] = signedCommit(jobId, 1, RESULT);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BadCommitIndex.selector, 1));
        market.reveal(jobId, all, RESULT, late);
        // A stranger cannot settle.
        vm.prank(address(0x5757));
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotParticipant.selector, address(0x5757)));
        market.reveal(jobId, all, RESULT, sc);
        // Before the arbitration's commit deadline only a complete set settles.
        JobMarket.SignedCommit[] memory one = new JobMarket.SignedCommit[](1);
        one[0] = sc[0];
        (uint40 cd, uint40 rd) = deadlinesOf(jobId);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.RevealTooEarly.selector, cd));
        market.reveal(jobId, all, RESULT, one);
        // A majority of all 2r is needed: 1 original + 1 arbiter is not enough even late.
        vm.warp(cd + 1);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.QuorumNotReached.selector, 2, 3));
        market.reveal(jobId, all, RESULT, one);
        // After the reveal deadline it is closed.
        vm.warp(rd + 1);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.RevealClosed.selector, rd));
        market.reveal(jobId, all, RESULT, sc);
    }

    function test_arbitration_arbiterCommitsOnChain_andRevealsItself() public {
        (bytes32 jobId, JobMarket.Assignment[] memory all) = disputed();
        for (uint256 i = 2; i < 4; ++i) {
            vm.prank(all[i].provider);
            market.commit(jobId, commitmentOf(RESULT, all[i].provider));
        }
        vm.prank(all[3].provider); // complete: no need to wait
        market.reveal(jobId, all, RESULT, noCommits());
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Finalized), "finalized");
        vm.assertEq(market.owed(all[2].provider), NET, "arbiter paid");
        vm.assertEq(market.owed(providers[0]), NET, "honest original paid");
    }

    /// @dev With just enough eligible providers (5 registered, 2 in the job, so 3 eligible for 2 arbiter slots),
    ///      random tries alone would miss now and then; the sweep after them staffs every draw.
    function test_arbitration_smallRegistry_isAlwaysStaffed() public {
        for (uint256 k; k < 24; ++k) {
            vm.prevrandao(bytes32(k * 7919 + 1));
            (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(2, 2);
            commitOnChain(jobId, 0, RESULT);
            commitOnChain(jobId, 1, WRONG);
            (, uint40 rd) = deadlinesOf(jobId);
            vm.warp(rd + 1);
            market.expire(jobId, a);
            vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Arbitration), "staffed");
        }
    }

    /// @dev Drafted arbiters did not volunteer: one that dissents from the verdict is not paid, but never slashed
    ///      (a requester's Sybils among the originals plus one drafted arbiter could otherwise outvote an honest
    ///      arbiter and have it slashed). A dissenting original is.
    function test_arbitration_dissentingArbiter_isUnpaidButNotSlashed() public {
        moreProviders();
        // r = q = 3 (unanimity): two originals agree, one dissents, so no quorum and arbitration.
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 3);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, RESULT);
        commitOnChain(jobId, 2, WRONG);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        JobMarket.Assignment[] memory all = concat(a, expireAndDraw(jobId, a));
        for (uint256 i = 3; i < 5; ++i) {
            vm.prank(all[i].provider);
            market.commit(jobId, commitmentOf(RESULT, all[i].provider));
        }
        vm.prank(all[5].provider);
        market.commit(jobId, commitmentOf(WRONG, all[5].provider));
        (uint96 arbiterStake,,,) = registry.stakes(all[5].provider);
        (uint96 originalStake,,,) = registry.stakes(providers[2]);
        vm.prank(requester); // every one of the 6 has committed: no need to wait for the deadline
        market.reveal(jobId, all, RESULT, noCommits());
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Finalized), "4 of 6 is a verdict");
        (uint96 arbiterAfter,,,) = registry.stakes(all[5].provider);
        (uint96 originalAfter,,,) = registry.stakes(providers[2]);
        vm.assertEq(arbiterAfter, arbiterStake, "the dissenting arbiter keeps its stake");
        vm.assertEq(market.owed(all[5].provider), 0, "and is not paid");
        vm.assertLt(originalAfter, originalStake, "the dissenting original is slashed");
        vm.assertEq(market.owed(all[3].provider), NET, "an agreeing arbiter is paid");
    }

    /// @dev The arbitration round is fixed from the job's reveal deadline: an expire that comes after the round
    ///      would have closed fails the job instead (so how long stake stays at stake never depends on when
    ///      someone calls expire).
    function test_arbitration_lateExpire_failsInstead() public {
        moreProviders();
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(2, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, WRONG);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + ARBITRATION_WINDOW);
        vm.expectEmit(address(market));
        emit JobFailed(jobId, 4 * uint256(PRICE));
        market.expire(jobId, a);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Failed), "failed");
        (uint96 s1,) = stakeOf(providers[1]);
        vm.assertEq(s1, STAKE, "the dissenter escapes without a verdict");
    }

    /// @dev A requester that is also a registered provider is never drawn to judge its own job.
    function test_arbitration_neverDrawsTheRequester() public {
        vm.startPrank(requester);
        token.approve(address(registry), type(uint256).max);
        registry.register(STAKE, caps(), bytes32(0), "");
        vm.stopPrank();
        // Nodes: 5 providers + the requester. Jobs of providers 0 and 1 leave 2, 3, 4 and the requester.
        for (uint256 k; k < 20; ++k) {
            vm.prevrandao(bytes32(k));
            (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(2, 2);
            commitOnChain(jobId, 0, RESULT);
            (, uint40 rd) = deadlinesOf(jobId);
            uint256 t = block.timestamp;
            vm.warp(rd + 1);
            JobMarket.Assignment[] memory arbiters = expireAndDraw(jobId, a);
            for (uint256 i; i < arbiters.length; ++i) {
                vm.assertTrue(arbiters[i].provider != requester, "the requester judged its own job");
            }
            vm.warp(t + 1);
        }
    }

    /// @dev Outside arbitration a reveal takes the assignment alone: a list with arbiters appended is refused.
    function test_revealWithArbiters_reverts_notInArbitration() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(2, 2);
        vm.prank(requester);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.reveal(jobId, concat(a, a), RESULT, noCommits());
    }

    function test_withdraw_paysOwedOnce() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](3);
        sc[0] = signedCommit(jobId, 0, RESULT);
        sc[1] = signedCommit(jobId, 1, RESULT);
        sc[2] = signedCommit(jobId, 2, WRONG);
        revealAs(requester, jobId, a, RESULT, sc);

        uint256 before = token.balanceOf(providers[0]);
        vm.expectEmit(address(market));
        emit Withdrawn(providers[0], NET);
        vm.prank(providers[0]);
        market.withdraw();
        vm.assertEq(token.balanceOf(providers[0]) - before, NET, "provider got its pay");
        vm.assertEq(market.owed(providers[0]), 0, "owed cleared");
        vm.prank(providers[0]);
        vm.expectRevert(JobMarket.NothingOwed.selector);
        market.withdraw();

        uint256 rBefore = token.balanceOf(requester);
        vm.prank(requester);
        market.withdraw();
        vm.assertEq(token.balanceOf(requester) - rBefore, 4 * uint256(PRICE), "refund withdrawn");
        vm.prank(treasury);
        market.withdraw();
        vm.assertEq(token.balanceOf(treasury), 2 * FEE + uint256(STAKE) * SLASH_BPS / 10_000, "fees + slash");
        vm.prank(providers[1]);
        market.withdraw();
        vm.assertEq(token.balanceOf(address(market)), 0, "market emptied exactly");
    }

    function test_withdraw_reverts_nothingOwed() public {
        vm.prank(address(0x5757));
        vm.expectRevert(JobMarket.NothingOwed.selector);
        market.withdraw();
    }

    // =========================================================================================================
    // Proof mode
    // =========================================================================================================

    function createProofJob(bytes32 spec) internal returns (bytes32 jobId, JobMarket.Assignment[] memory a) {
        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.Proof;
        req.proofSpec = spec;
        jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 1, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        a = assignmentOf(1, PRICE);
    }

    function test_proof_valid_paysProvider() public {
        MockVerifier v = new MockVerifier();
        setVerifier(v);
        bytes32 spec = keccak256("model commitment");
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createProofJob(spec);
        (bytes32 storedSpec, IResultVerifier storedVerifier) = market.proofTerms(jobId);
        vm.assertEq(storedSpec, spec, "spec stored");
        vm.assertEq(address(storedVerifier), address(v), "verifier fixed at creation");
        bytes memory proof = v.proofFor(jobId, spec, RESULT);
        vm.expectEmit(address(market));
        emit JobFinalized(jobId, RESULT, 1, 0);
        vm.prank(providers[0]);
        market.submitProof(jobId, a, RESULT, proof);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Finalized), "finalized");
        vm.assertEq(market.owed(providers[0]), NET, "paid");
        vm.assertEq(market.owed(treasury), FEE, "fee");
    }

    function test_proof_reverts_invalidProof() public {
        MockVerifier v = new MockVerifier();
        setVerifier(v);
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createProofJob(bytes32(uint256(1)));
        bytes memory proof = v.proofFor(jobId, bytes32(uint256(1)), WRONG);
        vm.prank(providers[0]);
        vm.expectRevert(JobMarket.InvalidProof.selector);
        market.submitProof(jobId, a, RESULT, proof);
    }

    function test_proof_reverts_replayForAnotherJob() public {
        MockVerifier v = new MockVerifier();
        setVerifier(v);
        bytes32 spec = bytes32(uint256(1));
        (bytes32 jobA, JobMarket.Assignment[] memory a) = createProofJob(spec);
        (bytes32 jobB,) = createProofJob(spec);
        bytes memory proofA = v.proofFor(jobA, spec, RESULT);
        vm.prank(providers[0]);
        vm.expectRevert(JobMarket.InvalidProof.selector);
        market.submitProof(jobB, a, RESULT, proofA);
        vm.prank(providers[0]);
        market.submitProof(jobA, a, RESULT, proofA);
    }

    /// @dev A proof job could never be proved without a verifier, and its provider would lose its bond for it:
    ///      the market refuses to create one.
    function test_proof_reverts_noVerifier() public {
        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.Proof;
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 1, PRICE);
        vm.prank(requester);
        vm.expectRevert(JobMarket.NoVerifier.selector);
        market.createJob(req, o);
    }

    function test_proof_reverts_notTheAssignedProvider() public {
        MockVerifier v = new MockVerifier();
        setVerifier(v);
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createProofJob(bytes32(0));
        bytes memory proof = v.proofFor(jobId, bytes32(0), RESULT);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotParticipant.selector, providers[1]));
        market.submitProof(jobId, a, RESULT, proof);
    }

    function test_proof_reverts_afterDeadline_thenExpires() public {
        MockVerifier v = new MockVerifier();
        setVerifier(v);
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createProofJob(bytes32(0));
        bytes memory proof = v.proofFor(jobId, bytes32(0), RESULT);
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.CommitClosed.selector, cd));
        market.submitProof(jobId, a, RESULT, proof);
        vm.expectEmit(address(market));
        emit NoShowBondTaken(jobId, providers[0], uint256(STAKE) * NO_SHOW_BPS / 10_000);
        market.expire(jobId, a); // a Proof job expires at its commit deadline; no proof = no-show
        vm.assertEq(market.owed(requester), PRICE, "refunded");
    }

    function test_proof_reverts_onQuorumJob_and_revealOnProofJob() public {
        MockVerifier v = new MockVerifier();
        setVerifier(v);
        (bytes32 qJob, JobMarket.Assignment[] memory qa) = createAssigned(3, 2);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Assigned));
        market.submitProof(qJob, qa, RESULT, "");

        (bytes32 pJob, JobMarket.Assignment[] memory pa) = createProofJob(bytes32(0));
        commitOnChain(pJob, 0, RESULT);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Assigned));
        market.reveal(pJob, pa, RESULT, noCommits());
    }

    function test_proof_reverts_wrongAssignment() public {
        MockVerifier v = new MockVerifier();
        setVerifier(v);
        (bytes32 jobId,) = createProofJob(bytes32(0));
        JobMarket.Assignment[] memory fake = new JobMarket.Assignment[](1);
        fake[0] = JobMarket.Assignment(providers[1], PRICE);
        bytes memory proof = v.proofFor(jobId, bytes32(0), RESULT);
        vm.prank(providers[1]);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.submitProof(jobId, fake, RESULT, proof);
    }

    // =========================================================================================================
    // None mode
    // =========================================================================================================

    function test_noneMode_singleProvider_paidOnReveal() public {
        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.None;
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 1, 4 ether);
        vm.prank(requester);
        market.createJob(req, o);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 1, RESULT);
        revealAs(requester, jobId, assignmentOf(1, 4 ether), RESULT, sc);
        vm.assertEq(market.owed(providers[0]), 4 ether - 4 ether * uint256(FEE_BPS) / 10_000, "paid its offer");
        vm.assertEq(market.owed(requester), PRICE - 4 ether, "difference refunded");
    }

    function test_noneMode_requesterCannotRevealAnotherResult() public {
        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.None;
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 1, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        commitOnChain(jobId, 0, RESULT);
        JobMarket.Assignment[] memory a = assignmentOf(1, PRICE);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.QuorumNotReached.selector, 0, 1));
        market.reveal(jobId, a, BOGUS, noCommits());
    }

    function test_noneMode_providerReveal_afterRequesterSilence() public {
        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.None;
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 1, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        commitOnChain(jobId, 0, RESULT);
        JobMarket.Assignment[] memory a = assignmentOf(1, PRICE);
        revealAs(providers[0], jobId, a, RESULT, noCommits()); // complete, so no need to wait
        vm.assertEq(market.owed(providers[0]), NET, "paid");
    }

    // =========================================================================================================
    // EIP-712 and governance-owned parameters
    // =========================================================================================================

    function test_eip712_domainAndTypes() public view {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Ocean AI JobMarket"),
                keccak256("1"),
                block.chainid,
                address(market)
            )
        );
        bytes32 jobId = keccak256("job");
        bytes32 terms = keccak256("terms");
        bytes32 offerStruct = keccak256(
            abi.encode(
                keccak256("Offer(bytes32 jobId,address provider,uint96 price,uint40 expiry,bytes32 terms)"),
                jobId,
                providers[0],
                uint96(5 ether),
                uint40(1234),
                terms
            )
        );
        vm.assertEq(
            market.offerDigest(jobId, providers[0], 5 ether, 1234, terms),
            keccak256(abi.encodePacked("\x19\x01", domain, offerStruct)),
            "offer digest"
        );
        bytes32 c = bytes32(uint256(42));
        bytes32 commitStruct = keccak256(abi.encode(keccak256("Commit(bytes32 jobId,bytes32 commitment)"), jobId, c));
        vm.assertEq(
            market.commitDigest(jobId, c), keccak256(abi.encodePacked("\x19\x01", domain, commitStruct)), "commit"
        );
    }

    function test_termsHash_formula() public {
        JobMarket.JobRequest memory req = request(2, 2);
        address[] memory list = new address[](2);
        (list[0], list[1]) = (providers[0], providers[1]);
        bytes32 expected = keccak256(
            abi.encode(
                keccak256(req.manifestCid),
                req.replicas,
                req.quorum,
                req.mode,
                req.pricePerReplica,
                req.commitDeadline,
                req.proofSpec,
                req.limitsHash,
                req.rebalanceAt,
                keccak256(abi.encodePacked(list))
            )
        );
        vm.assertEq(market.termsHash(req, list), expected, "terms");
        req.lateManifest = true;
        vm.assertNotEq(market.termsHash(req, list), expected, "late manifest: the CID is left out");
    }

    function test_governance_setters_onlyOwner() public {
        bytes memory err = abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this));
        vm.expectRevert(err);
        market.setFeeBps(1);
        vm.expectRevert(err);
        market.setSlashBps(1);
        vm.expectRevert(err);
        market.setNoShowBps(1);
        vm.expectRevert(err);
        market.setMinRewardFee(1);
        vm.expectRevert(err);
        market.setRevealWindow(1 hours);
        vm.expectRevert(err);
        market.setMaxJobDuration(1 days);
        vm.expectRevert(err);
        market.setArbitrationWindow(1 hours);
        vm.expectRevert(err);
        market.setTreasury(address(1));
        vm.expectRevert(err);
        market.setProofVerifier(IResultVerifier(address(1)));
    }

    function outOfBounds(bytes32 name, uint256 value, uint256 min, uint256 max) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(JobMarket.OutOfBounds.selector, name, value, min, max);
    }

    function test_governance_setters_validate() public {
        vm.startPrank(address(timelock));
        vm.expectRevert(JobMarket.ZeroAddress.selector);
        market.setTreasury(address(0));
        vm.expectRevert(outOfBounds("revealWindow", 59, MIN_REVEAL_WINDOW, MAX_REVEAL_WINDOW));
        market.setRevealWindow(59);
        // The job lifetime (commit, reveal, arbitration, its reveal) must stay shorter than the unbonding delay.
        uint40 tooLong = UNBONDING - 3 * REVEAL_WINDOW;
        vm.expectRevert(abi.encodeWithSelector(JobMarket.LifetimeExceedsUnbonding.selector, UNBONDING, UNBONDING));
        market.setMaxJobDuration(tooLong);

        market.setFeeBps(100);
        market.setSlashBps(5_000);
        market.setNoShowBps(1_000);
        market.setMinRewardFee(0.5 ether);
        market.setRevealWindow(2 hours);
        market.setArbitrationWindow(2 hours);
        market.setMaxJobDuration(UNBONDING - 6 hours - 1);
        market.setTreasury(address(0xFEE));
        vm.stopPrank();
        vm.assertEq(market.feeBps(), 100, "fee");
        vm.assertEq(market.slashBps(), 5_000, "slash");
        vm.assertEq(market.noShowBps(), 1_000, "no-show bond");
        vm.assertEq(market.minRewardFee(), 0.5 ether, "min reward fee");
        vm.assertEq(market.revealWindow(), 2 hours, "window");
        vm.assertEq(market.arbitrationWindow(), 2 hours, "arbitration window");
        vm.assertEq(market.maxJobLifetime(), UNBONDING - 1, "lifetime just under unbonding");
        vm.assertEq(market.treasury(), address(0xFEE), "treasury");
    }

    function test_maxJobLifetime_includesArbitration() public view {
        vm.assertEq(
            market.maxJobLifetime(), MAX_JOB + REVEAL_WINDOW + ARBITRATION_WINDOW + REVEAL_WINDOW, "four phases"
        );
    }

    function test_constructor_validates() public {
        JobMarket.Params memory p = marketParams();
        JobMarket.Bounds memory b = marketBounds();
        p.treasury = address(0);
        vm.expectRevert(JobMarket.ZeroAddress.selector);
        new JobMarket(token, registry, address(this), p, b);

        p = marketParams();
        b.maxFeeBps = 10_001;
        vm.expectRevert(JobMarket.BadBounds.selector);
        new JobMarket(token, registry, address(this), p, b);

        b = marketBounds();
        b.minSlashBps = 2_000;
        b.maxSlashBps = 1_000;
        vm.expectRevert(JobMarket.BadBounds.selector);
        new JobMarket(token, registry, address(this), p, b);

        b = marketBounds();
        b.minRevealWindow = 0;
        vm.expectRevert(JobMarket.BadBounds.selector);
        new JobMarket(token, registry, address(this), p, b);

        b = marketBounds();
        b.maxFeeBps = 200;
        vm.expectRevert(outOfBounds("feeBps", FEE_BPS, 0, 200));
        new JobMarket(token, registry, address(this), p, b);

        b = marketBounds();
        p.maxJobDuration = UNBONDING - 3 * REVEAL_WINDOW;
        vm.expectRevert(abi.encodeWithSelector(JobMarket.LifetimeExceedsUnbonding.selector, UNBONDING, UNBONDING));
        new JobMarket(token, registry, address(this), p, b);

        p = marketParams();
        p.epochLength = 0;
        vm.expectRevert(JobMarket.ZeroEpochLength.selector);
        new JobMarket(token, registry, address(this), p, b);
    }

    function test_feeZero_and_feeFull() public {
        vm.prank(address(timelock));
        market.setFeeBps(10_000);
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(1, 1);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 1, RESULT);
        revealAs(requester, jobId, a, RESULT, sc);
        vm.assertEq(market.owed(providers[0]), 0, "all to treasury");
        vm.assertEq(market.owed(treasury), PRICE, "fee is the price");
    }
}
