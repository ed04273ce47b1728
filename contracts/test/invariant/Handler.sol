// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "../utils/Vm.sol";
import {OceanToken} from "../../src/OceanToken.sol";
import {NodeRegistry} from "../../src/NodeRegistry.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {Rewards} from "../../src/Rewards.sol";

/// @notice Drives the protocol for the invariant suite: creates fully assigned jobs from signed offers (Quorum
///         mode, sometimes None), tries to create under-filled ones (must fail), commits honestly or dishonestly
///         (on chain or as signatures handed to the requester), reveals (as requester or provider, the true
///         result or a wrong or bogus one), expires (no-show bonds; a disputed Quorum job goes to arbitration),
///         commits and reveals as drawn arbiters, expires arbitrations, withdraws, claims rewards, unbonds and
///         warps time. It keeps ghost accounting of what the JobMarket must hold and records any violation it
///         sees during a call (assertions inside handler calls would be swallowed as reverts, so violations are
///         counted and checked by the invariants).
contract Handler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    bytes internal constant RESULT = hex"0155122011223344556677889900aabbccddeeff11223344556677889900aabbccddeeff";
    bytes internal constant WRONG = hex"01551220deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
    bytes internal constant BOGUS = hex"0155122000000000000000000000000000000000000000000000000000000000000000ff";
    bytes32 internal constant NO_SHOW = bytes32(uint256(1));

    enum Behaviour {
        NoShow,
        Honest,
        Dishonest
    }

    enum Phase {
        Assigned,
        Arbitration,
        Final
    }

    struct JobInfo {
        bytes32 id;
        JobMarket.Mode mode;
        uint8 r;
        uint8 q;
        uint96 cap;
        uint256 escrow;
        uint40 commitDeadline; // of the current phase
        uint40 revealDeadline; // of the current phase
        uint32 rebalanceAt;
        bool reassigned;
        Phase phase;
        JobMarket.Assignment[] assignment;
        Behaviour[] behaviour;
        bool[] onChain;
        JobMarket.Assignment[] arbiters;
        Behaviour[] arbBehaviour;
        bool[] arbOnChain;
    }

    OceanToken public token;
    NodeRegistry public registry;
    JobMarket public market;
    Rewards public rewards;
    address public requester;
    address public treasury;
    uint256[] internal keys;
    address[] public providers;

    JobInfo[] internal jobs;
    uint256 internal salt;

    // ---- ghosts ----
    /// @notice Escrow of jobs that are neither Finalized nor Failed.
    uint256 public ghostEscrowed;
    /// @notice What the market owes and has not paid out (sum over all accounts).
    uint256 public ghostOwed;
    /// @notice Violations seen inside handler calls (must stay zero), with the first reason.
    uint256 public violations;
    string public firstViolation;
    /// @notice How often each action really changed state (to check the suite is not vacuous).
    mapping(bytes32 action => uint256) public calls;

    constructor(
        OceanToken token_,
        NodeRegistry registry_,
        JobMarket market_,
        Rewards rewards_,
        address requester_,
        address treasury_,
        uint256[] memory keys_,
        address[] memory providers_
    ) {
        token = token_;
        registry = registry_;
        market = market_;
        rewards = rewards_;
        requester = requester_;
        treasury = treasury_;
        keys = keys_;
        providers = providers_;
    }

    // =========================================================================================================
    // views for the invariants
    // =========================================================================================================

    function jobCount() external view returns (uint256) {
        return jobs.length;
    }

    function jobId(uint256 i) external view returns (bytes32) {
        return jobs[i].id;
    }

    function assignmentOf(uint256 i) external view returns (JobMarket.Assignment[] memory) {
        return jobs[i].assignment;
    }

    function isFinal(uint256 i) external view returns (bool) {
        return jobs[i].phase == Phase.Final;
    }

    /// @notice Every account the market may owe something to.
    function actors() public view returns (address[] memory a) {
        a = new address[](providers.length + 2);
        for (uint256 i; i < providers.length; ++i) {
            a[i] = providers[i];
        }
        a[providers.length] = requester;
        a[providers.length + 1] = treasury;
    }

    // =========================================================================================================
    // actions
    // =========================================================================================================

    function createJob(uint8 rSeed, uint8 qSeed, uint8 modeSeed, uint96 capSeed, uint32 durSeed, uint256 pick)
        external
    {
        // Mostly Quorum jobs of 1-5 replicas; one in five a single-provider None job.
        bool none = modeSeed % 5 == 0;
        uint8 r = none ? 1 : uint8(_bound(rSeed, 1, 5));
        JobMarket.JobRequest memory req = _request(r, qSeed, none, capSeed, durSeed);
        bytes32 id = market.jobIdOf(requester, req.salt);
        (JobMarket.Offer[] memory offers, bool enough) = _offers(req, id, r, pick);
        if (!enough) return; // not enough active providers now
        uint256 escrow = market.escrowOf(req.mode, r, req.pricePerReplica);
        if (token.balanceOf(requester) < escrow) return;

        vm.prank(requester);
        market.createJob(req, offers);
        _record(id, req, offers, pick, escrow);
        ghostEscrowed += escrow;
        calls["createJob"]++;
    }

    /// @dev A request with fewer (or more) offers than replicas never creates a job.
    function createJobUnderfilled(uint8 rSeed, uint8 nSeed, uint96 capSeed, uint256 pick) external {
        uint8 r = uint8(_bound(rSeed, 1, 5));
        uint256 n = _bound(nSeed, 0, r + 1);
        if (n == r) n = r - 1;
        JobMarket.JobRequest memory req = _request(r, 0, false, capSeed, 0);
        bytes32 id = market.jobIdOf(requester, req.salt);
        (JobMarket.Offer[] memory offers,) = _offers(req, id, n, pick);
        vm.prank(requester);
        try market.createJob(req, offers) {
            _violation("a job was created without one offer per replica");
        } catch {
            calls["createJobUnderfilled"]++;
        }
    }

    function _request(uint8 r, uint8 qSeed, bool none, uint96 capSeed, uint32 durSeed)
        internal
        returns (JobMarket.JobRequest memory req)
    {
        req = JobMarket.JobRequest({
            salt: bytes32(++salt),
            manifestCid: hex"0170",
            lateManifest: false,
            replicas: r,
            quorum: qSeed % 4 == 0 ? uint8(_bound(qSeed / 4, r / 2 + 1, r)) : r / 2 + 1, // mostly a bare majority
            mode: none ? JobMarket.Mode.None : JobMarket.Mode.Quorum,
            pricePerReplica: uint96(_bound(capSeed, 1, 1_000 ether)),
            commitDeadline: uint40(block.timestamp + _bound(durSeed, 5 minutes, 1 hours)),
            proofSpec: bytes32(0),
            limitsHash: keccak256("limits"),
            rebalanceAt: 0
        });
        // Half the jobs may be rebalanced, from a random time before their commit deadline.
        uint256 roll = uint256(keccak256(abi.encode(capSeed, durSeed, salt)));
        if (roll % 2 == 0 && !none) {
            req.rebalanceAt = uint32(_bound(roll >> 8, block.timestamp + 1, req.commitDeadline - 1));
        }
    }

    /// @dev `n` offers from distinct active providers, starting at a random one, each at a random price <= cap,
    ///      all signing the request's terms with exactly these providers in this order.
    function _offers(JobMarket.JobRequest memory req, bytes32 id, uint256 n, uint256 pick)
        internal
        view
        returns (JobMarket.Offer[] memory offers, bool enough)
    {
        uint256[] memory who = new uint256[](n);
        address[] memory list = new address[](n);
        uint256 found;
        for (uint256 k; k < providers.length && found < n; ++k) {
            uint256 w = (pick % providers.length + k) % providers.length;
            if (!registry.isActive(providers[w])) continue;
            who[found] = w;
            list[found++] = providers[w];
        }
        enough = found == n;
        if (!enough) return (offers, false);
        bytes32 terms = market.termsHash(req, list);
        offers = new JobMarket.Offer[](n);
        for (uint256 i; i < n; ++i) {
            uint96 price = uint96(_bound(uint256(keccak256(abi.encode(pick, i))), 0, req.pricePerReplica));
            offers[i] = _offer(id, who[i], price, terms);
        }
    }

    function _offer(bytes32 id, uint256 who, uint96 price, bytes32 terms)
        internal
        view
        returns (JobMarket.Offer memory)
    {
        uint40 expiry = uint40(block.timestamp + 1 hours);
        (bytes32 r, bytes32 vs) = _sig(keys[who], market.offerDigest(id, providers[who], price, expiry, terms));
        return JobMarket.Offer(providers[who], price, expiry, r, vs);
    }

    function _record(
        bytes32 id,
        JobMarket.JobRequest memory req,
        JobMarket.Offer[] memory offers,
        uint256 pick,
        uint256 escrow
    ) internal {
        JobInfo storage j = jobs.push();
        j.id = id;
        j.mode = req.mode;
        j.r = req.replicas;
        j.q = req.quorum;
        j.cap = req.pricePerReplica;
        j.escrow = escrow;
        j.rebalanceAt = req.rebalanceAt;
        _refreshDeadlines(j);
        for (uint256 i; i < offers.length; ++i) {
            j.assignment.push(JobMarket.Assignment(offers[i].provider, offers[i].price));
            j.behaviour.push(_roll(uint256(keccak256(abi.encode(pick, i, id)))));
            j.onChain.push(false);
        }
    }

    /// @dev Mostly honest (70%), some dishonest (20%), some silent (10%).
    function _roll(uint256 seed) internal pure returns (Behaviour) {
        uint256 roll = seed % 10;
        return roll < 7 ? Behaviour.Honest : roll < 9 ? Behaviour.Dishonest : Behaviour.NoShow;
    }

    function _refreshDeadlines(JobInfo storage j) internal {
        JobMarket.Job memory stored = market.jobOf(j.id);
        (uint40 cd, uint40 rd) = (stored.commitDeadline, stored.revealDeadline);
        j.commitDeadline = cd;
        j.revealDeadline = rd;
    }

    /// @dev An assigned provider (or, in arbitration, a drawn arbiter) commits its result on chain.
    function commit(uint256 jobSeed, uint256 slotSeed) external {
        (bool found, uint256 idx) = _live(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        if (block.timestamp > j.commitDeadline) return;
        if (j.phase == Phase.Assigned) {
            uint256 i = slotSeed % j.r;
            if (j.onChain[i] || j.behaviour[i] == Behaviour.NoShow) return;
            address p = j.assignment[i].provider;
            vm.prank(p);
            market.commit(j.id, keccak256(abi.encodePacked(_resultOf(j.behaviour[i]), p)));
            j.onChain[i] = true;
            calls["commit"]++;
        } else {
            uint256 i = slotSeed % j.r;
            if (j.arbOnChain[i] || j.arbBehaviour[i] == Behaviour.NoShow) return;
            address p = j.arbiters[i].provider;
            bytes32 c = keccak256(abi.encodePacked(_resultOf(j.arbBehaviour[i]), p));
            vm.prank(p);
            try market.commit(j.id, c) {
                j.arbOnChain[i] = true;
                calls["commitArbiter"]++;
            } catch {
                // An arbiter may have committed to this job id before it was drawn (it never does here).
                _violation("an arbiter could not commit in time");
            }
        }
    }

    /// @dev The requester reveals `cid` with the signed commitments of a random subset of the providers that ran.
    function revealByRequester(uint256 jobSeed, uint8 cidSeed, uint256 subset) external {
        (bool found, uint256 idx) = _liveForReveal(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        // Most signatures reach the requester (seven in eight).
        // (hashed: the fuzzer favours edge values such as 0, which would mean "no signatures" every time)
        uint256 bits = uint256(keccak256(abi.encode(subset)));
        bits = bits | (bits >> 16) | (bits >> 32);
        if (j.phase == Phase.Assigned) _reveal(j, requester, _cid(cidSeed), _signedSubset(j, bits));
        else _revealArbitration(j, requester, _cid(cidSeed), _signedArbiters(j, bits));
    }

    /// @dev An assigned provider (or arbiter) reveals with the on-chain commitments only.
    function revealByProvider(uint256 jobSeed, uint256 slotSeed, uint8 cidSeed) external {
        (bool found, uint256 idx) = _liveForReveal(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        if (j.phase == Phase.Assigned) {
            _reveal(j, j.assignment[slotSeed % j.r].provider, _cid(cidSeed), new JobMarket.SignedCommit[](0));
        } else {
            uint256 k = slotSeed % (2 * uint256(j.r));
            address p = k < j.r ? j.assignment[k].provider : j.arbiters[k - j.r].provider;
            _revealArbitration(j, p, _cid(cidSeed), new JobMarket.SignedCommit[](0));
        }
    }

    struct ExpireCheck {
        bool due;
        uint256[] stake;
        uint256 requesterOwed;
        uint256 marketBalance;
        uint16 noShowBps;
        bool anyOnChain;
        uint256 eligible;
        uint40 revealDeadline;
    }

    function expire(uint256 jobSeed) external {
        (bool found, uint256 idx) = _liveForExpire(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        ExpireCheck memory e;
        e.due = block.timestamp > j.revealDeadline;
        e.revealDeadline = j.revealDeadline;
        e.stake = new uint256[](j.r);
        for (uint256 i; i < j.r; ++i) {
            e.stake[i] = _stakeOf(j.assignment[i].provider);
            if (j.onChain[i]) e.anyOnChain = true;
        }
        e.requesterOwed = market.owed(requester);
        e.marketBalance = token.balanceOf(address(market));
        e.noShowBps = market.jobOf(j.id).noShowBps;
        e.eligible = _eligibleArbiters(j);
        Phase before = j.phase;

        vm.recordLogs();
        try market.expire(j.id, j.assignment) {
            if (!e.due) _violation("expired before its deadline");
            _afterExpire(j, e, before);
        } catch {
            if (e.due) _violation("a job past its deadline could not expire");
        }
        vm.getRecordedLogs(); // clear
    }

    function _afterExpire(JobInfo storage j, ExpireCheck memory e, Phase before) internal {
        if (token.balanceOf(address(market)) != e.marketBalance) _violation("expire moved tokens");
        for (uint256 i; i < j.r; ++i) {
            uint256 nowStake = _stakeOf(j.assignment[i].provider);
            uint256 expected = e.stake[i];
            // Only in the Assigned phase, and only those with no commitment on chain, lose their bond.
            if (before == Phase.Assigned && !j.onChain[i]) expected -= e.stake[i] * e.noShowBps / 10_000;
            if (nowStake != expected) _violation("expire took other than the no-show bonds");
        }
        JobMarket.State s = _state(j.id);
        if (before == Phase.Assigned && j.mode == JobMarket.Mode.Quorum && e.anyOnChain) {
            calls["disputedExpiry"]++;
            if (e.eligible < j.r) calls["tooFewArbiters"]++;
        }
        if (s == JobMarket.State.Arbitration) {
            if (before != Phase.Assigned || j.mode != JobMarket.Mode.Quorum || !e.anyOnChain) {
                _violation("arbitration without a disputed Quorum job");
            }
            if (e.eligible < j.r) _violation("arbitration with too few eligible arbiters");
            _recordArbiters(j);
            // The round is fixed from the job's reveal deadline, whenever expire is called.
            if (j.commitDeadline != e.revealDeadline + market.arbitrationWindow()) _violation("arbitration deadline");
            if (block.timestamp >= j.commitDeadline) _violation("arbitration started after its window");
            calls["arbitrationStarted"]++;
            return;
        }
        if (s != JobMarket.State.Failed) _violation("expire left the job neither failed nor in arbitration");
        if (market.owed(requester) - e.requesterOwed != j.escrow) _violation("a failed job was not fully refunded");
        if (before == Phase.Arbitration) calls["arbitrationFailed"]++;
        _failed(j);
        calls["expire"]++;
    }

    /// @dev Reads the arbiters from the ProviderAssigned events of the expire just made and checks the draw.
    function _recordArbiters(JobInfo storage j) internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 sig = keccak256("ProviderAssigned(bytes32,address,uint8,uint96)");
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(market) || logs[i].topics[0] != sig) continue;
            (uint8 index, uint96 price) = abi.decode(logs[i].data, (uint8, uint96));
            address p = address(uint160(uint256(logs[i].topics[2])));
            if (index != j.r + j.arbiters.length) _violation("arbiter index");
            if (price != j.cap) _violation("arbiter price is not the cap");
            if (_indexOf(j, p) != type(uint256).max) _violation("an original provider drawn as arbiter");
            for (uint256 k; k < j.arbiters.length; ++k) {
                if (j.arbiters[k].provider == p) _violation("an arbiter drawn twice");
            }
            if (!registry.isActive(p)) _violation("an inactive arbiter");
            j.arbiters.push(JobMarket.Assignment(p, price));
            // Drafted arbiters: mostly honest (85%), some dishonest (10%), some silent (5%).
            uint256 roll = uint256(keccak256(abi.encode(j.id, p, block.timestamp))) % 20;
            j.arbBehaviour.push(roll < 17 ? Behaviour.Honest : roll < 19 ? Behaviour.Dishonest : Behaviour.NoShow);
            j.arbOnChain.push(false);
        }
        if (j.arbiters.length != j.r) _violation("not r arbiters");
        if (keccak256(abi.encode(j.arbiters)) != market.arbitrationHash(j.id)) _violation("arbitration hash");
        j.phase = Phase.Arbitration;
        _refreshDeadlines(j);
    }

    function withdraw(uint256 actorSeed) external {
        address[] memory a = actors();
        address who = a[actorSeed % a.length];
        uint256 amount = market.owed(who);
        if (amount == 0) return;
        uint256 before = token.balanceOf(who);
        vm.prank(who);
        market.withdraw();
        if (token.balanceOf(who) - before != amount) _violation("withdraw paid a wrong amount");
        ghostOwed -= amount;
        calls["withdraw"]++;
    }

    /// @dev A provider claims its reward for a random finished epoch.
    function claimRewards(uint256 providerSeed, uint256 epochSeed) external {
        uint256 current = market.currentEpoch();
        if (current == 0) return;
        address p = providers[providerSeed % providers.length];
        uint256[] memory list = new uint256[](1);
        list[0] = epochSeed % current;
        uint256 amount = rewards.claimable(p, list[0]);
        if (amount == 0) return;
        uint256 units = market.workUnits(p, list[0]);
        uint256 before = token.balanceOf(p);
        vm.prank(p);
        rewards.claim(list);
        if (token.balanceOf(p) - before != amount) _violation("reward claim paid other than claimable");
        if (amount > units * rewards.feeFactorBps() / 10_000) _violation("a reward above the factor of its fees");
        calls["claimRewards"]++;
    }

    /// @dev Providers move stake out mid-job; it must stay slashable while unbonding.
    function unbond(uint256 providerSeed, uint96 amountSeed) external {
        address p = providers[providerSeed % providers.length];
        (uint96 staked,,,) = registry.stakes(p);
        if (staked == 0) return;
        // Mostly a part of the stake (the provider stays active), one time in four all of it.
        uint96 amount = uint96(_bound(amountSeed, 1, amountSeed % 4 == 0 ? staked : staked / 4 + 1));
        if (amount > staked) amount = staked;
        vm.prank(p);
        registry.unbond(amount);
        calls["unbond"]++;
    }

    function addStake(uint256 providerSeed, uint96 amountSeed) external {
        address p = providers[providerSeed % providers.length];
        uint256 bal = token.balanceOf(p);
        if (bal == 0) return;
        uint96 amount = uint96(_bound(amountSeed, 1, bal > 500 ether ? 500 ether : bal));
        vm.prank(p);
        registry.addStake(amount);
        calls["addStake"]++;
    }

    function warp(uint32 secondsSeed) external {
        // Mostly small steps (so jobs get committed, revealed, expired and arbitrated in time), sometimes hours
        // (so that some expire late, past their arbitration window).
        uint256 maxStep = secondsSeed % 8 == 0 ? 90 minutes : 15 minutes;
        vm.warp(block.timestamp + _bound(secondsSeed / 8, 1, maxStep));
        calls["warp"]++;
    }

    // ---- the same actions under a second name: forge picks selectors uniformly (duplicates are merged), so
    //      these make the job lifecycle more frequent than stake moves and time jumps ----

    function createJobAgain(uint8 rSeed, uint8 qSeed, uint8 modeSeed, uint96 capSeed, uint32 durSeed, uint256 pick)
        external
    {
        this.createJob(rSeed, qSeed, modeSeed, capSeed, durSeed, pick);
    }

    /// @dev Every running assigned provider (or arbiter) of a job commits on chain (the usual case near the
    ///      commit deadline).
    function commitAll(uint256 jobSeed) external {
        (bool found, uint256 idx) = _live(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        for (uint256 i; i < j.r; ++i) {
            this.commit(idx, i);
        }
    }

    function revealByRequesterAgain(uint256 jobSeed, uint8 cidSeed, uint256 subset) external {
        this.revealByRequester(jobSeed, cidSeed, subset);
    }

    function revealByProviderAgain(uint256 jobSeed, uint256 slotSeed, uint8 cidSeed) external {
        this.revealByProvider(jobSeed, slotSeed, cidSeed);
    }

    function expireAgain(uint256 jobSeed) external {
        this.expire(jobSeed);
    }

    function warpAgain(uint32 secondsSeed) external {
        this.warp(secondsSeed);
    }

    // =========================================================================================================
    // internals
    // =========================================================================================================

    function _resultOf(Behaviour b) internal pure returns (bytes memory) {
        return b == Behaviour.Honest ? RESULT : WRONG;
    }

    function _cid(uint8 seed) internal pure returns (bytes memory) {
        uint8 k = seed % 8;
        return k < 6 ? RESULT : k == 6 ? WRONG : BOGUS;
    }

    function _signedSubset(JobInfo storage j, uint256 subset)
        internal
        view
        returns (JobMarket.SignedCommit[] memory sc)
    {
        uint256 n;
        for (uint256 i; i < j.r; ++i) {
            if (j.behaviour[i] != Behaviour.NoShow && (subset >> i) & 1 == 1) ++n;
        }
        sc = new JobMarket.SignedCommit[](n);
        n = 0;
        for (uint256 i; i < j.r; ++i) {
            if (j.behaviour[i] == Behaviour.NoShow || (subset >> i) & 1 == 0) continue;
            sc[n++] = _signed(j.id, uint8(i), j.assignment[i].provider, _resultOf(j.behaviour[i]));
        }
    }

    /// @dev Signed commitments of a subset of the arbiters that ran (indexes r..2r-1).
    function _signedArbiters(JobInfo storage j, uint256 subset)
        internal
        view
        returns (JobMarket.SignedCommit[] memory sc)
    {
        uint256 n;
        for (uint256 i; i < j.r; ++i) {
            if (j.arbBehaviour[i] != Behaviour.NoShow && (subset >> i) & 1 == 1) ++n;
        }
        sc = new JobMarket.SignedCommit[](n);
        n = 0;
        for (uint256 i; i < j.r; ++i) {
            if (j.arbBehaviour[i] == Behaviour.NoShow || (subset >> i) & 1 == 0) continue;
            sc[n++] = _signed(j.id, uint8(j.r + i), j.arbiters[i].provider, _resultOf(j.arbBehaviour[i]));
        }
    }

    function _signed(bytes32 id, uint8 index, address p, bytes memory result)
        internal
        view
        returns (JobMarket.SignedCommit memory)
    {
        bytes32 c = keccak256(abi.encodePacked(result, p));
        (bytes32 r, bytes32 vs) = _sig(keys[_keyIndex(p)], market.commitDigest(id, c));
        return JobMarket.SignedCommit(index, c, r, vs);
    }

    struct Before {
        uint256[] owed; // the listed providers, then requester, then treasury
        uint256[] stake;
        uint256 marketBalance;
        uint256 treasuryTokens;
        uint16 feeBps;
        uint16 slashBps;
        uint16 noShowBps;
    }

    /// @dev Predicts whether the Assigned-phase reveal must succeed, calls it, and checks every outcome.
    function _reveal(JobInfo storage j, address caller, bytes memory cid, JobMarket.SignedCommit[] memory sc) internal {
        // Which commitment counts for each slot: a signed one if given, else the on-chain one.
        bytes32[] memory counted = new bytes32[](j.r);
        for (uint256 k; k < sc.length; ++k) {
            counted[sc[k].index] = sc[k].commitment;
        }
        uint256 matches;
        bool complete = true;
        for (uint256 i; i < j.r; ++i) {
            address p = j.assignment[i].provider;
            if (counted[i] == bytes32(0) && j.onChain[i]) {
                counted[i] = keccak256(abi.encodePacked(_resultOf(j.behaviour[i]), p));
            }
            if (counted[i] == bytes32(0)) complete = false;
            else if (counted[i] == keccak256(abi.encodePacked(cid, p))) ++matches;
        }
        if (block.timestamp > j.revealDeadline) {
            calls["revealLate"]++;
        } else if (!complete && block.timestamp <= j.commitDeadline && !_rebalancing(j)) {
            calls["revealEarly"]++;
        } else if (matches < j.q) {
            calls["revealNoQuorum"]++;
        } else if (!complete && block.timestamp <= j.commitDeadline) {
            calls["revealRebalanced"]++;
        }
        bool expectOk = block.timestamp <= j.revealDeadline
            && (complete || block.timestamp > j.commitDeadline || _rebalancing(j)) && matches >= j.q;

        Before memory b = _snapshot(j, j.assignment);
        // A silent provider loses its bond only when the job settles after the commit deadline; before it (after
        // `rebalanceAt`) it is released.
        bool bondable = block.timestamp > j.commitDeadline;
        vm.prank(caller);
        try market.reveal(j.id, j.assignment, cid, sc) {
            if (!expectOk) _violation("reveal succeeded where it must fail");
            _checkSettlement(j, j.assignment, cid, counted, b, bondable);
            _settled(j);
            calls["reveal"]++;
        } catch {
            if (expectOk) _violation("reveal failed where it must succeed");
        }
    }

    function _rebalancing(JobInfo storage j) internal view returns (bool) {
        return j.rebalanceAt != 0 && block.timestamp >= j.rebalanceAt;
    }

    /// @dev The requester (or, to be refused, a provider) hands a slot to a provider outside the job, signed over
    ///      the new assignment. Allowed exactly in the Assigned phase between `rebalanceAt` and the commit
    ///      deadline, for a slot without an on-chain commitment; it moves no token and no stake.
    function reassign(uint256 jobSeed, uint256 slotSeed, uint256 pick, bool asProvider) external {
        (bool found, uint256 idx) = _liveForReassign(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        uint256 i = slotSeed % j.r;
        uint256 who = _outsider(j, pick);
        if (who == type(uint256).max) return;
        JobMarket.Assignment[] memory next = j.assignment;
        uint96 price = uint96(_bound(uint256(keccak256(abi.encode(pick, j.id))), 0, j.cap));
        next[i] = JobMarket.Assignment(providers[who], price);
        JobMarket.Offer memory offer = _offer(
            j.id, who, price, market.reassignTerms(keccak256(abi.encode(j.assignment)), keccak256(abi.encode(next)))
        );
        bool expectOk = !asProvider && j.phase == Phase.Assigned && _rebalancing(j)
            && block.timestamp <= j.commitDeadline && !j.onChain[i];
        ReassignCheck memory c = _reassignCheck(j.assignment[i].provider);
        vm.prank(asProvider ? c.released : requester);
        try market.reassign(j.id, j.assignment, uint8(i), offer) {
            if (!expectOk) _violation("reassign succeeded where it must fail");
            _checkReassigned(c);
            j.assignment[i] = next[i];
            j.behaviour[i] = _roll(uint256(keccak256(abi.encode(pick, i, j.id, "reassigned"))));
            j.onChain[i] = false;
            j.reassigned = true;
            calls["reassign"]++;
        } catch {
            if (expectOk) _violation("reassign failed where it must succeed");
            calls["reassignRefused"]++;
        }
    }

    struct ReassignCheck {
        address released;
        uint256 stake;
        uint256 owed;
        uint256 marketBalance;
    }

    function _reassignCheck(address released) internal view returns (ReassignCheck memory c) {
        c = ReassignCheck(released, _stakeOf(released), market.owed(released), token.balanceOf(address(market)));
    }

    function _checkReassigned(ReassignCheck memory c) internal {
        if (_stakeOf(c.released) != c.stake || market.owed(c.released) != c.owed) {
            _violation("a released provider was paid or bonded");
        }
        if (token.balanceOf(address(market)) != c.marketBalance) _violation("reassign moved tokens");
    }

    /// @dev Like `_live`, but preferring (odd seeds) jobs inside their rebalancing window, where a reassignment
    ///      can succeed.
    function _liveForReassign(uint256 seed) internal view returns (bool found, uint256 idx) {
        if (seed % 2 == 0) return _live(seed / 2);
        uint256 n = jobs.length;
        for (uint256 k; k < n; ++k) {
            idx = (seed % n + k) % n;
            JobInfo storage j = jobs[idx];
            if (j.phase == Phase.Assigned && _rebalancing(j) && block.timestamp <= j.commitDeadline) {
                return (true, idx);
            }
        }
        return _live(seed);
    }

    /// @dev An active provider outside the job, from a random start (max when there is none).
    function _outsider(JobInfo storage j, uint256 pick) internal view returns (uint256) {
        for (uint256 k; k < providers.length; ++k) {
            uint256 w = (pick % providers.length + k) % providers.length;
            if (registry.isActive(providers[w]) && _indexOf(j, providers[w]) == type(uint256).max) return w;
        }
        return type(uint256).max;
    }

    /// @dev The same for an arbitration: originals count with their on-chain commitments (NO_SHOW for the rest),
    ///      arbiters with a signature or an on-chain commitment; a result needs more than r matches.
    function _revealArbitration(JobInfo storage j, address caller, bytes memory cid, JobMarket.SignedCommit[] memory sc)
        internal
    {
        uint256 r = j.r;
        JobMarket.Assignment[] memory all = new JobMarket.Assignment[](2 * r);
        bytes32[] memory counted = new bytes32[](2 * r);
        for (uint256 i; i < r; ++i) {
            all[i] = j.assignment[i];
            all[r + i] = j.arbiters[i];
            counted[i] = j.onChain[i]
                ? keccak256(abi.encodePacked(_resultOf(j.behaviour[i]), j.assignment[i].provider))
                : NO_SHOW;
        }
        for (uint256 k; k < sc.length; ++k) {
            counted[sc[k].index] = sc[k].commitment;
        }
        uint256 matches;
        bool complete = true;
        for (uint256 i; i < 2 * r; ++i) {
            if (i >= r && counted[i] == bytes32(0) && j.arbOnChain[i - r]) {
                counted[i] = keccak256(abi.encodePacked(_resultOf(j.arbBehaviour[i - r]), all[i].provider));
            }
            if (counted[i] == bytes32(0)) complete = false;
            else if (counted[i] == keccak256(abi.encodePacked(cid, all[i].provider))) ++matches;
        }
        bool expectOk =
            block.timestamp <= j.revealDeadline && (complete || block.timestamp > j.commitDeadline) && matches > r;
        if (!expectOk) calls["revealArbitrationRefused"]++;

        Before memory b = _snapshot(j, all);
        vm.prank(caller);
        try market.reveal(j.id, all, cid, sc) {
            if (!expectOk) _violation("arbitration reveal succeeded where it must fail");
            _checkSettlement(j, all, cid, counted, b, false);
            _settled(j);
            calls["revealArbitration"]++;
        } catch {
            if (expectOk) _violation("arbitration reveal failed where it must succeed");
        }
    }

    function _snapshot(JobInfo storage j, JobMarket.Assignment[] memory list) internal view returns (Before memory b) {
        uint256 n = list.length;
        b.owed = new uint256[](n + 2);
        b.stake = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            b.owed[i] = market.owed(list[i].provider);
            b.stake[i] = _stakeOf(list[i].provider);
        }
        b.owed[n] = market.owed(requester);
        b.owed[n + 1] = market.owed(treasury);
        b.marketBalance = token.balanceOf(address(market));
        b.treasuryTokens = token.balanceOf(treasury);
        JobMarket.Job memory stored = market.jobOf(j.id);
        (b.feeBps, b.slashBps, b.noShowBps) = (stored.feeBps, stored.slashBps, stored.noShowBps);
    }

    /// @dev Matching commitments paid their price minus the fee, dissenting ones slashed, missing ones bonded
    ///      (only originals in the Assigned phase), NO_SHOW originals and arbiters (silent or dissenting) untouched; the escrow
    ///      split exactly, and the treasury's tokens grew by exactly the slashes and bonds.
    function _checkSettlement(
        JobInfo storage j,
        JobMarket.Assignment[] memory list,
        bytes memory cid,
        bytes32[] memory counted,
        Before memory b,
        bool bondable
    ) internal {
        uint256 n = list.length;
        uint256 credited;
        uint256 taken;
        // A job with a slot handed on slashes and bonds nobody (every slot is treated like a drafted arbiter).
        if (j.reassigned) bondable = false;
        for (uint256 i; i < n; ++i) {
            address p = list[i].provider;
            uint256 stakeNow = _stakeOf(p);
            uint256 gained = market.owed(p) - b.owed[i];
            credited += gained;
            uint256 expectedLoss;
            uint256 expectedGain;
            if (counted[i] == bytes32(0)) {
                if (bondable) expectedLoss = b.stake[i] * b.noShowBps / 10_000;
            } else if (counted[i] == keccak256(abi.encodePacked(cid, p))) {
                expectedGain = list[i].price - uint256(list[i].price) * b.feeBps / 10_000;
            } else if (counted[i] != NO_SHOW && !j.reassigned && (bondable || i < j.r)) {
                // Drafted arbiters (slots from r on in an arbitration) are never slashed for dissent.
                expectedLoss = b.stake[i] * b.slashBps / 10_000;
            }
            if (gained != expectedGain) _violation("a provider was paid wrongly");
            if (b.stake[i] - stakeNow != expectedLoss) _violation("a provider lost a wrong amount of stake");
            taken += expectedLoss;
        }
        credited += market.owed(requester) - b.owed[n];
        credited += market.owed(treasury) - b.owed[n + 1];
        if (credited != j.escrow) _violation("settlement did not split the escrow exactly");
        if (token.balanceOf(address(market)) != b.marketBalance) _violation("settlement moved tokens");
        if (token.balanceOf(treasury) - b.treasuryTokens != taken) _violation("slashes and bonds not at the treasury");
    }

    function _settled(JobInfo storage j) internal {
        j.phase = Phase.Final;
        ghostEscrowed -= j.escrow;
        ghostOwed += j.escrow;
    }

    function _failed(JobInfo storage j) internal {
        _settled(j);
    }

    function _state(bytes32 id) internal view returns (JobMarket.State s) {
        s = market.jobOf(id).state;
    }

    function _stakeOf(address p) internal view returns (uint256) {
        (uint96 s, uint96 u,,) = registry.stakes(p);
        return uint256(s) + u;
    }

    /// @dev Active providers outside the job (who could be drawn as arbiters now).
    function _eligibleArbiters(JobInfo storage j) internal view returns (uint256 n) {
        for (uint256 i; i < providers.length; ++i) {
            if (registry.isActive(providers[i]) && _indexOf(j, providers[i]) == type(uint256).max) ++n;
        }
    }

    /// @dev Like `_live`, but preferring jobs past the reveal deadline of their phase (odd seeds), so that
    ///      expiries, arbitrations and their failures are frequent; even seeds take any live job.
    function _liveForExpire(uint256 seed) internal view returns (bool found, uint256 idx) {
        if (seed % 2 == 0) return _live(seed / 2);
        uint256 n = jobs.length;
        // First the jobs that can still go to arbitration (expired less than an arbitration window ago).
        uint256 window = market.arbitrationWindow();
        for (uint256 k; k < n; ++k) {
            idx = (seed % n + k) % n;
            JobInfo storage j = jobs[idx];
            if (
                j.phase == Phase.Assigned && block.timestamp > j.revealDeadline
                    && block.timestamp < j.revealDeadline + window
            ) return (true, idx);
        }
        for (uint256 k; k < n; ++k) {
            idx = (seed % n + k) % n;
            if (jobs[idx].phase != Phase.Final && block.timestamp > jobs[idx].revealDeadline) return (true, idx);
        }
        return _live(seed);
    }

    /// @dev A random job that is not final yet (most picks would otherwise land on long-settled jobs).
    function _live(uint256 seed) internal view returns (bool found, uint256 idx) {
        uint256 n = jobs.length;
        for (uint256 k; k < n; ++k) {
            idx = (seed % n + k) % n;
            if (jobs[idx].phase != Phase.Final) return (true, idx);
        }
    }

    /// @dev Like `_live`, but preferring jobs still inside their reveal window (odd seeds) so that reveals
    ///      mostly meet a job that can settle; even seeds take any live job, late ones included.
    function _liveForReveal(uint256 seed) internal view returns (bool found, uint256 idx) {
        if (seed % 2 == 0) return _live(seed / 2);
        uint256 n = jobs.length;
        for (uint256 k; k < n; ++k) {
            idx = (seed % n + k) % n;
            if (jobs[idx].phase != Phase.Final && block.timestamp <= jobs[idx].revealDeadline) return (true, idx);
        }
        return _live(seed);
    }

    function _indexOf(JobInfo storage j, address p) internal view returns (uint256) {
        for (uint256 i; i < j.assignment.length; ++i) {
            if (j.assignment[i].provider == p) return i;
        }
        return type(uint256).max;
    }

    function _keyIndex(address p) internal view returns (uint256) {
        for (uint256 i; i < providers.length; ++i) {
            if (providers[i] == p) return i;
        }
        revert("unknown provider");
    }

    function _violation(string memory why) internal {
        if (violations == 0) firstViolation = why;
        ++violations;
    }

    /// @dev Compact (EIP-2098) signature, as the market takes it.
    function _sig(uint256 key, bytes32 digest) internal pure returns (bytes32 r, bytes32 vs) {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, digest);
        r = r_;
        vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        if (x >= lo && x <= hi) return x;
        return lo + (x % (hi - lo + 1));
    }
}
