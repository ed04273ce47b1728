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
/// @notice Escrow, assignment, commit/reveal verification, arbitration and payment of Ocean AI jobs.
/// @dev State machine (docs/protocol.md has the full table):
///
///   createJob (one signed offer per replica) ─► Assigned
///   Assigned    ── reveal with ≥ quorum matching commitments ──► Finalized (pay, slash, no-show bonds, refund)
///   Assigned    ── reassign a silent slot after `rebalanceAt` ──► Assigned (the silent provider released)
///   Assigned    ── submitProof (Mode.Proof) ──► Finalized
///   Assigned    ── expire after the reveal deadline, something committed (Mode.Quorum) ──► Arbitration
///   Assigned    ── expire otherwise ──► Failed (refund, no-show bonds)
///   Arbitration ── reveal with a majority of all 2r commitments ──► Finalized
///   Arbitration ── expire after its reveal deadline ──► Failed (refund, nobody slashed)
///
///   A job is born fully assigned: there is no half-filled state in which a provider could work for a job the
///   requester can still cancel. Every non-final state has a deadline after which anyone can move it on, so no
///   job and no token is stuck. Payments are pull-based (`withdraw`). To keep a 3-replica job cheap, only three
///   storage slots are written per job: the provider list lives in calldata and events and is bound by
///   `assignmentHash`, and commitments may arrive as EIP-712 signatures (compact, EIP-2098) inside the reveal
///   instead of one transaction per provider. The market is also the ledger of verified work for `Rewards`:
///   work units are the fees paid, counted in the slot that holds the account's balance.
///
///   Every governable parameter has bounds fixed at deployment (immutable): governance moves inside them and
///   never outside, whatever it votes.
contract JobMarket is Ownable, EIP712, IWorkLedger {
    using SafeERC20 for IERC20;

    enum Mode {
        None, // one provider, its result accepted as is
        Quorum, // r providers, a majority of matching commitments decides; disagreement goes to arbitration
        Proof // one provider, paid when the job's IResultVerifier accepts its proof
    }

    enum State {
        Nonexistent,
        Assigned,
        Finalized,
        Failed,
        Arbitration
    }

    /// @dev Three slots. Fee, slash and bond rates and the arbitration window are copied at creation so governance
    ///      cannot change a running job (its reveal window is `revealDeadline - commitDeadline`).
    struct Job {
        // slot 0
        address requester;
        uint40 commitDeadline;
        uint8 replicas;
        uint8 quorum;
        Mode mode;
        State state;
        /// A slot was handed on (`reassign`): the requester chose part of the majority, so nobody is slashed or
        /// bonded when the job settles (every slot is then treated like a drafted arbiter).
        bool reassigned;
        // slot 1
        uint96 pricePerReplica;
        uint40 revealDeadline;
        uint16 feeBps;
        uint16 slashBps;
        uint16 noShowBps;
        uint40 arbitrationWindow;
        uint32 rebalanceAt;
        // slot 2
        bytes32 assignmentHash;
    }

    /// @notice A provider in a job's assignment, in order. `price` is what it is paid if its result is accepted.
    struct Assignment {
        address provider;
        uint96 price;
    }

    /// @notice A provider's signed agreement (EIP-712 `Offer`) to run job `jobId` for at most `price` on the
    ///         terms whose hash is `termsHash(req, providers)`.
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
    /// @dev `limitsHash` is `keccak256` of the manifest's canonical limits (docs/protocol.md §3); providers check
    ///      the manifest they run against it. `lateManifest` says the manifest is made after the offers (private
    ///      jobs seal inputs to the providers that offered), so offers could not sign its CID. `rebalanceAt`
    ///      (0: never) is the time from which a provider that has not committed may be left out: a quorum that
    ///      agrees by then settles without it, and the requester may hand its slot to another provider
    ///      (`reassign`). It is part of the terms every provider signs.
    struct JobRequest {
        bytes32 salt;
        bytes manifestCid;
        bool lateManifest;
        uint8 replicas;
        uint8 quorum;
        Mode mode;
        uint96 pricePerReplica;
        uint40 commitDeadline;
        bytes32 proofSpec;
        bytes32 limitsHash;
        uint32 rebalanceAt;
    }

    /// @notice Settings chosen at deployment; the `Bounds` say how far governance may move each later.
    struct Params {
        address treasury;
        uint16 feeBps;
        uint16 slashBps;
        uint16 noShowBps;
        uint40 revealWindow;
        uint40 maxJobDuration;
        uint40 arbitrationWindow;
        uint80 minRewardFee;
        uint256 epochLength;
    }

    /// @notice Immutable limits of every setter (docs/protocol.md, "Governable parameters").
    struct Bounds {
        uint16 maxFeeBps;
        uint16 minSlashBps;
        uint16 maxSlashBps;
        uint16 maxNoShowBps;
        uint40 minRevealWindow;
        uint40 maxRevealWindow;
        uint40 minJobDuration;
        uint40 maxJobDuration;
        uint40 minArbitrationWindow;
        uint40 maxArbitrationWindow;
        uint80 maxMinRewardFee;
    }

    /// @notice A job's proof verification, fixed at creation: a verifier changed later never touches it.
    struct ProofTerms {
        bytes32 spec;
        IResultVerifier verifier;
    }

    bytes32 public constant OFFER_TYPEHASH =
        keccak256("Offer(bytes32 jobId,address provider,uint96 price,uint40 expiry,bytes32 terms)");
    bytes32 public constant COMMIT_TYPEHASH = keccak256("Commit(bytes32 jobId,bytes32 commitment)");
    /// @dev Sets the terms of an offer for a slot handed over by `reassign` apart from those of a creation offer.
    bytes32 internal constant REASSIGN_TAG = keccak256("Ocean AI reassignment");
    uint256 public constant MAX_REPLICAS = 16;
    /// @dev Arbiters are drawn by trying random registry entries; a bounded number of tries keeps the gas bounded.
    uint256 internal constant DRAW_TRIES_PER_ARBITER = 4;
    /// @dev At most this many consecutive entries are swept after the random tries.
    uint256 internal constant DRAW_SWEEP = 64;
    /// @dev Stored for an original provider that had not committed when arbitration began: it never matches a
    ///      result, blocks a late commit, and is not slashed as a dissent (its no-show bond was already taken).
    bytes32 internal constant NO_SHOW = bytes32(uint256(1));

    IERC20 public immutable token;
    INodeRegistry public immutable registry;
    /// @notice Start and length of the work-accounting epochs that `Rewards` pays out.
    uint256 public immutable genesis;
    uint256 public immutable epochLength;

    uint16 public immutable maxFeeBps;
    uint16 public immutable minSlashBps;
    uint16 public immutable maxSlashBps;
    uint16 public immutable maxNoShowBps;
    uint40 public immutable minRevealWindow;
    uint40 public immutable maxRevealWindow;
    uint40 public immutable minJobDuration;
    uint40 public immutable maxJobDurationCap;
    uint40 public immutable minArbitrationWindow;
    uint40 public immutable maxArbitrationWindow;
    uint80 public immutable maxMinRewardFee;

    // Declared so that a settlement reads one slot (treasury, minRewardFee) and a creation one more (the rates
    // and windows): the order is the storage layout.
    address public treasury;
    /// @notice A payment whose fee is below this earns no reward units (dust jobs cannot farm the emission).
    uint80 public minRewardFee;
    uint16 public feeBps;
    uint16 public slashBps;
    uint16 public noShowBps;
    uint40 public revealWindow;
    uint40 public maxJobDuration;
    uint40 public arbitrationWindow;
    /// @notice After the job limits were lowered, jobs created under the old ones may run until
    ///         `oldLifetimeEnds`; until then `maxJobLifetime()` reports `oldLifetime`.
    uint40 internal oldLifetime;
    uint40 internal oldLifetimeEnds;
    IResultVerifier public proofVerifier;

    /// @dev Read with `jobOf` (a struct: a getter returning thirteen values is too deep for most callers' stacks).
    mapping(bytes32 jobId => Job) internal jobs;
    mapping(bytes32 jobId => mapping(address provider => bytes32)) public commitments;
    mapping(bytes32 jobId => ProofTerms) public proofTerms;
    /// @notice `keccak256(abi.encode(arbiters))` of a job in arbitration (each at the job's `pricePerReplica`).
    mapping(bytes32 jobId => bytes32) public arbitrationHash;
    mapping(address account => Account) internal accounts;
    /// @notice Work units of finished epochs, written when an account first works in a later epoch.
    mapping(address account => mapping(uint256 epoch => uint256)) public pastUnits;
    /// @notice Total verified work units (fees paid) per epoch.
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
        uint40 revealDeadline,
        bytes32 limitsHash
    );
    /// @dev Indexes `replicas..2*replicas-1` are arbiters drawn for an arbitration round.
    event ProviderAssigned(bytes32 indexed jobId, address indexed provider, uint8 index, uint96 price);
    event Committed(bytes32 indexed jobId, address indexed provider, bytes32 commitment);
    event JobFinalized(bytes32 indexed jobId, bytes resultCid, uint8 matches, uint256 refund);
    event ProviderPaid(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event ProviderSlashed(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event NoShowBondTaken(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event ArbitrationStarted(bytes32 indexed jobId, uint40 commitDeadline, uint40 revealDeadline);
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
    error OfferCountMismatch(uint256 offers, uint256 replicas);
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
    error RebalanceOutOfRange(uint256 rebalanceAt);
    error RebalanceNotOpen(uint256 rebalanceAt);
    error NotParticipant(address caller);
    error QuorumNotReached(uint256 matches, uint256 quorum);
    error BadCommitIndex(uint256 index);
    error NotExpired(uint256 deadline);
    error InvalidProof();
    error NoVerifier();
    error NothingOwed();
    error ZeroAddress();
    error LifetimeExceedsUnbonding(uint256 lifetime, uint256 unbondingDelay);
    error ZeroEpochLength();
    error OutOfBounds(bytes32 name, uint256 value, uint256 min, uint256 max);
    error BadBounds();

    constructor(IERC20 token_, INodeRegistry registry_, address owner_, Params memory p, Bounds memory b)
        Ownable(owner_)
        EIP712("Ocean AI JobMarket", "1")
    {
        if (p.epochLength == 0) revert ZeroEpochLength();
        if (
            b.maxFeeBps > 10_000 || b.maxSlashBps > 10_000 || b.maxNoShowBps > 10_000 || b.minSlashBps > b.maxSlashBps
                || b.minRevealWindow == 0 || b.minRevealWindow > b.maxRevealWindow || b.minJobDuration == 0
                || b.minJobDuration > b.maxJobDuration || b.minArbitrationWindow == 0
                || b.minArbitrationWindow > b.maxArbitrationWindow
        ) revert BadBounds();
        token = token_;
        registry = registry_;
        genesis = block.timestamp;
        epochLength = p.epochLength;
        maxFeeBps = b.maxFeeBps;
        minSlashBps = b.minSlashBps;
        maxSlashBps = b.maxSlashBps;
        maxNoShowBps = b.maxNoShowBps;
        minRevealWindow = b.minRevealWindow;
        maxRevealWindow = b.maxRevealWindow;
        minJobDuration = b.minJobDuration;
        maxJobDurationCap = b.maxJobDuration;
        minArbitrationWindow = b.minArbitrationWindow;
        maxArbitrationWindow = b.maxArbitrationWindow;
        maxMinRewardFee = b.maxMinRewardFee;

        if (p.treasury == address(0)) revert ZeroAddress();
        treasury = p.treasury;
        _bound("feeBps", p.feeBps, 0, b.maxFeeBps);
        _bound("slashBps", p.slashBps, b.minSlashBps, b.maxSlashBps);
        _bound("noShowBps", p.noShowBps, 0, b.maxNoShowBps);
        _bound("revealWindow", p.revealWindow, b.minRevealWindow, b.maxRevealWindow);
        _bound("maxJobDuration", p.maxJobDuration, b.minJobDuration, b.maxJobDuration);
        _bound("arbitrationWindow", p.arbitrationWindow, b.minArbitrationWindow, b.maxArbitrationWindow);
        _bound("minRewardFee", p.minRewardFee, 0, b.maxMinRewardFee);
        feeBps = p.feeBps;
        slashBps = p.slashBps;
        noShowBps = p.noShowBps;
        revealWindow = p.revealWindow;
        maxJobDuration = p.maxJobDuration;
        arbitrationWindow = p.arbitrationWindow;
        minRewardFee = p.minRewardFee;
        _checkLifetime(p.maxJobDuration, p.revealWindow, p.arbitrationWindow);
    }

    // =========================================================================================================
    // Requester
    // =========================================================================================================

    /// @notice The id a request from `requester` with `salt` gets on this market of this chain, so offers can be
    ///         signed before creation and no proof or signature for it is valid on any other deployment.
    function jobIdOf(address requester, bytes32 salt) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), requester, salt));
    }

    /// @notice Creates a job, escrows its budget and assigns one provider per replica from `offers`.
    /// @dev Escrow = `pricePerReplica * replicas`, plus as much again for Mode.Quorum as the arbitration deposit
    ///      (refunded with whatever was not paid). Needs an allowance (see createJobWithPermit).
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
        uint256 budget = escrowOf(req.mode, req.replicas, req.pricePerReplica);
        try IERC20Permit(address(token)).permit(msg.sender, address(this), budget, permitDeadline, v, r, s) {} catch {}
        jobId = _create(req, offers);
    }

    // =========================================================================================================
    // Providers
    // =========================================================================================================

    /// @notice Commits `keccak256(abi.encodePacked(resultCid, msg.sender))` before the commit deadline (of the
    ///         job, or of its arbitration round).
    /// @dev Membership is checked at reveal time against the assignment; a non-member's commit is never read.
    function commit(bytes32 jobId, bytes32 commitment) external {
        Job storage job = jobs[jobId];
        State state = job.state;
        if (state != State.Assigned && state != State.Arbitration) revert WrongState(state);
        if (block.timestamp > job.commitDeadline) revert CommitClosed(job.commitDeadline);
        if (commitment == bytes32(0)) revert ZeroCommitment();
        if (commitments[jobId][msg.sender] != bytes32(0)) revert AlreadyCommitted();
        commitments[jobId][msg.sender] = commitment;
        emit Committed(jobId, msg.sender, commitment);
    }

    /// @notice Reveals the result CID; with enough matching commitments the job is settled. `list` is the job's
    ///         assignment; in arbitration, the assignment followed by its arbiters.
    /// @dev Callable by the requester or any provider in `list`. A CID that nobody computed cannot reach a
    ///      majority, so a requester cannot dodge payment: the providers reveal the real one themselves.
    ///
    ///      Assigned: at least `quorum` matches. Before the commit deadline it needs a commitment from every
    ///      provider (so a requester cannot settle early to skip a slower honest provider), unless the job's
    ///      `rebalanceAt` has passed: every provider signed that it may be left out if it has not committed by
    ///      then, and such a provider is then neither paid nor bonded. After the commit deadline, until the
    ///      reveal deadline, whatever was committed counts and a silent provider loses its no-show bond.
    ///
    ///      Arbitration: a strict majority of all `2 * replicas` (`replicas + 1` matches). Original providers count
    ///      with what they committed on chain before arbitration (a signature cannot prove when it was made);
    ///      arbiters may commit on chain or sign (`signed` indexes into `list`, arbiters only). Matching
    ///      commitments are paid, dissenting ones slashed, drafted arbiters that stayed silent are neither.
    function reveal(bytes32 jobId, Assignment[] calldata list, bytes calldata resultCid, SignedCommit[] calldata signed)
        external
    {
        Job storage job = jobs[jobId];
        bool arbitration = job.state == State.Arbitration;
        _checkRevealable(jobId, job, list, arbitration);
        (bytes32[] memory commits, uint256 matches) = _countReveal(jobId, job, list, resultCid, signed, arbitration);
        _settle(jobId, job, list, resultCid, commits, uint8(matches));
    }

    /// @dev One body for both rounds: the JobMarket's code must stay under EIP-170's 24,576 bytes.
    function _checkRevealable(bytes32 jobId, Job storage job, Assignment[] calldata list, bool arbitration)
        internal
        view
    {
        uint256 r = job.replicas;
        if (arbitration ? job.state != State.Arbitration : job.state != State.Assigned || job.mode == Mode.Proof) {
            revert WrongState(job.state);
        }
        if (list.length != (arbitration ? 2 * r : r)) revert AssignmentMismatch();
        if (keccak256(abi.encode(list[:r])) != job.assignmentHash) revert AssignmentMismatch();
        if (arbitration && keccak256(abi.encode(list[r:])) != arbitrationHash[jobId]) revert AssignmentMismatch();
        if (block.timestamp > job.revealDeadline) revert RevealClosed(job.revealDeadline);
    }

    /// @dev The commitments that count (signed ones first, then on chain) and how many match `resultCid`; reverts
    ///      unless the caller may reveal now and the matches decide.
    function _countReveal(
        bytes32 jobId,
        Job storage job,
        Assignment[] calldata list,
        bytes calldata resultCid,
        SignedCommit[] calldata signed,
        bool arbitration
    ) internal view returns (bytes32[] memory commits, uint256 matches) {
        commits = _signedCommits(jobId, list, signed, arbitration ? job.replicas : 0);
        bool complete;
        bool isParticipant;
        (matches, complete, isParticipant) = _countMatches(jobId, list, resultCid, commits);
        if (!isParticipant && msg.sender != job.requester) revert NotParticipant(msg.sender);
        if (!complete && block.timestamp <= job.commitDeadline && (arbitration || !_rebalancing(job))) {
            revert RevealTooEarly(!arbitration && job.rebalanceAt != 0 ? job.rebalanceAt : job.commitDeadline);
        }
        uint256 needed = arbitration ? uint256(job.replicas) + 1 : job.quorum;
        if (matches < needed) revert QuorumNotReached(matches, needed);
    }

    /// @notice Hands slot `index` of a job to another provider once `rebalanceAt` has passed and while the commit
    ///         deadline has not, if its provider has not committed on chain. Only the requester may call. The
    ///         provider left out is released (neither paid nor bonded: it agreed to `rebalanceAt` and did not
    ///         commit by then); the new one signed `offer` over `reassignTerms` of the assignment it joins, and
    ///         gets the job's remaining time. Deadlines and escrow do not change (the new price is at most
    ///         `pricePerReplica`, which the escrow covers).
    /// @dev A provider whose result is ready protects itself by committing on chain: a commitment it only signed
    ///      off chain does not stop a reassignment.
    function reassign(bytes32 jobId, Assignment[] calldata assignment, uint8 index, Offer calldata offer) external {
        Job storage job = jobs[jobId];
        if (job.state != State.Assigned) revert WrongState(job.state);
        if (msg.sender != job.requester) revert NotParticipant(msg.sender);
        if (keccak256(abi.encode(assignment)) != job.assignmentHash) revert AssignmentMismatch();
        if (!_rebalancing(job)) revert RebalanceNotOpen(job.rebalanceAt);
        if (block.timestamp > job.commitDeadline) revert CommitClosed(job.commitDeadline);
        // (An `index` outside the assignment reverts with Panic(0x32) on this read.)
        if (commitments[jobId][assignment[index].provider] != bytes32(0)) revert AlreadyCommitted();
        if (_contains(assignment, offer.provider, assignment.length)) revert ProviderAlreadyAssigned(offer.provider);
        Assignment[] memory next = assignment;
        next[index] = Assignment(offer.provider, offer.price);
        bytes32 nextHash = keccak256(abi.encode(next));
        _checkOffer(jobId, offer, job.pricePerReplica, reassignTerms(job.assignmentHash, nextHash));
        job.assignmentHash = nextHash;
        job.reassigned = true;
        emit ProviderAssigned(jobId, offer.provider, index, offer.price);
    }

    /// @notice Mode.Proof: the assigned provider submits its result with a proof; paid if the job's verifier
    ///         (the one in force when the job was created) accepts.
    function submitProof(bytes32 jobId, Assignment[] calldata assignment, bytes calldata result, bytes calldata proof)
        external
    {
        Job storage job = jobs[jobId];
        if (job.state != State.Assigned || job.mode != Mode.Proof) revert WrongState(job.state);
        if (keccak256(abi.encode(assignment)) != job.assignmentHash) revert AssignmentMismatch();
        if (assignment[0].provider != msg.sender) revert NotParticipant(msg.sender);
        if (block.timestamp > job.commitDeadline) revert CommitClosed(job.commitDeadline);
        ProofTerms memory terms = proofTerms[jobId];
        if (address(terms.verifier) == address(0)) revert NoVerifier();
        if (!terms.verifier.verify(jobId, terms.spec, result, proof)) revert InvalidProof();
        bytes32[] memory commits = new bytes32[](1);
        commits[0] = keccak256(abi.encodePacked(result, msg.sender));
        _settle(jobId, job, assignment, result, commits, 1);
    }

    /// @notice Moves a job whose deadline passed without settlement on. Anyone may call.
    /// @dev Assigned (after the reveal deadline; Mode.Proof after the commit deadline): providers that never
    ///      committed lose their no-show bond; then a Mode.Quorum job with at least one commitment goes to
    ///      arbitration, any other fails with a full refund. Arbitration (after its reveal deadline): fails with
    ///      a full refund and nobody slashed. `assignment` is the job's assignment (ignored in arbitration).
    function expire(bytes32 jobId, Assignment[] calldata assignment) external {
        Job storage job = jobs[jobId];
        State state = job.state;
        if (state == State.Arbitration) {
            if (block.timestamp <= job.revealDeadline) revert NotExpired(job.revealDeadline);
            _fail(jobId, job);
            return;
        }
        if (state != State.Assigned) revert WrongState(state);
        uint256 deadline = job.mode == Mode.Proof ? job.commitDeadline : job.revealDeadline;
        if (block.timestamp <= deadline) revert NotExpired(deadline);
        if (keccak256(abi.encode(assignment)) != job.assignmentHash) revert AssignmentMismatch();

        bool anyCommitted;
        for (uint256 i; i < assignment.length; ++i) {
            address provider = assignment[i].provider;
            if (job.mode != Mode.Proof && commitments[jobId][provider] != bytes32(0)) {
                anyCommitted = true;
            } else {
                _takeNoShowBond(jobId, job, provider);
            }
        }
        if (job.mode == Mode.Quorum && anyCommitted && _startArbitration(jobId, job, assignment)) {
            // Marks each no-show so that a commitment it makes during arbitration does not count (only written
            // when arbitration does start: a job that simply fails needs no marks).
            for (uint256 i; i < assignment.length; ++i) {
                mapping(address => bytes32) storage c = commitments[jobId];
                if (c[assignment[i].provider] == bytes32(0)) c[assignment[i].provider] = NO_SHOW;
            }
            return;
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

    /// @notice A job as stored (all zero for an unknown id).
    function jobOf(bytes32 jobId) external view returns (Job memory) {
        return jobs[jobId];
    }

    /// @notice OCAT the market owes `account`, withdrawable with `withdraw`.
    function owed(address account) external view returns (uint256) {
        return accounts[account].owed;
    }

    function currentEpoch() public view returns (uint256) {
        return (block.timestamp - genesis) / epochLength;
    }

    /// @notice Verified work units of `account` in `epoch` (the fees of its accepted results).
    function workUnits(address account, uint256 epoch) external view returns (uint256) {
        Account memory a = accounts[account];
        return a.epoch == epoch ? a.units : pastUnits[account][epoch];
    }

    /// @notice The longest a job can stay non-final, arbitration included (the registry keeps unbonding longer).
    function maxJobLifetime() public view returns (uint40) {
        uint40 current = _lifetime(maxJobDuration, revealWindow, arbitrationWindow);
        if (block.timestamp < oldLifetimeEnds && oldLifetime > current) return oldLifetime;
        return current;
    }

    /// @notice What `createJob` escrows: the replicas' budget, and for Mode.Quorum the arbitration deposit.
    function escrowOf(Mode mode, uint256 replicas, uint256 pricePerReplica) public pure returns (uint256) {
        uint256 budget = pricePerReplica * replicas;
        return mode == Mode.Quorum ? 2 * budget : budget;
    }

    /// @notice The hash of everything a provider agrees to besides its own price: the manifest (unless it is made
    ///         later), r, q, mode, price cap, commit deadline, proof spec, limits, rebalance time and the ordered
    ///         providers.
    function termsHash(JobRequest calldata req, address[] memory providers) public pure returns (bytes32) {
        bytes32 manifest = req.lateManifest ? bytes32(0) : keccak256(req.manifestCid);
        return keccak256(
            abi.encode(
                manifest,
                req.replicas,
                req.quorum,
                req.mode,
                req.pricePerReplica,
                req.commitDeadline,
                req.proofSpec,
                req.limitsHash,
                req.rebalanceAt,
                keccak256(abi.encodePacked(providers))
            )
        );
    }

    /// @notice The `terms` of an offer to join a running job whose assignment becomes the one hashed to
    ///         `nextAssignmentHash` (`reassign`); the rest of the job's terms are on chain and cannot change.
    function reassignTerms(bytes32 assignmentHash, bytes32 nextAssignmentHash) public pure returns (bytes32) {
        return keccak256(abi.encode(REASSIGN_TAG, assignmentHash, nextAssignmentHash));
    }

    /// @notice EIP-712 digest a provider signs to offer to run `jobId` for `price` until `expiry` on `terms`.
    function offerDigest(bytes32 jobId, address provider, uint96 price, uint40 expiry, bytes32 terms)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(OFFER_TYPEHASH, jobId, provider, price, expiry, terms)));
    }

    /// @notice EIP-712 digest a provider signs to commit to `commitment` for `jobId`.
    function commitDigest(bytes32 jobId, bytes32 commitment) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(COMMIT_TYPEHASH, jobId, commitment)));
    }

    // =========================================================================================================
    // Governance (owner = timelock); every value inside its immutable bounds
    // =========================================================================================================

    function setFeeBps(uint16 value) external onlyOwner {
        _setting("feeBps", value, 0, maxFeeBps);
        feeBps = value;
    }

    function setSlashBps(uint16 value) external onlyOwner {
        _setting("slashBps", value, minSlashBps, maxSlashBps);
        slashBps = value;
    }

    function setNoShowBps(uint16 value) external onlyOwner {
        _setting("noShowBps", value, 0, maxNoShowBps);
        noShowBps = value;
    }

    function setMinRewardFee(uint80 value) external onlyOwner {
        _setting("minRewardFee", value, 0, maxMinRewardFee);
        minRewardFee = value;
    }

    function setRevealWindow(uint40 value) external onlyOwner {
        _setting("revealWindow", value, minRevealWindow, maxRevealWindow);
        _changeLifetime(maxJobDuration, value, arbitrationWindow);
        revealWindow = value;
    }

    function setMaxJobDuration(uint40 value) external onlyOwner {
        _setting("maxJobDuration", value, minJobDuration, maxJobDurationCap);
        _changeLifetime(value, revealWindow, arbitrationWindow);
        maxJobDuration = value;
    }

    function setArbitrationWindow(uint40 value) external onlyOwner {
        _setting("arbitrationWindow", value, minArbitrationWindow, maxArbitrationWindow);
        _changeLifetime(maxJobDuration, revealWindow, value);
        arbitrationWindow = value;
    }

    function setTreasury(address value) external onlyOwner {
        if (value == address(0)) revert ZeroAddress();
        treasury = value;
        emit TreasurySet(value);
    }

    /// @notice Jobs created from now on verify proofs with `value`; jobs already created keep theirs. The owner
    ///         is the timelock, so a change is public for the whole timelock delay before it applies.
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
        // Quorum mode only: a Proof-mode proof is not bound to its provider, so a slot handed on could resubmit it.
        if (
            req.rebalanceAt != 0
                && (req.mode != Mode.Quorum
                    || req.rebalanceAt <= block.timestamp
                    || req.rebalanceAt >= req.commitDeadline)
        ) {
            revert RebalanceOutOfRange(req.rebalanceAt);
        }
        // Fully assigned at birth: a job nobody is committed to pay for in full never exists on chain.
        if (offers.length != r) revert OfferCountMismatch(offers.length, r);
        jobId = jobIdOf(msg.sender, req.salt);
        Job storage job = jobs[jobId];
        if (job.state != State.Nonexistent) revert JobExists(jobId);

        Assignment[] memory assignment = _verifyOffers(jobId, req, offers);

        uint40 revealDeadline = req.commitDeadline + revealWindow;
        job.requester = msg.sender;
        job.commitDeadline = req.commitDeadline;
        job.replicas = uint8(r);
        job.quorum = req.quorum;
        job.mode = req.mode;
        job.state = State.Assigned;
        job.pricePerReplica = req.pricePerReplica;
        job.revealDeadline = revealDeadline;
        job.feeBps = feeBps;
        job.slashBps = slashBps;
        job.noShowBps = noShowBps;
        job.arbitrationWindow = arbitrationWindow;
        job.rebalanceAt = req.rebalanceAt;
        job.assignmentHash = keccak256(abi.encode(assignment));
        if (req.mode == Mode.Proof) {
            // A proof job without a verifier could never be proved, and its provider would lose its bond.
            IResultVerifier verifier = proofVerifier;
            if (address(verifier) == address(0)) revert NoVerifier();
            proofTerms[jobId] = ProofTerms(req.proofSpec, verifier);
        }

        _emitCreated(jobId, req, revealDeadline);
        for (uint256 i; i < assignment.length; ++i) {
            emit ProviderAssigned(jobId, assignment[i].provider, uint8(i), assignment[i].price);
        }
        token.safeTransferFrom(msg.sender, address(this), escrowOf(req.mode, r, req.pricePerReplica));
    }

    function _verifyOffers(bytes32 jobId, JobRequest calldata req, Offer[] calldata offers)
        internal
        view
        returns (Assignment[] memory assignment)
    {
        address[] memory providers = new address[](offers.length);
        for (uint256 i; i < offers.length; ++i) {
            providers[i] = offers[i].provider;
        }
        bytes32 terms = termsHash(req, providers);
        assignment = new Assignment[](offers.length);
        for (uint256 i; i < offers.length; ++i) {
            Offer calldata o = offers[i];
            for (uint256 k; k < i; ++k) {
                if (providers[k] == o.provider) revert ProviderAlreadyAssigned(o.provider);
            }
            _checkOffer(jobId, o, req.pricePerReplica, terms);
            assignment[i] = Assignment(o.provider, o.price);
        }
    }

    /// @dev An offer is live, within the price cap, signed by its provider over `terms`, and from an active node.
    function _checkOffer(bytes32 jobId, Offer calldata o, uint256 cap, bytes32 terms) internal view {
        if (o.expiry < block.timestamp) revert OfferExpired(o.provider);
        if (o.price > cap) revert OfferAbovePrice(o.provider, o.price, cap);
        if (ECDSA.recover(offerDigest(jobId, o.provider, o.price, o.expiry, terms), o.r, o.vs) != o.provider) {
            revert BadSignature(o.provider);
        }
        if (!registry.isActive(o.provider)) revert ProviderNotActive(o.provider);
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
            revealDeadline,
            req.limitsHash
        );
    }

    /// @dev Draws `replicas` arbiters among active providers outside the job and opens a new commit/reveal round.
    ///      Randomness is `block.prevrandao` (on Anvil and pre-merge chains a value the block producer picks):
    ///      the producer of the block, or a caller choosing in which block to call `expire`, can bias the draw
    ///      among the eligible providers, not make an ineligible one an arbiter. Returns false (the job then
    ///      fails) when too few eligible providers are found within a bounded number of tries.
    function _startArbitration(bytes32 jobId, Job storage job, Assignment[] calldata assignment)
        internal
        returns (bool)
    {
        // Fixed from the reveal deadline, not from whenever `expire` is called: the job's lifetime (and with it
        // how long stake stays slashable) must not depend on when someone gets round to it.
        uint40 commitDeadline = job.revealDeadline + job.arbitrationWindow;
        if (block.timestamp >= commitDeadline) return false;
        Assignment[] memory arbiters = _drawArbiters(jobId, job, assignment);
        if (arbiters.length == 0) return false;
        job.state = State.Arbitration;
        uint40 revealDeadline = commitDeadline + (job.revealDeadline - job.commitDeadline);
        job.commitDeadline = commitDeadline;
        job.revealDeadline = revealDeadline;
        arbitrationHash[jobId] = keccak256(abi.encode(arbiters));
        emit ArbitrationStarted(jobId, commitDeadline, revealDeadline);
        uint256 r = arbiters.length;
        for (uint256 i; i < r; ++i) {
            emit ProviderAssigned(jobId, arbiters[i].provider, uint8(r + i), arbiters[i].price);
        }
        return true;
    }

    /// @dev `replicas` active providers outside the job and other than its requester, or none if too few are found.
    function _drawArbiters(bytes32 jobId, Job storage job, Assignment[] calldata assignment)
        internal
        view
        returns (Assignment[] memory arbiters)
    {
        uint256 r = job.replicas;
        uint256 count = registry.nodeCount();
        if (count == 0) return new Assignment[](0);
        arbiters = new Assignment[](r);
        uint256 found;
        bytes32 seed = keccak256(abi.encode(block.prevrandao, jobId));
        for (uint256 t; t < DRAW_TRIES_PER_ARBITER * r + _min(count, DRAW_SWEEP) && found < r; ++t) {
            address candidate = registry.nodes(_drawIndex(seed, t, r, count));
            // Neither the job's providers nor its requester judge it.
            if (candidate == job.requester || _contains(assignment, candidate, assignment.length)) continue;
            if (_containsMem(arbiters, candidate, found)) continue;
            if (!registry.isActive(candidate)) continue;
            arbiters[found++] = Assignment(candidate, job.pricePerReplica);
        }
        if (found < r) return new Assignment[](0);
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    /// @dev Try `t` of a draw: the first `DRAW_TRIES_PER_ARBITER * r` tries are independent random entries; after
    ///      them a sweep walks consecutive entries from a random start, so that a small registry with just enough
    ///      eligible providers is always staffed (random tries alone miss one of two eligible among four ~20 % of
    ///      the time).
    function _drawIndex(bytes32 seed, uint256 t, uint256 r, uint256 count) internal pure returns (uint256) {
        uint256 random = DRAW_TRIES_PER_ARBITER * r;
        if (t < random) return uint256(keccak256(abi.encode(seed, t))) % count;
        return (uint256(keccak256(abi.encode(seed, "sweep"))) + t - random) % count;
    }

    function _contains(Assignment[] calldata list, address who, uint256 n) internal pure returns (bool) {
        for (uint256 i; i < n; ++i) {
            if (list[i].provider == who) return true;
        }
        return false;
    }

    function _containsMem(Assignment[] memory list, address who, uint256 n) internal pure returns (bool) {
        for (uint256 i; i < n; ++i) {
            if (list[i].provider == who) return true;
        }
        return false;
    }

    /// @dev Pays every provider whose commitment matches `result`, slashes those that committed to something
    ///      else, takes the no-show bond of assigned providers that never committed (arbiters excepted: they
    ///      were drafted, not volunteers), and refunds the rest of the escrow.
    function _settle(
        bytes32 jobId,
        Job storage job,
        Assignment[] calldata assignment,
        bytes calldata result,
        bytes32[] memory commits,
        uint8 matches
    ) internal {
        // In arbitration the first `replicas` slots are the originals, the rest arbiters; otherwise all originals,
        // and before the commit deadline (a settlement after `rebalanceAt`) a silent one is released, not bonded.
        uint256 originals = job.state == State.Arbitration ? job.replicas : type(uint256).max;
        bool early = job.state == State.Assigned && block.timestamp <= job.commitDeadline;
        if (job.reassigned) originals = 0;
        job.state = State.Finalized;
        Payout memory p = Payout(0, 0, job.feeBps, currentEpoch(), minRewardFee, 0);
        for (uint256 i; i < assignment.length; ++i) {
            _settleOne(jobId, job, p, assignment[i], commits[i], result, _role(originals, i, early));
        }
        if (p.fees != 0) accounts[treasury].owed += uint128(p.fees);
        uint256 refund = escrowOf(job.mode, job.replicas, job.pricePerReplica) - p.paid;
        if (refund != 0) accounts[job.requester].owed += uint128(refund);
        if (p.units != 0) epochUnits[p.epoch] += p.units;
        emit JobFinalized(jobId, result, matches, refund);
    }

    function _settleOne(
        bytes32 jobId,
        Job storage job,
        Payout memory p,
        Assignment calldata a,
        bytes32 c,
        bytes calldata result,
        Role role
    ) internal {
        if (c == bytes32(0)) {
            if (role == Role.Original) _takeNoShowBond(jobId, job, a.provider);
        } else if (c == keccak256(abi.encodePacked(result, a.provider))) {
            _pay(jobId, p, a.provider, a.price);
        } else if (c != NO_SHOW && role != Role.Arbiter) {
            uint256 slashed = registry.slash(a.provider, job.slashBps, treasury);
            emit ProviderSlashed(jobId, a.provider, slashed);
        }
    }

    /// @dev How a settlement treats a slot: an original provider of a job settled by `reveal` (paid, slashed for
    ///      a dissent, bonded when silent); one settled before the commit deadline (likewise, but released when
    ///      silent: the job settled without it after its `rebalanceAt`); an original in arbitration (its bond was taken when arbitration
    ///      began); a drafted arbiter, which did not volunteer: paid when it matches, never slashed or bonded (a
    ///      requester's Sybils among the originals plus one among the arbiters could otherwise outvote an honest
    ///      arbiter and have it slashed).
    enum Role {
        Original,
        Early,
        DisputedOriginal,
        Arbiter
    }

    function _role(uint256 originals, uint256 i, bool early) internal pure returns (Role) {
        if (originals == type(uint256).max) return early ? Role.Early : Role.Original;
        return i < originals ? Role.DisputedOriginal : Role.Arbiter;
    }

    /// @dev Accumulators of one settlement (a struct, to stay within the EVM's stack).
    struct Payout {
        uint256 paid;
        uint256 fees;
        uint256 feeBps;
        uint256 epoch;
        uint256 minRewardFee;
        uint256 units;
    }

    /// @dev Credits a provider's pay and work units in one SSTORE; rolls a finished epoch's units into
    ///      `pastUnits` the first time the provider works in a new epoch. Units are the fee, and only a fee of at
    ///      least `minRewardFee` earns any: Rewards caps an epoch's emission below the fees it collected, so
    ///      self-dealt work always costs more than it earns.
    function _pay(bytes32 jobId, Payout memory p, address provider, uint96 price) internal {
        uint256 fee = uint256(price) * p.feeBps / 10_000;
        p.paid += price;
        p.fees += fee;
        Account memory a = accounts[provider];
        if (fee != 0 && fee >= p.minRewardFee) {
            if (a.epoch != p.epoch) {
                if (a.units != 0) pastUnits[provider][a.epoch] = a.units;
                a.epoch = uint32(p.epoch);
                a.units = 0;
            }
            // Saturate rather than revert: a settlement must never be blocked by reward bookkeeping.
            uint256 units = uint256(a.units) + fee;
            a.units = units > type(uint96).max ? type(uint96).max : uint96(units);
            p.units += fee;
        }
        a.owed += uint128(price - fee);
        accounts[provider] = a;
        emit ProviderPaid(jobId, provider, price - fee);
    }

    function _rebalancing(Job storage job) internal view returns (bool) {
        uint256 at = job.rebalanceAt;
        return at != 0 && block.timestamp >= at;
    }

    function _takeNoShowBond(bytes32 jobId, Job storage job, address provider) internal {
        uint256 bps = job.noShowBps;
        if (bps == 0) return;
        uint256 taken = registry.slash(provider, bps, treasury);
        if (taken != 0) emit NoShowBondTaken(jobId, provider, taken);
    }

    /// @dev Commitments delivered as EIP-712 signatures, by index (zero where none was given); indexes below
    ///      `firstSignable` are refused.
    function _signedCommits(
        bytes32 jobId,
        Assignment[] calldata assignment,
        SignedCommit[] calldata signed,
        uint256 firstSignable
    ) internal view returns (bytes32[] memory commits) {
        commits = new bytes32[](assignment.length);
        for (uint256 k; k < signed.length; ++k) {
            SignedCommit calldata sc = signed[k];
            if (sc.index >= assignment.length || sc.index < firstSignable) revert BadCommitIndex(sc.index);
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
        uint256 refund = escrowOf(job.mode, job.replicas, job.pricePerReplica);
        accounts[job.requester].owed += uint128(refund);
        emit JobFailed(jobId, refund);
    }

    /// @dev A governance change: inside its bounds, and announced (the caller then stores it).
    function _setting(bytes32 name, uint256 value, uint256 min, uint256 max) internal {
        _bound(name, value, min, max);
        emit ParameterSet(name, value);
    }

    function _bound(bytes32 name, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert OutOfBounds(name, value, min, max);
    }

    function _lifetime(uint40 duration, uint40 window, uint40 arbitration) internal pure returns (uint40) {
        // Commit phase, reveal phase, then an arbitration round with its own reveal phase.
        return duration + window + arbitration + window;
    }

    /// @dev Called before the limits change: jobs created until now may end as late as now + the current lifetime,
    ///      so until then the registry must keep unbonding longer than the lifetime in force now.
    function _keepOldLifetime() internal {
        uint40 end = uint40(block.timestamp) + _lifetime(maxJobDuration, revealWindow, arbitrationWindow);
        if (oldLifetimeEnds > end) end = oldLifetimeEnds;
        oldLifetime = maxJobLifetime();
        oldLifetimeEnds = end;
    }

    /// @dev A change of the job limits: the new lifetime fits the unbonding delay, and jobs created under the old
    ///      ones keep theirs.
    function _changeLifetime(uint40 duration, uint40 window, uint40 arbitration) internal {
        _checkLifetime(duration, window, arbitration);
        _keepOldLifetime();
    }

    function _checkLifetime(uint40 duration, uint40 window, uint40 arbitration) internal view {
        uint256 lifetime = uint256(duration) + window + arbitration + window;
        uint40 delay = registry.unbondingDelay();
        if (lifetime >= delay) revert LifetimeExceedsUnbonding(lifetime, delay);
    }
}
