// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice What the JobMarket calls when it pays verified work.
interface IRewards {
    function recordWork(address[] calldata providers, uint96[] calldata units) external;
}

/// @title Rewards
/// @notice Splits a per-epoch emission of OCAT among providers in proportion to their verified work units.
/// @dev The JobMarket records units (the OCAT paid for accepted results) when it settles a job. Each provider has
///      one storage slot holding its latest epoch, its units in that epoch, and what earlier epochs already earned
///      it; when it works in a later epoch, the finished epoch is settled into `pending` first. So recording is a
///      couple of warm SSTOREs and a claim is one transfer, however many epochs the provider worked in.
///      An epoch's emission is fixed the first time work is recorded in it (`emissionPerEpoch`, capped by what the
///      pool still holds unreserved); epochs without work emit nothing and the OCAT stays in the pool.
contract Rewards is Ownable, IRewards {
    using SafeERC20 for IERC20;

    struct Epoch {
        uint128 totalUnits;
        uint128 emission;
    }

    struct Worker {
        uint32 epoch;
        uint96 units;
        uint128 pending;
    }

    IERC20 public immutable token;
    uint256 public immutable genesis;
    uint256 public immutable epochLength;

    address public jobMarket;
    uint128 public emissionPerEpoch;
    /// @notice OCAT promised to epochs that had work and not yet claimed.
    uint256 public reserved;

    mapping(uint256 epoch => Epoch) public epochs;
    mapping(address provider => Worker) public workers;

    event WorkRecorded(uint256 indexed epoch, address indexed provider, uint256 units);
    event EpochOpened(uint256 indexed epoch, uint256 emission);
    event Claimed(address indexed provider, uint256 amount);
    event EmissionSet(uint256 emissionPerEpoch);
    event JobMarketSet(address jobMarket);

    error OnlyJobMarket();
    error LengthMismatch();
    error NothingToClaim();
    error JobMarketAlreadySet();
    error ZeroEpochLength();

    constructor(IERC20 token_, address owner_, uint256 epochLength_, uint128 emissionPerEpoch_) Ownable(owner_) {
        if (epochLength_ == 0) revert ZeroEpochLength();
        token = token_;
        genesis = block.timestamp;
        epochLength = epochLength_;
        emissionPerEpoch = emissionPerEpoch_;
        emit EmissionSet(emissionPerEpoch_);
    }

    function currentEpoch() public view returns (uint256) {
        return (block.timestamp - genesis) / epochLength;
    }

    /// @inheritdoc IRewards
    function recordWork(address[] calldata providers, uint96[] calldata units) external {
        if (msg.sender != jobMarket) revert OnlyJobMarket();
        if (providers.length != units.length) revert LengthMismatch();
        uint256 e = currentEpoch();
        Epoch storage ep = epochs[e];
        if (ep.emission == 0 && ep.totalUnits == 0) _open(e, ep);
        uint256 added;
        for (uint256 i; i < providers.length; ++i) {
            Worker storage w = workers[providers[i]];
            if (w.epoch != e) {
                _settle(w);
                w.epoch = uint32(e);
            }
            w.units += units[i];
            added += units[i];
            emit WorkRecorded(e, providers[i], units[i]);
        }
        ep.totalUnits += uint128(added);
    }

    /// @notice Sends the caller every reward of its finished epochs.
    function claim() external {
        Worker storage w = workers[msg.sender];
        if (w.epoch < currentEpoch()) _settle(w);
        uint256 amount = w.pending;
        if (amount == 0) revert NothingToClaim();
        w.pending = 0;
        reserved -= amount;
        token.safeTransfer(msg.sender, amount);
        emit Claimed(msg.sender, amount);
    }

    /// @notice What `provider` can claim now (finished epochs only).
    function claimable(address provider) external view returns (uint256) {
        Worker memory w = workers[provider];
        uint256 amount = w.pending;
        if (w.units != 0 && w.epoch < currentEpoch()) amount += _share(w);
        return amount;
    }

    function setJobMarket(address market) external onlyOwner {
        if (jobMarket != address(0)) revert JobMarketAlreadySet();
        jobMarket = market;
        emit JobMarketSet(market);
    }

    function setEmissionPerEpoch(uint128 value) external onlyOwner {
        emissionPerEpoch = value;
        emit EmissionSet(value);
    }

    function _open(uint256 e, Epoch storage ep) internal {
        uint256 free = token.balanceOf(address(this)) - reserved;
        uint256 emission = emissionPerEpoch < free ? emissionPerEpoch : free;
        ep.emission = uint128(emission);
        reserved += emission;
        emit EpochOpened(e, emission);
    }

    function _settle(Worker storage w) internal {
        if (w.units == 0) return;
        w.pending += uint128(_share(w));
        w.units = 0;
    }

    /// @dev Rounds down, so the sum of shares never exceeds the epoch's emission; the dust stays reserved.
    function _share(Worker memory w) internal view returns (uint256) {
        Epoch memory ep = epochs[w.epoch];
        return uint256(ep.emission) * w.units / ep.totalUnits;
    }
}
