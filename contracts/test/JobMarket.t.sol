// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {NodeRegistry} from "../src/NodeRegistry.sol";
import {IResultVerifier} from "../src/IResultVerifier.sol";
import {MockVerifier} from "./mocks/MockVerifier.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Every path of the JobMarket: creation (offers, permit, open + accept), commit, reveal (signed, on-chain,
///         mixed; early and late; by requester and provider), settlement money flows, cancel, expire, withdraw,
///         Proof and None modes, governance setters, and a custom error for every bad input.
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
        uint40 revealDeadline
    );
    event ProviderAssigned(bytes32 indexed jobId, address indexed provider, uint8 index, uint96 price);
    event Committed(bytes32 indexed jobId, address indexed provider, bytes32 commitment);
    event JobFinalized(bytes32 indexed jobId, bytes resultCid, uint8 matches, uint256 refund);
    event ProviderPaid(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event ProviderSlashed(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event JobFailed(bytes32 indexed jobId, uint256 refund);
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

    function createOpen(uint8 r, uint8 q) internal returns (bytes32 jobId) {
        JobMarket.JobRequest memory req = request(r, q);
        jobId = market.jobIdOf(requester, req.salt);
        vm.prank(requester);
        market.createJob(req, noOffers());
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
        JobMarket.Offer[] memory o = offers(jobId, 3, PRICE);
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
            req.commitDeadline + REVEAL_WINDOW
        );
        for (uint8 i; i < 3; ++i) {
            vm.expectEmit(address(market));
            emit ProviderAssigned(jobId, providers[i], i, PRICE);
        }
        vm.prank(requester);
        bytes32 got = market.createJob(req, o);

        vm.assertEq(got, jobId, "returned id");
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Assigned), "assigned");
        vm.assertEq(token.balanceOf(address(market)), 3 * uint256(PRICE), "escrow");
        vm.assertEq(token.balanceOf(requester), before - 3 * uint256(PRICE), "requester paid");
        checkStoredJob(jobId, req);
    }

    function checkStoredJob(bytes32 jobId, JobMarket.JobRequest memory req) internal view {
        (address rq, uint40 cd, uint8 reps, uint8 quorum, JobMarket.Mode mode,,,,,,,) = market.jobs(jobId);
        vm.assertEq(rq, requester, "requester");
        vm.assertEq(cd, req.commitDeadline, "commit deadline");
        vm.assertEq(reps, 3, "replicas");
        vm.assertEq(quorum, 2, "quorum");
        vm.assertEq(uint256(mode), uint256(JobMarket.Mode.Quorum), "mode");
        (,,,,,, uint8 assigned, uint96 ppr, uint40 rd, uint16 fee, uint16 slash, bytes32 ah) = market.jobs(jobId);
        vm.assertEq(rd, req.commitDeadline + REVEAL_WINDOW, "reveal deadline");
        vm.assertEq(assigned, 3, "assigned count");
        vm.assertEq(ppr, PRICE, "price");
        vm.assertEq(fee, FEE_BPS, "fee copied");
        vm.assertEq(slash, SLASH_BPS, "slash copied");
        vm.assertEq(ah, keccak256(abi.encode(assignmentOf(3, PRICE))), "assignment hash");
    }

    function test_createJob_open_withoutOffers() public {
        bytes32 jobId = createOpen(3, 2);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Open), "open");
        vm.assertEq(token.balanceOf(address(market)), 3 * uint256(PRICE), "escrow");
        (,,,,,, uint8 assigned,,,,, bytes32 ah) = market.jobs(jobId);
        vm.assertEq(assigned, 0, "none assigned");
        vm.assertEq(ah, keccak256(abi.encode(new JobMarket.Assignment[](0))), "empty assignment hash");
    }

    function test_createJob_partialOffers_thenAccept_completes() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = new JobMarket.Offer[](2);
        o[0] = offerBy(jobId, 0, 8 ether);
        o[1] = offerBy(jobId, 1, 9 ether);
        vm.prank(requester);
        market.createJob(req, o);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Open), "still open");

        JobMarket.Assignment[] memory cur = new JobMarket.Assignment[](2);
        cur[0] = JobMarket.Assignment(providers[0], 8 ether);
        cur[1] = JobMarket.Assignment(providers[1], 9 ether);
        vm.expectEmit(address(market));
        emit ProviderAssigned(jobId, providers[2], 2, PRICE);
        vm.prank(providers[2]);
        market.accept(jobId, cur);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Assigned), "assigned");

        // The acceptor is paid the cap, the offerers their offers; the difference goes back to the requester.
        JobMarket.Assignment[] memory a = new JobMarket.Assignment[](3);
        a[0] = cur[0];
        a[1] = cur[1];
        a[2] = JobMarket.Assignment(providers[2], PRICE);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        uint256 owedBefore = market.owed(requester);
        revealAs(requester, jobId, a, RESULT, sc);
        vm.assertEq(market.owed(requester) - owedBefore, 3 * uint256(PRICE) - 27 ether, "price difference refunded");
        vm.assertEq(market.owed(providers[0]), 8 ether - 8 ether * uint256(FEE_BPS) / 10_000, "p0 at its offer");
        vm.assertEq(market.owed(providers[2]), NET, "acceptor at the cap");
    }

    function test_createJob_sameSaltDifferentRequesters_distinctIds() public view {
        bytes32 salt = bytes32(uint256(7));
        vm.assertNotEq(market.jobIdOf(requester, salt), market.jobIdOf(providers[0], salt), "ids are per requester");
        vm.assertEq(market.jobIdOf(requester, salt), keccak256(abi.encode(requester, salt)), "id formula");
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
        vm.prank(requester);
        market.createJob(req, noOffers());
    }

    function test_createJob_reverts_tooManyOffers() public {
        JobMarket.JobRequest memory req = request(1, 1);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        expectCreateRevert(req, offers(jobId, 2, PRICE), abi.encodeWithSelector(JobMarket.TooManyOffers.selector, 2, 1));
    }

    function test_createJob_reverts_jobExists() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        vm.prank(requester);
        market.createJob(req, noOffers());
        expectCreateRevert(req, noOffers(), abi.encodeWithSelector(JobMarket.JobExists.selector, jobId));
    }

    function test_createJob_reverts_offerExpired() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(jobId, 3, PRICE);
        vm.warp(block.timestamp + 11 minutes);
        req.commitDeadline = uint40(block.timestamp + 1 hours);
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.OfferExpired.selector, providers[0]));
    }

    function test_createJob_reverts_offerAbovePrice() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(jobId, 3, PRICE + 1);
        expectCreateRevert(
            req, o, abi.encodeWithSelector(JobMarket.OfferAbovePrice.selector, providers[0], PRICE + 1, PRICE)
        );
    }

    function test_createJob_reverts_offerSignedByAnotherKey() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(jobId, 3, PRICE);
        (o[1].r, o[1].vs) = sign(providerKeys[2], market.offerDigest(jobId, providers[1], PRICE, o[1].expiry));
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[1]));
    }

    function test_createJob_reverts_offerForAnotherJob() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(keccak256("another job"), 3, PRICE);
        jobId;
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[0]));
    }

    function test_createJob_reverts_offerPriceTampered() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(jobId, 3, 5 ether);
        o[2].price = 9 ether; // the requester cannot raise (or lower) what the provider signed
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[2]));
    }

    function test_createJob_reverts_offerProviderAssignedTwice() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(jobId, 3, PRICE);
        o[2] = o[0];
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.ProviderAlreadyAssigned.selector, providers[0]));
    }

    function test_createJob_reverts_unregisteredProvider() public {
        uint256 key = 0xBAD;
        address stranger = vm.addr(key);
        JobMarket.JobRequest memory req = request(1, 1);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = new JobMarket.Offer[](1);
        uint40 expiry = uint40(block.timestamp + 1 hours);
        (bytes32 r, bytes32 vs) = sign(key, market.offerDigest(jobId, stranger, PRICE, expiry));
        o[0] = JobMarket.Offer(stranger, PRICE, expiry, r, vs);
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.ProviderNotActive.selector, stranger));
    }

    function test_createJob_reverts_providerUnbondedBelowMinimum() public {
        vm.prank(providers[1]);
        registry.unbond(STAKE - MIN_STAKE + 1);
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(jobId, 3, PRICE);
        expectCreateRevert(req, o, abi.encodeWithSelector(JobMarket.ProviderNotActive.selector, providers[1]));
    }

    function test_createJob_reverts_withoutAllowance() public {
        vm.prank(requester);
        token.approve(address(market), 0);
        expectCreateRevert(
            request(3, 2),
            noOffers(),
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(market), 0, 3 * PRICE)
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
        JobMarket.Offer[] memory o = offers(jobId, 3, PRICE);
        (uint8 v, bytes32 r, bytes32 s) = permitSig(key, 3 * PRICE, block.timestamp + 1 hours);
        vm.assertEq(token.allowance(fresh, address(market)), 0, "no approve beforehand");

        vm.prank(fresh);
        market.createJobWithPermit(req, o, block.timestamp + 1 hours, v, r, s);

        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Assigned), "assigned");
        vm.assertEq(token.balanceOf(fresh), 70 ether, "escrowed");
        vm.assertEq(token.allowance(fresh, address(market)), 0, "permit used up exactly");
        vm.assertEq(token.nonces(fresh), 1, "permit consumed");
    }

    function test_createJobWithPermit_frontRunPermitStillCreates() public {
        uint256 key = 0xCAFE;
        address fresh = vm.addr(key);
        token.transfer(fresh, 100 ether);
        JobMarket.JobRequest memory req = request(3, 2);
        (uint8 v, bytes32 r, bytes32 s) = permitSig(key, 3 * PRICE, block.timestamp + 1 hours);
        // Someone copies the permit from the mempool and submits it first.
        token.permit(fresh, address(market), 3 * PRICE, block.timestamp + 1 hours, v, r, s);
        vm.prank(fresh);
        bytes32 jobId = market.createJobWithPermit(req, noOffers(), block.timestamp + 1 hours, v, r, s);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Open), "created anyway");
        vm.assertEq(token.balanceOf(fresh), 70 ether, "escrowed");
    }

    function test_createJobWithPermit_badPermitNoAllowance_reverts() public {
        uint256 key = 0xCAFE;
        address fresh = vm.addr(key);
        token.transfer(fresh, 100 ether);
        JobMarket.JobRequest memory req = request(3, 2);
        (uint8 v, bytes32 r, bytes32 s) = permitSig(0xDEAD, 3 * PRICE, block.timestamp + 1 hours);
        vm.prank(fresh);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(market), 0, 3 * PRICE)
        );
        market.createJobWithPermit(req, noOffers(), block.timestamp + 1 hours, v, r, s);
    }

    // =========================================================================================================
    // accept
    // =========================================================================================================

    function test_accept_fillsSlotsInOrder() public {
        bytes32 jobId = createOpen(3, 2);
        for (uint256 i; i < 3; ++i) {
            JobMarket.Assignment[] memory cur = assignmentOf(i, PRICE);
            vm.prank(providers[i]);
            market.accept(jobId, cur);
            (,,,,,, uint8 assigned,,,,,) = market.jobs(jobId);
            vm.assertEq(assigned, i + 1, "assigned count");
            vm.assertEq(
                uint256(stateOf(jobId)),
                uint256(i == 2 ? JobMarket.State.Assigned : JobMarket.State.Open),
                "state after accept"
            );
        }
        (,,,,,,,,,,, bytes32 ah) = market.jobs(jobId);
        vm.assertEq(ah, keccak256(abi.encode(assignmentOf(3, PRICE))), "hash of the full assignment");
    }

    function test_accept_reverts_assignmentMismatch() public {
        bytes32 jobId = createOpen(3, 2);
        JobMarket.Assignment[] memory cur = assignmentOf(0, PRICE);
        vm.prank(providers[0]);
        market.accept(jobId, cur);
        vm.prank(providers[1]);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.accept(jobId, cur); // stale view: claims nobody is assigned
    }

    function test_accept_reverts_providerAlreadyAssigned() public {
        bytes32 jobId = createOpen(3, 2);
        JobMarket.Assignment[] memory none = assignmentOf(0, PRICE);
        vm.prank(providers[0]);
        market.accept(jobId, none);
        JobMarket.Assignment[] memory cur = assignmentOf(1, PRICE);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.ProviderAlreadyAssigned.selector, providers[0]));
        market.accept(jobId, cur);
    }

    function test_accept_reverts_unregistered() public {
        bytes32 jobId = createOpen(3, 2);
        address stranger = address(0x5757);
        JobMarket.Assignment[] memory none = assignmentOf(0, PRICE);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.ProviderNotActive.selector, stranger));
        market.accept(jobId, none);
    }

    function test_accept_reverts_afterCommitDeadline() public {
        bytes32 jobId = createOpen(3, 2);
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        JobMarket.Assignment[] memory none = assignmentOf(0, PRICE);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.CommitClosed.selector, cd));
        market.accept(jobId, none);
    }

    function test_accept_reverts_whenAssigned() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        vm.prank(providers[3]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Assigned));
        market.accept(jobId, a);
    }

    function test_accept_reverts_unknownJob() public {
        JobMarket.Assignment[] memory none = assignmentOf(0, PRICE);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Nonexistent));
        market.accept(keccak256("nope"), none);
    }

    // =========================================================================================================
    // commit
    // =========================================================================================================

    function test_commit_storesAndEmits() public {
        (bytes32 jobId,) = createAssigned(3, 2);
        bytes32 c = commitmentOf(RESULT, providers[0]);
        vm.assertEq(c, market.commitmentOf(RESULT, providers[0]), "formula matches the contract");
        vm.expectEmit(address(market));
        emit Committed(jobId, providers[0], c);
        vm.prank(providers[0]);
        market.commit(jobId, c);
        vm.assertEq(market.commitments(jobId, providers[0]), c, "stored");
    }

    function test_commit_allowedWhileOpen() public {
        bytes32 jobId = createOpen(3, 2);
        commitOnChain(jobId, 0, RESULT);
        vm.assertEq(market.commitments(jobId, providers[0]), commitmentOf(RESULT, providers[0]), "stored");
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

        bytes32 jobId = createOpen(3, 2);
        vm.prank(requester);
        market.cancel(jobId);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Failed));
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
        emit JobFinalized(jobId, RESULT, 3, 0);
        revealAs(requester, jobId, a, RESULT, sc);
        assertPaidAll(jobId, 3);
        vm.assertEq(market.owed(requester), 0, "nothing to refund");
        vm.assertEq(token.balanceOf(address(market)), 3 * uint256(PRICE), "all still held for withdrawal");
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

    function test_reveal_byProvider_afterCommitDeadline_noShowNeitherPaidNorSlashed() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, RESULT);
        (uint40 cd, uint40 rd) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        (uint96 stakedBefore,) = stakeOf(providers[2]);

        vm.expectEmit(address(market));
        emit JobFinalized(jobId, RESULT, 2, PRICE);
        revealAs(providers[1], jobId, a, RESULT, noCommits());

        vm.assertEq(market.owed(providers[0]), NET, "p0 paid");
        vm.assertEq(market.owed(providers[1]), NET, "p1 paid");
        vm.assertEq(market.owed(providers[2]), 0, "no-show not paid");
        (uint96 stakedAfter,) = stakeOf(providers[2]);
        vm.assertEq(stakedAfter, stakedBefore, "no-show not slashed");
        vm.assertEq(market.owed(requester), PRICE, "the no-show's replica refunded");
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
        vm.assertEq(market.owed(requester), 0, "no refund for a result that was delivered");
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
        emit JobFinalized(jobId, RESULT, 2, PRICE);
        revealAs(requester, jobId, a, RESULT, sc);

        vm.assertEq(market.owed(providers[2]), 0, "slashed provider not paid");
        (uint96 staked,) = stakeOf(providers[2]);
        vm.assertEq(staked, STAKE - slashAmount, "stake cut");
        vm.assertEq(token.balanceOf(treasury) - treasuryBefore, slashAmount, "slash sent to treasury");
        vm.assertEq(market.owed(providers[0]), NET, "majority paid");
        vm.assertEq(market.owed(requester), PRICE, "slashed provider's replica refunded");
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
        vm.assertEq(market.owed(requester), 2 * uint256(PRICE), "two replicas refunded");
    }

    function test_reveal_threeWaySplit_noQuorum_thenExpireRefundsAll() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, WRONG);
        commitOnChain(jobId, 2, BOGUS);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.QuorumNotReached.selector, 1, 2));
        market.reveal(jobId, a, RESULT, noCommits());
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd + 1);
        market.expire(jobId);
        vm.assertEq(market.owed(requester), 3 * uint256(PRICE), "full refund");
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

    function test_reveal_recordsWorkUnits() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](3);
        sc[0] = signedCommit(jobId, 0, RESULT);
        sc[1] = signedCommit(jobId, 1, RESULT);
        sc[2] = signedCommit(jobId, 2, WRONG);
        revealAs(requester, jobId, a, RESULT, sc);
        vm.assertEq(market.currentEpoch(), 0, "epoch 0");
        vm.assertEq(market.epochUnits(0), 2 * uint256(PRICE), "units = OCAT paid for accepted results");
        vm.assertEq(market.workUnits(providers[0], 0), PRICE, "per-provider units");
        vm.assertEq(market.workUnits(providers[2], 0), 0, "a slashed provider did no verified work");

        // Work in a later epoch rolls the earlier epoch's units into pastUnits; both stay readable.
        vm.warp(block.timestamp + EPOCH);
        (bytes32 job2, JobMarket.Assignment[] memory a2) = createAssigned(1, 1);
        JobMarket.SignedCommit[] memory sc2 = allSigned(job2, 1, RESULT);
        revealAs(requester, job2, a2, RESULT, sc2);
        vm.assertEq(market.workUnits(providers[0], 0), PRICE, "epoch 0 kept");
        vm.assertEq(market.pastUnits(providers[0], 0), PRICE, "rolled into pastUnits");
        vm.assertEq(market.workUnits(providers[0], 1), PRICE, "epoch 1");
        vm.assertEq(market.epochUnits(1), PRICE, "epoch 1 total");
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

    function test_reveal_reverts_openJob() public {
        bytes32 jobId = createOpen(3, 2);
        JobMarket.Assignment[] memory none = assignmentOf(0, PRICE);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Open));
        market.reveal(jobId, none, RESULT, noCommits());
    }

    // =========================================================================================================
    // cancel / expire / withdraw
    // =========================================================================================================

    function test_cancel_openJob_refundsAll() public {
        bytes32 jobId = createOpen(3, 2);
        JobMarket.Assignment[] memory none = assignmentOf(0, PRICE);
        vm.prank(providers[0]);
        market.accept(jobId, none);
        vm.expectEmit(address(market));
        emit JobFailed(jobId, 3 * uint256(PRICE));
        vm.prank(requester);
        market.cancel(jobId);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Failed), "failed");
        vm.assertEq(market.owed(requester), 3 * uint256(PRICE), "refund owed");
        vm.assertEq(market.owed(providers[0]), 0, "nothing to a provider of an unstarted job");
    }

    function test_cancel_reverts_notRequester() public {
        bytes32 jobId = createOpen(3, 2);
        vm.prank(providers[0]);
        vm.expectRevert(JobMarket.NotRequester.selector);
        market.cancel(jobId);
    }

    function test_cancel_reverts_assignedJob() public {
        (bytes32 jobId,) = createAssigned(3, 2);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Assigned));
        market.cancel(jobId);
    }

    function test_cancel_reverts_unknownAndTwice() public {
        bytes32 unknown = keccak256("nope");
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.UnknownJob.selector, unknown));
        market.cancel(unknown);

        bytes32 jobId = createOpen(3, 2);
        vm.prank(requester);
        market.cancel(jobId);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Failed));
        market.cancel(jobId);
    }

    function test_expire_openJob_afterCommitDeadline() public {
        bytes32 jobId = createOpen(3, 2);
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotExpired.selector, cd));
        market.expire(jobId);
        vm.warp(cd + 1);
        vm.prank(address(0x5757)); // anyone may call
        market.expire(jobId);
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Failed), "failed");
        vm.assertEq(market.owed(requester), 3 * uint256(PRICE), "refund owed");
    }

    function test_expire_assignedJob_afterRevealDeadline_refundsAndNobodyPaidOrSlashed() public {
        (bytes32 jobId,) = createAssigned(3, 2);
        commitOnChain(jobId, 0, RESULT);
        commitOnChain(jobId, 1, WRONG);
        (uint40 cd, uint40 rd) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotExpired.selector, rd));
        market.expire(jobId);
        vm.warp(rd);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotExpired.selector, rd));
        market.expire(jobId);
        vm.warp(rd + 1);
        vm.expectEmit(address(market));
        emit JobFailed(jobId, 3 * uint256(PRICE));
        market.expire(jobId);
        vm.assertEq(market.owed(requester), 3 * uint256(PRICE), "full refund");
        vm.assertEq(market.owed(providers[0]), 0, "not paid");
        (uint96 staked,) = stakeOf(providers[1]);
        vm.assertEq(staked, STAKE, "not slashed");
    }

    function test_expire_partlyAssignedOpenJob_refundsAll() public {
        JobMarket.JobRequest memory req = request(3, 2);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(jobId, 2, 7 ether);
        vm.prank(requester);
        market.createJob(req, o);
        commitOnChain(jobId, 0, RESULT); // work done for a job that never got its third provider
        (uint40 cd,) = deadlinesOf(jobId);
        vm.warp(cd + 1);
        market.expire(jobId);
        vm.assertEq(market.owed(requester), 3 * uint256(PRICE), "the whole cap is refunded");
        vm.assertEq(market.owed(providers[0]), 0, "no settlement without a full assignment");
    }

    function test_expire_reverts_finalOrUnknown() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        JobMarket.SignedCommit[] memory sc = allSigned(jobId, 3, RESULT);
        revealAs(requester, jobId, a, RESULT, sc);
        vm.warp(block.timestamp + 30 days);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Finalized));
        market.expire(jobId);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Nonexistent));
        market.expire(keccak256("nope"));
    }

    function test_expire_twice_reverts() public {
        bytes32 jobId = createOpen(1, 1);
        vm.warp(block.timestamp + 2 hours);
        market.expire(jobId);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongState.selector, JobMarket.State.Failed));
        market.expire(jobId);
        vm.assertEq(market.owed(requester), PRICE, "refunded once");
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
        vm.assertEq(token.balanceOf(requester) - rBefore, PRICE, "refund withdrawn");
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
        JobMarket.Offer[] memory o = offers(jobId, 1, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        a = assignmentOf(1, PRICE);
    }

    function test_proof_valid_paysProvider() public {
        MockVerifier v = new MockVerifier();
        setVerifier(v);
        bytes32 spec = keccak256("model commitment");
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createProofJob(spec);
        vm.assertEq(market.proofSpecs(jobId), spec, "spec stored");
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

    function test_proof_reverts_noVerifier() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createProofJob(bytes32(0));
        vm.prank(providers[0]);
        vm.expectRevert(JobMarket.NoVerifier.selector);
        market.submitProof(jobId, a, RESULT, "");
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
        market.expire(jobId); // a Proof job expires at its commit deadline
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
        JobMarket.Offer[] memory o = offers(jobId, 1, 4 ether);
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
        JobMarket.Offer[] memory o = offers(jobId, 1, PRICE);
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
        JobMarket.Offer[] memory o = offers(jobId, 1, PRICE);
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
        bytes32 offerStruct = keccak256(
            abi.encode(
                keccak256("Offer(bytes32 jobId,address provider,uint96 price,uint40 expiry)"),
                jobId,
                providers[0],
                uint96(5 ether),
                uint40(1234)
            )
        );
        vm.assertEq(
            market.offerDigest(jobId, providers[0], 5 ether, 1234),
            keccak256(abi.encodePacked("\x19\x01", domain, offerStruct)),
            "offer digest"
        );
        bytes32 c = bytes32(uint256(42));
        bytes32 commitStruct = keccak256(abi.encode(keccak256("Commit(bytes32 jobId,bytes32 commitment)"), jobId, c));
        vm.assertEq(
            market.commitDigest(jobId, c), keccak256(abi.encodePacked("\x19\x01", domain, commitStruct)), "commit"
        );
    }

    function test_governance_setters_onlyOwner() public {
        bytes memory err = abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this));
        vm.expectRevert(err);
        market.setFeeBps(1);
        vm.expectRevert(err);
        market.setSlashBps(1);
        vm.expectRevert(err);
        market.setRevealWindow(1);
        vm.expectRevert(err);
        market.setMaxJobDuration(1);
        vm.expectRevert(err);
        market.setTreasury(address(1));
        vm.expectRevert(err);
        market.setProofVerifier(IResultVerifier(address(1)));
    }

    function test_governance_setters_validate() public {
        vm.startPrank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BpsTooHigh.selector, 10_001));
        market.setFeeBps(10_001);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BpsTooHigh.selector, 10_001));
        market.setSlashBps(10_001);
        vm.expectRevert(JobMarket.ZeroAddress.selector);
        market.setTreasury(address(0));
        // The job lifetime must stay shorter than the registry's unbonding delay.
        vm.expectRevert(
            abi.encodeWithSelector(
                JobMarket.LifetimeExceedsUnbonding.selector, UNBONDING - REVEAL_WINDOW + REVEAL_WINDOW, UNBONDING
            )
        );
        market.setMaxJobDuration(UNBONDING - REVEAL_WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(
                JobMarket.LifetimeExceedsUnbonding.selector, MAX_JOB + (UNBONDING - MAX_JOB), UNBONDING
            )
        );
        market.setRevealWindow(UNBONDING - MAX_JOB);

        market.setFeeBps(100);
        market.setSlashBps(5_000);
        market.setRevealWindow(2 hours);
        market.setMaxJobDuration(UNBONDING - 2 hours - 1);
        market.setTreasury(address(0xFEE));
        vm.stopPrank();
        vm.assertEq(market.feeBps(), 100, "fee");
        vm.assertEq(market.slashBps(), 5_000, "slash");
        vm.assertEq(market.revealWindow(), 2 hours, "window");
        vm.assertEq(market.maxJobLifetime(), UNBONDING - 1, "lifetime just under unbonding");
        vm.assertEq(market.treasury(), address(0xFEE), "treasury");
    }

    function test_constructor_validates() public {
        vm.expectRevert(JobMarket.ZeroAddress.selector);
        new JobMarket(token, registry, address(this), address(0), FEE_BPS, SLASH_BPS, REVEAL_WINDOW, MAX_JOB, EPOCH);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BpsTooHigh.selector, 10_001));
        new JobMarket(token, registry, address(this), treasury, 10_001, SLASH_BPS, REVEAL_WINDOW, MAX_JOB, EPOCH);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BpsTooHigh.selector, 10_001));
        new JobMarket(token, registry, address(this), treasury, FEE_BPS, 10_001, REVEAL_WINDOW, MAX_JOB, EPOCH);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.LifetimeExceedsUnbonding.selector, UNBONDING, UNBONDING));
        new JobMarket(
            token,
            registry,
            address(this),
            treasury,
            FEE_BPS,
            SLASH_BPS,
            REVEAL_WINDOW,
            UNBONDING - REVEAL_WINDOW,
            EPOCH
        );
        vm.expectRevert(JobMarket.ZeroEpochLength.selector);
        new JobMarket(token, registry, address(this), treasury, FEE_BPS, SLASH_BPS, REVEAL_WINDOW, MAX_JOB, 0);
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
