//! The provider's HTTP API, as both sides see it (JSON bodies): the provider daemon (ocean-provider) serves
//! it, the requester client (ocean-requester) calls it, and neither links the other.
//!
//! | route | who calls | what |
//! |---|---|---|
//! | `GET /telemetry` | schedulers | load, queue, price, capabilities ([`Telemetry`]) |
//! | `POST /offers` | requester | asks for a signed offer for a job id ([`OfferRequest`] → [`OfferResponse`]) |
//! | `POST /car?job=0x…` | requester | pushes the job's blocks (CAR v1, streamed; every block is hash-checked before it is stored). Accepted only for a job with a live offer or assigned to the node (403 otherwise), up to the job's `limits.input_mib` counted as bytes arrive (413) |
//! | `POST /tasks/{job}/poke` | requester | "the job is on chain": the node scans the chain now instead of at its next tick |
//! | `GET /tasks` | operator (bearer token) | every task record (ocean-provider's `db::Task`) |
//! | `GET /tasks/{job}` | the job's requester (signed read), the operator; anyone once the job is finalized | the task's state and, once computed, the result CID and signed commitment ([`TaskStatus`]) |
//! | `GET/HEAD /ipfs/{cid}` | anyone | the trustless gateway, over finalized tasks' results, manifests and envelopes only |
//!
//! A signed read carries [`HEADER_TIMESTAMP`], [`HEADER_NONCE`] and [`HEADER_SIGNATURE`]: the requester's
//! EIP-712 signature of `ApiRead { method, path, jobId, timestamp, nonce }` in the domain
//! [`ocean_chain::eip712::api_domain`], where `path` is [`task_path`] (whatever prefix the endpoint has).
//! `docs/protocol.md` spells the domain and the type out for other clients.

use serde::{Deserialize, Serialize};

/// Header of a signed read: unix seconds when it was signed (decimal).
pub const HEADER_TIMESTAMP: &str = "ocean-timestamp";
/// Header of a signed read: its random nonce (0x…, 32 bytes), never reused.
pub const HEADER_NONCE: &str = "ocean-nonce";
/// Header of a signed read: the 65-byte signature `r ‖ s ‖ v` (0x…).
pub const HEADER_SIGNATURE: &str = "ocean-signature";

/// The three headers of a signed read, as (name, value).
pub fn read_headers(auth: &ocean_chain::eip712::ApiAuth) -> [(&'static str, String); 3] {
    [
        (HEADER_TIMESTAMP, auth.timestamp.to_string()),
        (HEADER_NONCE, format!("{:#x}", auth.nonce)),
        (HEADER_SIGNATURE, format!("0x{}", hex::encode(auth.signature.as_bytes()))),
    ]
}

/// The path a requester signs to read its task, and the route it reads: `/tasks/0x<job id, lowercase>`.
pub fn task_path(job_id: ocean_chain::B256) -> String {
    format!("/tasks/{job_id:#x}")
}

/// What a provider publishes for schedulers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Telemetry {
    /// The provider's account (0x…).
    pub address: String,
    /// Price per job it asks, wei (decimal string).
    pub price_wei: String,
    /// Tasks offered or assigned but not started.
    pub queue_len: u32,
    /// Tasks running now.
    pub running: u32,
    /// Tasks it runs at once.
    pub max_concurrency: u32,
    /// CPU cores.
    pub cores: u32,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// Tasks finished since start.
    pub completed: u64,
}

/// A requester's request for an offer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OfferRequest {
    /// The job id the requester will create (0x…, 32 bytes).
    pub job_id: String,
    /// The manifest's CID.
    pub manifest_cid: String,
    /// Most the requester pays a provider, wei (decimal string).
    pub price_cap_wei: String,
    /// Unix time by which providers must commit.
    pub commit_deadline: u64,
    /// The job data the requester will push (`limits.input_mib` of the manifest), MiB: the node declines a job
    /// above its own maximum and refuses an upload past it. Absent from older requesters: the default, 1 GiB.
    #[serde(default = "default_input_mib")]
    pub input_mib: u32,
    /// A private job: its inputs will be encrypted to the providers' registered keys (a node without an
    /// encryption identity declines). The manifest CID is then only a hint: the escrowed manifest, which
    /// names the input envelopes, is made after the offers and read from the chain.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    /// Everything else the provider's signature binds (docs/protocol.md §3): the market refuses the job if
    /// any of it differs at creation.
    pub terms: OfferTerms,
    /// An offer to join a job already on chain, in this slot of its assignment: the requester hands the slot of
    /// a provider that stayed silent past the job's rebalance time to this one (`JobMarket.reassign`). The
    /// node checks the job on chain against these terms (whose `providers` are the assignment as it becomes)
    /// and signs `ocean_chain::eip712::reassign_terms`. Absent for a new job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u8>,
}

/// The job terms an offer signs besides the manifest CID, price cap and deadline.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OfferTerms {
    /// Number of providers.
    pub replicas: u8,
    /// Matching results needed.
    pub quorum: u8,
    /// How the result is verified.
    pub mode: ocean_chain::Mode,
    /// For zk jobs, what the proof is about (0x…, 32 bytes); zero otherwise.
    pub proof_spec: ocean_chain::B256,
    /// The manifest's limits.
    pub limits: OfferLimits,
    /// Every provider of the job, in assignment order (this one among them).
    pub providers: Vec<ocean_chain::Address>,
    /// Unix time from which this provider may be left out of the job if it has not committed on chain by then
    /// (0: never; see `ocean_chain::JobRequest::rebalance_at`). Absent from older requesters: never.
    #[serde(default)]
    pub rebalance_at: u64,
}

