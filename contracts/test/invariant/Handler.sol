// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "../utils/Vm.sol";
import {OceanToken} from "../../src/OceanToken.sol";
import {NodeRegistry} from "../../src/NodeRegistry.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {Rewards} from "../../src/Rewards.sol";

/// @notice Drives the protocol for the invariant suite: creates jobs (with offers or open), accepts, commits
///         honestly or dishonestly (on chain or as signatures handed to the requester), reveals (as requester or
///         provider, the true result or a wrong or bogus one), cancels, expires, withdraws, claims rewards,
///         unbonds and warps time, across five providers. It keeps ghost accounting of what the JobMarket must
///         hold and records any violation it sees during a call (assertions inside handler calls would be
///         swallowed as reverts, so violations are counted and checked by the invariants).
contract Handler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    bytes internal constant RESULT = hex"0155122011223344556677889900aabbccddeeff11223344556677889900aabbccddeeff";
    bytes internal constant WRONG = hex"01551220deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
    bytes internal constant BOGUS = hex"0155122000000000000000000000000000000000000000000000000000000000000000ff";

    enum Behaviour {
        NoShow,
        Honest,
        Dishonest
    }

    struct JobInfo {
        bytes32 id;
        uint8 r;
        uint8 q;
        uint96 cap;
        uint256 budget;
        uint40 commitDeadline;
        uint40 revealDeadline;
        bool final_;
        JobMarket.Assignment[] assignment;
        Behaviour[] behaviour;
        bool[] onChain;
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
    /// @notice Budgets of jobs that are neither Finalized nor Failed.
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

    function finalDeadline(uint256 i) external view returns (uint256) {
        return jobs[i].revealDeadline;
    }

    function isFinal(uint256 i) external view returns (bool) {
        return jobs[i].final_;
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

    function createJob(uint8 rSeed, uint8 qSeed, uint8 nOffers, uint96 capSeed, uint32 durSeed, uint256 pick) external {
        uint8 r = uint8(_bound(rSeed, 1, 5));
        JobMarket.JobRequest memory req = JobMarket.JobRequest({
            salt: bytes32(++salt),
            manifestCid: hex"0170",
            replicas: r,
            quorum: qSeed % 4 == 0 ? uint8(_bound(qSeed / 4, r / 2 + 1, r)) : r / 2 + 1, // mostly a bare majority
            mode: JobMarket.Mode.Quorum,
            pricePerReplica: uint96(_bound(capSeed, 1, 1_000 ether)),
            commitDeadline: uint40(block.timestamp + _bound(durSeed, 5 minutes, 1 hours)),
            proofSpec: bytes32(0)
        });
        bytes32 id = market.jobIdOf(requester, req.salt);
        // Mostly fully assigned by signed offers; sometimes open or partly assigned (filled by accept).
        uint256 n = nOffers % 4 == 0 ? _bound(nOffers / 4, 0, r) : r;
        (JobMarket.Offer[] memory offers, bool enough) = _offers(id, req.pricePerReplica, n, pick);
        if (!enough) return; // not enough active providers now
        uint256 budget = uint256(req.pricePerReplica) * r;
        if (token.balanceOf(requester) < budget) return;

        vm.prank(requester);
        market.createJob(req, offers);
        _record(id, req, offers, pick);
        ghostEscrowed += budget;
        calls["createJob"]++;
    }

    /// @dev `n` offers from distinct active providers, starting at a random one, each at a random price <= cap.
    function _offers(bytes32 id, uint96 cap, uint256 n, uint256 pick)
        internal
        view
        returns (JobMarket.Offer[] memory offers, bool enough)
    {
        offers = new JobMarket.Offer[](n);
        uint256 found;
        for (uint256 k; k < providers.length && found < n; ++k) {
            uint256 who = (pick % providers.length + k) % providers.length;
            if (!registry.isActive(providers[who])) continue;
            offers[found++] = _offer(id, who, uint96(_bound(uint256(keccak256(abi.encode(pick, k))), 0, cap)));
        }
        enough = found == n;
    }

    function _offer(bytes32 id, uint256 who, uint96 price) internal view returns (JobMarket.Offer memory) {
        uint40 expiry = uint40(block.timestamp + 1 hours);
        (bytes32 r, bytes32 vs) = _sig(keys[who], market.offerDigest(id, providers[who], price, expiry));
        return JobMarket.Offer(providers[who], price, expiry, r, vs);
    }

    function _record(bytes32 id, JobMarket.JobRequest memory req, JobMarket.Offer[] memory offers, uint256 pick)
        internal
    {
        JobInfo storage j = jobs.push();
        j.id = id;
        j.r = req.replicas;
        j.q = req.quorum;
        j.cap = req.pricePerReplica;
        j.budget = uint256(req.pricePerReplica) * req.replicas;
        j.commitDeadline = req.commitDeadline;
        (,,,,,,,, j.revealDeadline,,,) = market.jobs(id);
        for (uint256 i; i < offers.length; ++i) {
            _assign(j, offers[i].provider, offers[i].price, uint256(keccak256(abi.encode(pick, i))));
        }
    }

    function accept(uint256 jobSeed, uint256 providerSeed) external {
        (bool found, uint256 idx) = _live(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        if (j.final_ || j.assignment.length == j.r || block.timestamp > j.commitDeadline) return;
        uint256 who = providerSeed % providers.length;
        address p = providers[who];
        if (!registry.isActive(p) || _indexOf(j, p) != type(uint256).max) return;
        JobMarket.Assignment[] memory cur = j.assignment;
        vm.prank(p);
        market.accept(j.id, cur);
        _assign(j, p, j.cap, providerSeed);
        calls["accept"]++;
    }

    /// @dev An assigned provider commits its result on chain (honest or dishonest, as its behaviour says).
    function commit(uint256 jobSeed, uint256 slotSeed) external {
        (bool found, uint256 idx) = _live(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        if (j.final_ || j.assignment.length == 0 || block.timestamp > j.commitDeadline) return;
        uint256 i = slotSeed % j.assignment.length;
        if (j.onChain[i] || j.behaviour[i] == Behaviour.NoShow) return;
        address p = j.assignment[i].provider;
        bytes32 c = keccak256(abi.encodePacked(_resultOf(j, i), p));
        vm.prank(p);
        market.commit(j.id, c);
        j.onChain[i] = true;
        calls["commit"]++;
    }

    /// @dev The requester reveals `cid` with the signed commitments of a random subset of the providers that ran.
    function revealByRequester(uint256 jobSeed, uint8 cidSeed, uint256 subset) external {
        (bool found, uint256 idx) = _liveForReveal(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        if (j.final_ || j.assignment.length != j.r) return;
        // Most signatures reach the requester (seven in eight).
        // (hashed: the fuzzer favours edge values such as 0, which would mean "no signatures" every time)
        uint256 bits = uint256(keccak256(abi.encode(subset)));
        JobMarket.SignedCommit[] memory sc = _signedSubset(j, bits | (bits >> 16) | (bits >> 32));
        _reveal(j, requester, _cid(cidSeed), sc);
    }

    /// @dev An assigned provider reveals with the on-chain commitments only.
    function revealByProvider(uint256 jobSeed, uint256 slotSeed, uint8 cidSeed) external {
        (bool found, uint256 idx) = _liveForReveal(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        if (j.final_ || j.assignment.length != j.r) return;
        address p = j.assignment[slotSeed % j.r].provider;
        _reveal(j, p, _cid(cidSeed), new JobMarket.SignedCommit[](0));
    }

    function cancel(uint256 jobSeed) external {
        (bool found, uint256 idx) = _live(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        if (j.final_ || j.assignment.length == j.r) return;
        vm.prank(requester);
        market.cancel(j.id);
        _failed(j);
        calls["cancel"]++;
    }

    function expire(uint256 jobSeed) external {
        (bool found, uint256 idx) = _live(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        if (j.final_) return;
        uint256 deadline = j.assignment.length == j.r ? j.revealDeadline : j.commitDeadline;
        bool due = block.timestamp > deadline;
        try market.expire(j.id) {
            if (!due) _violation("expired before its deadline");
            _failed(j);
            calls["expire"]++;
        } catch {
            if (due) _violation("a job past its deadline could not expire");
        }
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
        uint256 before = token.balanceOf(p);
        vm.prank(p);
        rewards.claim(list);
        if (token.balanceOf(p) - before != amount) _violation("reward claim paid other than claimable");
        calls["claimRewards"]++;
    }

    /// @dev Providers move stake out mid-job; it must stay slashable while unbonding.
    function unbond(uint256 providerSeed, uint96 amountSeed) external {
        address p = providers[providerSeed % providers.length];
        (uint96 staked,,,) = registry.stakes(p);
        if (staked == 0) return;
        uint96 amount = uint96(_bound(amountSeed, 1, staked));
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
        // Mostly small steps (so jobs get committed and revealed in time), sometimes hours (so they expire).
        uint256 maxStep = secondsSeed % 8 == 0 ? 3 hours : 20 minutes;
        vm.warp(block.timestamp + _bound(secondsSeed / 8, 1, maxStep));
        calls["warp"]++;
    }

    // ---- the same actions under a second name: forge picks selectors uniformly (duplicates are merged), so
    //      these make the job lifecycle more frequent than stake moves and time jumps ----

    function createJobAgain(uint8 rSeed, uint8 qSeed, uint8 nOffers, uint96 capSeed, uint32 durSeed, uint256 pick)
        external
    {
        this.createJob(rSeed, qSeed, nOffers, capSeed, durSeed, pick);
    }

    /// @dev Every running assigned provider of a job commits on chain (the usual case near the commit deadline).
    function commitAll(uint256 jobSeed) external {
        (bool found, uint256 idx) = _live(jobSeed);
        if (!found) return;
        JobInfo storage j = jobs[idx];
        for (uint256 i; i < j.assignment.length; ++i) {
            this.commit(idx, i);
        }
    }

    function revealByRequesterAgain(uint256 jobSeed, uint8 cidSeed, uint256 subset) external {
        this.revealByRequester(jobSeed, cidSeed, subset);
    }

    function revealByProviderAgain(uint256 jobSeed, uint256 slotSeed, uint8 cidSeed) external {
        this.revealByProvider(jobSeed, slotSeed, cidSeed);
    }

    // =========================================================================================================
    // internals
    // =========================================================================================================

    function _assign(JobInfo storage j, address p, uint96 price, uint256 seed) internal {
        j.assignment.push(JobMarket.Assignment(p, price));
        // Mostly honest (70%), some dishonest (20%), some no-shows (10%).
        uint256 roll = uint256(keccak256(abi.encode(seed, p, j.id))) % 10;
        j.behaviour.push(roll < 7 ? Behaviour.Honest : roll < 9 ? Behaviour.Dishonest : Behaviour.NoShow);
        j.onChain.push(false);
    }

    function _resultOf(JobInfo storage j, uint256 i) internal view returns (bytes memory) {
        return j.behaviour[i] == Behaviour.Honest ? RESULT : WRONG;
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
            address p = j.assignment[i].provider;
            bytes32 c = keccak256(abi.encodePacked(_resultOf(j, i), p));
            (bytes32 r, bytes32 vs) = _sig(keys[_keyIndex(p)], market.commitDigest(j.id, c));
            sc[n++] = JobMarket.SignedCommit(uint8(i), c, r, vs);
        }
    }

    struct Before {
        uint256[] owed;
        uint256[] stake;
        uint256 marketBalance;
    }

    /// @dev Predicts whether the reveal must succeed, calls it, and checks every provider's outcome.
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
            if (counted[i] == bytes32(0) && j.onChain[i]) counted[i] = keccak256(abi.encodePacked(_resultOf(j, i), p));
            if (counted[i] == bytes32(0)) complete = false;
            else if (counted[i] == keccak256(abi.encodePacked(cid, p))) ++matches;
        }
        if (block.timestamp > j.revealDeadline) {
            calls["revealLate"]++;
        } else if (!complete && block.timestamp <= j.commitDeadline) {
            calls["revealEarly"]++;
        } else if (matches < j.q) {
            calls["revealNoQuorum"]++;
        }
        bool expectOk =
            block.timestamp <= j.revealDeadline && (complete || block.timestamp > j.commitDeadline) && matches >= j.q;

        Before memory b = _snapshot(j);
        vm.prank(caller);
        try market.reveal(j.id, j.assignment, cid, sc) {
            if (!expectOk) _violation("reveal succeeded where it must fail");
            _checkSettlement(j, cid, counted, b);
            j.final_ = true;
            ghostEscrowed -= j.budget;
            ghostOwed += j.budget;
            calls["reveal"]++;
        } catch {
            if (expectOk) _violation("reveal failed where it must succeed");
        }
    }

    function _snapshot(JobInfo storage j) internal view returns (Before memory b) {
        b.owed = new uint256[](j.r + 2);
        b.stake = new uint256[](j.r);
        for (uint256 i; i < j.r; ++i) {
            address p = j.assignment[i].provider;
            b.owed[i] = market.owed(p);
            (uint96 s, uint96 u,,) = registry.stakes(p);
            b.stake[i] = uint256(s) + u;
        }
        b.owed[j.r] = market.owed(requester);
        b.owed[j.r + 1] = market.owed(treasury);
        b.marketBalance = token.balanceOf(address(market));
    }

    function _checkSettlement(JobInfo storage j, bytes memory cid, bytes32[] memory counted, Before memory b) internal {
        (,,,,,,,,, uint16 feeBps,,) = market.jobs(j.id);
        uint256 credited;
        for (uint256 i; i < j.r; ++i) {
            address p = j.assignment[i].provider;
            (uint96 s, uint96 u,,) = registry.stakes(p);
            uint256 stakeNow = uint256(s) + u;
            uint256 gained = market.owed(p) - b.owed[i];
            credited += gained;
            bool slashed = stakeNow < b.stake[i];
            if (slashed && gained != 0) _violation("a slashed provider was paid");
            if (counted[i] == bytes32(0)) {
                if (gained != 0 || slashed) _violation("a no-show was paid or slashed");
            } else if (counted[i] == keccak256(abi.encodePacked(cid, p))) {
                uint256 price = j.assignment[i].price;
                if (gained != price - price * feeBps / 10_000) _violation("a matching provider was paid wrongly");
                if (slashed) _violation("a matching provider was slashed");
            } else if (gained != 0) {
                _violation("a disagreeing provider was paid");
            }
        }
        credited += market.owed(requester) - b.owed[j.r];
        credited += market.owed(treasury) - b.owed[j.r + 1];
        if (credited != j.budget) _violation("settlement did not split the budget exactly");
        if (token.balanceOf(address(market)) != b.marketBalance) _violation("settlement moved tokens");
    }

    function _failed(JobInfo storage j) internal {
        j.final_ = true;
        ghostEscrowed -= j.budget;
        ghostOwed += j.budget;
    }

    /// @dev A random job that is not final yet (most picks would otherwise land on long-settled jobs).
    function _live(uint256 seed) internal view returns (bool found, uint256 idx) {
        uint256 n = jobs.length;
        for (uint256 k; k < n; ++k) {
            idx = (seed % n + k) % n;
            if (!jobs[idx].final_) return (true, idx);
        }
    }

    /// @dev Like `_live`, but preferring jobs still inside their reveal window (odd seeds) so that reveals
    ///      mostly meet a job that can settle; even seeds take any live job, late ones included.
    function _liveForReveal(uint256 seed) internal view returns (bool found, uint256 idx) {
        if (seed % 2 == 0) return _live(seed / 2);
        uint256 n = jobs.length;
        for (uint256 k; k < n; ++k) {
            idx = (seed % n + k) % n;
            if (!jobs[idx].final_ && block.timestamp <= jobs[idx].revealDeadline) return (true, idx);
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
