// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {JobMarket} from "../src/JobMarket.sol";

/// @notice Rebalancing: a job whose quorum agrees settles without a silent provider once its `rebalanceAt` has
///         passed, and the requester may hand a silent slot to another provider. The provider left out agreed to
///         `rebalanceAt` in the terms it signed; it is released, neither paid nor bonded.
contract RebalanceTest is Fixture {
    bytes internal constant CID = hex"0155122011223344556677889900aabbccddeeff11223344556677889900aabbccddeeff";

    uint32 internal rebalanceAt;

    function setUp() public override {
        super.setUp();
        rebalanceAt = uint32(block.timestamp + 10 minutes);
    }

    /// @dev A 2-of-3 job of providers 0..2 that may be rebalanced from `at` (0: never).
    function create(uint32 at) internal returns (bytes32 jobId, JobMarket.Assignment[] memory a) {
        JobMarket.JobRequest memory req = request(3, 2);
        req.rebalanceAt = at;
        jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        a = assignmentOf(3, PRICE);
    }

    function twoCommits(bytes32 jobId) internal view returns (JobMarket.SignedCommit[] memory sc) {
        sc = new JobMarket.SignedCommit[](2);
        sc[0] = signedCommit(jobId, 0, CID);
        sc[1] = signedCommit(jobId, 1, CID);
    }

    /// @dev An offer by providers[who] for slot `index` of a job whose assignment is `a` today.
    function reassignOffer(bytes32 jobId, JobMarket.Assignment[] memory a, uint8 index, uint256 who, uint96 price)
        internal
        view
        returns (JobMarket.Offer memory, JobMarket.Assignment[] memory next)
    {
        next = new JobMarket.Assignment[](a.length);
        for (uint256 i; i < a.length; ++i) {
            next[i] = a[i];
        }
        next[index] = JobMarket.Assignment(providers[who], price);
        bytes32 terms = market.reassignTerms(keccak256(abi.encode(a)), keccak256(abi.encode(next)));
        return (offerBy(jobId, who, price, terms), next);
    }

    function test_aJobWithoutRebalanceWaitsForTheSilentProviderUntilTheCommitDeadline() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = create(0);
        vm.warp(block.timestamp + 50 minutes);
        JobMarket.SignedCommit[] memory sc = twoCommits(jobId);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.RevealTooEarly.selector, block.timestamp + 10 minutes));
        market.reveal(jobId, a, CID, sc);
    }

    function test_aQuorumThatAgreesSettlesAtRebalanceAtAndTheSilentProviderIsReleased() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = create(rebalanceAt);
        JobMarket.SignedCommit[] memory sc = twoCommits(jobId);
        vm.warp(rebalanceAt - 1);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.RevealTooEarly.selector, rebalanceAt));
        market.reveal(jobId, a, CID, sc);

        vm.warp(rebalanceAt);
        (uint96 silentStake,) = stakeOf(providers[2]);
        uint256 requesterOwed = market.owed(requester);
        vm.prank(requester);
        market.reveal(jobId, a, CID, sc);

        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Finalized));
        uint256 net = PRICE - PRICE * market.feeBps() / 10_000;
        vm.assertEq(market.owed(providers[0]), net);
        vm.assertEq(market.owed(providers[1]), net);
        vm.assertEq(market.owed(providers[2]), 0, "the silent provider is not paid");
        (uint96 stakeAfter,) = stakeOf(providers[2]);
        vm.assertEq(stakeAfter, silentStake, "nor bonded");
        // The requester gets back the silent slot's price and the arbitration deposit.
        vm.assertEq(market.owed(requester) - requesterOwed, escrow(3, PRICE) - 2 * PRICE);
        vm.assertEq(trackedBalance(), SUPPLY);
    }

    function test_anAssignedProviderMayAlsoRevealAnAgreedQuorumAfterRebalanceAt() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = create(rebalanceAt);
        commitOnChain(jobId, 0, CID);
        commitOnChain(jobId, 1, CID);
        vm.warp(rebalanceAt);
        vm.prank(providers[0]);
        market.reveal(jobId, a, CID, noCommits());
        vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Finalized));
    }

    function test_aSilentProviderStillLosesItsBondWhenTheJobSettlesAfterTheCommitDeadline() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = create(rebalanceAt);
        (uint40 commitDeadline,) = deadlinesOf(jobId);
        vm.warp(commitDeadline + 1);
        (uint96 before,) = stakeOf(providers[2]);
        JobMarket.SignedCommit[] memory sc = twoCommits(jobId);
        vm.prank(requester);
        market.reveal(jobId, a, CID, sc);
        (uint96 after_,) = stakeOf(providers[2]);
        vm.assertEq(before - after_, uint256(before) * market.noShowBps() / 10_000);
    }

    function test_aSilentSlotIsHandedToAnotherProviderWhoIsPaidAndTheReleasedOneIsNot() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = create(rebalanceAt);
        commitOnChain(jobId, 0, CID);
        vm.warp(rebalanceAt);
        (JobMarket.Offer memory offer, JobMarket.Assignment[] memory next) = reassignOffer(jobId, a, 1, 3, PRICE / 2);
        (uint96 releasedStake,) = stakeOf(providers[1]);
        uint256 balance = token.balanceOf(address(market));

        vm.expectEmit(address(market));
        emit JobMarket.ProviderAssigned(jobId, providers[3], 1, PRICE / 2);
        vm.prank(requester);
        market.reassign(jobId, a, 1, offer);
        vm.assertEq(market.jobOf(jobId).assignmentHash, keccak256(abi.encode(next)));
        vm.assertEq(token.balanceOf(address(market)), balance, "reassignment moves no token");

        // The old assignment no longer settles the job; the new one does, with the new provider's commitment.
        vm.prank(requester);
        vm.expectRevert(JobMarket.AssignmentMismatch.selector);
        market.reveal(jobId, a, CID, noCommits());
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](1);
        sc[0] = signedCommitBy(jobId, 1, 3, CID);
        uint256 requesterOwed = market.owed(requester);
        vm.prank(requester);
        market.reveal(jobId, next, CID, sc);

        vm.assertEq(market.owed(providers[3]), PRICE / 2 - (PRICE / 2) * market.feeBps() / 10_000);
        vm.assertEq(market.owed(providers[1]), 0);
        (uint96 after_,) = stakeOf(providers[1]);
        vm.assertEq(after_, releasedStake, "the released provider keeps its stake");
        // Provider 2 stayed silent too: released at this early settlement, its price refunded.
        vm.assertEq(market.owed(requester) - requesterOwed, escrow(3, PRICE) - PRICE - PRICE / 2);
        vm.assertEq(trackedBalance(), SUPPLY);
    }

    function test_aReleasedProvidersLateCommitmentNeverCounts() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = create(rebalanceAt);
        vm.warp(rebalanceAt);
        (JobMarket.Offer memory offer, JobMarket.Assignment[] memory next) = reassignOffer(jobId, a, 2, 3, PRICE);
        vm.prank(requester);
        market.reassign(jobId, a, 2, offer);
        // Provider 2 commits after it was released; it is not in the assignment, so it cannot reveal either.
        commitOnChain(jobId, 2, CID);
        vm.prank(providers[2]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotParticipant.selector, providers[2]));
        market.reveal(jobId, next, CID, noCommits());
    }

    function test_reassignIsRefusedOutsideItsWindowAndForTheWrongCallerSlotOrSignature() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = create(rebalanceAt);
        (JobMarket.Offer memory offer,) = reassignOffer(jobId, a, 2, 3, PRICE);

        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.RebalanceNotOpen.selector, rebalanceAt));
        market.reassign(jobId, a, 2, offer);

        vm.warp(rebalanceAt);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotParticipant.selector, providers[0]));
        market.reassign(jobId, a, 2, offer);

        // An offer signed for another slot (another next assignment) does not fit this one.
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[3]));
        market.reassign(jobId, a, 1, offer);

        // A provider already in the job cannot take a second slot.
        (JobMarket.Offer memory twice,) = reassignOffer(jobId, a, 2, 0, PRICE);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.ProviderAlreadyAssigned.selector, providers[0]));
        market.reassign(jobId, a, 2, twice);

        // A slot whose provider committed on chain is kept.
        commitOnChain(jobId, 2, CID);
        vm.prank(requester);
        vm.expectRevert(JobMarket.AlreadyCommitted.selector);
        market.reassign(jobId, a, 2, offer);

        (JobMarket.Offer memory dear,) = reassignOffer(jobId, a, 1, 3, PRICE + 1);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.OfferAbovePrice.selector, providers[3], PRICE + 1, PRICE));
        market.reassign(jobId, a, 1, dear);

        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSignature("Panic(uint256)", 0x32));
        market.reassign(jobId, a, 3, offer);

        (uint40 commitDeadline,) = deadlinesOf(jobId);
        vm.warp(commitDeadline + 1);
        (JobMarket.Offer memory late,) = reassignOffer(jobId, a, 1, 3, PRICE);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.CommitClosed.selector, commitDeadline));
        market.reassign(jobId, a, 1, late);
    }

    function test_aJobWithoutRebalanceAtCannotBeReassigned() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = create(0);
        vm.warp(block.timestamp + 50 minutes);
        (JobMarket.Offer memory offer,) = reassignOffer(jobId, a, 2, 3, PRICE);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.RebalanceNotOpen.selector, 0));
        market.reassign(jobId, a, 2, offer);
    }

    function test_aCreationOfferCannotFillAReassignedSlot() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = create(rebalanceAt);
        vm.warp(rebalanceAt);
        // Provider 3 signed the job's creation terms (as if it had offered for it): not valid for a slot.
        JobMarket.JobRequest memory req = request(3, 2);
        address[] memory list = new address[](3);
        (list[0], list[1], list[2]) = (providers[0], providers[1], providers[3]);
        JobMarket.Offer memory creation = offerBy(jobId, 3, PRICE, market.termsHash(req, list));
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[3]));
        market.reassign(jobId, a, 2, creation);
    }

    function test_theTermsBindRebalanceAt() public {
        JobMarket.JobRequest memory req = request(3, 2);
        req.rebalanceAt = rebalanceAt;
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        // The requester swaps in an earlier rebalance time than the providers signed.
        req.rebalanceAt = rebalanceAt - 5 minutes;
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[0]));
        market.createJob(req, o);
    }

    function test_rebalanceAtMustLieBetweenNowAndTheCommitDeadline() public {
        JobMarket.JobRequest memory req = request(3, 2);
        uint32[2] memory bad = [uint32(block.timestamp), uint32(req.commitDeadline)];
        for (uint256 i; i < bad.length; ++i) {
            req.rebalanceAt = bad[i];
            JobMarket.Offer[] memory o = offers(req, market.jobIdOf(requester, req.salt), 3, PRICE);
            vm.prank(requester);
            vm.expectRevert(abi.encodeWithSelector(JobMarket.RebalanceOutOfRange.selector, bad[i]));
            market.createJob(req, o);
        }
    }

    /// Review: a requester that hands the silent slots to its own nodes chooses part of the majority; a job with a
    /// slot handed on therefore slashes nobody (an honest provider outvoted by the newcomers is only unpaid).
    function test_aJobWithASlotHandedOnSlashesNobody() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = create(rebalanceAt);
        commitOnChain(jobId, 0, CID);
        vm.warp(rebalanceAt);
        (JobMarket.Offer memory o1, JobMarket.Assignment[] memory next) = reassignOffer(jobId, a, 1, 3, PRICE);
        vm.prank(requester);
        market.reassign(jobId, a, 1, o1);
        (JobMarket.Offer memory o2, JobMarket.Assignment[] memory last) = reassignOffer(jobId, next, 2, 4, PRICE);
        vm.prank(requester);
        market.reassign(jobId, next, 2, o2);
        bytes memory fake = hex"01551220ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](2);
        sc[0] = signedCommitBy(jobId, 1, 3, fake);
        sc[1] = signedCommitBy(jobId, 2, 4, fake);
        (uint96 before,) = stakeOf(providers[0]);
        vm.prank(requester);
        market.reveal(jobId, last, fake, sc);
        (uint96 after_,) = stakeOf(providers[0]);
        vm.assertEq(after_, before, "the outvoted provider is not slashed");
        vm.assertEq(market.owed(providers[0]), 0);
    }

    /// Review: an offer to join binds the assignment it replaces, so it cannot be replayed to put its provider
    /// back into a slot after it was handed on again.
    function test_aJoinOfferCannotBeReplayedIntoALaterAssignment() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = create(rebalanceAt);
        vm.warp(rebalanceAt);
        (JobMarket.Offer memory byThree, JobMarket.Assignment[] memory withThree) = reassignOffer(jobId, a, 1, 3, PRICE);
        vm.prank(requester);
        market.reassign(jobId, a, 1, byThree);
        (JobMarket.Offer memory byFour, JobMarket.Assignment[] memory withFour) =
            reassignOffer(jobId, withThree, 1, 4, PRICE);
        vm.prank(requester);
        market.reassign(jobId, withThree, 1, byFour);
        // Provider 3's old offer names the first assignment as the one it replaces.
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BadSignature.selector, providers[3]));
        market.reassign(jobId, withFour, 1, byThree);
    }

    function test_onlyQuorumJobsMayBeRebalanced() public {
        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.None;
        req.rebalanceAt = rebalanceAt;
        JobMarket.Offer[] memory o = offers(req, market.jobIdOf(requester, req.salt), 1, PRICE);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.RebalanceOutOfRange.selector, rebalanceAt));
        market.createJob(req, o);
    }
}