/// A manifest's limits as an offer binds them (their hash is `ocean_chain::eip712::limits_hash`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OfferLimits {
    /// Linear memory, MiB.
    pub memory_mib: u32,
    /// Fuel.
    pub fuel: u64,
    /// Wall-clock deadline of one run, seconds.
    pub timeout_secs: u64,
    /// Output cap, MiB.
    pub output_mib: u32,
    /// Job data cap, MiB.
    pub input_mib: u32,
}

impl OfferLimits {
    /// The limits of a manifest.
    pub fn of(l: &ocean_types::manifest::Limits) -> Self {
        Self {
            memory_mib: l.memory_mib,
            fuel: l.fuel,
            timeout_secs: l.timeout_secs,
            output_mib: l.output_mib,
            input_mib: l.input_mib,
        }
    }

    /// Their hash, as `JobCreated.limitsHash` carries it.
    pub fn hash(&self) -> ocean_chain::B256 {
        ocean_chain::eip712::limits_hash(
            self.memory_mib,
            self.fuel,
            self.timeout_secs,
            self.output_mib,
            self.input_mib,
        )
    }
}

impl OfferRequest {
    /// The on-chain request these terms describe (its salt is not part of the terms and is left zero).
    pub fn job_request(&self, manifest_cid: Vec<u8>, price_cap: u128) -> ocean_chain::JobRequest {
        ocean_chain::JobRequest {
            salt: ocean_chain::B256::ZERO,
            manifest_cid,
            // The manifest is always known when a provider signs (it signs only once it holds the job's data,
            // a private job's sealed manifest included), so the terms always bind it.
            late_manifest: false,
            replicas: self.terms.replicas,
            quorum: self.terms.quorum,
            mode: self.terms.mode,
            price_per_replica: price_cap,
            commit_deadline: self.commit_deadline,
            proof_spec: self.terms.proof_spec,
            limits_hash: self.terms.limits.hash(),
            rebalance_at: self.terms.rebalance_at,
        }
    }

    /// `termsHash` of this request, as the provider signs it.
    pub fn terms_hash(&self, manifest_cid: Vec<u8>, price_cap: u128) -> ocean_chain::B256 {
        ocean_chain::eip712::terms_hash(&self.job_request(manifest_cid, price_cap), &self.terms.providers)
    }
}

fn default_input_mib() -> u32 {
    ocean_types::manifest::Limits::DEFAULT_INPUT_MIB
}

/// A provider's answer to an [`OfferRequest`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OfferResponse {
    /// A signed EIP-712 offer (compact signature).
    Offer {
        /// The provider.
        provider: String,
        /// Its price, wei (decimal string).
        price_wei: String,
        /// Offer expiry, unix seconds.
        expiry: u64,
        /// Signature `r` (0x…).
        r: String,
        /// Signature `vs` (0x…).
        vs: String,
    },
    /// The provider holds a slot for the job but signs only once it holds the job's data and has checked its
    /// manifest against the terms: push the data (`POST` to `upload`), then ask again.
    Reserved {
        /// Where the data goes (`/car?job=0x…`).
        upload: String,
    },
    /// The provider will not take the job, and why.
    Declined {
        /// Human-readable reason.
        reason: String,
    },
}

/// Where a task stands on a provider.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TaskStatus {
    /// The job id.
    pub job_id: String,
    /// Where the task stands.
    pub state: TaskPhase,
    /// Result CID once computed.
    pub result_cid: Option<String>,
    /// Signed commitment once computed: `{index, commitment, r, vs}` (0x… hex).
    pub signed_commit: Option<SignedCommit>,
    /// Seconds the run took (for the requester's scheduler).
    pub run_secs: Option<f64>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// A private job's result, age-encrypted to the requester (fetch it by this CID; `result_cid` is the
    /// plaintext's CID the providers commit to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope_cid: Option<String>,
}

/// The phase of a task on a provider, as its API reports it (`"assigned"`, …, `"failed"`). The provider's
/// persisted record carries more (what it was paid, why it failed); this is what a requester reads.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TaskPhase {
    /// Assigned on chain; waiting for a worker.
    Assigned,
    /// A worker runs it.
    Running,
    /// Result stored and commitment signed; waiting for the requester to settle.
    Done,
    /// About to commit on chain.
    Committing,
    /// Committed on chain.
    Committed,
    /// The job was finalized.
    Settled,
    /// Nothing more will happen (the reason is in [`TaskStatus::error`]).
    Failed,
}

impl TaskPhase {
    /// The name the API uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Assigned => "assigned",
            Self::Running => "running",
            Self::Done => "done",
            Self::Committing => "committing",
            Self::Committed => "committed",
            Self::Settled => "settled",
            Self::Failed => "failed",
        }
    }
}

/// A provider's EIP-712 commitment in transport form.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignedCommit {
    /// Position of the provider in the job's assignment.
    pub index: u8,
    /// `keccak256(resultCid ‖ provider)` (0x…).
    pub commitment: String,
    /// Signature `r` (0x…).
    pub r: String,
    /// Signature `vs` (0x…).
    pub vs: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_phases_are_the_names_the_api_always_used() {
        for phase in [
            TaskPhase::Assigned,
            TaskPhase::Running,
            TaskPhase::Done,
            TaskPhase::Committing,
            TaskPhase::Committed,
            TaskPhase::Settled,
            TaskPhase::Failed,
        ] {
            let json = serde_json::to_string(&phase).expect("encodes");
            assert_eq!(json, format!("\"{}\"", phase.name()));
            assert_eq!(serde_json::from_str::<TaskPhase>(&json).expect("decodes"), phase);
        }
        assert!(serde_json::from_str::<TaskPhase>("\"offered\"").is_err());
    }
}
