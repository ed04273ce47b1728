// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {NodeRegistry} from "../src/NodeRegistry.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";

/// @notice OCAT holders change protocol parameters through Governor → TimelockController.
contract GovernanceTest is Fixture {
    address[] internal targets;
    uint256[] internal values;
    bytes[] internal calldatas;
    string internal constant DESCRIPTION = "Raise the protocol fee to 5% and the minimum stake to 200 OCAT";

    function setUp() public override {
        super.setUp();
        targets.push(address(market));
        values.push(0);
        calldatas.push(abi.encodeCall(JobMarket.setFeeBps, (500)));
        targets.push(address(registry));
        values.push(0);
        calldatas.push(abi.encodeCall(NodeRegistry.setMinStake, (200 ether)));
    }

    function test_proposeVoteQueueExecute_changesParameters() public {
        // Votes count only once delegated (ERC20Votes), from the block after.
        token.delegate(address(this));
        vm.roll(block.number + 1);

        uint256 id = governor.propose(targets, values, calldatas, DESCRIPTION);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Pending), "pending");
        vm.roll(block.number + governor.votingDelay() + 1);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Active), "active");

        governor.castVote(id, 1); // for
        vm.prank(requester); // an undelegated holder's vote weighs nothing
        governor.castVote(id, 0);
        (uint256 against, uint256 forVotes,) = governor.proposalVotes(id);
        vm.assertEq(against, 0, "undelegated vote has no weight");
        vm.assertGt(forVotes, governor.quorum(block.number - 1), "above quorum");

        vm.roll(block.number + governor.votingPeriod() + 1);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Succeeded), "succeeded");

        bytes32 descHash = keccak256(bytes(DESCRIPTION));
        governor.queue(targets, values, calldatas, descHash);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Queued), "queued");

        // The timelock delay holds execution back.
        vm.expectRevert();
        governor.execute(targets, values, calldatas, descHash);
        vm.warp(block.timestamp + timelock.getMinDelay());
        governor.execute(targets, values, calldatas, descHash);

        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Executed), "executed");
        vm.assertEq(market.feeBps(), 500, "fee changed by governance");
        vm.assertEq(registry.minStake(), 200 ether, "min stake changed by governance");

        // New jobs carry the new fee.
        (bytes32 jobId,) = createAssigned(1, 1);
        uint16 fee = market.jobOf(jobId).feeBps;
        vm.assertEq(fee, 500, "new job uses the new fee");
    }

    function test_proposal_withoutQuorum_isDefeated() public {
        // The requester holds 0.1% of the supply; quorum is 4%.
        vm.prank(requester);
        token.delegate(requester);
        vm.roll(block.number + 1);
        vm.prank(requester);
        uint256 id = governor.propose(targets, values, calldatas, DESCRIPTION);
        vm.roll(block.number + governor.votingDelay() + 1);
        vm.prank(requester);
        governor.castVote(id, 1);
        vm.roll(block.number + governor.votingPeriod() + 1);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Defeated), "defeated");
        vm.expectRevert();
        governor.queue(targets, values, calldatas, keccak256(bytes(DESCRIPTION)));
        vm.assertEq(market.feeBps(), FEE_BPS, "unchanged");
    }

    /// @dev Governance cannot break the unbonding rule either: the call fails inside the timelock.
    function test_proposal_breakingTheUnbondingRule_failsAtExecution() public {
        address[] memory t = new address[](1);
        uint256[] memory v = new uint256[](1);
        bytes[] memory c = new bytes[](1);
        t[0] = address(registry);
        c[0] = abi.encodeCall(NodeRegistry.setUnbondingDelay, (1 days));
        string memory desc = "Shorten unbonding below the job lifetime";
        token.delegate(address(this));
        vm.roll(block.number + 1);
        uint256 id = governor.propose(t, v, c, desc);
        vm.roll(block.number + governor.votingDelay() + 1);
        governor.castVote(id, 1);
        vm.roll(block.number + governor.votingPeriod() + 1);
        governor.queue(t, v, c, keccak256(bytes(desc)));
        vm.warp(block.timestamp + timelock.getMinDelay());
        vm.expectRevert(
            abi.encodeWithSelector(NodeRegistry.DelayShorterThanJobs.selector, 1 days, market.maxJobLifetime())
        );
        governor.execute(t, v, c, keccak256(bytes(desc)));
        vm.assertEq(registry.unbondingDelay(), UNBONDING, "unchanged");
    }

    function test_timelock_ownsEveryParameterContract() public view {
        vm.assertEq(market.owner(), address(timelock), "market");
        vm.assertEq(registry.owner(), address(timelock), "registry");
        vm.assertEq(rewards.owner(), address(timelock), "rewards");
        vm.assertFalse(timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), address(this)), "deployer renounced admin");
        vm.assertTrue(timelock.hasRole(timelock.PROPOSER_ROLE(), address(governor)), "governor proposes");
    }
}
