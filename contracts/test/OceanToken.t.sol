// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {OceanToken} from "../src/OceanToken.sol";

/// @notice OCAT: fixed supply, EIP-2612 permit, checkpointed votes with delegation.
contract OceanTokenTest is Fixture {
    function test_metadataAndFixedSupply() public view {
        vm.assertEq(token.name(), "Ocean AI", "name");
        vm.assertEq(token.symbol(), "OCAT", "symbol");
        vm.assertEq(token.decimals(), 18, "decimals");
        vm.assertEq(token.totalSupply(), SUPPLY, "supply");
        vm.assertEq(trackedBalance(), SUPPLY, "every token accounted for");
    }

    function test_constructor_splitsSupply_and_rejectsMismatch() public {
        address[] memory holders = new address[](2);
        uint256[] memory amounts = new uint256[](2);
        holders[0] = address(1);
        holders[1] = address(2);
        amounts[0] = 3;
        amounts[1] = 4;
        OceanToken t = new OceanToken(holders, amounts);
        vm.assertEq(t.totalSupply(), 7, "sum");
        vm.assertEq(t.balanceOf(address(2)), 4, "second holder");

        uint256[] memory one = new uint256[](1);
        vm.expectRevert(OceanToken.LengthMismatch.selector);
        new OceanToken(holders, one);
    }

    function test_transfersKeepSupply() public {
        token.transfer(address(0xABC), 123 ether);
        vm.prank(address(0xABC));
        token.transfer(requester, 23 ether);
        vm.assertEq(token.totalSupply(), SUPPLY, "supply constant");
        vm.assertEq(token.balanceOf(address(0xABC)), 100 ether, "moved");
    }

    function test_permit_setsAllowance_andRejectsReplay() public {
        uint256 key = 0xBEEF;
        address owner = vm.addr(key);
        address spender = address(0x5E);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                spender,
                77,
                0,
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(key, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
        token.permit(owner, spender, 77, deadline, v, r, s);
        vm.assertEq(token.allowance(owner, spender), 77, "allowance");
        vm.assertEq(token.nonces(owner), 1, "nonce");
        vm.expectRevert(); // ERC2612InvalidSigner: the nonce moved on
        token.permit(owner, spender, 77, deadline, v, r, s);
    }

    function test_permit_expired() public {
        uint256 key = 0xBEEF;
        address owner = vm.addr(key);
        vm.warp(10_000);
        uint256 deadline = block.timestamp - 1;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                address(1),
                1,
                0,
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(key, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
        vm.expectRevert(abi.encodeWithSignature("ERC2612ExpiredSignature(uint256)", deadline));
        token.permit(owner, address(1), 1, deadline, v, r, s);
    }

    function test_votes_needDelegation_andFollowTransfers() public {
        vm.assertEq(token.getVotes(requester), 0, "no votes before delegating");
        vm.prank(requester);
        token.delegate(requester);
        vm.assertEq(token.getVotes(requester), 1_000_000 ether, "self-delegated");
        vm.assertEq(token.delegates(requester), requester, "delegate");

        uint256 blockBefore = block.number;
        vm.roll(block.number + 1);
        vm.prank(requester);
        token.transfer(address(0xABC), 400_000 ether);
        vm.assertEq(token.getVotes(requester), 600_000 ether, "votes follow the balance");
        vm.roll(block.number + 1);
        vm.assertEq(token.getPastVotes(requester, blockBefore), 1_000_000 ether, "checkpoint kept");

        vm.prank(requester);
        token.delegate(address(0xDE1));
        vm.assertEq(token.getVotes(requester), 0, "moved away");
        vm.assertEq(token.getVotes(address(0xDE1)), 600_000 ether, "delegatee");
        vm.assertEq(token.clock(), block.number, "block-number clock");
    }
}
