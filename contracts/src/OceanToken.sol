// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title OceanToken (OCAT)
/// @notice The Ocean AI token: providers stake it, requesters pay with it, holders govern with it.
/// @dev Fixed supply: everything is minted in the constructor and there is no mint or burn afterwards, so
///      `totalSupply()` is constant for the token's whole life. Permit (EIP-2612) lets a requester escrow a job
///      in one transaction; Votes (checkpointed, block-number clock) backs the Governor.
contract OceanToken is ERC20, ERC20Permit, ERC20Votes {
    error LengthMismatch();

    /// @param holders Initial holders (e.g. treasury, rewards pool, team), in the same order as `amounts`.
    /// @param amounts Whole supply split, in wei (18 decimals).
    constructor(address[] memory holders, uint256[] memory amounts) ERC20("Ocean AI", "OCAT") ERC20Permit("Ocean AI") {
        if (holders.length != amounts.length) revert LengthMismatch();
        for (uint256 i; i < holders.length; ++i) {
            _mint(holders[i], amounts[i]);
        }
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
