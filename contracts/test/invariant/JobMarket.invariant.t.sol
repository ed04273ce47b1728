// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "../utils/Fixture.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {Handler} from "./Handler.sol";

/// @notice Invariants of the money and the state machine, under random sequences of Handler actions.
/// @dev Without forge-std, forge still reads `targetContracts()` / `targetSelectors()` from the test contract.
/// forge-config: default.invariant.runs = 48
/// forge-config: default.invariant.depth = 200
contract JobMarketInvariantTest is Fixture {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    Handler internal handler;

    function setUp() public override {
        super.setUp();
        // Twelve providers: jobs of up to five replicas can usually draw arbiters outside themselves.
        for (uint256 i; i < 7; ++i) {
            addProvider(0xC0C0 + i);
        }
        handler = new Handler(token, registry, market, rewards, requester, treasury, providerKeys, providers);
        // The handler acts as the providers; they need allowance for addStake (granted in the fixture).
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory s) {
        bytes4[] memory sel = new bytes4[](18);
        sel[0] = Handler.createJob.selector;
        sel[1] = Handler.createJobAgain.selector;
        sel[2] = Handler.createJobUnderfilled.selector;
        sel[3] = Handler.commit.selector;
        sel[4] = Handler.commitAll.selector;
        sel[5] = Handler.revealByRequester.selector;
        sel[6] = Handler.revealByRequesterAgain.selector;
        sel[7] = Handler.revealByProvider.selector;
        sel[8] = Handler.revealByProviderAgain.selector;
        sel[9] = Handler.expire.selector;
        sel[10] = Handler.expireAgain.selector;
        sel[11] = Handler.withdraw.selector;
        sel[12] = Handler.claimRewards.selector;
        sel[13] = Handler.unbond.selector;
        sel[14] = Handler.warp.selector;
        sel[15] = Handler.addStake.selector;
        sel[16] = Handler.warpAgain.selector;
        sel[17] = Handler.reassign.selector;
        s = new FuzzSelector[](1);
        s[0] = FuzzSelector(address(handler), sel);
    }

    /// @notice (a) The market holds exactly the escrow of non-final jobs plus what it owes and has not paid out.
    function invariant_marketBalanceEqualsEscrowPlusOwed() public view {
        vm.assertEq(
            token.balanceOf(address(market)),
            handler.ghostEscrowed() + handler.ghostOwed(),
            "market balance != escrowed + owed"
        );
        address[] memory a = handler.actors();
        uint256 owedSum;
        for (uint256 i; i < a.length; ++i) {
            owedSum += market.owed(a[i]);
        }
        vm.assertEq(owedSum, handler.ghostOwed(), "sum of owed != ghost owed");
    }

    /// @notice (b) OCAT supply never changes and every token is in a known account: holders, the market (escrow
    ///         and what it owes), the registry (stakes), the rewards pool and the treasury (fees, slashes, bonds).
    function invariant_supplyConstantAndAccounted() public view {
        vm.assertEq(token.totalSupply(), SUPPLY, "supply changed");
        vm.assertEq(trackedBalance(), SUPPLY, "tokens left the known accounts");
    }

    /// @notice The registry holds exactly the active plus unbonding stake of its nodes (slashes and bonds leave
    ///         it, nothing else does), and the rewards pool always covers what it promised.
    function invariant_registryAndRewardsSolvent() public view {
        uint256 stakes;
        for (uint256 i; i < providers.length; ++i) {
            (uint96 staked, uint96 unbonding,,) = registry.stakes(providers[i]);
            stakes += uint256(staked) + unbonding;
        }
        vm.assertEq(token.balanceOf(address(registry)), stakes, "registry balance != stakes");
        vm.assertGe(token.balanceOf(address(rewards)), rewards.reserved(), "rewards pool below its promises");
    }

    /// @notice (c) No slashed provider was paid for the job it was slashed in, no-shows lost exactly their bond,
    ///         and every settlement, expiry, arbitration and withdrawal did exactly what the rules say (checked
    ///         by the handler during each call).
    function invariant_noViolations() public view {
        vm.assertEq(handler.violations(), 0, handler.firstViolation());
    }

    /// @notice (d) Every job whose deadlines have all passed is final, or can be made final by anyone: expire
    ///         moves it to Failed or into arbitration, whose own expiry then fails it.
    function invariant_noJobStuckAfterItsDeadlines() public {
        uint256 snap = vm.snapshotState();
        uint256 n = handler.jobCount();
        for (uint256 i; i < n; ++i) {
            bytes32 id = handler.jobId(i);
            JobMarket.State s = stateOf(id);
            bool final_ = s == JobMarket.State.Finalized || s == JobMarket.State.Failed;
            vm.assertEq(final_, handler.isFinal(i), "handler and market disagree on finality");
            (, uint40 rd) = deadlinesOf(id);
            if (final_ || block.timestamp <= rd) continue;
            JobMarket.Assignment[] memory a = handler.assignmentOf(i);
            vm.prank(address(0xA11));
            market.expire(id, a);
            if (stateOf(id) == JobMarket.State.Arbitration) {
                (, rd) = deadlinesOf(id);
                uint256 t = block.timestamp;
                vm.warp(rd + 1);
                market.expire(id, a);
                vm.warp(t);
            }
            vm.assertEq(uint256(stateOf(id)), uint256(JobMarket.State.Failed), "expire did not finalize");
        }
        vm.revertToState(snap);
    }

    /// @notice After a run, settles everything: every job expires (arbitrations too), everyone withdraws, and
    ///         the market must end empty.
    function afterInvariant() public virtual {
        uint256 n = handler.jobCount();
        for (uint256 round; round < 2; ++round) {
            vm.warp(block.timestamp + 30 days);
            for (uint256 i; i < n; ++i) {
                JobMarket.State s = stateOf(handler.jobId(i));
                if (s == JobMarket.State.Assigned || s == JobMarket.State.Arbitration) {
                    market.expire(handler.jobId(i), handler.assignmentOf(i));
                }
            }
        }
        for (uint256 i; i < n; ++i) {
            JobMarket.State s = stateOf(handler.jobId(i));
            vm.assertTrue(s == JobMarket.State.Finalized || s == JobMarket.State.Failed, "a job left unsettled");
        }
        address[] memory a = handler.actors();
        for (uint256 i; i < a.length; ++i) {
            if (market.owed(a[i]) == 0) continue;
            vm.prank(a[i]);
            market.withdraw();
        }
        vm.assertEq(token.balanceOf(address(market)), 0, "tokens stuck in the market after everything settled");
        vm.assertEq(trackedBalance(), SUPPLY, "tokens left the known accounts");
    }
}
