// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice The work ledger Rewards reads: the JobMarket.
interface IWorkLedger {
    function currentEpoch() external view returns (uint256);
    function workUnits(address account, uint256 epoch) external view returns (uint256);
    function epochUnits(uint256 epoch) external view returns (uint256);
}

/// @title Rewards
/// @notice Splits a per-epoch emission of OCAT among providers in proportion to their verified work units.
/// @dev The JobMarket is the ledger: when it pays a provider for an accepted result it also counts the payment as
///      work units of the current epoch, in the same storage slot as the provider's balance, so settling a job
///      costs no extra call. Rewards only pays out: `claim(epochs)` for finished epochs, each at most once.
///      An epoch's emission is the `emissionPerEpoch` in force when the epoch began (a checkpoint list, so a
///      governance change never rewrites the past), capped at `feeFactorBps` of the fees the epoch's work paid
///      (its work units are those fees), reserved from the pool at the first claim, capped by what the pool
///      still holds; epochs without work emit nothing.
///
///      Why self-dealing cannot pay (docs/protocol.md §8): a provider that is its own requester pays fee F per
///      unit of work it buys and receives F units; its reward is emission × F / U with emission ≤ k × U (U the
///      epoch's units, k = feeFactorBps / 10,000 < 1), so at most k × F < F: every self-dealt job loses at least
///      (1 - k) × F plus gas, whatever the honest volume.
contract Rewards is Ownable {
    using SafeERC20 for IERC20;

    struct Checkpoint {
        uint64 fromEpoch;
        uint128 emission;
    }

    struct EpochBudget {
        bool fixed_;
        uint128 emission;
    }

    IERC20 public immutable token;
    IWorkLedger public immutable ledger;
    /// @notice Bounds of the governable settings, fixed at deployment: the emission can never exceed
    ///         `maxEmissionPerEpoch`, and the fee factor is always below 1.
    uint128 public immutable maxEmissionPerEpoch;
    uint16 public immutable maxFeeFactorBps;

    /// @notice An epoch emits at most this fraction (basis points) of the fees its work paid.
    uint16 public feeFactorBps;

    Checkpoint[] internal schedule;
    /// @notice OCAT promised to epochs whose budget was fixed and not yet claimed.
    uint256 public reserved;
    mapping(uint256 epoch => EpochBudget) public budgets;
    mapping(address provider => mapping(uint256 epoch => bool)) public claimed;

    event Claimed(address indexed provider, uint256 indexed epoch, uint256 amount);
    event EmissionSet(uint256 fromEpoch, uint256 emissionPerEpoch);
    event FeeFactorSet(uint256 feeFactorBps);

    error EpochNotFinished(uint256 epoch);
    error AlreadyClaimed(uint256 epoch);
    error NothingToClaim();
    error OutOfBounds(bytes32 name, uint256 value, uint256 min, uint256 max);

    constructor(
        IERC20 token_,
        IWorkLedger ledger_,
        address owner_,
        uint128 emissionPerEpoch_,
        uint16 feeFactorBps_,
        uint128 maxEmissionPerEpoch_,
        uint16 maxFeeFactorBps_
    ) Ownable(owner_) {
        token = token_;
        ledger = ledger_;
        // A factor of 1 or more would let self-dealing break even or profit.
        _bound("maxFeeFactorBps", maxFeeFactorBps_, 0, 9_999);
        maxEmissionPerEpoch = maxEmissionPerEpoch_;
        maxFeeFactorBps = maxFeeFactorBps_;
        _bound("emissionPerEpoch", emissionPerEpoch_, 0, maxEmissionPerEpoch_);
        _bound("feeFactorBps", feeFactorBps_, 0, maxFeeFactorBps_);
        feeFactorBps = feeFactorBps_;
        emit FeeFactorSet(feeFactorBps_);
        schedule.push(Checkpoint(0, emissionPerEpoch_));
        emit EmissionSet(0, emissionPerEpoch_);
    }

    /// @notice Sends the caller its share of each listed finished epoch.
    function claim(uint256[] calldata epochs) external returns (uint256 total) {
        uint256 current = ledger.currentEpoch();
        for (uint256 i; i < epochs.length; ++i) {
            uint256 e = epochs[i];
            if (e >= current) revert EpochNotFinished(e);
            if (claimed[msg.sender][e]) revert AlreadyClaimed(e);
            claimed[msg.sender][e] = true;
            uint256 amount = _share(msg.sender, e, _fixBudget(e));
            total += amount;
            if (amount != 0) emit Claimed(msg.sender, e, amount);
        }
        if (total == 0) revert NothingToClaim();
        reserved -= total;
        token.safeTransfer(msg.sender, total);
    }

    /// @notice What `provider` would receive for finished `epoch` (0 once claimed).
    function claimable(address provider, uint256 epoch) external view returns (uint256) {
        if (epoch >= ledger.currentEpoch() || claimed[provider][epoch]) return 0;
        EpochBudget memory b = budgets[epoch];
        uint256 emission = b.fixed_ ? b.emission : _cap(_feeCapped(epoch));
        return _share(provider, epoch, emission);
    }

    /// @notice The emission per epoch in force at `epoch`.
    function emissionAt(uint256 epoch) public view returns (uint128) {
        uint256 i = schedule.length;
        while (i > 1 && schedule[i - 1].fromEpoch > epoch) --i;
        return schedule[i - 1].emission;
    }

    /// @notice Changes the emission from the next epoch on (past and current epochs keep theirs).
    function setEmissionPerEpoch(uint128 value) external onlyOwner {
        _bound("emissionPerEpoch", value, 0, maxEmissionPerEpoch);
        uint64 from = uint64(ledger.currentEpoch() + 1);
        Checkpoint storage last = schedule[schedule.length - 1];
        if (last.fromEpoch == from) last.emission = value;
        else schedule.push(Checkpoint(from, value));
        emit EmissionSet(from, value);
    }

    /// @notice Changes the fee factor. It applies to every epoch whose budget is not fixed yet (fixed at the
    ///         epoch's first claim), which is why its bound, below 1, is what keeps self-dealing unprofitable.
    function setFeeFactorBps(uint16 value) external onlyOwner {
        _bound("feeFactorBps", value, 0, maxFeeFactorBps);
        feeFactorBps = value;
        emit FeeFactorSet(value);
    }

    /// @dev The scheduled emission of `epoch`, capped at the fee factor times the fees its work paid.
    function _feeCapped(uint256 epoch) internal view returns (uint256) {
        uint256 scheduled = emissionAt(epoch);
        uint256 cap = ledger.epochUnits(epoch) * feeFactorBps / 10_000;
        return scheduled < cap ? scheduled : cap;
    }

    function _bound(bytes32 name, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert OutOfBounds(name, value, min, max);
    }

    function _fixBudget(uint256 e) internal returns (uint256) {
        EpochBudget storage b = budgets[e];
        if (!b.fixed_) {
            uint256 emission = ledger.epochUnits(e) == 0 ? 0 : _cap(_feeCapped(e));
            b.fixed_ = true;
            b.emission = uint128(emission);
            reserved += emission;
        }
        return b.emission;
    }

    function _cap(uint256 emission) internal view returns (uint256) {
        uint256 free = token.balanceOf(address(this)) - reserved;
        return emission < free ? emission : free;
    }

    /// @dev Rounds down, so the shares of an epoch never add up to more than its emission.
    function _share(address provider, uint256 e, uint256 emission) internal view returns (uint256) {
        uint256 total = ledger.epochUnits(e);
        if (total == 0) return 0;
        return emission * ledger.workUnits(provider, e) / total;
    }
}
