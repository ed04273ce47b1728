// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IWorkLedger} from "../../src/Rewards.sol";

/// @notice A work ledger whose epochs and units a test sets directly (the JobMarket is the real one).
contract MockLedger is IWorkLedger {
    uint256 public currentEpoch;
    mapping(address account => mapping(uint256 epoch => uint256)) public workUnits;
    mapping(uint256 epoch => uint256) public epochUnits;

    function setEpoch(uint256 e) external {
        currentEpoch = e;
    }

    function addWork(address account, uint256 e, uint256 units) external {
        workUnits[account][e] += units;
        epochUnits[e] += units;
    }
}
