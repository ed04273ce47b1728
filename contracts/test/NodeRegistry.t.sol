// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {NodeRegistry} from "../src/NodeRegistry.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice NodeRegistry: registration, updates, stake in and out (with the unbonding delay), slashing (only by the
///         JobMarket, reaching unbonding stake) and the governance guard that keeps unbonding longer than any job.
contract NodeRegistryTest is Fixture {
    bytes internal constant RESULT = hex"01551220aa";
    bytes internal constant WRONG = hex"01551220bb";

    event Registered(
        address indexed node,
        uint256 stake,
        NodeRegistry.Capabilities capabilities,
        bytes32 encryptionKey,
        string endpoint
    );
    event Updated(address indexed node, NodeRegistry.Capabilities capabilities, bytes32 encryptionKey, string endpoint);
    event StakeAdded(address indexed node, uint256 amount, uint256 total);
    event UnbondStarted(address indexed node, uint256 amount, uint256 readyAt);
    event Withdrawn(address indexed node, uint256 amount);
    event Slashed(address indexed node, uint256 amount, address indexed to);
    event MinStakeSet(uint256 minStake);
    event UnbondingDelaySet(uint256 delay);

    address internal fresh = address(0xF8E5);

    function setUp() public override {
        super.setUp();
        token.transfer(fresh, 10_000 ether);
        vm.prank(fresh);
        token.approve(address(registry), type(uint256).max);
    }

    function gpuCaps() internal pure returns (NodeRegistry.Capabilities memory) {
        return NodeRegistry.Capabilities({
            cores: 32, memoryMiB: 131_072, gpuVramMiB: 81_920, benchmarkScore: 99_000, gpuModel: "H100"
        });
    }

    // ---- register ----

    function test_register_storesEverything() public {
        uint256 count = registry.nodeCount();
        vm.expectEmit(address(registry));
        emit Registered(fresh, 500 ether, gpuCaps(), bytes32(uint256(0xEE)), "/ip4/10.0.0.1/tcp/4001");
        vm.prank(fresh);
        registry.register(500 ether, gpuCaps(), bytes32(uint256(0xEE)), "/ip4/10.0.0.1/tcp/4001");

        (uint96 staked, uint96 unbonding, uint40 readyAt, bool registered) = registry.stakes(fresh);
        vm.assertEq(staked, 500 ether, "staked");
        vm.assertEq(unbonding, 0, "nothing unbonding");
        vm.assertEq(readyAt, 0, "no unbond");
        vm.assertTrue(registered, "registered");
        vm.assertTrue(registry.isActive(fresh), "active");
        vm.assertEq(registry.nodeCount(), count + 1, "listed");
        vm.assertEq(registry.nodes(count), fresh, "at the end");
        NodeRegistry.Info memory inf = registry.info(fresh);
        vm.assertEq(inf.capabilities.cores, 32, "cores");
        vm.assertEq(inf.capabilities.memoryMiB, 131_072, "memory");
        vm.assertEq(inf.capabilities.gpuVramMiB, 81_920, "vram");
        vm.assertEq(inf.capabilities.benchmarkScore, 99_000, "score");
        vm.assertEq(inf.capabilities.gpuModel, "H100", "gpu");
        vm.assertEq(inf.encryptionKey, bytes32(uint256(0xEE)), "key");
        vm.assertEq(inf.endpoint, "/ip4/10.0.0.1/tcp/4001", "endpoint");
        vm.assertEq(token.balanceOf(address(registry)), 5 * uint256(STAKE) + 500 ether, "stake held");
    }

    function test_register_reverts_belowMinimum() public {
        vm.prank(fresh);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.StakeBelowMinimum.selector, MIN_STAKE - 1, MIN_STAKE));
        registry.register(MIN_STAKE - 1, caps(), bytes32(0), "");
    }

    function test_register_reverts_twice() public {
        vm.prank(providers[0]);
        vm.expectRevert(NodeRegistry.AlreadyRegistered.selector);
        registry.register(STAKE, caps(), bytes32(0), "");
    }

    function test_register_reverts_withoutAllowance() public {
        address poor = address(0x9009);
        token.transfer(poor, 1_000 ether);
        vm.prank(poor);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(registry), 0, MIN_STAKE)
        );
        registry.register(MIN_STAKE, caps(), bytes32(0), "");
    }

    // ---- update / addStake ----

    function test_update_changesInfo() public {
        vm.expectEmit(address(registry));
        emit Updated(providers[0], gpuCaps(), bytes32(uint256(1)), "new");
        vm.prank(providers[0]);
        registry.update(gpuCaps(), bytes32(uint256(1)), "new");
        NodeRegistry.Info memory inf = registry.info(providers[0]);
        vm.assertEq(inf.capabilities.gpuModel, "H100", "gpu");
        vm.assertEq(inf.endpoint, "new", "endpoint");
        (uint96 staked,) = stakeOf(providers[0]);
        vm.assertEq(staked, STAKE, "stake untouched");
    }

    function test_update_reverts_notRegistered() public {
        vm.prank(fresh);
        vm.expectRevert(NodeRegistry.NotRegistered.selector);
        registry.update(caps(), bytes32(0), "");
    }

    function test_addStake() public {
        vm.expectEmit(address(registry));
        emit StakeAdded(providers[0], 50 ether, uint256(STAKE) + 50 ether);
        vm.prank(providers[0]);
        registry.addStake(50 ether);
        (uint96 staked,) = stakeOf(providers[0]);
        vm.assertEq(staked, STAKE + 50 ether, "added");
    }

    function test_addStake_reverts() public {
        vm.prank(fresh);
        vm.expectRevert(NodeRegistry.NotRegistered.selector);
        registry.addStake(1);
        vm.prank(providers[0]);
        vm.expectRevert(NodeRegistry.ZeroAmount.selector);
        registry.addStake(0);
    }

    // ---- unbond / withdraw ----

    function test_unbond_thenWithdrawAfterDelay() public {
        address p = providers[0];
        uint256 readyAt = block.timestamp + UNBONDING;
        vm.expectEmit(address(registry));
        emit UnbondStarted(p, 400 ether, readyAt);
        vm.prank(p);
        registry.unbond(400 ether);
        (uint96 staked, uint96 unbonding) = stakeOf(p);
        vm.assertEq(staked, STAKE - 400 ether, "active stake reduced");
        vm.assertEq(unbonding, 400 ether, "unbonding");
        vm.assertTrue(registry.isActive(p), "still above minimum");

        vm.warp(readyAt - 1);
        vm.prank(p);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.StillUnbonding.selector, readyAt));
        registry.withdraw();

        vm.warp(readyAt);
        uint256 before = token.balanceOf(p);
        vm.expectEmit(address(registry));
        emit Withdrawn(p, 400 ether);
        vm.prank(p);
        registry.withdraw();
        vm.assertEq(token.balanceOf(p) - before, 400 ether, "paid out");
        (, unbonding) = stakeOf(p);
        vm.assertEq(unbonding, 0, "cleared");
        vm.prank(p);
        vm.expectRevert(NodeRegistry.NothingToWithdraw.selector);
        registry.withdraw();
    }

    function test_unbond_again_restartsDelay() public {
        address p = providers[0];
        vm.prank(p);
        registry.unbond(100 ether);
        vm.warp(block.timestamp + UNBONDING - 1);
        vm.prank(p);
        registry.unbond(100 ether);
        uint256 readyAt = block.timestamp + UNBONDING;
        vm.warp(block.timestamp + 1);
        vm.prank(p);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.StillUnbonding.selector, readyAt));
        registry.withdraw();
        vm.warp(readyAt);
        vm.prank(p);
        registry.withdraw();
        (uint96 staked, uint96 unbonding) = stakeOf(p);
        vm.assertEq(staked, STAKE - 200 ether, "active");
        vm.assertEq(unbonding, 0, "both chunks withdrawn");
    }

    function test_unbond_belowMinimum_deactivates() public {
        address p = providers[0];
        vm.prank(p);
        registry.unbond(STAKE - MIN_STAKE);
        vm.assertTrue(registry.isActive(p), "exactly the minimum is active");
        vm.prank(p);
        registry.unbond(1);
        vm.assertFalse(registry.isActive(p), "below minimum");
        vm.prank(p);
        registry.addStake(1);
        vm.assertTrue(registry.isActive(p), "back");
    }

    function test_unbond_reverts() public {
        vm.prank(fresh);
        vm.expectRevert(NodeRegistry.NotRegistered.selector);
        registry.unbond(1);
        vm.prank(providers[0]);
        vm.expectRevert(NodeRegistry.ZeroAmount.selector);
        registry.unbond(0);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InsufficientStake.selector, STAKE + 1, STAKE));
        registry.unbond(STAKE + 1);
    }

    function test_withdraw_reverts_neverUnbonded() public {
        vm.prank(fresh);
        vm.expectRevert(NodeRegistry.NothingToWithdraw.selector);
        registry.withdraw();
    }

    function test_isActive_unknownAndRaisedMinimum() public {
        vm.assertFalse(registry.isActive(fresh), "unknown");
        vm.prank(address(timelock));
        registry.setMinStake(STAKE + 1);
        vm.assertFalse(registry.isActive(providers[0]), "below the raised minimum");
    }

    // ---- slash ----

    function test_slash_onlyJobMarket() public {
        vm.expectRevert(NodeRegistry.OnlyJobMarket.selector);
        registry.slash(providers[0], 1_000, treasury);
        vm.prank(address(timelock)); // not even governance
        vm.expectRevert(NodeRegistry.OnlyJobMarket.selector);
        registry.slash(providers[0], 1_000, treasury);
    }

    function test_slash_takesActiveStakeFirstThenUnbonding() public {
        address p = providers[0];
        vm.prank(p);
        registry.unbond(900 ether); // 100 active, 900 unbonding
        vm.expectEmit(address(registry));
        emit Slashed(p, 500 ether, treasury);
        vm.prank(address(market));
        uint256 slashed = registry.slash(p, 5_000, treasury);
        vm.assertEq(slashed, 500 ether, "half of everything");
        (uint96 staked, uint96 unbonding) = stakeOf(p);
        vm.assertEq(staked, 0, "active first");
        vm.assertEq(unbonding, 500 ether, "then unbonding");
        vm.assertEq(token.balanceOf(treasury), 500 ether, "sent to the recipient");
    }

    function test_slash_fullAndZero() public {
        vm.prank(address(market));
        vm.assertEq(registry.slash(providers[0], 10_000, treasury), STAKE, "everything");
        vm.prank(address(market));
        vm.assertEq(registry.slash(providers[0], 10_000, treasury), 0, "nothing left");
        vm.prank(address(market));
        vm.assertEq(registry.slash(fresh, 10_000, treasury), 0, "unknown node");
        vm.prank(address(market));
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.BpsTooHigh.selector, 10_001));
        registry.slash(providers[1], 10_001, treasury);
    }

    /// @dev A provider that unbonds everything in the middle of a job still pays for a wrong result.
    function test_slash_reachesStakeUnbondedDuringTheJob() public {
        (bytes32 jobId, JobMarket.Assignment[] memory a) = createAssigned(3, 2);
        address cheat = providers[2];
        vm.prank(cheat);
        registry.unbond(STAKE);
        vm.assertFalse(registry.isActive(cheat), "inactive");
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](3);
        sc[0] = signedCommit(jobId, 0, RESULT);
        sc[1] = signedCommit(jobId, 1, RESULT);
        sc[2] = signedCommit(jobId, 2, WRONG);
        (, uint40 rd) = deadlinesOf(jobId);
        vm.warp(rd); // as late as possible: the unbonding delay is still running
        vm.prank(requester);
        market.reveal(jobId, a, RESULT, sc);
        (uint96 staked, uint96 unbonding) = stakeOf(cheat);
        vm.assertEq(staked, 0, "no active stake");
        vm.assertEq(unbonding, STAKE - STAKE * SLASH_BPS / 10_000, "slashed from unbonding");
    }

    // ---- governance ----

    function test_setUnbondingDelay_guardsJobLifetime() public {
        uint40 life = market.maxJobLifetime();
        vm.startPrank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.DelayShorterThanJobs.selector, life, life));
        registry.setUnbondingDelay(life);
        vm.expectEmit(address(registry));
        emit UnbondingDelaySet(life + 1);
        registry.setUnbondingDelay(life + 1);
        vm.stopPrank();
        vm.assertEq(registry.unbondingDelay(), life + 1, "set");
    }

    function test_setUnbondingDelay_anyValueBeforeTheMarketIsWired() public {
        NodeRegistry r = deployRegistry();
        r.setUnbondingDelay(1);
        vm.assertEq(r.unbondingDelay(), 1, "no market yet");
    }

    function test_setJobMarket_once() public {
        vm.prank(address(timelock));
        vm.expectRevert(NodeRegistry.JobMarketAlreadySet.selector);
        registry.setJobMarket(address(1));
        NodeRegistry r = deployRegistry();
        vm.expectRevert(NodeRegistry.ZeroAddress.selector);
        r.setJobMarket(address(0));
    }

    function test_setMinStake() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        registry.setMinStake(MIN_STAKE_FLOOR);
        vm.expectEmit(address(registry));
        emit MinStakeSet(MIN_STAKE_FLOOR);
        vm.prank(address(timelock));
        registry.setMinStake(MIN_STAKE_FLOOR);
        vm.assertEq(registry.minStake(), MIN_STAKE_FLOOR, "set");
    }

    function test_setters_withinBounds() public {
        vm.startPrank(address(timelock));
        vm.expectRevert(
            abi.encodeWithSelector(
                NodeRegistry.OutOfBounds.selector, bytes32("minStake"), 0, MIN_STAKE_FLOOR, MIN_STAKE_CAP
            )
        );
        registry.setMinStake(0);
        vm.expectRevert(
            abi.encodeWithSelector(
                NodeRegistry.OutOfBounds.selector,
                bytes32("minStake"),
                MIN_STAKE_CAP + 1,
                MIN_STAKE_FLOOR,
                MIN_STAKE_CAP
            )
        );
        registry.setMinStake(MIN_STAKE_CAP + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                NodeRegistry.OutOfBounds.selector, bytes32("unbondingDelay"), MAX_UNBONDING + 1, 0, MAX_UNBONDING
            )
        );
        registry.setUnbondingDelay(MAX_UNBONDING + 1);
        registry.setMinStake(MIN_STAKE_CAP);
        registry.setUnbondingDelay(MAX_UNBONDING);
        vm.stopPrank();
        vm.assertEq(registry.minStake(), MIN_STAKE_CAP, "cap allowed");
        vm.assertEq(registry.unbondingDelay(), MAX_UNBONDING, "max delay allowed");
        // The constructor checks its initial values too.
        vm.expectRevert(
            abi.encodeWithSelector(NodeRegistry.OutOfBounds.selector, bytes32("minStake"), 0, 1 ether, 2 ether)
        );
        new NodeRegistry(token, address(this), 0, UNBONDING, [uint96(1 ether), uint96(2 ether)], MAX_UNBONDING);
    }

    function test_setUnbondingDelay_onlyOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        registry.setUnbondingDelay(60 days);
    }
}
