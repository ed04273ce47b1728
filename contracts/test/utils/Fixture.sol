// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";
import {OceanToken} from "../../src/OceanToken.sol";
import {NodeRegistry} from "../../src/NodeRegistry.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {Rewards} from "../../src/Rewards.sol";
import {OceanGovernor, OceanTimelock, GovernorBounds} from "../../src/OceanGovernor.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

/// @notice Deploys the whole protocol the way the Rust deployer does, with providers registered and a funded
///         requester, and offers helpers to sign offers and commitments.
abstract contract Fixture {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 internal constant SUPPLY = 1_000_000_000 ether;
    uint256 internal constant REWARD_POOL = 100_000_000 ether;
    uint96 internal constant MIN_STAKE = 100 ether;
    uint96 internal constant STAKE = 1_000 ether;
    uint40 internal constant UNBONDING = 30 days;
    uint16 internal constant FEE_BPS = 250;
    uint16 internal constant SLASH_BPS = 1_000;
    uint40 internal constant REVEAL_WINDOW = 1 hours;
    uint40 internal constant MAX_JOB = 7 days;
    uint256 internal constant EPOCH = 1 days;
    uint128 internal constant EMISSION = 10_000 ether;
    uint96 internal constant PRICE = 10 ether;
    uint16 internal constant NO_SHOW_BPS = 500;
    uint40 internal constant ARBITRATION_WINDOW = 1 hours;
    uint80 internal constant MIN_REWARD_FEE = 0.001 ether;
    uint16 internal constant FEE_FACTOR_BPS = 5_000;
    uint256 internal constant TIMELOCK_DELAY = 1 days;
    bytes32 internal constant LIMITS = keccak256("fuel=1e9;memory=256MiB;output=1MiB");

    // Bounds fixed at deployment (wide enough for every test; production ones are narrower).
    uint16 internal constant MAX_FEE_BPS = 10_000;
    uint16 internal constant MIN_SLASH_BPS = 0;
    uint16 internal constant MAX_SLASH_BPS = 10_000;
    uint16 internal constant MAX_NO_SHOW_BPS = 2_000;
    uint40 internal constant MIN_REVEAL_WINDOW = 1 minutes;
    uint40 internal constant MAX_REVEAL_WINDOW = 1 days;
    uint40 internal constant MIN_JOB_DURATION = 1 minutes;
    uint40 internal constant MAX_JOB_DURATION_CAP = 60 days;
    uint40 internal constant MIN_ARBITRATION_WINDOW = 10 minutes;
    uint40 internal constant MAX_ARBITRATION_WINDOW = 3 days;
    uint80 internal constant MAX_MIN_REWARD_FEE = 1 ether;
    uint96 internal constant MIN_STAKE_FLOOR = 1 ether;
    uint96 internal constant MIN_STAKE_CAP = 100_000 ether;
    uint40 internal constant MAX_UNBONDING = 365 days;
    uint128 internal constant MAX_EMISSION = 100_000 ether;
    uint16 internal constant MAX_FEE_FACTOR_BPS = 9_000;
    uint256 internal constant TIMELOCK_FLOOR = 1 hours;
    uint256 internal constant TIMELOCK_CAP = 30 days;

    OceanToken internal token;
    NodeRegistry internal registry;
    JobMarket internal market;
    Rewards internal rewards;
    OceanTimelock internal timelock;
    OceanGovernor internal governor;

    address internal treasury = address(0x7EA5);
    address internal guardian = address(0x6A4D);
    uint256 internal requesterKey = 0xA11CE;
    address internal requester;
    uint256[] internal providerKeys;
    address[] internal providers;
    uint256 internal saltCounter;

    function setUp() public virtual {
        requester = vm.addr(requesterKey);
        address[] memory holders = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        holders[0] = address(this);
        amounts[0] = SUPPLY - REWARD_POOL - 1_000_000 ether;
        holders[1] = requester;
        amounts[1] = 1_000_000 ether;
        // The reward pool is minted to the deployer and moved to Rewards once it exists.
        holders[2] = address(0xD0);
        amounts[2] = REWARD_POOL;
        token = new OceanToken(holders, amounts);

        registry = deployRegistry();
        market = deployMarket(registry);
        rewards = new Rewards(token, market, address(this), EMISSION, FEE_FACTOR_BPS, MAX_EMISSION, MAX_FEE_FACTOR_BPS);
        vm.prank(address(0xD0));
        token.transfer(address(rewards), REWARD_POOL);
        registry.setJobMarket(address(market));

        address[] memory none = new address[](0);
        timelock = new OceanTimelock(TIMELOCK_DELAY, none, none, address(this), TIMELOCK_FLOOR, TIMELOCK_CAP);
        governor = new OceanGovernor(IVotes(address(token)), timelock, 1, 50, 0, 4, governorBounds());
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));
        // As in production: a guardian may cancel a queued operation during the delay.
        timelock.grantRole(timelock.CANCELLER_ROLE(), guardian);
        timelock.grantRole(timelock.EXECUTOR_ROLE(), address(0));
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), address(this));
        registry.transferOwnership(address(timelock));
        rewards.transferOwnership(address(timelock));
        market.transferOwnership(address(timelock));

        for (uint256 i; i < 5; ++i) {
            addProvider(0xB0B0 + i);
        }
        vm.prank(requester);
        token.approve(address(market), type(uint256).max);
    }

    function deployRegistry() internal returns (NodeRegistry) {
        return
            new NodeRegistry(
                token, address(this), MIN_STAKE, UNBONDING, [MIN_STAKE_FLOOR, MIN_STAKE_CAP], MAX_UNBONDING
            );
    }

    /// @dev A market on `reg` with the fixture's parameters and bounds (the registry is not wired to it).
    function deployMarket(NodeRegistry reg) internal returns (JobMarket) {
        return new JobMarket(token, reg, address(this), marketParams(), marketBounds());
    }

    function marketParams() internal view returns (JobMarket.Params memory) {
        return JobMarket.Params({
            treasury: treasury,
            feeBps: FEE_BPS,
            slashBps: SLASH_BPS,
            noShowBps: NO_SHOW_BPS,
            revealWindow: REVEAL_WINDOW,
            maxJobDuration: MAX_JOB,
            arbitrationWindow: ARBITRATION_WINDOW,
            minRewardFee: MIN_REWARD_FEE,
            epochLength: EPOCH
        });
    }

    function marketBounds() internal pure returns (JobMarket.Bounds memory) {
        return JobMarket.Bounds({
            maxFeeBps: MAX_FEE_BPS,
            minSlashBps: MIN_SLASH_BPS,
            maxSlashBps: MAX_SLASH_BPS,
            maxNoShowBps: MAX_NO_SHOW_BPS,
            minRevealWindow: MIN_REVEAL_WINDOW,
            maxRevealWindow: MAX_REVEAL_WINDOW,
            minJobDuration: MIN_JOB_DURATION,
            maxJobDuration: MAX_JOB_DURATION_CAP,
            minArbitrationWindow: MIN_ARBITRATION_WINDOW,
            maxArbitrationWindow: MAX_ARBITRATION_WINDOW,
            maxMinRewardFee: MAX_MIN_REWARD_FEE
        });
    }

    function governorBounds() internal pure returns (GovernorBounds.Bounds memory) {
        return GovernorBounds.Bounds({
            minVotingDelay: 1,
            maxVotingDelay: 50_400,
            minVotingPeriod: 10,
            maxVotingPeriod: 201_600,
            minProposalThreshold: 0,
            maxProposalThreshold: 10_000_000 ether,
            minQuorumPercent: 1,
            maxQuorumPercent: 50
        });
    }

    function addProvider(uint256 key) internal returns (address provider) {
        provider = vm.addr(key);
        providerKeys.push(key);
        providers.push(provider);
        token.transfer(provider, STAKE * 2);
        vm.startPrank(provider);
        token.approve(address(registry), type(uint256).max);
        registry.register(STAKE, caps(), bytes32(key), "http://127.0.0.1:7000");
        vm.stopPrank();
    }

    function caps() internal pure returns (NodeRegistry.Capabilities memory) {
        return
            NodeRegistry.Capabilities({cores: 8, memoryMiB: 16_384, gpuVramMiB: 0, benchmarkScore: 1_000, gpuModel: ""});
    }

    function request(uint8 replicas, uint8 quorum) internal returns (JobMarket.JobRequest memory req) {
        req = JobMarket.JobRequest({
            salt: bytes32(++saltCounter),
            manifestCid: hex"01701220aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899",
            lateManifest: false,
            replicas: replicas,
            quorum: quorum,
            mode: JobMarket.Mode.Quorum,
            pricePerReplica: PRICE,
            commitDeadline: uint40(block.timestamp + 1 hours),
            proofSpec: bytes32(0),
            limitsHash: LIMITS,
            rebalanceAt: 0
        });
    }

    /// @dev A compact (EIP-2098) signature: `r` and `vs` (the parity bit folded into the top bit of `s`).
    function sign(uint256 key, bytes32 digest) internal pure returns (bytes32 r, bytes32 vs) {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, digest);
        r = r_;
        vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
    }

    /// @dev The terms hash offers sign when providers[idx[0]], providers[idx[1]], ... (in that order) run `req`.
    function termsOf(JobMarket.JobRequest memory req, uint256[] memory idx) internal view returns (bytes32) {
        address[] memory list = new address[](idx.length);
        for (uint256 i; i < idx.length; ++i) {
            list[i] = providers[idx[i]];
        }
        return market.termsHash(req, list);
    }

    /// @dev 0, 1, ..., n-1.
    function firstN(uint256 n) internal pure returns (uint256[] memory idx) {
        idx = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            idx[i] = i;
        }
    }

    /// @dev Offers from providers[0..n) at `price`, signing `req`'s terms with those providers in that order.
    function offers(JobMarket.JobRequest memory req, bytes32 jobId, uint256 n, uint96 price)
        internal
        view
        returns (JobMarket.Offer[] memory o)
    {
        bytes32 terms = termsOf(req, firstN(n));
        o = new JobMarket.Offer[](n);
        for (uint256 i; i < n; ++i) {
            o[i] = offerBy(jobId, i, price, terms);
        }
    }

    function assignmentOf(uint256 n, uint96 price) internal view returns (JobMarket.Assignment[] memory a) {
        a = new JobMarket.Assignment[](n);
        for (uint256 i; i < n; ++i) {
            a[i] = JobMarket.Assignment(providers[i], price);
        }
    }

    function commitmentOf(bytes memory cid, address provider) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(cid, provider));
    }

    function signedCommit(bytes32 jobId, uint8 index, bytes memory cid)
        internal
        view
        returns (JobMarket.SignedCommit memory)
    {
        bytes32 c = commitmentOf(cid, providers[index]);
        (bytes32 r, bytes32 vs) = sign(providerKeys[index], market.commitDigest(jobId, c));
        return JobMarket.SignedCommit(index, c, r, vs);
    }

    /// @dev Creates a fully assigned r-replica job from providers[0..r).
    function createAssigned(uint8 r, uint8 q) internal returns (bytes32 jobId, JobMarket.Assignment[] memory a) {
        JobMarket.JobRequest memory req = request(r, q);
        jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, r, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        a = assignmentOf(r, PRICE);
    }

    /// @dev Sum of OCAT held anywhere this fixture knows about (must always equal the supply).
    function trackedBalance() internal view returns (uint256 sum) {
        sum = token.balanceOf(address(this)) + token.balanceOf(requester) + token.balanceOf(address(registry))
            + token.balanceOf(address(market)) + token.balanceOf(address(rewards)) + token.balanceOf(treasury)
            + token.balanceOf(address(0xD0));
        for (uint256 i; i < providers.length; ++i) {
            sum += token.balanceOf(providers[i]);
        }
    }

    // ---- helpers added for the unit, fuzz and invariant suites ----

    /// @dev forge-std's `bound` (not a cheatcode): maps `x` into [lo, hi] without discarding fuzz runs.
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: lo > hi");
        if (x >= lo && x <= hi) return x;
        uint256 size = hi - lo + 1;
        if (size == 0) return x; // full uint256 range
        return lo + (x % size);
    }

    function noCommits() internal pure returns (JobMarket.SignedCommit[] memory) {
        return new JobMarket.SignedCommit[](0);
    }

    function noOffers() internal pure returns (JobMarket.Offer[] memory) {
        return new JobMarket.Offer[](0);
    }

    /// @dev A signed offer by providers[who] for `jobId` at `price` on `terms`, valid for 10 minutes.
    function offerBy(bytes32 jobId, uint256 who, uint96 price, bytes32 terms)
        internal
        view
        returns (JobMarket.Offer memory)
    {
        uint40 expiry = uint40(block.timestamp + 10 minutes);
        bytes32 digest = market.offerDigest(jobId, providers[who], price, expiry, terms);
        (bytes32 r, bytes32 vs) = sign(providerKeys[who], digest);
        return JobMarket.Offer(providers[who], price, expiry, r, vs);
    }

    /// @dev The signed commitment of providers[who], sitting at `index` in the job's assignment, to `cid`.
    function signedCommitBy(bytes32 jobId, uint8 index, uint256 who, bytes memory cid)
        internal
        view
        returns (JobMarket.SignedCommit memory)
    {
        bytes32 c = commitmentOf(cid, providers[who]);
        (bytes32 r, bytes32 vs) = sign(providerKeys[who], market.commitDigest(jobId, c));
        return JobMarket.SignedCommit(index, c, r, vs);
    }

    /// @dev Commits `cid` on chain as providers[who].
    function commitOnChain(bytes32 jobId, uint256 who, bytes memory cid) internal {
        vm.prank(providers[who]);
        market.commit(jobId, commitmentOf(cid, providers[who]));
    }

    function stateOf(bytes32 jobId) internal view returns (JobMarket.State state) {
        state = market.jobOf(jobId).state;
    }

    /// @dev The (commit, reveal) deadlines of a job (of its arbitration round once in arbitration).
    function deadlinesOf(bytes32 jobId) internal view returns (uint40 commitDeadline, uint40 revealDeadline) {
        JobMarket.Job memory job = market.jobOf(jobId);
        (commitDeadline, revealDeadline) = (job.commitDeadline, job.revealDeadline);
    }

    /// @dev What createJob escrows for a Quorum job: the replicas' budget plus the arbitration deposit.
    function escrow(uint256 r, uint256 price) internal pure returns (uint256) {
        return 2 * r * price;
    }

    /// @dev Calls `expire` with the job's assignment and returns the arbiters it drew (from ProviderAssigned
    ///      events with index >= r), empty when the job failed instead.
    function expireAndDraw(bytes32 jobId, JobMarket.Assignment[] memory a)
        internal
        returns (JobMarket.Assignment[] memory arbiters)
    {
        vm.recordLogs();
        market.expire(jobId, a);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 sig = keccak256("ProviderAssigned(bytes32,address,uint8,uint96)");
        uint256 n;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(market) && logs[i].topics[0] == sig) ++n;
        }
        arbiters = new JobMarket.Assignment[](n);
        n = 0;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(market) || logs[i].topics[0] != sig) continue;
            (uint8 index, uint96 price) = abi.decode(logs[i].data, (uint8, uint96));
            require(index == a.length + n, "arbiter index");
            arbiters[n++] = JobMarket.Assignment(address(uint160(uint256(logs[i].topics[2]))), price);
        }
    }

    /// @dev The assignment followed by the arbiters, as reveal takes them in arbitration.
    function concat(JobMarket.Assignment[] memory a, JobMarket.Assignment[] memory b)
        internal
        pure
        returns (JobMarket.Assignment[] memory all)
    {
        all = new JobMarket.Assignment[](a.length + b.length);
        for (uint256 i; i < a.length; ++i) {
            all[i] = a[i];
        }
        for (uint256 i; i < b.length; ++i) {
            all[a.length + i] = b[i];
        }
    }

    /// @dev The index in `providers` of `who` (reverts if not a fixture provider).
    function keyIndexOf(address who) internal view returns (uint256) {
        for (uint256 i; i < providers.length; ++i) {
            if (providers[i] == who) return i;
        }
        revert("not a fixture provider");
    }

    /// @dev A signed commitment to `cid` by `who` (a fixture provider) at position `index` of a job's list.
    function signedCommitOf(bytes32 jobId, uint8 index, address who, bytes memory cid)
        internal
        view
        returns (JobMarket.SignedCommit memory)
    {
        return signedCommitBy(jobId, index, keyIndexOf(who), cid);
    }

    function stakeOf(address node) internal view returns (uint96 staked, uint96 unbonding) {
        (staked, unbonding,,) = registry.stakes(node);
    }
}
