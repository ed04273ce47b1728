// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorSettings} from "@openzeppelin/contracts/governance/extensions/GovernorSettings.sol";
import {GovernorCountingSimple} from "@openzeppelin/contracts/governance/extensions/GovernorCountingSimple.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {GovernorVotesQuorumFraction} from
    "@openzeppelin/contracts/governance/extensions/GovernorVotesQuorumFraction.sol";
import {GovernorTimelockControl} from "@openzeppelin/contracts/governance/extensions/GovernorTimelockControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

/// @notice Bounds of the governor's own settings, fixed at deployment. Kept in a base constructed before the
///         OpenZeppelin extensions, whose constructors already call the bounded setters.
abstract contract GovernorBounds {
    struct Bounds {
        uint48 minVotingDelay;
        uint48 maxVotingDelay;
        uint32 minVotingPeriod;
        uint32 maxVotingPeriod;
        uint256 minProposalThreshold;
        uint256 maxProposalThreshold;
        uint256 minQuorumPercent;
        uint256 maxQuorumPercent;
    }

    Bounds internal bounds;

    error OutOfBounds(bytes32 name, uint256 value, uint256 min, uint256 max);

    error BadBounds();

    constructor(Bounds memory b) {
        if (
            b.minVotingDelay > b.maxVotingDelay || b.minVotingPeriod > b.maxVotingPeriod
                || b.minProposalThreshold > b.maxProposalThreshold || b.minQuorumPercent > b.maxQuorumPercent
                || b.maxQuorumPercent > 100
        ) revert BadBounds();
        bounds = b;
    }

    /// @notice The deployment's bounds of voting delay, voting period, proposal threshold and quorum.
    function settingBounds() external view returns (Bounds memory) {
        return bounds;
    }

    function _bound(bytes32 name, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert OutOfBounds(name, value, min, max);
    }
}

/// @title OceanTimelock
/// @notice The timelock that owns every protocol parameter. Its delay stays within bounds fixed at deployment,
///         whatever a proposal sets: a production deployment can never make a parameter change (or a verifier
///         swap) take effect without warning.
contract OceanTimelock is TimelockController {
    uint256 public immutable minDelayFloor;
    uint256 public immutable minDelayCap;

    constructor(
        uint256 minDelay,
        address[] memory proposers,
        address[] memory executors,
        address admin,
        uint256 floor,
        uint256 cap
    ) TimelockController(minDelay, proposers, executors, admin) {
        if (floor > cap || minDelay < floor || minDelay > cap) revert DelayOutOfBounds(minDelay, floor, cap);
        minDelayFloor = floor;
        minDelayCap = cap;
    }

    error DelayOutOfBounds(uint256 delay, uint256 floor, uint256 cap);

    /// @dev Clamped to the deployment's bounds, so `updateDelay` cannot move the effective delay outside them.
    function getMinDelay() public view override returns (uint256) {
        uint256 d = super.getMinDelay();
        if (d < minDelayFloor) return minDelayFloor;
        if (d > minDelayCap) return minDelayCap;
        return d;
    }
}

/// @title OceanGovernor
/// @notice OCAT holders propose and vote; passed proposals run through the TimelockController, which owns every
///         protocol parameter (fees, minimum stake, slash rate, timeouts, emission).
contract OceanGovernor is
    GovernorBounds,
    Governor,
    GovernorSettings,
    GovernorCountingSimple,
    GovernorVotes,
    GovernorVotesQuorumFraction,
    GovernorTimelockControl
{
    constructor(
        IVotes token,
        TimelockController timelock,
        uint48 votingDelay_,
        uint32 votingPeriod_,
        uint256 proposalThreshold_,
        uint256 quorumPercent,
        Bounds memory bounds_
    )
        GovernorBounds(bounds_)
        Governor("Ocean AI Governor")
        GovernorSettings(votingDelay_, votingPeriod_, proposalThreshold_)
        GovernorVotes(token)
        GovernorVotesQuorumFraction(quorumPercent)
        GovernorTimelockControl(timelock)
    {}

    function _setVotingDelay(uint48 value) internal override {
        _bound("votingDelay", value, bounds.minVotingDelay, bounds.maxVotingDelay);
        super._setVotingDelay(value);
    }

    function _setVotingPeriod(uint32 value) internal override {
        _bound("votingPeriod", value, bounds.minVotingPeriod, bounds.maxVotingPeriod);
        super._setVotingPeriod(value);
    }

    function _setProposalThreshold(uint256 value) internal override {
        _bound("proposalThreshold", value, bounds.minProposalThreshold, bounds.maxProposalThreshold);
        super._setProposalThreshold(value);
    }

    function _updateQuorumNumerator(uint256 value) internal override {
        _bound("quorumPercent", value, bounds.minQuorumPercent, bounds.maxQuorumPercent);
        super._updateQuorumNumerator(value);
    }

    function votingDelay() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingDelay();
    }

    function votingPeriod() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingPeriod();
    }

    function quorum(uint256 blockNumber) public view override(Governor, GovernorVotesQuorumFraction) returns (uint256) {
        return super.quorum(blockNumber);
    }

    function state(uint256 proposalId) public view override(Governor, GovernorTimelockControl) returns (ProposalState) {
        return super.state(proposalId);
    }

    function proposalNeedsQueuing(uint256 proposalId)
        public
        view
        override(Governor, GovernorTimelockControl)
        returns (bool)
    {
        return super.proposalNeedsQueuing(proposalId);
    }

    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }

    function _queueOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint48) {
        return super._queueOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _executeOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) {
        super._executeOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _cancel(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint256) {
        return super._cancel(targets, values, calldatas, descriptionHash);
    }

    function _executor() internal view override(Governor, GovernorTimelockControl) returns (address) {
        return super._executor();
    }
}
