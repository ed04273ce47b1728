// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {Rewards} from "../src/Rewards.sol";
import {MockLedger} from "./mocks/MockLedger.sol";

/// @notice Fuzzed prices, replica/quorum combinations, timings and fee/slash rates. Every run checks that the
///         escrow is split exactly (paid + fees + refund = escrow), that slashed providers are never paid, that
///         no-shows lose exactly their bond and that the validity rules for r, q and deadlines are exactly the
///         documented ones.
contract JobMarketFuzzTest is Fixture {
    bytes internal constant RESULT = hex"0155122011223344556677889900aabbccddeeff11223344556677889900aabbccddeeff";
    bytes internal constant WRONG = hex"01551220deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef";

    struct Case {
        uint8 r;
        uint8 q;
        uint96 cap;
        uint16 feeBps;
        uint16 slashBps;
        bytes32 jobId;
        uint256 honest;
        uint256 paidGross;
        uint256 budget;
        bool complete;
        uint8[5] behaviour;
        uint96[5] stakeBefore;
        JobMarket.Assignment[] a;
        JobMarket.SignedCommit[] sc;
    }

    /// @dev Behaviour of provider i: 0 = no-show, 1 = honest, 2 = dishonest; bit 2 = commit on chain (else signed).
    function testFuzz_settlement_splitsEscrowExactly(
        uint8 rSeed,
        uint8 qSeed,
        uint96 capSeed,
        uint96[5] memory priceSeeds,
        uint16 feeSeed,
        uint16 slashSeed,
        uint8[5] memory behaviour,
        bool late
    ) public {
        Case memory c;
        c.r = uint8(bound(rSeed, 1, 5));
        c.q = uint8(bound(qSeed, c.r / 2 + 1, c.r));
        c.cap = uint96(bound(capSeed, 1, 10_000 ether));
        c.feeBps = uint16(bound(feeSeed, 0, 10_000));
        c.slashBps = uint16(bound(slashSeed, 0, 10_000));
        c.behaviour = behaviour;
        vm.startPrank(address(timelock));
        market.setFeeBps(c.feeBps);
        market.setSlashBps(c.slashBps);
        vm.stopPrank();

        createFuzzJob(c, priceSeeds);
        commitAll(c);
        (uint40 cd, uint40 rd) = deadlinesOf(c.jobId);
        if (late || !c.complete) vm.warp(bound(uint256(keccak256(abi.encode(behaviour))), cd + 1, rd));
        for (uint256 i; i < c.r; ++i) {
            (c.stakeBefore[i],) = stakeOf(providers[i]);
        }

        if (c.honest < c.q) {
            vm.prank(requester);
            vm.expectRevert(abi.encodeWithSelector(JobMarket.QuorumNotReached.selector, c.honest, c.q));
            market.reveal(c.jobId, c.a, RESULT, c.sc);
            vm.warp(rd + 1);
            market.expire(c.jobId, c.a);
            // With on-chain commitments and enough other providers the job goes to arbitration; nobody
            // arbitrates here, so it fails after the arbitration's reveal deadline.
            if (stateOf(c.jobId) == JobMarket.State.Arbitration) {
                (, uint40 ard) = deadlinesOf(c.jobId);
                vm.warp(ard + 1);
                market.expire(c.jobId, c.a);
            }
            vm.assertEq(uint256(stateOf(c.jobId)), uint256(JobMarket.State.Failed), "no verdict: failed");
            vm.assertEq(market.owed(requester), c.budget, "no verdict: full refund");
            for (uint256 i; i < c.r; ++i) {
                vm.assertEq(market.owed(providers[i]), 0, "no verdict: nobody paid");
                (uint96 s,) = stakeOf(providers[i]);
                vm.assertEq(s, c.stakeBefore[i] - bondOf(c, i, true), "no verdict: only no-shows lose their bond");
            }
            return;
        }

        uint256 marketBefore = token.balanceOf(address(market));
        uint256 treasuryTokensBefore = token.balanceOf(treasury);
        vm.prank(requester);
        market.reveal(c.jobId, c.a, RESULT, c.sc);
        checkSettlement(c, marketBefore, treasuryTokensBefore);
    }

    /// @dev The no-show bond provider i loses in case `c`: when its commitment reached neither the chain nor a
    ///      reveal. At expiry only on-chain commitments count, so a provider that only signed loses it too.
    function bondOf(Case memory c, uint256 i, bool atExpiry) internal pure returns (uint256) {
        uint8 kind = c.behaviour[i] % 3;
        bool onChain = c.behaviour[i] & 4 != 0;
        if (kind != 0 && (onChain || !atExpiry)) return 0;
        return uint256(c.stakeBefore[i]) * NO_SHOW_BPS / 10_000;
    }

    function createFuzzJob(Case memory c, uint96[5] memory priceSeeds) internal {
        JobMarket.JobRequest memory req = request(c.r, c.q);
        req.pricePerReplica = c.cap;
        c.jobId = market.jobIdOf(requester, req.salt);
        c.budget = escrow(c.r, c.cap);
        bytes32 terms = termsOf(req, firstN(c.r));
        JobMarket.Offer[] memory o = new JobMarket.Offer[](c.r);
        c.a = new JobMarket.Assignment[](c.r);
        for (uint256 i; i < c.r; ++i) {
            uint96 price = uint96(bound(priceSeeds[i], 0, c.cap));
            o[i] = offerBy(c.jobId, i, price, terms);
            c.a[i] = JobMarket.Assignment(providers[i], price);
        }
        vm.prank(requester);
        market.createJob(req, o);
    }

    function commitAll(Case memory c) internal {
        uint256 nSigned;
        c.complete = true;
        for (uint256 i; i < c.r; ++i) {
            if (c.behaviour[i] % 3 == 0) c.complete = false;
            else if (c.behaviour[i] & 4 == 0) ++nSigned;
        }
        c.sc = new JobMarket.SignedCommit[](nSigned);
        nSigned = 0;
        for (uint256 i; i < c.r; ++i) {
            uint8 kind = c.behaviour[i] % 3;
            if (kind == 0) continue;
            bytes memory cid = kind == 1 ? RESULT : WRONG;
            if (kind == 1) {
                ++c.honest;
                c.paidGross += c.a[i].price;
            }
            if (c.behaviour[i] & 4 != 0) commitOnChain(c.jobId, i, cid);
            else c.sc[nSigned++] = signedCommitBy(c.jobId, uint8(i), i, cid);
        }
    }

    function checkSettlement(Case memory c, uint256 marketBefore, uint256 treasuryTokensBefore) internal view {
        uint256 fees;
        uint256 slashedTotal;
        uint256 providersOwed;
        for (uint256 i; i < c.r; ++i) {
            uint8 kind = c.behaviour[i] % 3;
            uint256 owed = market.owed(providers[i]);
            (uint96 s,) = stakeOf(providers[i]);
            if (kind == 1) {
                uint256 fee = uint256(c.a[i].price) * c.feeBps / 10_000;
                fees += fee;
                vm.assertEq(owed, c.a[i].price - fee, "honest paid its offer minus the fee");
                vm.assertEq(s, c.stakeBefore[i], "honest not slashed");
            } else if (kind == 2) {
                vm.assertEq(owed, 0, "dishonest not paid");
                vm.assertEq(s, c.stakeBefore[i] - uint256(c.stakeBefore[i]) * c.slashBps / 10_000, "dishonest slashed");
                slashedTotal += c.stakeBefore[i] - s;
            } else {
                vm.assertEq(owed, 0, "no-show not paid");
                vm.assertEq(s, c.stakeBefore[i] - bondOf(c, i, false), "no-show loses exactly its bond");
                slashedTotal += bondOf(c, i, false);
            }
            providersOwed += owed;
        }
        vm.assertEq(market.owed(treasury), fees, "fees owed to treasury");
        vm.assertEq(market.owed(requester), c.budget - c.paidGross, "refund = budget - gross pay");
        vm.assertEq(providersOwed + fees + market.owed(requester), c.budget, "escrow split exactly");
        vm.assertEq(token.balanceOf(address(market)), marketBefore, "settlement moves no tokens out of the market");
        vm.assertEq(token.balanceOf(treasury) - treasuryTokensBefore, slashedTotal, "slashes and bonds to treasury");
        vm.assertEq(token.totalSupply(), SUPPLY, "supply");
        vm.assertEq(trackedBalance(), SUPPLY, "all tokens accounted for");
    }

    /// @dev createJob accepts exactly 1 <= r <= 16, r/2 < q <= r, and (for None/Proof) r == 1.
    function testFuzz_createJob_replicasAndQuorum(uint8 r, uint8 q, uint8 modeSeed) public {
        JobMarket.JobRequest memory req = request(r, q);
        req.mode = JobMarket.Mode(modeSeed % 3);
        bytes memory err;
        if (r == 0) {
            err = abi.encodeWithSelector(JobMarket.ZeroReplicas.selector);
        } else if (r > 16) {
            err = abi.encodeWithSelector(JobMarket.TooManyReplicas.selector, r);
        } else if (q == 0 || q > r || 2 * uint256(q) <= r) {
            err = abi.encodeWithSelector(JobMarket.QuorumOutOfRange.selector, q, r);
        } else if (req.mode != JobMarket.Mode.Quorum && r != 1) {
            err = abi.encodeWithSelector(JobMarket.ModeNeedsOneReplica.selector, req.mode);
        }
        if (err.length == 0 && r > providers.length) {
            // Valid, but the fixture has too few providers: the offer count is what fails.
            err = abi.encodeWithSelector(JobMarket.OfferCountMismatch.selector, 0, r);
        }
        if (err.length != 0) {
            vm.prank(requester);
            vm.expectRevert(err);
            market.createJob(req, noOffers());
        } else {
            JobMarket.Offer[] memory o = offers(req, market.jobIdOf(requester, req.salt), r, PRICE);
            if (req.mode == JobMarket.Mode.Proof && address(market.proofVerifier()) == address(0)) {
                // A proof job nobody could prove is refused.
                vm.prank(requester);
                vm.expectRevert(JobMarket.NoVerifier.selector);
                market.createJob(req, o);
                return;
            }
            vm.prank(requester);
            bytes32 jobId = market.createJob(req, o);
            vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Assigned), "created assigned");
            vm.assertEq(
                token.balanceOf(address(market)),
                uint256(PRICE) * r * (req.mode == JobMarket.Mode.Quorum ? 2 : 1),
                "escrow = r * price, doubled for Quorum"
            );
        }
    }

    /// @dev The commit deadline must lie in (now, now + maxJobDuration]; the reveal deadline follows it.
    function testFuzz_createJob_deadline(uint40 start, uint40 offset) public {
        start = uint40(bound(start, 1, 1e10));
        vm.warp(start);
        JobMarket.JobRequest memory req = request(1, 1);
        req.commitDeadline = uint40(bound(offset, start - 1, uint256(start) + 2 * uint256(MAX_JOB)));
        if (req.commitDeadline <= start || req.commitDeadline > start + MAX_JOB) {
            vm.prank(requester);
            vm.expectRevert(abi.encodeWithSelector(JobMarket.DeadlineOutOfRange.selector, req.commitDeadline));
            market.createJob(req, noOffers());
        } else {
            JobMarket.Offer[] memory o = offers(req, market.jobIdOf(requester, req.salt), 1, PRICE);
            vm.prank(requester);
            bytes32 jobId = market.createJob(req, o);
            (uint40 cd, uint40 rd) = deadlinesOf(jobId);
            vm.assertEq(rd, cd + REVEAL_WINDOW, "reveal deadline");
        }
    }

    /// @dev For any moment: before the reveal deadline expire reverts, after it the job fails with a full
    ///      refund (three providers of five in the job: too few others to arbitrate), with or without a commitment.
    function testFuzz_expire_timing(uint256 t, bool oneCommits, uint96 price) public {
        price = uint96(bound(price, 1, uint256(1_000_000 ether) / 6));
        JobMarket.JobRequest memory req = request(3, 2);
        req.pricePerReplica = price;
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, price);
        vm.prank(requester);
        market.createJob(req, o);
        JobMarket.Assignment[] memory a = assignmentOf(3, price);
        if (oneCommits) commitOnChain(jobId, 0, RESULT);
        (, uint40 rd) = deadlinesOf(jobId);
        t = bound(t, block.timestamp, uint256(rd) + 365 days);
        vm.warp(t);
        if (t <= rd) {
            vm.expectRevert(abi.encodeWithSelector(JobMarket.NotExpired.selector, rd));
            market.expire(jobId, a);
        } else {
            market.expire(jobId, a);
            vm.assertEq(uint256(stateOf(jobId)), uint256(JobMarket.State.Failed), "failed");
            vm.assertEq(market.owed(requester), uint256(price) * 6, "full refund");
            vm.prank(requester);
            market.withdraw();
            vm.assertEq(token.balanceOf(address(market)), 0, "market empty");
        }
    }

    /// @dev Commits are accepted until the commit deadline inclusive, never after.
    function testFuzz_commit_timing(uint256 t) public {
        (bytes32 jobId,) = createAssigned(3, 2);
        (uint40 cd,) = deadlinesOf(jobId);
        t = bound(t, block.timestamp, uint256(cd) + 30 days);
        vm.warp(t);
        bytes32 c = commitmentOf(RESULT, providers[0]);
        vm.prank(providers[0]);
        if (t > cd) vm.expectRevert(abi.encodeWithSelector(JobMarket.CommitClosed.selector, cd));
        market.commit(jobId, c);
    }

    /// @dev Slashing takes exactly bps of active + unbonding stake, active first.
    function testFuzz_slash_amount(uint96 unbondSeed, uint16 bpsSeed) public {
        uint96 unbond = uint96(bound(unbondSeed, 0, STAKE));
        uint256 bps = bound(bpsSeed, 0, 10_000);
        address p = providers[0];
        if (unbond != 0) {
            vm.prank(p);
            registry.unbond(unbond);
        }
        uint256 treasuryBefore = token.balanceOf(treasury);
        vm.prank(address(market));
        uint256 slashed = registry.slash(p, bps, treasury);
        vm.assertEq(slashed, uint256(STAKE) * bps / 10_000, "bps of total stake");
        (uint96 staked, uint96 unbonding) = stakeOf(p);
        vm.assertEq(uint256(staked) + unbonding, STAKE - slashed, "stake reduced by the slash");
        if (slashed <= STAKE - unbond) vm.assertEq(unbonding, unbond, "active stake first");
        vm.assertEq(token.balanceOf(treasury) - treasuryBefore, slashed, "sent");
    }

    /// @dev Rewards of one epoch are proportional to units, rounded down, and never exceed the emission, which
    ///      is the scheduled one capped at FEE_FACTOR_BPS of the epoch's units (fees).
    function testFuzz_rewards_split(uint96 u1, uint96 u2, uint96 u3) public {
        MockLedger ledger = new MockLedger();
        Rewards r = new Rewards(
            token, ledger, address(this), uint128(EMISSION), FEE_FACTOR_BPS, MAX_EMISSION, MAX_FEE_FACTOR_BPS
        );
        token.transfer(address(r), EMISSION);
        address[3] memory who = [address(0xA1), address(0xA2), address(0xA3)];
        uint256[3] memory units = [bound(u1, 1, 1e30), bound(u2, 0, 1e30), bound(u3, 0, 1e30)];
        for (uint256 i; i < 3; ++i) {
            ledger.addWork(who[i], 0, units[i]);
        }
        ledger.setEpoch(1);
        uint256 total = units[0] + units[1] + units[2];
        uint256 emission = total * FEE_FACTOR_BPS / 10_000;
        if (emission > EMISSION) emission = EMISSION;
        uint256[] memory list = new uint256[](1);
        uint256 sum;
        for (uint256 i; i < 3; ++i) {
            uint256 expected = emission * units[i] / total;
            vm.assertLe(expected, units[i] * FEE_FACTOR_BPS / 10_000, "a share stays below the factor of its fees");
            vm.assertEq(r.claimable(who[i], 0), expected, "proportional share");
            vm.prank(who[i]);
            if (expected == 0) vm.expectRevert(Rewards.NothingToClaim.selector);
            r.claim(list);
            sum += token.balanceOf(who[i]);
        }
        vm.assertLe(sum, emission, "never more than the emission");
        vm.assertLe(emission - sum, 3, "at most one wei of dust per worker");
        vm.assertEq(r.reserved(), emission - sum, "dust stays reserved");
        vm.assertEq(token.balanceOf(address(r)), EMISSION - sum, "pool keeps what was not emitted");
    }
}
