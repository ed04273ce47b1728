// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {JobMarket} from "../src/JobMarket.sol";

/// @notice Self-dealing never pays: a provider that is also its own requester buys work from itself to farm the
///         reward emission. Whatever the honest volume H of the epoch and the self-dealt volume V (split into
///         one to four jobs), and whatever fee and fee factor governance set within their bounds, the wash
///         trader ends the epoch with fewer OCAT than it started with: its reward is at most feeFactor x the
///         fees it paid (docs/protocol.md §8), strictly less than those fees, before gas and after it.
contract WashTradingTest is Fixture {
    bytes internal constant RESULT = hex"0155122011223344556677889900aabbccddeeff11223344556677889900aabbccddeeff";
    /// @dev Gas valued at 1 gwei, and 1 ETH taken as worth 1 OCAT (a low estimate of gas, generous to the
    ///      wash trader).
    uint256 internal constant GAS_PRICE_IN_OCAT = 1 gwei;

    address internal wash;
    uint256 internal washKey;
    uint256 internal gasSpent;

    function setUp() public override {
        super.setUp();
        wash = providers[0];
        washKey = providerKeys[0];
        token.transfer(wash, 1_000_000 ether);
        vm.prank(wash);
        token.approve(address(market), type(uint256).max);
        token.transfer(requester, 1_000_000 ether);
    }

    /// @dev A paid single-provider job: `buyer` pays `price` to providers[who].
    function job(address buyer, uint256 who, uint96 price, bool metered) internal {
        JobMarket.JobRequest memory req = request(1, 1);
        req.mode = JobMarket.Mode.None;
        req.pricePerReplica = price;
        bytes32 jobId = market.jobIdOf(buyer, req.salt);
        uint256[] memory idx = new uint256[](1);
        idx[0] = who;
        JobMarket.Offer[] memory o = new JobMarket.Offer[](1);
        o[0] = offerBy(jobId, who, price, termsOf(req, idx));
        JobMarket.SignedCommit[] memory sc = new JobMarket.SignedCommit[](1);
        sc[0] = signedCommitBy(jobId, 0, who, RESULT);
        JobMarket.Assignment[] memory a = new JobMarket.Assignment[](1);
        a[0] = JobMarket.Assignment(providers[who], price);

        uint256 g = gasleft();
        vm.prank(buyer);
        market.createJob(req, o);
        vm.prank(buyer);
        market.reveal(jobId, a, RESULT, sc);
        if (metered) gasSpent += g - gasleft() + 2 * 21_000;
    }

    function testFuzz_washTradingLosesMoney(
        uint256 honestSeed,
        uint256 selfSeed,
        uint8 jobsSeed,
        uint16 feeSeed,
        uint16 factorSeed
    ) public {
        uint256 h = bound(honestSeed, 0, 500_000 ether);
        uint256 v = bound(selfSeed, 1 ether, 500_000 ether);
        uint256 n = bound(jobsSeed, 1, 4);
        uint16 feeBps = uint16(bound(feeSeed, 1, 1_000));
        uint16 factor = uint16(bound(factorSeed, 0, MAX_FEE_FACTOR_BPS));
        vm.startPrank(address(timelock));
        market.setFeeBps(feeBps);
        rewards.setFeeFactorBps(factor);
        vm.stopPrank();

        uint256 before = token.balanceOf(wash);
        // Honest work of the epoch, bought by the requester from provider 1.
        if (h != 0) job(requester, 1, uint96(h), false);
        // Self-dealt work: the wash trader buys from itself.
        uint256 fees;
        for (uint256 i; i < n; ++i) {
            uint96 price = uint96(i + 1 < n ? v / n : v - (v / n) * (n - 1));
            job(wash, 0, price, true);
            fees += uint256(price) * feeBps / 10_000;
        }
        vm.assertGt(fees, 0, "self-dealing pays a fee");

        vm.warp(block.timestamp + EPOCH);
        uint256 reward = rewards.claimable(wash, 0);
        if (reward != 0) {
            uint256[] memory e = new uint256[](1);
            uint256 g = gasleft();
            vm.prank(wash);
            rewards.claim(e);
            gasSpent += g - gasleft() + 21_000;
        }
        uint256 g2 = gasleft();
        vm.prank(wash);
        market.withdraw();
        gasSpent += g2 - gasleft() + 21_000;
        uint256 afterBalance = token.balanceOf(wash);

        vm.assertLe(reward, fees * factor / 10_000, "a reward above the fee factor of the fees paid");
        vm.assertLt(afterBalance, before, "self-dealing paid (without gas)");
        vm.assertEq(before - afterBalance, fees - reward, "the loss is the fees minus the reward");
        uint256 gasCost = gasSpent * GAS_PRICE_IN_OCAT;
        vm.assertLt(reward, fees + gasCost, "self-dealing paid (with gas)");
    }
}
