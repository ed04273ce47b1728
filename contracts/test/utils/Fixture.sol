// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";
import {OceanToken} from "../../src/OceanToken.sol";
import {NodeRegistry} from "../../src/NodeRegistry.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {Rewards} from "../../src/Rewards.sol";
import {OceanGovernor} from "../../src/OceanGovernor.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
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

    OceanToken internal token;
    NodeRegistry internal registry;
    JobMarket internal market;
    Rewards internal rewards;
    TimelockController internal timelock;
    OceanGovernor internal governor;

    address internal treasury = address(0x7EA5);
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

        registry = new NodeRegistry(token, address(this), MIN_STAKE, UNBONDING);
        market =
            new JobMarket(token, registry, address(this), treasury, FEE_BPS, SLASH_BPS, REVEAL_WINDOW, MAX_JOB, EPOCH);
        rewards = new Rewards(token, market, address(this), EMISSION);
        vm.prank(address(0xD0));
        token.transfer(address(rewards), REWARD_POOL);
        registry.setJobMarket(address(market));

        address[] memory none = new address[](0);
        timelock = new TimelockController(1 days, none, none, address(this));
        governor = new OceanGovernor(IVotes(address(token)), timelock, 1, 50, 0, 4);
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));
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
            replicas: replicas,
            quorum: quorum,
            mode: JobMarket.Mode.Quorum,
            pricePerReplica: PRICE,
            commitDeadline: uint40(block.timestamp + 1 hours),
            proofSpec: bytes32(0)
        });
    }

    /// @dev A compact (EIP-2098) signature: `r` and `vs` (the parity bit folded into the top bit of `s`).
    function sign(uint256 key, bytes32 digest) internal pure returns (bytes32 r, bytes32 vs) {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, digest);
        r = r_;
        vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
    }

    /// @dev Offers from providers[0..n) at `price`.
    function offers(bytes32 jobId, uint256 n, uint96 price) internal view returns (JobMarket.Offer[] memory o) {
        o = new JobMarket.Offer[](n);
        uint40 expiry = uint40(block.timestamp + 10 minutes);
        for (uint256 i; i < n; ++i) {
            bytes32 digest = market.offerDigest(jobId, providers[i], price, expiry);
            (bytes32 r, bytes32 vs) = sign(providerKeys[i], digest);
            o[i] = JobMarket.Offer(providers[i], price, expiry, r, vs);
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
        JobMarket.Offer[] memory o = offers(jobId, r, PRICE);
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

    /// @dev A signed offer by providers[who] for `jobId` at `price`, valid for 10 minutes.
    function offerBy(bytes32 jobId, uint256 who, uint96 price) internal view returns (JobMarket.Offer memory) {
        uint40 expiry = uint40(block.timestamp + 10 minutes);
        bytes32 digest = market.offerDigest(jobId, providers[who], price, expiry);
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
        (,,,,, state,,,,,,) = market.jobs(jobId);
    }

    /// @dev The (commit, reveal) deadlines of a job.
    function deadlinesOf(bytes32 jobId) internal view returns (uint40 commitDeadline, uint40 revealDeadline) {
        (, commitDeadline,,,,,,, revealDeadline,,,) = market.jobs(jobId);
    }

    function stakeOf(address node) internal view returns (uint96 staked, uint96 unbonding) {
        (staked, unbonding,,) = registry.stakes(node);
    }
}
