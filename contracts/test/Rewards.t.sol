// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Rewards, IWorkLedger} from "../src/Rewards.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {MockLedger} from "./mocks/MockLedger.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Rewards: per-epoch emission split by verified work units (read from the JobMarket's ledger), claims
///         of several epochs at once, each at most once, the pool cap, the fee cap (an epoch emits at most
///         `feeFactorBps` of the fees its work paid), the emission schedule, epochs without work.
/// @dev Most tests use work of `W` units (fees) per worker, so that the fee cap is far above the emission and
///      the scheduled emission is what is split; the fee-cap tests use small amounts.
contract RewardsTest is Fixture {
    uint256 internal constant W = 1_000_000 ether;

    address internal a = address(0xAAA1);
    address internal b = address(0xBBB2);
    MockLedger internal ledger;
    Rewards internal r;

    event Claimed(address indexed provider, uint256 indexed epoch, uint256 amount);

    function setUp() public override {
        super.setUp();
        ledger = new MockLedger();
        r = newRewards(ledger, EMISSION);
        token.transfer(address(r), 1_000_000 ether);
    }

    function newRewards(IWorkLedger l, uint128 emission) internal returns (Rewards) {
        return new Rewards(token, l, address(this), emission, FEE_FACTOR_BPS, MAX_EMISSION, MAX_FEE_FACTOR_BPS);
    }

    function epochs(uint256 e0) internal pure returns (uint256[] memory list) {
        list = new uint256[](1);
        list[0] = e0;
    }

    function epochs(uint256 e0, uint256 e1) internal pure returns (uint256[] memory list) {
        list = new uint256[](2);
        list[0] = e0;
        list[1] = e1;
    }

    function claimAs(address who, uint256[] memory list) internal returns (uint256) {
        vm.prank(who);
        return r.claim(list);
    }

    function test_split_proportionalToUnits() public {
        ledger.addWork(a, 0, W);
        ledger.addWork(b, 0, 3 * W);
        vm.assertEq(r.claimable(a, 0), 0, "epoch 0 still running");
        ledger.setEpoch(1);
        vm.assertEq(r.claimable(a, 0), EMISSION / 4, "a: 1/4");
        vm.assertEq(r.claimable(b, 0), EMISSION * 3 / 4, "b: 3/4");

        vm.expectEmit(address(r));
        emit Claimed(a, 0, EMISSION / 4);
        vm.assertEq(claimAs(a, epochs(0)), EMISSION / 4, "returned total");
        vm.assertEq(r.reserved(), EMISSION * 3 / 4, "b's share still reserved");
        claimAs(b, epochs(0));
        vm.assertEq(token.balanceOf(a), EMISSION / 4, "a paid");
        vm.assertEq(token.balanceOf(b), EMISSION * 3 / 4, "b paid");
        vm.assertEq(r.reserved(), 0, "exact split leaves nothing reserved");
        vm.assertEq(r.claimable(a, 0), 0, "nothing more once claimed");
    }

    function test_claim_reverts() public {
        ledger.addWork(a, 0, 5);
        vm.prank(a);
        vm.expectRevert(abi.encodeWithSelector(Rewards.EpochNotFinished.selector, 0));
        r.claim(epochs(0));
        ledger.setEpoch(1);
        claimAs(a, epochs(0));
        vm.prank(a);
        vm.expectRevert(abi.encodeWithSelector(Rewards.AlreadyClaimed.selector, 0));
        r.claim(epochs(0));
        // Listing an epoch twice in one call does not pay twice.
        ledger.addWork(a, 1, 5);
        ledger.setEpoch(2);
        vm.prank(a);
        vm.expectRevert(abi.encodeWithSelector(Rewards.AlreadyClaimed.selector, 1));
        r.claim(epochs(1, 1));
        // No work in the epoch: nothing to claim, and no budget is fixed for it.
        vm.prank(b);
        vm.expectRevert(Rewards.NothingToClaim.selector);
        r.claim(epochs(1));
        vm.prank(b);
        vm.expectRevert(Rewards.NothingToClaim.selector);
        r.claim(new uint256[](0));
    }

    function test_manyEpochs_oneClaim() public {
        ledger.addWork(a, 0, W);
        ledger.addWork(b, 0, W);
        ledger.addWork(a, 2, 7 * W);
        ledger.setEpoch(3);
        vm.assertEq(claimAs(a, epochs(0, 2)), EMISSION / 2 + EMISSION, "half of e0 + all of e2");
        vm.assertEq(token.balanceOf(a), EMISSION / 2 + EMISSION, "one transfer for two epochs");
    }

    function test_epochWithoutWork_emitsNothing() public {
        ledger.addWork(a, 2, W);
        ledger.setEpoch(3);
        claimAs(a, epochs(2));
        (bool fixed0, uint128 e0) = r.budgets(0);
        (bool fixed2, uint128 e2) = r.budgets(2);
        vm.assertFalse(fixed0, "epoch 0 untouched");
        vm.assertEq(e0, 0, "no emission for epoch 0");
        vm.assertTrue(fixed2, "epoch 2 fixed at its first claim");
        vm.assertEq(e2, EMISSION, "full emission");
        vm.assertEq(token.balanceOf(address(r)), 1_000_000 ether - uint256(EMISSION), "only one emission left");
    }

    function test_emission_cappedByPool() public {
        Rewards small = newRewards(ledger, 100 ether);
        token.transfer(address(small), 150 ether);
        ledger.addWork(a, 0, W);
        ledger.addWork(b, 0, W);
        ledger.addWork(a, 1, W);
        ledger.addWork(b, 1, W);
        ledger.addWork(a, 2, W);
        ledger.setEpoch(3);
        vm.prank(a);
        small.claim(epochs(0, 1));
        (, uint128 e0) = small.budgets(0);
        (, uint128 e1) = small.budgets(1);
        vm.assertEq(e0, 100 ether, "full emission");
        vm.assertEq(e1, 50 ether, "capped by what the pool still holds unreserved");
        vm.assertEq(small.claimable(a, 2), 0, "an empty pool emits nothing");
        vm.prank(b);
        small.claim(epochs(0, 1));
        vm.assertEq(token.balanceOf(a) + token.balanceOf(b), 150 ether, "whole pool, never more");
        vm.assertEq(token.balanceOf(address(small)), 0, "drained exactly");
        vm.prank(a);
        vm.expectRevert(Rewards.NothingToClaim.selector);
        small.claim(epochs(2));
    }

    function test_roundingDust_staysReserved() public {
        Rewards tiny = newRewards(ledger, 100);
        token.transfer(address(tiny), 1_000);
        address c = address(0xCCC3);
        ledger.addWork(a, 0, W);
        ledger.addWork(b, 0, W);
        ledger.addWork(c, 0, W);
        ledger.setEpoch(1);
        address[3] memory who = [a, b, c];
        for (uint256 i; i < 3; ++i) {
            vm.prank(who[i]);
            tiny.claim(epochs(0));
            vm.assertEq(token.balanceOf(who[i]), 33, "rounded down");
        }
        vm.assertEq(tiny.reserved(), 1, "dust stays reserved, never over-paid");
    }

    function test_emissionSchedule_changesOnlyFutureEpochs() public {
        ledger.setEpoch(2);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, a));
        vm.prank(a);
        r.setEmissionPerEpoch(1);
        r.setEmissionPerEpoch(5 ether);
        vm.assertEq(r.emissionAt(2), EMISSION, "current epoch keeps its emission");
        vm.assertEq(r.emissionAt(3), 5 ether, "from the next epoch");
        vm.assertEq(r.emissionAt(100), 5 ether, "and on");
        r.setEmissionPerEpoch(6 ether); // same epoch: overwrites the pending checkpoint
        vm.assertEq(r.emissionAt(3), 6 ether, "overwritten");
        ledger.setEpoch(7);
        r.setEmissionPerEpoch(0);
        vm.assertEq(r.emissionAt(0), EMISSION, "past unchanged");
        vm.assertEq(r.emissionAt(7), 6 ether, "middle");
        vm.assertEq(r.emissionAt(8), 0, "switched off");

        ledger.addWork(a, 2, W);
        ledger.addWork(a, 5, W);
        ledger.addWork(a, 9, W);
        ledger.setEpoch(10);
        vm.assertEq(claimAs(a, epochs(2, 5)), EMISSION + 6 ether, "each epoch at its own emission");
        vm.prank(a);
        vm.expectRevert(Rewards.NothingToClaim.selector);
        r.claim(epochs(9));
    }

    /// @dev End to end with the real ledger: a settled job records units; the providers claim after the epoch.
    function test_fromJobMarket_settlement() public {
        (bytes32 jobId, JobMarket.Assignment[] memory asg) = createAssigned(3, 2);
        bytes memory cid = hex"01551220aa";
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](3);
        sc[0] = signedCommit(jobId, 0, cid);
        sc[1] = signedCommit(jobId, 1, cid);
        sc[2] = signedCommit(jobId, 2, hex"01551220bb");
        vm.prank(requester);
        market.reveal(jobId, asg, cid, sc);
        vm.assertEq(rewards.claimable(providers[0], 0), 0, "epoch still running");
        vm.warp(block.timestamp + EPOCH);
        // Two fees paid; the epoch emits at most FEE_FACTOR_BPS of them, far below the scheduled emission.
        uint256 fee = uint256(PRICE) * FEE_BPS / 10_000;
        uint256 emission = 2 * fee * FEE_FACTOR_BPS / 10_000;
        vm.assertEq(market.epochUnits(0), 2 * fee, "units are the fees");
        vm.assertEq(rewards.claimable(providers[0], 0), emission / 2, "half each for the two paid");
        vm.assertEq(rewards.claimable(providers[2], 0), 0, "slashed provider earns no reward");
        uint256 before = token.balanceOf(providers[1]);
        vm.prank(providers[1]);
        rewards.claim(epochs(0));
        vm.assertEq(token.balanceOf(providers[1]) - before, emission / 2, "claimed");
        vm.assertLt(emission / 2, fee, "a reward never reaches the fee that earned it");
        vm.assertEq(rewards.ledger().currentEpoch(), 1, "epochs come from the market");
    }

    function test_emission_cappedByFees() public {
        // 1,000 OCAT of fees in the epoch: at 50% it emits 500, far below the scheduled 10,000.
        ledger.addWork(a, 0, 600 ether);
        ledger.addWork(b, 0, 400 ether);
        ledger.setEpoch(1);
        vm.assertEq(r.claimable(a, 0), 300 ether, "a: 60% of 500");
        vm.assertEq(r.claimable(b, 0), 200 ether, "b: 40% of 500");
        claimAs(a, epochs(0));
        (, uint128 e0) = r.budgets(0);
        vm.assertEq(e0, 500 ether, "fixed at the fee cap");
        // The scheduled emission caps it from above.
        ledger.addWork(a, 1, 100_000 ether);
        ledger.setEpoch(2);
        vm.assertEq(r.claimable(a, 1), EMISSION, "scheduled emission below the fee cap");
    }

    function test_feeFactor_setterAndBounds() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, a));
        vm.prank(a);
        r.setFeeFactorBps(1);
        r.setFeeFactorBps(MAX_FEE_FACTOR_BPS);
        vm.assertEq(r.feeFactorBps(), MAX_FEE_FACTOR_BPS, "set");
        vm.expectRevert(
            abi.encodeWithSelector(
                Rewards.OutOfBounds.selector, bytes32("feeFactorBps"), MAX_FEE_FACTOR_BPS + 1, 0, MAX_FEE_FACTOR_BPS
            )
        );
        r.setFeeFactorBps(MAX_FEE_FACTOR_BPS + 1);
        // A factor of one or more can never be deployed: self-dealing would break even.
        vm.expectRevert(
            abi.encodeWithSelector(Rewards.OutOfBounds.selector, bytes32("maxFeeFactorBps"), 10_000, 0, 9_999)
        );
        new Rewards(token, ledger, address(this), EMISSION, FEE_FACTOR_BPS, MAX_EMISSION, 10_000);
        vm.expectRevert(
            abi.encodeWithSelector(
                Rewards.OutOfBounds.selector, bytes32("emissionPerEpoch"), MAX_EMISSION + 1, 0, MAX_EMISSION
            )
        );
        r.setEmissionPerEpoch(MAX_EMISSION + 1);
    }

    function test_ownedByTimelock() public view {
        vm.assertEq(rewards.owner(), address(timelock), "governed");
        vm.assertEq(address(rewards.ledger()), address(market), "the market is the ledger");
    }
}
