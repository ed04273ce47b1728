// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Rewards} from "../src/Rewards.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Rewards: per-epoch emission split by work units, cheap claims across epochs, the pool cap, and epochs
///         without work.
contract RewardsTest is Fixture {
    address internal a = address(0xAAA1);
    address internal b = address(0xBBB2);

    function record(address[] memory who, uint96[] memory units) internal {
        vm.prank(address(market));
        rewards.recordWork(who, units);
    }

    function record2(uint96 ua, uint96 ub) internal {
        address[] memory who = new address[](2);
        who[0] = a;
        who[1] = b;
        uint96[] memory units = new uint96[](2);
        units[0] = ua;
        units[1] = ub;
        record(who, units);
    }

    function record1(address who, uint96 u) internal {
        address[] memory w = new address[](1);
        w[0] = who;
        uint96[] memory units = new uint96[](1);
        units[0] = u;
        record(w, units);
    }

    function nextEpoch() internal {
        vm.warp(block.timestamp + EPOCH);
    }

    function test_split_proportionalToUnits() public {
        record2(1 ether, 3 ether);
        vm.assertEq(rewards.claimable(a), 0, "current epoch not claimable");
        nextEpoch();
        vm.assertEq(rewards.claimable(a), EMISSION / 4, "a: 1/4");
        vm.assertEq(rewards.claimable(b), EMISSION * 3 / 4, "b: 3/4");
        vm.prank(a);
        rewards.claim();
        vm.prank(b);
        rewards.claim();
        vm.assertEq(token.balanceOf(a), EMISSION / 4, "a paid");
        vm.assertEq(token.balanceOf(b), EMISSION * 3 / 4, "b paid");
        vm.assertEq(rewards.reserved(), 0, "exact split leaves nothing reserved");
        vm.assertEq(token.balanceOf(address(rewards)), REWARD_POOL - EMISSION, "pool paid one emission");
    }

    function test_claim_reverts_nothing_and_twice() public {
        vm.prank(a);
        vm.expectRevert(Rewards.NothingToClaim.selector);
        rewards.claim();
        record1(a, 5);
        vm.prank(a);
        vm.expectRevert(Rewards.NothingToClaim.selector); // epoch still running
        rewards.claim();
        nextEpoch();
        vm.prank(a);
        rewards.claim();
        vm.prank(a);
        vm.expectRevert(Rewards.NothingToClaim.selector);
        rewards.claim();
    }

    function test_manyEpochs_oneClaim() public {
        record2(1, 1); // epoch 0: a gets half
        nextEpoch();
        record1(a, 7); // epoch 1: a alone (settles epoch 0 into pending)
        nextEpoch();
        nextEpoch(); // epoch 2 without work, now epoch 3
        record1(b, 1); // epoch 3: b alone
        vm.assertEq(rewards.claimable(a), EMISSION / 2 + EMISSION, "a: half of e0 + all of e1");
        vm.prank(a);
        rewards.claim();
        vm.assertEq(token.balanceOf(a), EMISSION / 2 + EMISSION, "one claim for two epochs");
        // b's epoch-0 share was never settled by a later record in another epoch... until now (epoch 3).
        vm.assertEq(rewards.claimable(b), EMISSION / 2, "b: half of e0; e3 still running");
        nextEpoch();
        vm.assertEq(rewards.claimable(b), EMISSION / 2 + EMISSION, "b: e0 + e3");
    }

    function test_epochWithoutWork_emitsNothing() public {
        nextEpoch();
        nextEpoch();
        record1(a, 1);
        (uint128 units0, uint128 emission0) = rewards.epochs(0);
        vm.assertEq(units0 + emission0, 0, "epoch 0 untouched");
        vm.assertEq(rewards.currentEpoch(), 2, "epoch 2");
        vm.assertEq(rewards.reserved(), EMISSION, "only the epoch with work reserved");
    }

    function test_emission_cappedByPool() public {
        Rewards small = new Rewards(token, address(this), EPOCH, 100 ether);
        small.setJobMarket(address(this));
        token.transfer(address(small), 150 ether);
        address[] memory w = new address[](1);
        w[0] = a;
        uint96[] memory u = new uint96[](1);
        u[0] = 1;
        small.recordWork(w, u);
        vm.assertEq(small.reserved(), 100 ether, "full emission");
        vm.warp(block.timestamp + EPOCH);
        small.recordWork(w, u);
        (, uint128 e1) = small.epochs(1);
        vm.assertEq(e1, 50 ether, "capped by what the pool still holds unreserved");
        vm.warp(block.timestamp + EPOCH);
        small.recordWork(w, u);
        (, uint128 e2) = small.epochs(2);
        vm.assertEq(e2, 0, "empty pool emits nothing");
        vm.warp(block.timestamp + EPOCH);
        vm.prank(a);
        small.claim();
        vm.assertEq(token.balanceOf(a), 150 ether, "whole pool, never more");
        vm.assertEq(token.balanceOf(address(small)), 0, "drained exactly");
    }

    function test_roundingDust_staysReserved() public {
        address c = address(0xCCC3);
        address[] memory who = new address[](3);
        who[0] = a;
        who[1] = b;
        who[2] = c;
        uint96[] memory units = new uint96[](3);
        units[0] = 1;
        units[1] = 1;
        units[2] = 1;
        vm.prank(address(timelock));
        rewards.setEmissionPerEpoch(100);
        record(who, units);
        nextEpoch();
        for (uint256 i; i < 3; ++i) {
            vm.prank(who[i]);
            rewards.claim();
            vm.assertEq(token.balanceOf(who[i]), 33, "rounded down");
        }
        vm.assertEq(rewards.reserved(), 1, "dust stays reserved, never over-paid");
    }

    function test_recordWork_reverts() public {
        address[] memory who = new address[](1);
        uint96[] memory units = new uint96[](2);
        vm.expectRevert(Rewards.OnlyJobMarket.selector);
        rewards.recordWork(who, new uint96[](1));
        vm.prank(address(market));
        vm.expectRevert(Rewards.LengthMismatch.selector);
        rewards.recordWork(who, units);
    }

    function test_governance() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        rewards.setEmissionPerEpoch(1);
        vm.prank(address(timelock));
        rewards.setEmissionPerEpoch(5 ether);
        vm.assertEq(rewards.emissionPerEpoch(), 5 ether, "set");
        record1(a, 1);
        (, uint128 e) = rewards.epochs(0);
        vm.assertEq(e, 5 ether, "new epochs use the new emission");
        vm.prank(address(timelock));
        vm.expectRevert(Rewards.JobMarketAlreadySet.selector);
        rewards.setJobMarket(address(1));
        vm.expectRevert(Rewards.ZeroEpochLength.selector);
        new Rewards(token, address(this), 0, 1);
    }

    /// @dev End to end: a settled job records units; the providers claim after the epoch.
    function test_fromJobMarket_settlement() public {
        (bytes32 jobId, JobMarket.Assignment[] memory asg) = createAssigned(3, 2);
        bytes memory cid = hex"01551220aa";
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](3);
        sc[0] = signedCommit(jobId, 0, cid);
        sc[1] = signedCommit(jobId, 1, cid);
        sc[2] = signedCommit(jobId, 2, hex"01551220bb");
        vm.prank(requester);
        market.reveal(jobId, asg, cid, sc);
        nextEpoch();
        vm.assertEq(rewards.claimable(providers[0]), EMISSION / 2, "half each for the two paid");
        vm.assertEq(rewards.claimable(providers[2]), 0, "slashed provider earns no reward");
        uint256 before = token.balanceOf(providers[1]);
        vm.prank(providers[1]);
        rewards.claim();
        vm.assertEq(token.balanceOf(providers[1]) - before, EMISSION / 2, "claimed");
    }
}
