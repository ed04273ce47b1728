// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice What the JobMarket needs to know about the registry.
interface INodeRegistry {
    function isActive(address node) external view returns (bool);
    function slash(address node, uint256 bps, address to) external returns (uint256 slashed);
    function unbondingDelay() external view returns (uint40);
    function nodeCount() external view returns (uint256);
    function nodes(uint256 index) external view returns (address);
}

/// @notice What the registry needs to know about the JobMarket (to keep unbonding longer than any job).
interface IJobLifetime {
    function maxJobLifetime() external view returns (uint40);
}

/// @title NodeRegistry
/// @notice Providers register here with a stake, their capabilities, an encryption key and an endpoint.
/// @dev Stake leaves in two steps (unbond, then withdraw after `unbondingDelay`), and slashing reaches stake that
///      is still unbonding. Because `unbondingDelay` is kept longer than the JobMarket's longest job lifetime,
///      a provider cannot escape a slash by unbonding in the middle of a job. Only the JobMarket may slash.
///      The owner (the governance timelock) sets the minimum stake and the delay.
contract NodeRegistry is Ownable, INodeRegistry {
    using SafeERC20 for IERC20;

    /// @notice Hardware a provider offers. Only off-chain readers (schedulers) interpret it.
    struct Capabilities {
        uint32 cores;
        uint32 memoryMiB;
        uint32 gpuVramMiB;
        uint64 benchmarkScore;
        string gpuModel;
    }

    /// @dev One storage slot: everything the JobMarket reads per assignment.
    struct Stake {
        uint96 staked;
        uint96 unbonding;
        uint40 unbondReadyAt;
        bool registered;
    }

    /// @notice Off-chain facing data of a node.
    struct Info {
        Capabilities capabilities;
        bytes32 encryptionKey;
        string endpoint;
    }

    IERC20 public immutable token;
    address public jobMarket;
    uint96 public minStake;
    uint40 public unbondingDelay;
    /// @notice Bounds of the governable settings, fixed at deployment.
    uint96 public immutable minStakeFloor;
    uint96 public immutable minStakeCap;
    uint40 public immutable maxUnbondingDelay;

    mapping(address node => Stake) public stakes;
    mapping(address node => Info) internal infos;
    address[] public nodes;

    event Registered(address indexed node, uint256 stake, Capabilities capabilities, bytes32 encryptionKey, string endpoint);
    event Updated(address indexed node, Capabilities capabilities, bytes32 encryptionKey, string endpoint);
    event StakeAdded(address indexed node, uint256 amount, uint256 total);
    event UnbondStarted(address indexed node, uint256 amount, uint256 readyAt);
    event Withdrawn(address indexed node, uint256 amount);
    event Slashed(address indexed node, uint256 amount, address indexed to);
    event JobMarketSet(address jobMarket);
    event MinStakeSet(uint256 minStake);
    event UnbondingDelaySet(uint256 delay);

    error AlreadyRegistered();
    error NotRegistered();
    error StakeBelowMinimum(uint256 stake, uint256 minimum);
    error ZeroAmount();
    error InsufficientStake(uint256 requested, uint256 available);
    error NothingToWithdraw();
    error StillUnbonding(uint256 readyAt);
    error OnlyJobMarket();
    error JobMarketAlreadySet();
    error ZeroAddress();
    error DelayShorterThanJobs(uint256 delay, uint256 maxJobLifetime);
    error BpsTooHigh(uint256 bps);
    error OutOfBounds(bytes32 name, uint256 value, uint256 min, uint256 max);

    modifier onlyJobMarket() {
        if (msg.sender != jobMarket) revert OnlyJobMarket();
        _;
    }

    /// @param minStakeBounds_ `[floor, cap]` of `minStake`; a zero floor would let governance make every
    ///        registered address active, Sybils included.
    constructor(
        IERC20 token_,
        address owner_,
        uint96 minStake_,
        uint40 unbondingDelay_,
        uint96[2] memory minStakeBounds_,
        uint40 maxUnbondingDelay_
    ) Ownable(owner_) {
        token = token_;
        if (minStakeBounds_[0] == 0) revert OutOfBounds("minStakeFloor", 0, 1, minStakeBounds_[1]);
        minStakeFloor = minStakeBounds_[0];
        minStakeCap = minStakeBounds_[1];
        maxUnbondingDelay = maxUnbondingDelay_;
        _bound("minStake", minStake_, minStakeFloor, minStakeCap);
        _bound("unbondingDelay", unbondingDelay_, 0, maxUnbondingDelay_);
        minStake = minStake_;
        unbondingDelay = unbondingDelay_;
        emit MinStakeSet(minStake_);
        emit UnbondingDelaySet(unbondingDelay_);
    }

    // ---- providers ----

    /// @notice Joins the network with `stake` (pulled with transferFrom; approve or permit first).
    function register(uint96 stake, Capabilities calldata caps, bytes32 encryptionKey, string calldata endpoint)
        external
    {
        Stake storage s = stakes[msg.sender];
        if (s.registered) revert AlreadyRegistered();
        if (stake < minStake) revert StakeBelowMinimum(stake, minStake);
        s.registered = true;
        s.staked = stake;
        infos[msg.sender] = Info(caps, encryptionKey, endpoint);
        nodes.push(msg.sender);
        token.safeTransferFrom(msg.sender, address(this), stake);
        emit Registered(msg.sender, stake, caps, encryptionKey, endpoint);
    }

    /// @notice Changes what the node advertises.
    function update(Capabilities calldata caps, bytes32 encryptionKey, string calldata endpoint) external {
        if (!stakes[msg.sender].registered) revert NotRegistered();
        infos[msg.sender] = Info(caps, encryptionKey, endpoint);
        emit Updated(msg.sender, caps, encryptionKey, endpoint);
    }

    /// @notice Adds to the node's active stake.
    function addStake(uint96 amount) external {
        Stake storage s = stakes[msg.sender];
        if (!s.registered) revert NotRegistered();
        if (amount == 0) revert ZeroAmount();
        s.staked += amount;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit StakeAdded(msg.sender, amount, s.staked);
    }

    /// @notice Starts unbonding `amount`; it can be withdrawn after `unbondingDelay` (restarted by each unbond).
    /// @dev Below `minStake` the node stops being assignable, but what it owes to running jobs stays slashable.
    function unbond(uint96 amount) external {
        Stake storage s = stakes[msg.sender];
        if (!s.registered) revert NotRegistered();
        if (amount == 0) revert ZeroAmount();
        if (amount > s.staked) revert InsufficientStake(amount, s.staked);
        s.staked -= amount;
        s.unbonding += amount;
        uint40 readyAt = uint40(block.timestamp) + unbondingDelay;
        s.unbondReadyAt = readyAt;
        emit UnbondStarted(msg.sender, amount, readyAt);
    }

    /// @notice Withdraws everything whose unbonding delay has passed.
    function withdraw() external {
        Stake storage s = stakes[msg.sender];
        uint256 amount = s.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        if (block.timestamp < s.unbondReadyAt) revert StillUnbonding(s.unbondReadyAt);
        s.unbonding = 0;
        token.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    // ---- JobMarket ----

    /// @notice Whether `node` may be assigned work now.
    function isActive(address node) external view returns (bool) {
        Stake storage s = stakes[node];
        return s.registered && s.staked >= minStake;
    }

    /// @notice Takes `bps`/10000 of the node's stake (active first, then unbonding) and sends it to `to`.
    function slash(address node, uint256 bps, address to) external onlyJobMarket returns (uint256 slashed) {
        if (bps > 10_000) revert BpsTooHigh(bps);
        Stake storage s = stakes[node];
        uint256 total = uint256(s.staked) + s.unbonding;
        slashed = total * bps / 10_000;
        if (slashed == 0) return 0;
        uint256 fromStaked = slashed <= s.staked ? slashed : s.staked;
        s.staked -= uint96(fromStaked);
        s.unbonding -= uint96(slashed - fromStaked);
        token.safeTransfer(to, slashed);
        emit Slashed(node, slashed, to);
    }

    // ---- views ----

    function nodeCount() external view returns (uint256) {
        return nodes.length;
    }

    function info(address node) external view returns (Info memory) {
        return infos[node];
    }

    // ---- governance ----

    /// @notice Wires the one JobMarket allowed to slash. Set once, at deployment.
    function setJobMarket(address market) external onlyOwner {
        if (jobMarket != address(0)) revert JobMarketAlreadySet();
        if (market == address(0)) revert ZeroAddress();
        jobMarket = market;
        emit JobMarketSet(market);
    }

    function setMinStake(uint96 value) external onlyOwner {
        _bound("minStake", value, minStakeFloor, minStakeCap);
        minStake = value;
        emit MinStakeSet(value);
    }

    /// @dev Must stay longer than the JobMarket's longest job, or a provider could unbond out of a slash.
    function setUnbondingDelay(uint40 value) external onlyOwner {
        _bound("unbondingDelay", value, 0, maxUnbondingDelay);
        if (jobMarket != address(0)) {
            uint40 maxLife = IJobLifetime(jobMarket).maxJobLifetime();
            if (value <= maxLife) revert DelayShorterThanJobs(value, maxLife);
        }
        unbondingDelay = value;
        emit UnbondingDelaySet(value);
    }

    function _bound(bytes32 name, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert OutOfBounds(name, value, min, max);
    }
}
