// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {NodeRegistry} from "../src/NodeRegistry.sol";

contract GovernanceSafetyTest is Fixture {
    bytes internal constant RESULT = hex"01551220aa";
    bytes internal constant WRONG = hex"01551220bb";

    /// Governance lowers the job limits, then the unbonding delay, while an old long job runs:
    /// its dishonest provider could unbond, withdraw and escape the slash. The market remembers the old
    /// lifetime until every job created under it can have ended, so the registry refuses the shorter delay.
    function test_slashEscapeAfterGovernanceLowersLimits() public {
        JobMarket.JobRequest memory req = request(3, 2);
        req.commitDeadline = uint40(block.timestamp + MAX_JOB);
        bytes32 jobId = market.jobIdOf(requester, req.salt);
        JobMarket.Offer[] memory o = offers(req, jobId, 3, PRICE);
        vm.prank(requester);
        market.createJob(req, o);
        vm.startPrank(address(timelock));
        market.setMaxJobDuration(1 days);
        uint256 oldLifetime = uint256(MAX_JOB) + REVEAL_WINDOW + ARBITRATION_WINDOW + REVEAL_WINDOW;
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.DelayShorterThanJobs.selector, 2 days, oldLifetime));
        registry.setUnbondingDelay(2 days);
        vm.stopPrank();

        // The provider's stake therefore stays slashable for the whole job.
        vm.prank(providers[2]);
        registry.unbond(STAKE);
        vm.warp(block.timestamp + 2 days);
        vm.prank(providers[2]);
        vm.expectRevert();
        registry.withdraw();
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](3);
        sc[0] = signedCommit(jobId, 0, RESULT);
        sc[1] = signedCommit(jobId, 1, RESULT);
        sc[2] = signedCommit(jobId, 2, WRONG);
        JobMarket.Assignment[] memory a = assignmentOf(3, PRICE);
        uint256 before = token.balanceOf(treasury);
        vm.prank(requester);
        market.reveal(jobId, a, RESULT, sc);
        vm.assertGt(token.balanceOf(treasury) - before, 0, "the dishonest provider must be slashed");

        // Once every job made under the old limits has ended, the shorter delay is allowed.
        vm.warp(block.timestamp + MAX_JOB + REVEAL_WINDOW + ARBITRATION_WINDOW);
        vm.prank(address(timelock));
        registry.setUnbondingDelay(2 days);
        vm.assertEq(registry.unbondingDelay(), 2 days, "delay lowered after the old jobs ended");
    }

    /// With revealWindow = 0 a silent requester would get a full refund although two providers committed the
    /// result: providers need time after the commit deadline to reveal.
    function test_zeroRevealWindowIsRejected() public {
        vm.prank(address(timelock));
        vm.expectRevert(
            abi.encodeWithSelector(JobMarket.OutOfBounds.selector, bytes32("revealWindow"), 0, 60, MAX_REVEAL_WINDOW)
        );
        market.setRevealWindow(0);
    }
}
