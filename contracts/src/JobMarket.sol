// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {INodeRegistry} from "./NodeRegistry.sol";
import {IResultVerifier} from "./IResultVerifier.sol";
import {IWorkLedger} from "./Rewards.sol";

/// @title JobMarket
/// @notice Escrow, assignment, commit/reveal verification and payment of Ocean AI jobs.
/// @dev State machine (docs/protocol.md has the full table):
///
///   createJob ─► Open ──(r providers: offers at creation or accept)──► Assigned
///   Open     ── cancel (requester) or expire after commitDeadline ──► Failed (full refund)
///   Assigned ── reveal with ≥ quorum matching commitments ──► Finalized (pay, slash, refund rest)
///   Assigned ── submitProof (Mode.Proof) ──► Finalized
///   Assigned ── expire after revealDeadline ──► Failed (full refund)
///
///   Every non-final state has a deadline after which anyone can move it to a final one, so no job and no token
///   is stuck. Payments are pull-based (`withdraw`). To keep a 3-replica job cheap, only three storage slots are
///   written per job: the provider list lives in calldata and events and is bound by `assignmentHash`, and
///   commitments may arrive as EIP-712 signatures (compact, EIP-2098) inside the reveal instead of one
///   transaction per provider. The market is also the ledger of verified work for `Rewards`: each account's
///   balance and its work units of the current epoch share one storage slot, so recording work costs nothing
///   beyond paying for it.
contract JobMarket is Ownable, EIP712, IWorkLedger {
    using SafeERC20 for IERC20;

    enum Mode {
        None, // one provider, its result accepted as is
        Quorum, // r providers, a majority of matching commitments decides
        Proof // one provider, paid when an IResultVerifier accepts its proof
    }

    enum State {
        Nonexistent,
        Open,
        Assigned,
        Finalized,
        Failed
    }

    /// @dev Three slots. Fee and slash rates are copied at creation so governance cannot change a running job.
    struct Job {
        // slot 0
        address requester;
        uint40 commitDeadline;
        uint8 replicas;
        uint8 quorum;
        Mode mode;
        State state;
        uint8 assigned;
        // slot 1
        uint96 pricePerReplica;
        uint40 revealDeadline;
        uint16 feeBps;
        uint16 slashBps;
        // slot 2
        bytes32 assignmentHash;
    }

    /// @notice A provider in a job's assignment, in order. `price` is what it is paid if its result is accepted.
    struct Assignment {
        address provider;
        uint96 price;
    }

    /// @notice A provider's signed agreement to run job `jobId` for at most `price` (EIP-712 `Offer`).
    struct Offer {
        address provider;
        uint96 price;
        uint40 expiry;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A provider's signed commitment (EIP-712 `Commit`), delivered off-chain and submitted by the revealer.
    struct SignedCommit {
        uint8 index;
        bytes32 commitment;
        bytes32 r;
        bytes32 vs;
    }

    /// @dev One slot per account: what the market owes it, and its verified work units in `epoch`.
    struct Account {
        uint128 owed;
        uint96 units;
        uint32 epoch;
    }

    /// @notice What a requester asks for.
    struct JobRequest {
        bytes32 salt;
        bytes manifestCid;
        uint8 replicas;
        uint8 quorum;
        Mode mode;
        uint96 pricePerReplica;
        uint40 commitDeadline;
        bytes32 proofSpec;
    }

    bytes32 public constant OFFER_TYPEHASH =
        keccak256("Offer(bytes32 jobId,address provider,uint96 price,uint40 expiry)");
    bytes32 public constant COMMIT_TYPEHASH = keccak256("Commit(bytes32 jobId,bytes32 commitment)");
    uint256 public constant MAX_REPLICAS = 16;
    /// @notice Providers need time after the commit deadline to get a reveal included.
    uint40 public constant MIN_REVEAL_WINDOW = 1 minutes;

    IERC20 public immutable token;
    INodeRegistry public immutable registry;
    /// @notice Start and length of the work-accounting epochs that `Rewards` pays out.
    uint256 public immutable genesis;
    uint256 public immutable epochLength;

    address public treasury;
    IResultVerifier public proofVerifier;
    uint16 public feeBps;
    uint16 public slashBps;
    uint40 public revealWindow;
    uint40 public maxJobDuration;
    /// @notice After the job limits were lowered, jobs created under the old ones may run until
    ///         `oldLifetimeEnds`; until then `maxJobLifetime()` reports `oldLifetime`.
    uint40 public oldLifetime;
    uint40 public oldLifetimeEnds;

    mapping(bytes32 jobId => Job) public jobs;
    mapping(bytes32 jobId => mapping(address provider => bytes32)) public commitments;
    mapping(bytes32 jobId => bytes32) public proofSpecs;
    mapping(address account => Account) public accounts;
    /// @notice Work units of finished epochs, written when an account first works in a later epoch.
    mapping(address account => mapping(uint256 epoch => uint256)) public pastUnits;
    /// @notice Total verified work units per epoch.
    mapping(uint256 epoch => uint256) public epochUnits;

    event JobCreated(
        bytes32 indexed jobId,
        address indexed requester,
        bytes manifestCid,
        uint8 replicas,
        uint8 quorum,
        Mode mode,
        uint96 pricePerReplica,
        uint40 commitDeadline,
        uint40 revealDeadline
    );
    event ProviderAssigned(bytes32 indexed jobId, address indexed provider, uint8 index, uint96 price);
    event Committed(bytes32 indexed jobId, address indexed provider, bytes32 commitment);
    event JobFinalized(bytes32 indexed jobId, bytes resultCid, uint8 matches, uint256 refund);
    event ProviderPaid(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event ProviderSlashed(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event JobFailed(bytes32 indexed jobId, uint256 refund);
    event Withdrawn(address indexed account, uint256 amount);
    event ParameterSet(bytes32 indexed name, uint256 value);
    event TreasurySet(address treasury);
    event ProofVerifierSet(address verifier);

    error ZeroReplicas();
    error TooManyReplicas(uint256 replicas);
    error QuorumOutOfRange(uint256 quorum, uint256 replicas);
    error ModeNeedsOneReplica(Mode mode);
    error DeadlineOutOfRange(uint256 deadline);
    error ZeroPrice();
    error JobExists(bytes32 jobId);
    error UnknownJob(bytes32 jobId);
    error WrongState(State state);
    error TooManyOffers(uint256 offers, uint256 replicas);
    error OfferExpired(address provider);
    error OfferAbovePrice(address provider, uint256 price, uint256 cap);
    error BadSignature(address provider);
    error ProviderNotActive(address provider);
    error ProviderAlreadyAssigned(address provider);
    error AssignmentMismatch();
    error CommitClosed(uint256 deadline);
    error AlreadyCommitted();
    error ZeroCommitment();
    error RevealClosed(uint256 deadline);
    error RevealTooEarly(uint256 commitDeadline);
    error NotParticipant(address caller);
    error QuorumNotReached(uint256 matches, uint256 quorum);
    error BadCommitIndex(uint256 index);
    error NotRequester();
    error NotExpired(uint256 deadline);
    error InvalidProof();
    error NoVerifier();
    error NothingOwed();
    error BpsTooHigh(uint256 bps);
    error ZeroAddress();
    error LifetimeExceedsUnbonding(uint256 lifetime, uint256 unbondingDelay);
    error ZeroEpochLength();
    error RevealWindowTooShort(uint256 window, uint256 minimum);

    constructor(
        IERC20 token_,
        INodeRegistry registry_,
        address owner_,
        address treasury_,
        uint16 feeBps_,
        uint16 slashBps_,
        uint40 revealWindow_,
        uint40 maxJobDuration_,
        uint256 epochLength_
    ) Ownable(owner_) EIP712("Ocean AI JobMarket", "1") {
        if (epochLength_ == 0) revert ZeroEpochLength();
        if (treasury_ == address(0)) revert ZeroAddress();
        if (feeBps_ > 10_000) revert BpsTooHigh(feeBps_);
        if (slashBps_ > 10_000) revert BpsTooHigh(slashBps_);
        token = token_;
        registry = registry_;
        genesis = block.timestamp;
        epochLength = epochLength_;
        treasury = treasury_;
        feeBps = feeBps_;
        slashBps = slashBps_;
        revealWindow = revealWindow_;
        maxJobDuration = maxJobDuration_;
        if (revealWindow_ < MIN_REVEAL_WINDOW) revert RevealWindowTooShort(revealWindow_, MIN_REVEAL_WINDOW);
        _checkLifetime(maxJobDuration_, revealWindow_);
    }

    // =========================================================================================================
    // Requester
    // =========================================================================================================

    /// @notice The id a request from `requester` with `salt` gets, so offers can be signed before creation.
    function jobIdOf(address requester, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(requester, salt));
    }

    /// @notice Creates a job, escrows `pricePerReplica * replicas` and assigns the providers of `offers`.
    /// @dev Fewer offers than replicas leave the job Open for `accept`. Needs an allowance (see createJobWithPermit).
    function createJob(JobRequest calldata req, Offer[] calldata offers) external returns (bytes32 jobId) {
        jobId = _create(req, offers);
    }

    /// @notice `createJob` with an EIP-2612 permit for the escrow, so a requester needs one transaction.
    /// @dev The permit is tried, not required: if someone front-ran it, the allowance it set is used anyway.
    function createJobWithPermit(
        JobRequest calldata req,
        Offer[] calldata offers,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (bytes32 jobId) {
        uint256 budget = uint256(req.pricePerReplica) * req.replicas;
        try IERC20Permit(address(token)).permit(msg.sender, address(this), budget, permitDeadline, v, r, s) {} catch {}
        jobId = _create(req, offers);
    }

    /// @notice The requester withdraws an Open (not fully assigned) job and gets the escrow back.
    function cancel(bytes32 jobId) external {
        Job storage job = jobs[jobId];
        if (job.state == State.Nonexistent) revert UnknownJob(jobId);
        if (job.requester != msg.sender) revert NotRequester();
        if (job.state != State.Open) revert WrongState(job.state);
        _fail(jobId, job);
    }

    // =========================================================================================================
    // Providers
    // =========================================================================================================

    /// @notice Takes a free replica slot of an Open job at its `pricePerReplica`.
    /// @param current The job's assignment so far (from `ProviderAssigned` events), checked against its hash.
    function accept(bytes32 jobId, Assignment[] calldata current) external {
        Job storage job = jobs[jobId];
        if (job.state != State.Open) revert WrongState(job.state);
        if (block.timestamp > job.commitDeadline) revert CommitClosed(job.commitDeadline);
        if (keccak256(abi.encode(current)) != job.assignmentHash) revert AssignmentMismatch();
        for (uint256 i; i < current.length; ++i) {
            if (current[i].provider == msg.sender) revert ProviderAlreadyAssigned(msg.sender);
        }
        if (!registry.isActive(msg.sender)) revert ProviderNotActive(msg.sender);
        Assignment[] memory next = new Assignment[](current.length + 1);
        for (uint256 i; i < current.length; ++i) {
            next[i] = current[i];
        }
        uint96 price = job.pricePerReplica;
        next[current.length] = Assignment(msg.sender, price);
        job.assignmentHash = keccak256(abi.encode(next));
        uint8 index = job.assigned;
        job.assigned = index + 1;
        if (index + 1 == job.replicas) job.state = State.Assigned;
        emit ProviderAssigned(jobId, msg.sender, index, price);
    }

    /// @notice Commits `keccak256(abi.encodePacked(resultCid, msg.sender))` before the commit deadline.
    /// @dev Membership is checked at reveal time against the assignment; a non-member's commit is never read.
    function commit(bytes32 jobId, bytes32 commitment) external {
        Job storage job = jobs[jobId];
        State state = job.state;
        if (state != State.Assigned && state != State.Open) revert WrongState(state);
        if (block.timestamp > job.commitDeadline) revert CommitClosed(job.commitDeadline);
        if (commitment == bytes32(0)) revert ZeroCommitment();
        if (commitments[jobId][msg.sender] != bytes32(0)) revert AlreadyCommitted();
        commitments[jobId][msg.sender] = commitment;
        emit Committed(jobId, msg.sender, commitment);
    }

    /// @notice Reveals the result CID; with at least `quorum` matching commitments the job is settled.
    /// @dev Callable by the requester or any assigned provider. Before the commit deadline it needs a commitment
    ///      from every provider (so a requester cannot settle early to skip a slower honest provider); after it,
    ///      until the reveal deadline, whatever was committed counts. A CID that nobody computed cannot reach
    ///      quorum, so a requester cannot dodge payment: the providers reveal the real one themselves.
    function reveal(
        bytes32 jobId,
        Assignment[] calldata assignment,
        bytes calldata resultCid,
        SignedCommit[] calldata signed
    ) external {
        Job storage job = jobs[jobId];
        if (job.state != State.Assigned) revert WrongState(job.state);
        if (keccak256(abi.encode(assignment)) != job.assignmentHash) revert AssignmentMismatch();
        if (block.timestamp > job.revealDeadline) revert RevealClosed(job.revealDeadline);
        if (job.mode == Mode.Proof) revert WrongState(job.state);

        bytes32[] memory commits = _signedCommits(jobId, assignment, signed);
        (uint256 matches, bool complete, bool isParticipant) = _countMatches(jobId, assignment, resultCid, commits);
        if (msg.sender == job.requester) isParticipant = true;
        if (!isParticipant) revert NotParticipant(msg.sender);
        if (!complete && block.timestamp <= job.commitDeadline) revert RevealTooEarly(job.commitDeadline);
        if (matches < job.quorum) revert QuorumNotReached(matches, job.quorum);

        _settle(jobId, job, assignment, resultCid, commits, uint8(matches));
    }

    /// @notice Mode.Proof: the assigned provider submits its result with a proof; paid if the verifier accepts.
    function submitProof(bytes32 jobId, Assignment[] calldata assignment, bytes calldata result, bytes calldata proof)
        external
    {
        Job storage job = jobs[jobId];
        if (job.state != State.Assigned) revert WrongState(job.state);
        if (job.mode != Mode.Proof) revert WrongState(job.state);
        if (keccak256(abi.encode(assignment)) != job.assignmentHash) revert AssignmentMismatch();
        if (assignment[0].provider != msg.sender) revert NotParticipant(msg.sender);
        if (block.timestamp > job.commitDeadline) revert CommitClosed(job.commitDeadline);
        IResultVerifier verifier = proofVerifier;
        if (address(verifier) == address(0)) revert NoVerifier();
        if (!verifier.verify(jobId, proofSpecs[jobId], result, proof)) revert InvalidProof();
        bytes32[] memory commits = new bytes32[](1);
        commits[0] = keccak256(abi.encodePacked(result, msg.sender));
        _settle(jobId, job, assignment, result, commits, 1);
    }

    /// @notice Moves a job whose deadline passed without settlement to Failed and refunds the requester.
    /// @dev Open jobs expire after the commit deadline, Assigned ones after the reveal deadline. Anyone may call.
    function expire(bytes32 jobId) external {
        Job storage job = jobs[jobId];
        State state = job.state;
        if (state == State.Open) {
            if (block.timestamp <= job.commitDeadline) revert NotExpired(job.commitDeadline);
        } else if (state == State.Assigned) {
            uint256 deadline = job.mode == Mode.Proof ? job.commitDeadline : job.revealDeadline;
            if (block.timestamp <= deadline) revert NotExpired(deadline);
        } else {
            revert WrongState(state);
        }
        _fail(jobId, job);
    }

    /// @notice Pays out everything owed to the caller (providers' earnings, refunds, the treasury's fees).
    function withdraw() external {
        Account storage a = accounts[msg.sender];
        uint256 amount = a.owed;
        if (amount == 0) revert NothingOwed();
        a.owed = 0;
        token.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    // =========================================================================================================
    // Views
    // =========================================================================================================

    /// @notice OCAT the market owes `account`, withdrawable with `withdraw`.
    function owed(address account) external view returns (uint256) {
        return accounts[account].owed;
    }

    function currentEpoch() public view returns (uint256) {
        return (block.timestamp - genesis) / epochLength;
    }

    /// @notice Verified work units of `account` in `epoch` (the OCAT it was paid for accepted results).
    function workUnits(address account, uint256 epoch) external view returns (uint256) {
        Account memory a = accounts[account];
        return a.epoch == epoch ? a.units : pastUnits[account][epoch];
    }

    /// @notice The longest a job can stay non-final (the registry keeps unbonding longer than this).
    function maxJobLifetime() public view returns (uint40) {
        uint40 current = maxJobDuration + revealWindow;
        if (block.timestamp < oldLifetimeEnds && oldLifetime > current) return oldLifetime;
        return current;
    }

    /// @notice EIP-712 digest a provider signs to offer to run `jobId` for `price` until `expiry`.
    function offerDigest(bytes32 jobId, address provider, uint96 price, uint40 expiry) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(OFFER_TYPEHASH, jobId, provider, price, expiry)));
    }

    /// @notice EIP-712 digest a provider signs to commit to `commitment` for `jobId`.
    function commitDigest(bytes32 jobId, bytes32 commitment) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(COMMIT_TYPEHASH, jobId, commitment)));
    }

    /// @notice The commitment a provider makes to a result.
    function commitmentOf(bytes calldata resultCid, address provider) external pure returns (bytes32) {
        return keccak256(abi.encodePacked(resultCid, provider));
    }

    // =========================================================================================================
    // Governance (owner = timelock)
    // =========================================================================================================

    function setFeeBps(uint16 value) external onlyOwner {
        if (value > 10_000) revert BpsTooHigh(value);
        feeBps = value;
        emit ParameterSet("feeBps", value);
    }

    function setSlashBps(uint16 value) external onlyOwner {
        if (value > 10_000) revert BpsTooHigh(value);
        slashBps = value;
        emit ParameterSet("slashBps", value);
    }

    function setRevealWindow(uint40 value) external onlyOwner {
        if (value < MIN_REVEAL_WINDOW) revert RevealWindowTooShort(value, MIN_REVEAL_WINDOW);
        _checkLifetime(maxJobDuration, value);
        _keepOldLifetime();
        revealWindow = value;
        emit ParameterSet("revealWindow", value);
    }

    function setMaxJobDuration(uint40 value) external onlyOwner {
        _checkLifetime(value, revealWindow);
        _keepOldLifetime();
        maxJobDuration = value;
        emit ParameterSet("maxJobDuration", value);
    }

    function setTreasury(address value) external onlyOwner {
        if (value == address(0)) revert ZeroAddress();
        treasury = value;
        emit TreasurySet(value);
    }

    function setProofVerifier(IResultVerifier value) external onlyOwner {
        proofVerifier = value;
        emit ProofVerifierSet(address(value));
    }

    // =========================================================================================================
    // Internals
    // =========================================================================================================

    function _create(JobRequest calldata req, Offer[] calldata offers) internal returns (bytes32 jobId) {
        uint256 r = req.replicas;
        if (r == 0) revert ZeroReplicas();
        if (r > MAX_REPLICAS) revert TooManyReplicas(r);
        // A strict majority makes the winning result unique.
        if (req.quorum == 0 || req.quorum > r || 2 * uint256(req.quorum) <= r) revert QuorumOutOfRange(req.quorum, r);
        if (req.mode != Mode.Quorum && r != 1) revert ModeNeedsOneReplica(req.mode);
        if (req.pricePerReplica == 0) revert ZeroPrice();
        if (req.commitDeadline <= block.timestamp || req.commitDeadline > block.timestamp + maxJobDuration) {
            revert DeadlineOutOfRange(req.commitDeadline);
        }
        if (offers.length > r) revert TooManyOffers(offers.length, r);
        jobId = jobIdOf(msg.sender, req.salt);
        Job storage job = jobs[jobId];
        if (job.state != State.Nonexistent) revert JobExists(jobId);

        Assignment[] memory assignment = _verifyOffers(jobId, req.pricePerReplica, offers);

        uint40 revealDeadline = req.commitDeadline + revealWindow;
        job.requester = msg.sender;
        job.commitDeadline = req.commitDeadline;
        job.replicas = uint8(r);
        job.quorum = req.quorum;
        job.mode = req.mode;
        job.state = offers.length == r ? State.Assigned : State.Open;
        job.assigned = uint8(offers.length);
        job.pricePerReplica = req.pricePerReplica;
        job.revealDeadline = revealDeadline;
        job.feeBps = feeBps;
        job.slashBps = slashBps;
        job.assignmentHash = keccak256(abi.encode(assignment));
        if (req.mode == Mode.Proof) proofSpecs[jobId] = req.proofSpec;

        _emitCreated(jobId, req, revealDeadline);
        for (uint256 i; i < assignment.length; ++i) {
            emit ProviderAssigned(jobId, assignment[i].provider, uint8(i), assignment[i].price);
        }
        token.safeTransferFrom(msg.sender, address(this), uint256(req.pricePerReplica) * r);
    }

    function _verifyOffers(bytes32 jobId, uint96 cap, Offer[] calldata offers)
        internal
        view
        returns (Assignment[] memory assignment)
    {
        assignment = new Assignment[](offers.length);
        for (uint256 i; i < offers.length; ++i) {
            Offer calldata o = offers[i];
            if (o.expiry < block.timestamp) revert OfferExpired(o.provider);
            if (o.price > cap) revert OfferAbovePrice(o.provider, o.price, cap);
            for (uint256 k; k < i; ++k) {
                if (offers[k].provider == o.provider) revert ProviderAlreadyAssigned(o.provider);
            }
            if (ECDSA.recover(offerDigest(jobId, o.provider, o.price, o.expiry), o.r, o.vs) != o.provider) {
                revert BadSignature(o.provider);
            }
            if (!registry.isActive(o.provider)) revert ProviderNotActive(o.provider);
            assignment[i] = Assignment(o.provider, o.price);
        }
    }

    function _emitCreated(bytes32 jobId, JobRequest calldata req, uint40 revealDeadline) internal {
        emit JobCreated(
            jobId,
            msg.sender,
            req.manifestCid,
            req.replicas,
            req.quorum,
            req.mode,
            req.pricePerReplica,
            req.commitDeadline,
            revealDeadline
        );
    }

    /// @dev Pays every provider whose commitment matches `result`, slashes those that committed to something
    ///      else, and refunds the rest of the escrow. Providers that never committed are neither paid nor slashed.
    function _settle(
        bytes32 jobId,
        Job storage job,
        Assignment[] calldata assignment,
        bytes calldata result,
        bytes32[] memory commits,
        uint8 matches
    ) internal {
        job.state = State.Finalized;
        Payout memory p = Payout(0, 0, job.feeBps, currentEpoch());
        for (uint256 i; i < assignment.length; ++i) {
            address provider = assignment[i].provider;
            bytes32 c = commits[i];
            if (c == bytes32(0)) continue;
            if (c == keccak256(abi.encodePacked(result, provider))) {
                _pay(jobId, p, provider, assignment[i].price);
            } else {
                uint256 slashed = registry.slash(provider, job.slashBps, treasury);
                emit ProviderSlashed(jobId, provider, slashed);
            }
        }
        if (p.fees != 0) accounts[treasury].owed += uint128(p.fees);
        uint256 refund = uint256(job.pricePerReplica) * job.replicas - p.paid;
        if (refund != 0) accounts[job.requester].owed += uint128(refund);
        epochUnits[p.epoch] += p.paid;
        emit JobFinalized(jobId, result, matches, refund);
    }

    /// @dev Accumulators of one settlement (a struct, to stay within the EVM's stack).
    struct Payout {
        uint256 paid;
        uint256 fees;
        uint256 feeBps;
        uint256 epoch;
    }

    /// @dev Credits a provider's pay and work units in one SSTORE; rolls a finished epoch's units into
    ///      `pastUnits` the first time the provider works in a new epoch.
    function _pay(bytes32 jobId, Payout memory p, address provider, uint96 price) internal {
        uint256 fee = uint256(price) * p.feeBps / 10_000;
        p.paid += price;
        p.fees += fee;
        Account memory a = accounts[provider];
        if (a.epoch != p.epoch) {
            if (a.units != 0) pastUnits[provider][a.epoch] = a.units;
            a.epoch = uint32(p.epoch);
            a.units = 0;
        }
        a.owed += uint128(price - fee);
        // Saturate rather than revert: a settlement must never be blocked by reward bookkeeping.
        uint256 units = uint256(a.units) + price;
        a.units = units > type(uint96).max ? type(uint96).max : uint96(units);
        accounts[provider] = a;
        emit ProviderPaid(jobId, provider, price - fee);
    }

    /// @dev Commitments delivered as EIP-712 signatures, by assignment index (zero where none was given).
    function _signedCommits(bytes32 jobId, Assignment[] calldata assignment, SignedCommit[] calldata signed)
        internal
        view
        returns (bytes32[] memory commits)
    {
        commits = new bytes32[](assignment.length);
        for (uint256 k; k < signed.length; ++k) {
            SignedCommit calldata sc = signed[k];
            if (sc.index >= assignment.length) revert BadCommitIndex(sc.index);
            address provider = assignment[sc.index].provider;
            if (ECDSA.recover(commitDigest(jobId, sc.commitment), sc.r, sc.vs) != provider) {
                revert BadSignature(provider);
            }
            commits[sc.index] = sc.commitment;
        }
    }

    /// @dev Fills missing commitments from storage and counts those that match `resultCid`.
    function _countMatches(
        bytes32 jobId,
        Assignment[] calldata assignment,
        bytes calldata resultCid,
        bytes32[] memory commits
    ) internal view returns (uint256 matches, bool complete, bool callerAssigned) {
        complete = true;
        for (uint256 i; i < assignment.length; ++i) {
            address provider = assignment[i].provider;
            if (provider == msg.sender) callerAssigned = true;
            if (commits[i] == bytes32(0)) commits[i] = commitments[jobId][provider];
            if (commits[i] == bytes32(0)) complete = false;
            else if (commits[i] == keccak256(abi.encodePacked(resultCid, provider))) ++matches;
        }
    }

    function _fail(bytes32 jobId, Job storage job) internal {
        job.state = State.Failed;
        uint256 refund = uint256(job.pricePerReplica) * job.replicas;
        accounts[job.requester].owed += uint128(refund);
        emit JobFailed(jobId, refund);
    }

    /// @dev Called before the limits change: jobs created until now may end as late as now + the current lifetime,
    ///      so until then the registry must keep unbonding longer than the lifetime in force now.
    function _keepOldLifetime() internal {
        uint40 end = uint40(block.timestamp) + maxJobDuration + revealWindow;
        if (oldLifetimeEnds > end) end = oldLifetimeEnds;
        oldLifetime = maxJobLifetime();
        oldLifetimeEnds = end;
    }

    function _checkLifetime(uint40 duration, uint40 window) internal view {
        uint40 delay = registry.unbondingDelay();
        if (uint256(duration) + window >= delay) revert LifetimeExceedsUnbonding(uint256(duration) + window, delay);
    }
}
