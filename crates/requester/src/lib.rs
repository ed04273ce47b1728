//! The requester client (`ocean job submit`): prepare a job, place it, escrow it, and follow it to a verified,
//! paid result.
//!
//! ```text
//!  job.toml ─► prepare: add program + inputs to the local store, canonical manifest ─► manifest CID, bundle
//!           ─► place: registry nodes + their telemetry ─► scheduler (learned) ─► r providers
//!           ─► offers (EIP-712, signed by the providers) ─► push the bundle (CAR) ─► createJob (escrow)
//!           ─► wait: providers' signed commitments ─► reveal the majority result ─► fetch it (verified)
//! ```
//!
//! Nothing is half-submitted: every check that can fail (job file, inputs, funds, placement, offers,
//! uploads) happens before the single `createJob` transaction. The scheduler's observations are kept in
//! `<repo>/scheduler.jsonl` and replayed on start, so what it learned about providers survives across runs.
//!
//! A private job (`[privacy] encrypt = true`) keeps its inputs in memory at prepare; once the offers are in,
//! each input is age-encrypted to exactly the offering providers' registered keys and only the envelopes
//! enter the store, the manifest and the bundle. Providers commit to the CID of the plaintext result and
//! serve it age-encrypted to this requester; [`Requester::results`] decrypts it in memory, checks that it
//! is exactly the finalized CID (every block hash-checked), and only then writes it out.
//!
//! This crate links neither the sandbox nor the prover (`cargo tree -p ocean-requester` has no wasmtime and
//! no Groth16; `make lint` checks it): it meets providers only through the chain and their HTTP API
//! (ocean-protocol), so the SDK and API built on it stay small and never run anyone's code.

use std::{
    collections::{BTreeMap, HashMap},
    io::{Read, Write},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::future::join_all;
use ocean_chain::{Address, B256, Client, JobRequest, JobView, Mode, NodeInfo, State, bindings::JobMarket};
use ocean_scheduler::{
    Candidate, Event, Kind, Placement, Policy, ProviderId, Resources, Scheduler, Task, TaskId,
};
use ocean_store::{Cid, Entry, ImportOptions, Store};
use ocean_types::manifest::{Manifest, Source, VerificationMode};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use ocean_protocol::{
    OfferRequest, OfferResponse, TaskPhase, TaskStatus, Telemetry, read_headers, task_path,
};

mod error;

pub use error::{Error, Result};

/// A step of a job's life, for progress displays.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// Why each registered provider was chosen or passed over (`ocean job submit --explain`), once the offers
    /// are in.
    Placed {
        /// One entry per registered provider, the chosen ones first.
        choices: Vec<Choice>,
    },
    /// Looking for providers among `candidates` registered nodes.
    Placing {
        /// Registered, reachable providers.
        candidates: usize,
    },
    /// Offers collected from the chosen providers.
    Offered {
        /// Providers that signed an offer.
        providers: usize,
    },
    /// The job is on chain with its escrow.
    Created {
        /// Its id.
        job_id: B256,
    },
    /// Providers are running it.
    Running {
        /// Results computed so far.
        done: usize,
        /// Replicas.
        total: usize,
    },
    /// Waiting, and why.
    Waiting {
        /// Why.
        reason: String,
    },
    /// Enough matching results to settle.
    Committed {
        /// Matching commitments.
        matching: usize,
    },
    /// Settled on chain.
    Finalized {
        /// The accepted result.
        result: Cid,
    },
}

/// A job ready to be submitted.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The manifest with every path replaced by a CID (a private job's inputs are added at submit).
    pub manifest: Manifest,
    /// CID of its canonical encoding (for a private job, of the manifest without inputs until submit).
    pub manifest_cid: Cid,
    /// A directory holding the manifest, program and inputs: what providers receive.
    pub bundle: Cid,
    /// Most paid to each provider (wei).
    pub price_per_replica: u128,
    /// A private job's inputs, in memory until they are encrypted to the providers that offered.
    pub private_inputs: Option<PrivateInputs>,
    /// A zk job's `proofSpec`: the commitment to its model and input that the proof must be about.
    pub proof_spec: Option<B256>,
}

/// A private job's plaintext inputs (never written to a store); `Debug` shows only names and sizes.
#[derive(Clone)]
pub struct PrivateInputs(Vec<(String, Vec<u8>)>);

impl std::fmt::Debug for PrivateInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(n, b)| (n, b.len()))).finish()
    }
}

/// What a submitted job is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Job id (0x…).
    pub job_id: String,
    /// Manifest CID.
    pub manifest_cid: String,
    /// Assigned providers and their endpoints.
    pub providers: Vec<(Address, String)>,
    /// Unix time of submission.
    pub submitted_at: u64,
    /// Gas of the createJob transaction.
    pub create_gas: u64,
    /// Result CID once finalized.
    pub result_cid: Option<String>,
    /// Gas of the reveal transaction, once settled by this requester.
    pub reveal_gas: Option<u64>,
    /// The bundle (CAR root) providers received, for arbiters drafted later. Absent in older records.
    #[serde(default)]
    pub bundle: Option<String>,
    /// Unix time the job was on chain, in milliseconds: what the providers' latencies are measured from.
    /// Absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at_ms: Option<u64>,
}

/// Why one provider was chosen for a job or passed over.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Choice {
    /// The provider's account.
    pub address: Address,
    /// Whether it runs the job.
    pub chosen: bool,
    /// Why, in words.
    pub reason: String,
}

/// `text` with its control characters escaped (`\u{1b}`, `\n`): reasons quote what providers wrote (their
/// registered endpoint, their reason to decline), and a terminal must not take that for escape sequences.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

/// What the requester's scheduler has learned about one reachable provider (`ocean sched show`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Learned {
    /// The provider's account.
    pub address: Address,
    /// Its API endpoint.
    pub endpoint: String,
    /// Learned speed: Gfuel (10^9 units of fuel) per second of this requester's wait, posterior mean. Until it has
    /// evidence, the population's speed scaled by the provider's advertised benchmark.
    pub speed: f64,
    /// Posterior probability that a job placed there is delivered and paid.
    pub reliability: f64,
    /// Aged number of speed observations behind `speed` (0: a prior only).
    pub evidence: f64,
    /// Round trip of its telemetry probe just now, seconds.
    pub latency_s: f64,
    /// Its asking price per job, OCAT.
    pub price_ocat: f64,
    /// Tasks queued or running there now.
    pub queue: u32,
}

/// What the scheduler learns from a delivered job of `provider`: `work` (Gfuel, when verified) done in `run_s`.
fn finished(provider: ProviderId, work: Option<f64>, run_s: f64, at: f64) -> Event {
    Event::Finished {
        task: TaskId(0),
        provider,
        kind: Kind::CPU,
        work,
        input_bytes: 0,
        fetch_s: 0.0,
        run_s,
        at,
    }
}

/// Fuel per unit of work the scheduler counts in (a Gfuel): a task's work estimate and the work learned from
/// a verified result are in the same unit, so predicted times are in seconds.
const FUEL_PER_WORK_UNIT: f64 = 1e9;

/// Most lines `scheduler.jsonl` may reach before it is compacted at the next start.
const LOG_COMPACT_AT: usize = 8192;
/// Events kept per provider when the log is compacted: more than the model's evidence cap, which ages the
/// rest away anyway.
const LOG_KEEP_PER_PROVIDER: usize = 64;

/// The lines of a scheduler log to keep: the last [`LOG_KEEP_PER_PROVIDER`] events of each provider, in order.
fn compacted(lines: &[&str]) -> Vec<String> {
    let provider_of = |line: &str| -> Option<u64> {
        let ev: Event = serde_json::from_str(line).ok()?;
        Some(match ev {
            Event::Started { provider, .. }
            | Event::Finished { provider, .. }
            | Event::Failed { provider, .. }
            | Event::TimedOut { provider, .. } => provider.0,
        })
    };
    let mut kept: HashMap<u64, usize> = HashMap::new();
    let mut out: Vec<String> = lines
        .iter()
        .rev()
        .filter(|line| {
            provider_of(line).is_some_and(|p| {
                let n = kept.entry(p).or_default();
                *n += 1;
                *n <= LOG_KEEP_PER_PROVIDER
            })
        })
        .map(|l| (*l).to_owned())
        .collect();
    out.reverse();
    out
}

/// How a job ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The job.
    pub job_id: B256,
    /// Its final state.
    pub state: State,
    /// The accepted result, if finalized.
    pub result: Option<Cid>,
    /// What each provider was paid (wei); empty if none.
    pub paid: Vec<(Address, u128)>,
    /// Providers slashed and by how much (wei).
    pub slashed: Vec<(Address, u128)>,
    /// Gas this requester spent on the job (create + reveal).
    pub gas: u64,
    /// A zk job's proven inference (the chain checked the proof before paying).
    pub inference: Option<ocean_zk_model::Output>,
    /// The limit the job hit, when its finalized result is the limit result (`ocean-limit.json`): the
    /// providers were paid for running it up to that limit. Known here for jobs whose result this requester
    /// fetched in [`Requester::wait`]; a private job's shows once [`Requester::results`] opened it (see
    /// [`Requester::limit_in`]).
    pub limit: Option<ocean_types::limit::LimitResult>,
}

/// Knobs of the requester.
#[derive(Clone, Debug)]
pub struct Options {
    /// How often providers are polled while waiting.
    pub poll: Duration,
    /// Timeout of one HTTP call to a provider.
    pub http_timeout: Duration,
    /// The requester's age identity: private jobs' results are encrypted to its recipient.
    pub identity: Option<ocean_crypto::Identity>,
}

impl Default for Options {
    fn default() -> Self {
        Self { poll: Duration::from_millis(100), http_timeout: Duration::from_secs(5), identity: None }
    }
}

/// A requester: one account, one local store, one learned scheduler.
pub struct Requester {
    client: Client,
    store: Store,
    repo: PathBuf,
    http: reqwest::Client,
    scheduler: Scheduler,
    options: Options,
    ids: BTreeMap<u64, (Address, String)>,
    /// Registered encryption keys of the providers seen by [`Requester::candidates`].
    keys: HashMap<Address, B256>,
    /// Registered providers the last [`Requester::candidates`] left out, and why.
    left_out: Vec<(Address, String)>,
}

/// How long one upload of a job's data may take (the providers' default bound is the same).
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest an offer request may take (the provider reads and checks the manifest before it signs).
const OFFER_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes the CAR exporter hands to an upload at a time.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// The CAR of `root` as a streamed request body: the exporter runs on a blocking thread and hands chunks over
/// a small bounded channel, so memory stays flat whatever the job's size. An export error ends the body with
/// that error (the provider then sees a truncated CAR and stores nothing).
fn car_body(store: Store, root: Cid) -> reqwest::Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter { tx: tx.clone(), buf: Vec::with_capacity(UPLOAD_CHUNK) };
        let exported =
            store.export_car(&root, &mut out).map_err(std::io::Error::other).and_then(|()| out.send());
        if let Err(e) = exported {
            let _ = tx.blocking_send(Err(e));
        }
    });
    reqwest::Body::wrap_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// A `Write` that sends what it is given down a channel, [`UPLOAD_CHUNK`] bytes at a time.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(UPLOAD_CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload was abandoned"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= UPLOAD_CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn provider_id(a: Address) -> ProviderId {
    let mut b = [0u8; 8];
    b.copy_from_slice(&a.as_slice()[..8]);
    ProviderId(u64::from_be_bytes(b))
}

fn wei_to_ocat(w: u128) -> f64 {
    w as f64 / 1e18
}

/// Slack beyond a job's time limit before a provider that has not committed may be left out: the upload of the
/// job's data, a wait in the provider's queue and a few blocks.
const REBALANCE_SLACK_SECS: u64 = 30;

/// When a job submitted at `now` may be rebalanced (see [`JobRequest::rebalance_at`]): once every provider has
/// had the job's own time limit and some slack, if that comes before the commit deadline; otherwise never (0).
fn rebalance_time(now: u64, commit_deadline: u64, timeout_secs: u64) -> u64 {
    let at = now.saturating_add(timeout_secs).saturating_add(REBALANCE_SLACK_SECS);
    if at < commit_deadline { at } else { 0 }
}

/// Providers a requester asks, per silent slot and round, to join a job that is being rebalanced.
const MAX_REBALANCE_TRIES: usize = 3;

/// Least time between two rounds of rebalancing one job: each asks providers and may send a transaction.
const REBALANCE_RETRY: Duration = Duration::from_secs(5);

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn unix_now_f64() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Requester {
    /// A requester over `store`, keeping its records and learned model under `repo`.
    pub fn new(client: Client, store: Store, repo: PathBuf, options: Options) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(options.http_timeout)
            .build()
            .map_err(|e| Error::Peer { peer: "http".into(), message: e.to_string() })?;
        let mut scheduler = Scheduler::new(ocean_scheduler::Config::default(), rand::random());
        let log = repo.join("scheduler.jsonl");
        if let Ok(text) = std::fs::read_to_string(&log) {
            let lines: Vec<&str> = text.lines().collect();
            // What the model learned is bounded (evidence is capped and aged), so its log is too.
            let lines: Vec<String> = if lines.len() > LOG_COMPACT_AT {
                let kept = compacted(&lines);
                let rewritten = tempfile::NamedTempFile::new_in(&repo).and_then(|mut f| {
                    f.write_all(kept.iter().map(|l| format!("{l}\n")).collect::<String>().as_bytes())?;
                    f.as_file().sync_all()?;
                    f.persist(&log).map_err(|e| e.error)?;
                    Ok(())
                });
                match rewritten {
                    Ok(()) => {
                        info!(target: "ocean::requester", from = lines.len(), to = kept.len(), "compacted the scheduler's log")
                    }
                    Err(e) => warn!(target: "ocean::requester", "compacting {}: {e}", log.display()),
                }
                kept
            } else {
                lines.iter().map(|l| (*l).to_owned()).collect()
            };
            for line in &lines {
                match serde_json::from_str::<Event>(line) {
                    Ok(ev) => scheduler.observe(&ev),
                    Err(e) => {
                        warn!(target: "ocean::requester", "skipping a bad line of {}: {e}", log.display())
                    }
                }
            }
        }
        Ok(Self {
            client,
            store,
            repo,
            http,
            scheduler,
            options,
            ids: BTreeMap::new(),
            keys: HashMap::new(),
            left_out: Vec::new(),
        })
    }

    /// The chain client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn learn(&mut self, ev: Event) {
        self.scheduler.observe(&ev);
        let line = match serde_json::to_string(&ev) {
            Ok(l) => l,
            Err(_) => return,
        };
        let path = self.repo.join("scheduler.jsonl");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            warn!(target: "ocean::requester", "cannot record what the scheduler learned: {e}");
        }
    }

    /// Adds the job's program and inputs to the local store and checks everything that can be checked
    /// without the network. `base` is the folder relative paths in the job file are taken from.
    pub fn prepare(&self, manifest: Manifest, base: &Path) -> Result<Prepared> {
        manifest.validate().map_err(|e| Error::Job(e.to_string()))?;
        let v = manifest.verification;
        match v.mode {
            VerificationMode::Quorum if 2 * u16::from(v.quorum) <= u16::from(v.replicas) => {
                return Err(Error::Job(format!(
                    "quorum {} of {} replicas is not a majority: the contract needs more than half",
                    v.quorum, v.replicas
                )));
            }
            VerificationMode::None if v.replicas != 1 => {
                return Err(Error::Job("verification mode `none` runs exactly one replica".into()));
            }
            // The proof commits to the plaintext input, which the requester must then reveal to the chain's
            // verifier anyway: encrypting it to the provider would add no privacy.
            VerificationMode::Zk if manifest.privacy.encrypt => {
                return Err(Error::Job(
                    "verification mode `zk` with [privacy] encrypt = true is not supported: the proof is \
                     about the input's commitment, checked in public"
                        .into(),
                ));
            }
            _ => {}
        }
        let (manifest, private_inputs) = if manifest.privacy.encrypt {
            let (m, inputs) = self.take_private_inputs(manifest, base)?;
            (m, Some(inputs))
        } else {
            (manifest, None)
        };
        let manifest = ocean_job::resolve(&self.store, manifest, base)?;
        let total = manifest.payment.max_price.wei();
        let price_per_replica = total / u128::from(v.replicas.max(1));
        if price_per_replica == 0 {
            return Err(Error::Job("[payment] max_price is zero: providers must be paid".into()));
        }
        if private_inputs.is_some() {
            // The offers only need a hint; the escrowed manifest (with the input envelopes) comes at submit.
            let canonical = manifest.canonical_bytes().map_err(|e| Error::Job(e.to_string()))?;
            let opts = ImportOptions { hidden: true, ..ImportOptions::default() };
            let hint = Store::hash_reader(&mut &canonical[..], &opts, &mut |_| {})?.cid;
            return Ok(Prepared {
                manifest,
                manifest_cid: hint,
                bundle: hint,
                price_per_replica,
                private_inputs,
                proof_spec: None,
            });
        }
        let proof_spec = match v.mode {
            VerificationMode::Zk => {
                let (model, input) = ocean_job::proof::model_and_input(&self.store, &manifest)?;
                Some(B256::from(ocean_job::proof::spec(&model, &input)))
            }
            _ => None,
        };
        let (manifest_cid, bundle) = self.bundle(&manifest)?;
        Ok(Prepared { manifest_cid, manifest, bundle, price_per_replica, private_inputs: None, proof_spec })
    }

    /// Reads a private job's inputs into memory (they must be local files: a CID is already in a store in
    /// plaintext) and fills in the recipient of the result.
    fn take_private_inputs(&self, mut manifest: Manifest, base: &Path) -> Result<(Manifest, PrivateInputs)> {
        let identity = self.options.identity.as_ref().ok_or_else(|| {
            Error::Privacy("this requester has no age identity to receive the encrypted result".into())
        })?;
        match &manifest.privacy.recipient {
            Some(r) => {
                r.parse::<ocean_crypto::Recipient>()
                    .map_err(|e| Error::envelope("[privacy] recipient", e))?;
            }
            None => manifest.privacy.recipient = Some(identity.recipient().to_string()),
        }
        let mut inputs = Vec::new();
        for (name, source) in std::mem::take(&mut manifest.inputs) {
            let path = match source {
                Source::Path(p) => p,
                Source::Cid(c) => {
                    return Err(Error::Privacy(format!(
                        "input `{name}` is the CID {c}: its plaintext is already in a store; a private job \
                         takes its inputs from local files"
                    )));
                }
            };
            let full = if path.is_absolute() { path } else { base.join(path) };
            let bytes = std::fs::read(&full)
                .map_err(|e| Error::io(format!("reading input {}", full.display()), e))?;
            inputs.push((name, bytes));
        }
        Ok((manifest, PrivateInputs(inputs)))
    }

    /// Stores the canonical manifest and the bundle providers receive; returns their CIDs.
    fn bundle(&self, manifest: &Manifest) -> Result<(Cid, Cid)> {
        let canonical = manifest.canonical_bytes().map_err(|e| Error::Job(e.to_string()))?;
        let opts = ImportOptions { hidden: true, ..ImportOptions::default() };
        let manifest_added = self.store.add_bytes(&canonical, &opts)?;
        let mut entries = vec![Entry::from_added("manifest.json", &manifest_added)];
        let mut sources: Vec<(String, &Source)> = Vec::new();
        if let Some(m) = &manifest.program.module {
            sources.push(("module.wasm".into(), m));
        }
        if let Some(m) = &manifest.program.model {
            sources.push(("model.onnx".into(), m));
        }
        if let Some(k) = &manifest.program.server_key {
            sources.push(("server-key".into(), k));
        }
        for (name, s) in &manifest.inputs {
            sources.push((format!("input-{name}"), s));
        }
        for (name, s) in sources {
            let cid: Cid = s.cid().ok_or_else(|| Error::Job("unresolved source".into()))?.parse()?;
            let size = self.store.tsize(&cid)?;
            entries.push(Entry { name, cid, tsize: size });
        }
        let bundle = self.store.put_dir(&entries, &opts)?.cid;
        self.store.pin(&bundle)?;
        Ok((manifest_added.cid, bundle))
    }

    /// Encrypts a private job's inputs to exactly `providers`' registered keys and builds the manifest and
    /// bundle that name the envelopes. Refuses a provider without a registered key.
    fn seal(&self, job: &Prepared, inputs: &PrivateInputs, providers: &[Address]) -> Result<Prepared> {
        let mut recipients = Vec::new();
        for p in providers {
            let key = self.keys.get(p).copied().unwrap_or(B256::ZERO);
            let r = ocean_crypto::Recipient::from_bytes(key.0).map_err(|e| {
                Error::Privacy(format!("provider {p} has no usable registered encryption key ({e})"))
            })?;
            recipients.push(r);
        }
        let mut manifest = job.manifest.clone();
        let opts = ImportOptions { hidden: true, ..ImportOptions::default() };
        for (name, bytes) in &inputs.0 {
            let envelope = ocean_crypto::encrypt(&recipients, bytes)
                .map_err(|e| Error::envelope(format!("input `{name}`"), e))?;
            let cid = self.store.add_bytes(&envelope, &opts)?.cid;
            manifest.inputs.insert(name.clone(), Source::Cid(cid.to_string()));
        }
        let (manifest_cid, bundle) = self.bundle(&manifest)?;
        Ok(Prepared {
            manifest,
            manifest_cid,
            bundle,
            price_per_replica: job.price_per_replica,
            private_inputs: None,
            proof_spec: job.proof_spec,
        })
    }

    async fn telemetry(&self, node: &NodeInfo) -> Option<(Telemetry, f64)> {
        let started = Instant::now();
        let resp =
            self.http.get(format!("{}/telemetry", node.endpoint.trim_end_matches('/'))).send().await.ok()?;
        let t: Telemetry = resp.json().await.ok()?;
        Some((t, started.elapsed().as_secs_f64()))
    }

    /// Learns providers' reliability from the market's public history since the last look (every requester's
    /// jobs: payments, slashes, lost no-show bonds), so a new requester starts warm instead of from zero.
    /// This requester's own jobs are skipped: it learned those first-hand. The block looked at last is kept in
    /// `<repo>/chain-history.json`. Returns the number of verdicts learned.
    pub async fn learn_from_chain(&mut self) -> Result<usize> {
        #[derive(Serialize, Deserialize)]
        struct Cursor {
            chain_id: u64,
            market: Address,
            block: u64,
        }
        let path = self.repo.join("chain-history.json");
        let d = self.client.deployment().clone();
        let from = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
            .filter(|c| c.chain_id == d.chain_id && c.market == d.market)
            .map_or(d.start_block, |c| c.block + 1);
        let latest = self.client.block_number().await?;
        if from > latest {
            return Ok(0);
        }
        let verdicts = self.client.verdicts(from, latest).await?;
        // This requester's own jobs, by record file name, listed once rather than looked up per verdict.
        let mine: std::collections::HashSet<String> = if verdicts.is_empty() {
            Default::default()
        } else {
            std::fs::read_dir(self.records_dir())
                .map(|dir| dir.flatten().filter_map(|e| e.file_name().into_string().ok()).collect())
                .unwrap_or_default()
        };
        let mut learned = 0;
        for (job_id, provider, verdict, _) in verdicts {
            if mine.contains(&format!("{job_id:#x}.json")) {
                continue;
            }
            let (provider, at) = (provider_id(provider), unix_now_f64());
            self.learn(match verdict {
                ocean_chain::Verdict::Paid => finished(provider, None, 0.0, at),
                ocean_chain::Verdict::Slashed | ocean_chain::Verdict::NoShow => {
                    Event::Failed { task: TaskId(0), provider, at }
                }
            });
            learned += 1;
        }
        let cursor = Cursor { chain_id: d.chain_id, market: d.market, block: latest };
        let bytes =
            serde_json::to_vec(&cursor).map_err(|e| Error::Job(format!("encoding the cursor: {e}")))?;
        std::fs::write(&path, bytes).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        Ok(learned)
    }

    /// What the scheduler has learned about every registered, active, reachable provider, fastest first.
    pub async fn learned(&mut self) -> Result<Vec<Learned>> {
        if let Err(e) = self.learn_from_chain().await {
            warn!(target: "ocean::requester", "learning from the market's history: {e}");
        }
        let candidates = self.candidates().await?;
        let model = self.scheduler.model();
        let mut out: Vec<Learned> = candidates
            .iter()
            .filter_map(|c| {
                let (address, endpoint) = self.ids.get(&c.id.0)?.clone();
                let belief = model.belief(c, Kind::CPU);
                Some(Learned {
                    address,
                    endpoint,
                    speed: belief.speed,
                    reliability: belief.success,
                    evidence: belief.evidence,
                    latency_s: c.latency_s,
                    price_ocat: c.price,
                    queue: c.queue_len,
                })
            })
            .collect();
        out.sort_by(|a, b| b.speed.total_cmp(&a.speed));
        Ok(out)
    }

    /// Why each registered provider was chosen for `task` or passed over: the requester's own filters
    /// (registry, telemetry, encryption key), the provider's answer, the task's needs and cap, and otherwise
    /// the learned model's view against the chosen ones.
    fn explain(
        &self,
        task: &Task,
        candidates: &[Candidate],
        offers: &[(Address, String, JobMarket::Offer)],
        declined: &[(Address, String)],
    ) -> Vec<Choice> {
        let model = self.scheduler.model();
        let view = |c: &Candidate| {
            let b = model.belief(c, task.kind);
            format!(
                "{:.4} Gfuel/s learned from {:.1} observations, reliability {:.3}, price {} OCAT, queue {}",
                b.speed, b.evidence, b.success, c.price, c.queue_len
            )
        };
        let mut out: Vec<Choice> = Vec::new();
        for c in candidates {
            let Some((address, _)) = self.ids.get(&c.id.0).cloned() else { continue };
            let chosen = offers.iter().any(|(a, _, _)| *a == address);
            let reason = if chosen {
                format!("chosen: {}", view(c))
            } else if let Some((_, why)) = declined.iter().find(|(a, _)| *a == address) {
                why.clone()
            } else if c.caps.memory_mib < task.needs.memory_mib {
                format!(
                    "advertises {} MiB of memory, the job needs {} MiB",
                    c.caps.memory_mib, task.needs.memory_mib
                )
            } else if task.price_cap.is_some_and(|cap| c.price > cap) {
                format!(
                    "asks {} OCAT, above the job's cap of {} OCAT",
                    c.price,
                    task.price_cap.unwrap_or_default()
                )
            } else {
                format!("ranked below the chosen ones: {}", view(c))
            };
            out.push(Choice { address, chosen, reason: printable(&reason) });
        }
        out.extend(self.left_out.iter().map(|(address, why)| Choice {
            address: *address,
            chosen: false,
            reason: printable(why),
        }));
        out.sort_by_key(|c| !c.chosen);
        out
    }

    /// Registered, active, reachable providers as scheduler candidates.
    pub async fn candidates(&mut self) -> Result<Vec<Candidate>> {
        let (nodes, inactive): (Vec<NodeInfo>, Vec<NodeInfo>) =
            self.client.nodes().await?.into_iter().partition(|n| n.active);
        self.left_out = inactive
            .iter()
            .map(|n| {
                (n.address, "not active in the registry (unbonding, or below the minimum stake)".to_owned())
            })
            .collect();
        let probes = join_all(nodes.iter().map(|n| self.telemetry(n))).await;
        let mut out = Vec::new();
        for (node, probe) in nodes.iter().zip(probes) {
            let Some((t, rtt)) = probe else {
                debug!(target: "ocean::requester", endpoint = %node.endpoint, "unreachable");
                self.left_out
                    .push((node.address, format!("its telemetry at {} did not answer", node.endpoint)));
                continue;
            };
            let price: u128 = t.price_wei.parse().unwrap_or(u128::MAX);
            let id = provider_id(node.address);
            self.ids.insert(id.0, (node.address, node.endpoint.clone()));
            self.keys.insert(node.address, node.encryption_key);
            out.push(Candidate {
                id,
                caps: Resources {
                    cores: node.cores,
                    memory_mib: u64::from(node.memory_mib),
                    gpu: node.gpu_vram_mib > 0,
                },
                benchmark: (node.benchmark_score as f64 / 100.0).max(0.01),
                stake: wei_to_ocat(node.stake),
                queue_len: t.queue_len + t.running,
                queued_work: 0.0,
                running_work: 0.0,
                running_elapsed: 0.0,
                latency_s: rtt,
                bandwidth_bps: 100e6,
                price: wei_to_ocat(price),
            });
        }
        Ok(out)
    }

    /// Places, escrows and starts `job`; returns once it is on chain.
    pub async fn submit(
        &mut self,
        job: &Prepared,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Record> {
        let v = &job.manifest.verification;
        let replicas = v.replicas;
        // A quorum job escrows as much again as its arbitration deposit, refunded with whatever is not paid.
        let deposit = if v.mode == VerificationMode::Quorum { 2 } else { 1 };
        let budget = job.price_per_replica * u128::from(replicas) * deposit;
        let me = self.client.address();
        let balance = self.client.ocat_balance(me).await?;
        if balance < budget {
            return Err(Error::Funds(format!(
                "{me} holds {} but the job escrows {} ({} replicas × {}{})",
                ocean_types::Amount::from_wei(balance),
                ocean_types::Amount::from_wei(budget),
                replicas,
                ocean_types::Amount::from_wei(job.price_per_replica),
                if deposit == 2 { ", doubled as the arbitration deposit, refunded when unused" } else { "" },
            )));
        }
        if self.client.eth_balance(me).await?.is_zero() {
            return Err(Error::Funds(format!("{me} has no ETH to pay for gas")));
        }

        // What other requesters' jobs showed since the last look: a failure there is a reason to look elsewhere.
        if let Err(e) = self.learn_from_chain().await {
            warn!(target: "ocean::requester", "learning from the market's history: {e}");
        }
        let mut candidates = self.candidates().await?;
        if job.private_inputs.is_some() {
            // Only providers that can open the inputs may take a private job.
            let reachable = candidates.len();
            let (keyed, keyless): (Vec<Candidate>, Vec<Candidate>) = candidates.into_iter().partition(|c| {
                self.ids.get(&c.id.0).is_some_and(|(a, _)| self.keys.get(a).is_some_and(|k| !k.is_zero()))
            });
            candidates = keyed;
            for c in keyless {
                if let Some((a, _)) = self.ids.get(&c.id.0) {
                    self.left_out.push((*a, "no registered encryption key, and the job is private".into()));
                }
            }
            if candidates.len() < usize::from(replicas) {
                return Err(Error::NotPlaced(format!(
                    "a private job needs {replicas} providers with a registered encryption key; {} of the \
                     {reachable} reachable providers have one",
                    candidates.len()
                )));
            }
        }
        progress(Progress::Placing { candidates: candidates.len() });
        let now = self.client.chain_time().await?;
        let commit_deadline = now + job.manifest.payment.deadline_secs;
        let salt: B256 = B256::from(rand::random::<[u8; 32]>());
        let job_id = self.client.job_id(salt);
        let task = Task {
            id: TaskId(u64::from_be_bytes(salt.0[..8].try_into().unwrap_or([0; 8]))),
            kind: Kind::CPU,
            work: Some(job.manifest.limits.fuel as f64 / FUEL_PER_WORK_UNIT),
            input_bytes: 0,
            needs: Resources { cores: 1, memory_mib: u64::from(job.manifest.limits.memory_mib), gpu: false },
            replicas,
            deadline_s: Some(job.manifest.payment.deadline_secs as f64),
            price_cap: Some(wei_to_ocat(job.price_per_replica)),
            min_stake: None,
        };

        let mode = match v.mode {
            VerificationMode::None => Mode::None,
            VerificationMode::Quorum => Mode::Quorum,
            VerificationMode::Zk => Mode::Proof,
        };
        // Only a quorum job is rebalanced (the market refuses the others: a proof is not bound to its provider).
        let rebalance_at = if mode == Mode::Quorum {
            rebalance_time(now, commit_deadline, job.manifest.limits.timeout_secs)
        } else {
            0
        };
        let limits = ocean_protocol::OfferLimits::of(&job.manifest.limits);
        let proof_spec = job.proof_spec.unwrap_or(B256::ZERO);
        let private = job.private_inputs.is_some();
        let offer_request = |manifest: Cid, providers: Vec<Address>| OfferRequest {
            job_id: format!("{job_id:#x}"),
            manifest_cid: manifest.to_string(),
            price_cap_wei: job.price_per_replica.to_string(),
            commit_deadline,
            private,
            input_mib: job.manifest.limits.input_mib,
            terms: ocean_protocol::OfferTerms {
                replicas,
                quorum: v.quorum,
                mode,
                proof_spec,
                limits,
                providers,
                rebalance_at,
            },
            slot: None,
        };

        // Providers sign only once they hold the job's data and have checked its manifest against the terms,
        // so placing is in two steps. First each chosen provider reserves a slot (a decliner is replaced, at
        // most 3 rounds); then the data goes to every one of them, and they sign the final terms (the whole
        // provider set, and a private job's manifest sealed to exactly that set).
        let mut excluded: Vec<ProviderId> = Vec::new();
        let mut declined: Vec<(Address, String)> = Vec::new();
        let mut chosen: Vec<(Address, String)> = Vec::new();
        for _round in 0..3 {
            let pool: Vec<Candidate> = candidates
                .iter()
                .filter(|c| !excluded.contains(&c.id) && !chosen.iter().any(|(a, _)| provider_id(*a) == c.id))
                .cloned()
                .collect();
            let mut wanted = task.clone();
            wanted.replicas = replicas - chosen.len() as u8;
            let picked = match self.scheduler.place(&wanted, &pool) {
                Placement::Assigned { providers } => providers,
                Placement::NotPlaced { reason } => {
                    return Err(Error::NotPlaced(reason.to_string()));
                }
            };
            chosen.extend(picked.iter().filter_map(|id| self.ids.get(&id.0).cloned()));
            let req = offer_request(job.manifest_cid, chosen.iter().map(|(a, _)| *a).collect());
            let answers = self.ask_all(&chosen, &req).await;
            for (addr, endpoint, answer) in answers {
                if let Err(e) = answer {
                    info!(target: "ocean::requester", %endpoint, "no offer: {e}");
                    declined.push((addr, format!("declined the offer: {e}")));
                    excluded.push(provider_id(addr));
                    chosen.retain(|(a, _)| *a != addr);
                }
            }
            if chosen.len() == usize::from(replicas) {
                break;
            }
        }
        if chosen.len() < usize::from(replicas) {
            return Err(Error::NotPlaced(format!(
                "only {} of {} providers offered to run the job (declined or unreachable: {})",
                chosen.len(),
                replicas,
                excluded.len()
            )));
        }
        let sealed;
        let job = match &job.private_inputs {
            Some(inputs) => {
                let providers: Vec<Address> = chosen.iter().map(|(a, _)| *a).collect();
                sealed = self.seal(job, inputs, &providers)?;
                &sealed
            }
            None => job,
        };

        // Push the bundle to every chosen provider before anything is on chain. Each upload streams its own
        // export of the CAR, so the requester never holds the job's data in memory.
        let uploads =
            join_all(chosen.iter().map(|(_, endpoint)| self.push_bundle(endpoint, job_id, job.bundle))).await;
        for u in uploads {
            u?;
        }
        let req = offer_request(job.manifest_cid, chosen.iter().map(|(a, _)| *a).collect());
        let answers = self.ask_all(&chosen, &req).await;
        let mut offers: Vec<(Address, String, JobMarket::Offer)> = Vec::new();
        for (addr, endpoint, answer) in answers {
            match answer {
                Ok(Some(o)) if o.provider == addr => offers.push((addr, endpoint, o)),
                Ok(_) => {
                    return Err(Error::NotPlaced(format!(
                        "{endpoint} did not sign after receiving the job's data"
                    )));
                }
                Err(e) => {
                    return Err(Error::NotPlaced(format!(
                        "{endpoint} refused to sign after receiving the job's data: {e}"
                    )));
                }
            }
        }
        progress(Progress::Offered { providers: offers.len() });
        progress(Progress::Placed { choices: self.explain(&task, &candidates, &offers, &declined) });

        let request = JobRequest {
            salt,
            manifest_cid: job.manifest_cid.to_bytes(),
            late_manifest: false,
            replicas,
            quorum: v.quorum,
            mode,
            price_per_replica: job.price_per_replica,
            commit_deadline,
            proof_spec,
            limits_hash: limits.hash(),
            rebalance_at,
        };
        let (created, receipt) =
            self.client.create_job(&request, offers.iter().map(|(_, _, o)| o.clone()).collect()).await?;
        progress(Progress::Created { job_id: created });
        let record = Record {
            job_id: format!("{created:#x}"),
            manifest_cid: job.manifest_cid.to_string(),
            providers: offers.iter().map(|(a, e, _)| (*a, e.clone())).collect(),
            submitted_at: unix_now(),
            create_gas: receipt.gas_used,
            result_cid: None,
            reveal_gas: None,
            bundle: Some(job.bundle.to_string()),
            created_at_ms: Some((unix_now_f64() * 1000.0) as u64),
        };
        self.save(&record)?;
        for (_, endpoint, _) in &offers {
            let url = format!("{}/tasks/{created:#x}/poke", endpoint.trim_end_matches('/'));
            if let Err(e) = self.http.post(&url).send().await {
                debug!(target: "ocean::requester", %url, "poke failed: {e}");
            }
        }
        Ok(record)
    }

    /// Streams the job's bundle (a CAR exported on the fly) to one provider.
    async fn push_bundle(&self, endpoint: &str, job_id: B256, bundle: Cid) -> Result<()> {
        let url = format!("{}/car?job={job_id:#x}", endpoint.trim_end_matches('/'));
        let body = car_body(self.store.clone(), bundle);
        match self.http.post(&url).timeout(UPLOAD_TIMEOUT).body(body).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => {
                let status = r.status();
                let why = r.text().await.unwrap_or_default();
                Err(Error::Peer { peer: url, message: format!("upload refused: {status} {why}") })
            }
            Err(e) => Err(Error::Peer { peer: url, message: e.to_string() }),
        }
    }

    /// A job went to arbitration: the drafted arbiters need its data, which only the requester is sure to
    /// have. Pushes it to each of `arbiters` (poking it first, so that it has scanned its assignment) and
    /// returns those that took it; the caller tries the others again later.
    async fn push_to_arbiters(
        &self,
        job_id: B256,
        arbiters: &[(Address, String)],
        bundle: Cid,
    ) -> Vec<Address> {
        let pushes = join_all(arbiters.iter().map(|(address, endpoint)| async move {
            let poke = format!("{}/tasks/{job_id:#x}/poke", endpoint.trim_end_matches('/'));
            let _ = self.http.post(&poke).send().await;
            match self.push_bundle(endpoint, job_id, bundle).await {
                Ok(()) => {
                    let _ = self.http.post(&poke).send().await;
                    Some(*address)
                }
                Err(e) => {
                    debug!(target: "ocean::requester", %endpoint, "arbiter did not take the job's data yet: {e}");
                    None
                }
            }
        }))
        .await;
        pushes.into_iter().flatten().collect()
    }

    /// Asks every provider of `chosen` for an offer on `req` at once: `(provider, endpoint, answer)` each.
    async fn ask_all(
        &self,
        chosen: &[(Address, String)],
        req: &OfferRequest,
    ) -> Vec<(Address, String, Result<Option<JobMarket::Offer>>)> {
        join_all(chosen.iter().map(|(addr, endpoint)| async move {
            (*addr, endpoint.clone(), self.ask_offer(endpoint, req).await)
        }))
        .await
    }

    /// Asks one provider for an offer: `Some` a signed offer, `None` a reserved slot (it signs once it holds
    /// the job's data).
    async fn ask_offer(&self, endpoint: &str, req: &OfferRequest) -> Result<Option<JobMarket::Offer>> {
        let url = format!("{}/offers", endpoint.trim_end_matches('/'));
        let peer = |message: String| Error::Peer { peer: url.clone(), message };
        // A provider that does not answer is treated as one that declined: placement never waits on it for good.
        let resp = self
            .http
            .post(&url)
            .timeout(OFFER_TIMEOUT)
            .json(req)
            .send()
            .await
            .map_err(|e| peer(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(peer(format!("HTTP {}", resp.status())));
        }
        match resp.json::<OfferResponse>().await.map_err(|e| peer(e.to_string()))? {
            OfferResponse::Reserved { .. } => Ok(None),
            OfferResponse::Offer { provider, price_wei, expiry, r, vs } => Ok(Some(JobMarket::Offer {
                provider: provider.parse().map_err(|_| peer("bad provider address".into()))?,
                price: alloy::primitives::Uint::<96, 2>::from(
                    price_wei.parse::<u128>().map_err(|_| peer("bad price".into()))?,
                ),
                expiry: alloy::primitives::Uint::<40, 1>::saturating_from(expiry),
                r: r.parse().map_err(|_| peer("bad signature".into()))?,
                vs: vs.parse().map_err(|_| peer("bad signature".into()))?,
            })),
            OfferResponse::Declined { reason } => Err(peer(format!("declined: {reason}"))),
        }
    }

    /// Past a job's rebalance time, with its quorum not reached: hands each slot whose provider has neither
    /// handed over a signed commitment (`heard`) nor committed on chain to a registered provider outside the
    /// job that offers to join it (`JobMarket.reassign`), pushing it the job's data first. Returns the slots
    /// handed on, with their new provider. A private job keeps its providers: its inputs are sealed to them.
    async fn rebalance(
        &self,
        job_id: B256,
        view: &JobView,
        assignment: &[ocean_chain::Assigned],
        heard: &[u8],
        bundle: Cid,
        passed_over: &mut Vec<Address>,
    ) -> Result<Vec<(ocean_chain::Assigned, String)>> {
        let manifest_cid = Cid::from_bytes(
            &self
                .client
                .manifest_cid(job_id)
                .await?
                .ok_or_else(|| Error::UnknownJob(format!("{job_id:#x}")))?,
        )?;
        let manifest = self.manifest_at(manifest_cid, &[]).await?;
        if manifest.privacy.encrypt {
            return Ok(Vec::new());
        }
        let mut current: Vec<ocean_chain::Assigned> = assignment.to_vec();
        let mut handed = Vec::new();
        let nodes = self.client.nodes().await?;
        for slot in assignment.iter().filter(|a| !heard.contains(&a.index)) {
            if self.client.onchain_commitment(job_id, slot.provider).await? != B256::ZERO {
                continue;
            }
            let candidates: Vec<&NodeInfo> = nodes
                .iter()
                .filter(|n| n.address != self.client.address() && !passed_over.contains(&n.address))
                .filter(|n| !current.iter().any(|a| a.provider == n.address))
                .take(MAX_REBALANCE_TRIES)
                .collect();
            for node in candidates {
                passed_over.push(node.address);
                let mut providers: Vec<Address> = current.iter().map(|a| a.provider).collect();
                providers[usize::from(slot.index)] = node.address;
                let req = OfferRequest {
                    job_id: format!("{job_id:#x}"),
                    manifest_cid: manifest_cid.to_string(),
                    price_cap_wei: view.price_per_replica.to_string(),
                    commit_deadline: view.commit_deadline,
                    input_mib: manifest.limits.input_mib,
                    private: false,
                    terms: ocean_protocol::OfferTerms {
                        replicas: view.replicas,
                        quorum: view.quorum,
                        mode: view.mode,
                        proof_spec: B256::ZERO,
                        limits: ocean_protocol::OfferLimits::of(&manifest.limits),
                        providers,
                        rebalance_at: view.rebalance_at,
                    },
                    slot: Some(slot.index),
                };
                let offer = match self.ask_offer(&node.endpoint, &req).await {
                    Ok(Some(o)) => Some(o),
                    Ok(None) => match self.push_bundle(&node.endpoint, job_id, bundle).await {
                        Ok(()) => self.ask_offer(&node.endpoint, &req).await.ok().flatten(),
                        Err(e) => {
                            debug!(target: "ocean::requester", endpoint = %node.endpoint, "no data pushed: {e}");
                            None
                        }
                    },
                    Err(e) => {
                        info!(target: "ocean::requester", endpoint = %node.endpoint, "no offer to join the job: {e}");
                        None
                    }
                };
                let Some(offer) = offer.filter(|o| o.provider == node.address) else { continue };
                let price = offer.price.to::<u128>();
                let onchain: Vec<_> = current.iter().map(ocean_chain::Assigned::to_assignment).collect();
                match self.client.reassign(job_id, onchain, slot.index, offer).await {
                    Ok(receipt) => {
                        info!(target: "ocean::requester", job = %format!("{job_id:#x}"), slot = slot.index, from = %slot.provider, to = %node.address, "slot handed on");
                        let joined = ocean_chain::Assigned {
                            job_id,
                            provider: node.address,
                            index: slot.index,
                            price,
                            block: receipt.block,
                        };
                        current[usize::from(slot.index)] = joined;
                        let poke = format!("{}/tasks/{job_id:#x}/poke", node.endpoint.trim_end_matches('/'));
                        let _ = self.http.post(&poke).send().await;
                        handed.push((joined, node.endpoint.clone()));
                        break;
                    }
                    Err(e) => {
                        warn!(target: "ocean::requester", "reassigning slot {} failed: {e}", slot.index)
                    }
                }
            }
        }
        Ok(handed)
    }

    fn records_dir(&self) -> PathBuf {
        self.repo.join("jobs")
    }

    fn save(&self, record: &Record) -> Result<()> {
        let dir = self.records_dir();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let path = dir.join(format!("{}.json", record.job_id));
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(record).map_err(|e| Error::Job(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }

    /// The local record of a job (made by `submit`).
    pub fn record(&self, job_id: B256) -> Result<Option<Record>> {
        let path = self.records_dir().join(format!("{job_id:#x}.json"));
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|e| Error::Job(e.to_string()))?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    /// Every job record, newest first.
    pub fn records(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let Ok(dir) = std::fs::read_dir(self.records_dir()) else { return Ok(out) };
        for entry in dir.flatten() {
            if entry.path().extension().is_some_and(|e| e == "json")
                && let Ok(bytes) = std::fs::read(entry.path())
                && let Ok(r) = serde_json::from_slice::<Record>(&bytes)
            {
                out.push(r);
            }
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.submitted_at));
        Ok(out)
    }

    /// Follows the job until it is final (settling it with the providers' signed commitments as soon as the
    /// protocol allows) or `timeout` passes; then fetches the accepted result into the local store.
    pub async fn wait(
        &mut self,
        job_id: B256,
        timeout: Duration,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Outcome> {
        let started = Instant::now();
        let mut record = self.record(job_id)?;
        let assignment = self.client.assignment(job_id).await?;
        let replicas = self.client.job(job_id).await?.replicas;
        if assignment.is_empty() && self.client.job(job_id).await?.state == State::Nonexistent {
            return Err(Error::UnknownJob(format!("{job_id:#x}")));
        }
        // The job's own providers; arbiters (indexes from `replicas` on) join the list once arbitration starts.
        let mut assignment: Vec<_> = assignment.into_iter().filter(|a| a.index < replicas).collect();
        let mut endpoints: HashMap<Address, String> = match &record {
            Some(r) => r.providers.iter().cloned().collect(),
            None => self.client.nodes().await?.into_iter().map(|n| (n.address, n.endpoint)).collect(),
        };
        let mut total = assignment.len();
        let mut last_done = usize::MAX;
        let mut observed: Vec<Address> = Vec::new();
        // When each provider's signed commitment was first seen, seconds after the job was submitted, by this
        // requester's clock: its latency as this requester lives it, never a figure a provider reports.
        let submitted = record.as_ref().map_or_else(unix_now_f64, |r| {
            r.created_at_ms.map_or(r.submitted_at as f64, |ms| ms as f64 / 1000.0)
        });
        let mut committed_after: HashMap<Address, f64> = HashMap::new();
        let mut last_chain_check = Instant::now() - Duration::from_secs(10);
        let mut reveal_gas = None;
        // Arbiters still to be given the job's data (`None` until arbitration starts).
        let mut unserved: Option<Vec<(Address, String)>> = None;
        // Rebalancing: providers already asked to join (or released), and when it was last tried.
        let mut passed_over: Vec<Address> = Vec::new();
        let mut last_rebalance: Option<Instant> = None;
        let fixed = self.client.job(job_id).await?;
        let mut state = fixed.state;
        loop {
            if started.elapsed() > timeout {
                return Err(Error::Timeout(format!("job {job_id:#x} not final after {timeout:?}")));
            }
            if last_chain_check.elapsed() >= Duration::from_secs(1) || reveal_gas.is_some() {
                last_chain_check = Instant::now();
                let view = self.client.job(job_id).await?;
                state = view.state;
                if view.state.is_final() {
                    let outcome =
                        self.finish(job_id, &view, &endpoints, &mut record, reveal_gas, progress).await?;
                    self.learn_from(&outcome, &committed_after).await;
                    return Ok(outcome);
                }
                if view.state == State::Arbitration {
                    if unserved.is_none() {
                        // From now on the verdict needs a majority of all 2r, arbiters included.
                        assignment = self.client.assignment(job_id).await?;
                        total = assignment.len();
                        for n in self.client.nodes().await? {
                            endpoints.entry(n.address).or_insert(n.endpoint);
                        }
                        let arbiters: Vec<(Address, String)> = assignment
                            .iter()
                            .filter(|a| a.index >= view.replicas)
                            .filter_map(|a| endpoints.get(&a.provider).map(|e| (a.provider, e.clone())))
                            .collect();
                        progress(Progress::Waiting {
                            reason: format!(
                                "no result had a majority: arbitration by {} drafted providers until {} (unix)",
                                arbiters.len(),
                                view.reveal_deadline
                            ),
                        });
                        unserved = Some(arbiters);
                    }
                    // An arbiter refuses the data until it has seen its assignment on chain: keep offering it.
                    let bundle = record.as_ref().and_then(|r| r.bundle.as_deref()).map(str::parse::<Cid>);
                    if let (Some(pending), Some(Ok(bundle))) = (unserved.as_mut(), bundle)
                        && !pending.is_empty()
                    {
                        let took = self.push_to_arbiters(job_id, pending, bundle).await;
                        pending.retain(|(a, _)| !took.contains(a));
                    }
                }
            }
            if fixed.mode == Mode::Proof {
                // The provider settles a zk job itself by submitting its proof; the chain check above sees it.
                if last_done != 0 {
                    last_done = 0;
                    progress(Progress::Waiting { reason: "the provider is proving the inference".into() });
                }
                tokio::time::sleep(self.options.poll).await;
                continue;
            }
            let this = &*self;
            let statuses = join_all(assignment.iter().map(|a| {
                let endpoint = endpoints.get(&a.provider).cloned();
                async move {
                    let request = this.task_read(&endpoint?, job_id).ok()?;
                    let resp = request.send().await.ok()?;
                    if !resp.status().is_success() {
                        return None;
                    }
                    resp.json::<TaskStatus>().await.ok()
                }
            }))
            .await;
            let mut by_cid: BTreeMap<String, Vec<JobMarket::SignedCommit>> = BTreeMap::new();
            let mut signed = Vec::new();
            let mut done = 0;
            for (a, st) in assignment.iter().zip(&statuses) {
                let Some(st) = st else { continue };
                if st.state == TaskPhase::Failed && !observed.contains(&a.provider) {
                    observed.push(a.provider);
                    self.learn(Event::Failed {
                        task: TaskId(0),
                        provider: provider_id(a.provider),
                        at: unix_now_f64(),
                    });
                }
                let (Some(cid), Some(sc)) = (&st.result_cid, &st.signed_commit) else { continue };
                let Some(sc) = parse_commit(sc) else { continue };
                if sc.index != a.index {
                    continue;
                }
                done += 1;
                committed_after.entry(a.provider).or_insert_with(|| (unix_now_f64() - submitted).max(0.0));
                by_cid.entry(cid.clone()).or_default().push(sc.clone());
                signed.push(sc);
            }
            if done != last_done {
                last_done = done;
                progress(Progress::Running { done, total });
            }
            // Quorum and deadlines never change; the state is refreshed above at most once a second, so that
            // polling providers does not also poll the chain.
            let view = &fixed;
            let now = unix_now();
            let best = by_cid.iter().max_by_key(|(_, v)| v.len());
            let arbitration = state == State::Arbitration;
            // In arbitration a result needs r + 1 of the 2r commitments, and only with every one in (the chain
            // knows the later deadline; the providers settle after it themselves).
            let needed = if arbitration { usize::from(view.replicas) + 1 } else { usize::from(view.quorum) };
            // Before the commit deadline a quorum settles with every commitment in, or without the silent ones
            // once the job's rebalance time has passed.
            let ready = done == total
                || (!arbitration
                    && (now > view.commit_deadline || (view.rebalance_at != 0 && now >= view.rebalance_at)));
            if let Some((cid, matching)) = best
                && matching.len() >= needed
                && ready
                && reveal_gas.is_none()
                && matches!(state, State::Assigned | State::Arbitration)
            {
                let cid: Cid = cid.parse()?;
                progress(Progress::Committed { matching: matching.len() });
                let assigned: Vec<_> = assignment.iter().map(ocean_chain::Assigned::to_assignment).collect();
                let revealed = if arbitration {
                    // The originals' commitments are on chain (the market counts no signature of theirs now).
                    let arbiters: Vec<_> =
                        signed.iter().filter(|sc| sc.index >= view.replicas).cloned().collect();
                    self.client.reveal_arbitration(job_id, assigned, &cid.to_bytes(), arbiters).await
                } else {
                    self.client.reveal(job_id, assigned, &cid.to_bytes(), signed.clone()).await
                };
                match revealed {
                    Ok(r) => reveal_gas = Some(r.gas_used),
                    Err(e) => warn!(target: "ocean::requester", "reveal failed (will retry): {e}"),
                }
                continue;
            }
            let bundle =
                record.as_ref().and_then(|r| r.bundle.as_deref()).and_then(|b| b.parse::<Cid>().ok());
            if !arbitration
                && state == State::Assigned
                && view.rebalancing(now)
                && best.is_none_or(|(_, m)| m.len() < usize::from(view.quorum))
                && last_rebalance.is_none_or(|t| t.elapsed() >= REBALANCE_RETRY)
                && let Some(bundle) = bundle
            {
                last_rebalance = Some(Instant::now());
                let heard: Vec<u8> = signed.iter().map(|sc| sc.index).collect();
                let handed =
                    self.rebalance(job_id, view, &assignment, &heard, bundle, &mut passed_over).await;
                match handed {
                    Ok(handed) => {
                        for (joined, endpoint) in handed {
                            let Some(slot) = assignment.iter_mut().find(|a| a.index == joined.index) else {
                                continue;
                            };
                            let released = std::mem::replace(slot, joined);
                            // A provider silent past the time it agreed to: a failure, as the scheduler sees it.
                            self.learn(Event::Failed {
                                task: TaskId(0),
                                provider: provider_id(released.provider),
                                at: unix_now_f64(),
                            });
                            progress(Progress::Waiting {
                                reason: format!(
                                    "{} stayed silent past the rebalance time: slot {} handed to {}",
                                    released.provider, joined.index, joined.provider
                                ),
                            });
                            endpoints.insert(joined.provider, endpoint.clone());
                            if let Some(r) = record.as_mut() {
                                r.providers.push((joined.provider, endpoint));
                                self.save(r)?;
                            }
                        }
                    }
                    Err(e) => warn!(target: "ocean::requester", "rebalancing failed (will retry): {e}"),
                }
                continue;
            }
            if done == total && best.is_some_and(|(_, m)| m.len() < usize::from(view.quorum)) {
                progress(Progress::Waiting {
                    reason: "providers disagree and no result has a majority; waiting for the deadline"
                        .into(),
                });
            } else if done < total && done >= usize::from(view.quorum) {
                let at = if view.rebalance_at != 0 { view.rebalance_at } else { view.commit_deadline };
                progress(Progress::Waiting {
                    reason: format!(
                        "{done} of {total} results in; settling without the rest at {at} (unix) if they never come"
                    ),
                });
            }
            tokio::time::sleep(self.options.poll).await;
        }
    }

    /// What the scheduler learns from a finalized job. Speed only from what the quorum verified: the finalized
    /// result's `fuel_used` (each paid provider committed to that very result, so it computed that much work)
    /// over the time this requester waited for the provider's commitment. Reliability from the chain's verdict:
    /// a paid provider finished, a slashed one failed.
    async fn learn_from(&mut self, outcome: &Outcome, committed_after: &HashMap<Address, f64>) {
        let work = match &outcome.result {
            Some(cid) if outcome.inference.is_none() => match ocean_job::read_fuel_used(&self.store, cid) {
                Ok(work) => work.map(|fuel| fuel as f64 / FUEL_PER_WORK_UNIT),
                Err(e) => {
                    debug!(target: "ocean::requester", "no work figure in the result: {e}");
                    None
                }
            },
            _ => None,
        };
        let at = unix_now_f64();
        for (provider, _) in &outcome.paid {
            let run_s = committed_after.get(provider).copied().unwrap_or(0.0);
            self.learn(finished(provider_id(*provider), work, run_s, at));
        }
        for (provider, _) in &outcome.slashed {
            self.learn(Event::Failed { task: TaskId(0), provider: provider_id(*provider), at });
        }
    }

    async fn finish(
        &mut self,
        job_id: B256,
        view: &JobView,
        endpoints: &HashMap<Address, String>,
        record: &mut Option<Record>,
        reveal_gas: Option<u64>,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Outcome> {
        let assignment = self.client.assignment(job_id).await?;
        let mut paid = Vec::new();
        let mut slashed = Vec::new();
        for a in &assignment {
            let (p, s) = self.client.settlement(job_id, a.provider).await?;
            if p > 0 {
                paid.push((a.provider, p));
            }
            if s > 0 {
                slashed.push((a.provider, s));
            }
        }
        // A proof job's on-chain result is the proven output itself, presented as a result directory.
        let (result, inference) = match self.client.result_cid(job_id).await? {
            Some(bytes) if view.mode == Mode::Proof => {
                let (cid, output) = ocean_job::proof::result_dir(&self.store, &bytes)?;
                (Some(cid), Some(output))
            }
            Some(bytes) => (Some(Cid::from_bytes(&bytes)?), None),
            None => (None, None),
        };
        let mut limit = None;
        if let Some(cid) = &result {
            progress(Progress::Finalized { result: *cid });
            let gateways: Vec<String> =
                paid.iter().filter_map(|(a, _)| endpoints.get(a).cloned()).collect::<Vec<_>>();
            // A private job's plaintext result is in no store: `results` fetches and opens its envelope.
            if inference.is_none() && !self.manifest_of(job_id, &gateways).await?.privacy.encrypt {
                let fetcher = ocean_store::fetch::Fetcher::new(self.store.clone(), gateways)?;
                fetcher.fetch(cid, &Arc::new(ocean_store::fetch::Progress::default())).await?;
                limit = ocean_job::read_limit_result(&self.store, cid)?;
            }
        }
        let mut gas = 0;
        if let Some(r) = record.as_mut() {
            r.result_cid = result.map(|c| c.to_string());
            if reveal_gas.is_some() {
                r.reveal_gas = reveal_gas;
            }
            gas = r.create_gas + r.reveal_gas.unwrap_or(0);
            self.save(r)?;
        }
        if let Some(hit) = &limit {
            info!(target: "ocean::requester", job = %format!("{job_id:#x}"), "{hit}; its providers were paid");
        }
        Ok(Outcome { job_id, state: view.state, result, paid, slashed, gas, inference, limit })
    }

    /// Writes a finalized job's result (already fetched by [`Requester::wait`], or fetched now) to `out`.
    ///
    /// A private job's result is fetched as the envelope a paid provider serves, decrypted in memory with
    /// this requester's identity, checked to be exactly the finalized CID (every block hash-checked, none
    /// missing), and only then written to `out`; nothing decrypted touches the disk before that.
    pub async fn results(&self, job_id: B256, out: &Path) -> Result<Cid> {
        let bytes = self
            .client
            .result_cid(job_id)
            .await?
            .ok_or_else(|| Error::Job(format!("job {job_id:#x} has no finalized result")))?;
        if self.client.job(job_id).await?.mode == Mode::Proof {
            // The chain holds the proven logits themselves: nothing to fetch from a provider.
            let (cid, _) = ocean_job::proof::result_dir(&self.store, &bytes)?;
            self.store.get(&cid, out)?;
            return Ok(cid);
        }
        let cid = Cid::from_bytes(&bytes)?;
        let mut gateways = Vec::new();
        let nodes = self.client.nodes().await?;
        for a in self.client.assignment(job_id).await? {
            if self.client.settlement(job_id, a.provider).await?.0 > 0 {
                gateways.extend(nodes.iter().filter(|n| n.address == a.provider).map(|n| n.endpoint.clone()));
            }
        }
        let manifest = self.manifest_of(job_id, &gateways).await?;
        if manifest.privacy.encrypt {
            return self.private_results(job_id, cid, &gateways, out).await;
        }
        if !self.store.has(&cid)? {
            let fetcher = ocean_store::fetch::Fetcher::new(self.store.clone(), gateways)?;
            fetcher.fetch(&cid, &Arc::new(ocean_store::fetch::Progress::default())).await?;
        }
        // The providers' DAG: its blocks may be shared at every level, so it is written only within what a
        // result of this job can hold.
        self.store.get_limited(&cid, out, ocean_job::result_limits(&manifest.limits))?;
        Ok(cid)
    }

    /// The limit result that a result written to `out` by [`Requester::results`] is, if it is one.
    pub fn limit_in(out: &Path) -> Result<Option<ocean_types::limit::LimitResult>> {
        Ok(ocean_job::read_limit_dir(out)?)
    }

    /// The job's manifest, from the local store or fetched (verified) from `gateways`.
    async fn manifest_of(&self, job_id: B256, gateways: &[String]) -> Result<Manifest> {
        let bytes = self
            .client
            .manifest_cid(job_id)
            .await?
            .ok_or_else(|| Error::UnknownJob(format!("{job_id:#x}")))?;
        self.manifest_at(Cid::from_bytes(&bytes)?, gateways).await
    }

    /// The manifest `cid`, from the local store or fetched from `gateways`.
    async fn manifest_at(&self, cid: Cid, gateways: &[String]) -> Result<Manifest> {
        if !self.store.has(&cid)? {
            let fetcher = ocean_store::fetch::Fetcher::new(self.store.clone(), gateways.to_vec())?;
            fetcher.fetch(&cid, &Arc::new(ocean_store::fetch::Progress::default())).await?;
        }
        let mut text = Vec::new();
        self.store
            .cat(&cid)?
            .read_to_end(&mut text)
            .map_err(|e| Error::io(format!("reading manifest {cid}"), e))?;
        Manifest::from_canonical(&text).map_err(|e| Error::Job(format!("manifest {cid}: {e}")))
    }

    async fn private_results(&self, job_id: B256, cid: Cid, gateways: &[String], out: &Path) -> Result<Cid> {
        let identity = self.options.identity.as_ref().ok_or_else(|| {
            Error::Privacy("this requester has no age identity to open the encrypted result".into())
        })?;
        let mut last = None;
        for gateway in gateways {
            match self.open_sealed(job_id, cid, gateway, identity).await {
                Ok(plain) => {
                    plain.get(&cid, out)?;
                    return Ok(cid);
                }
                Err(e) => {
                    warn!(target: "ocean::requester", %gateway, "cannot open the encrypted result: {e}");
                    last = Some(e);
                }
            }
        }
        Err(last
            .unwrap_or_else(|| Error::Privacy(format!("no paid provider of job {job_id:#x} to fetch from"))))
    }

    /// `GET /tasks/{job}` on the provider at `endpoint`, signed as this job's requester.
    fn task_read(&self, endpoint: &str, job_id: B256) -> Result<reqwest::RequestBuilder> {
        let path = task_path(job_id);
        let auth = self.client.sign_api_read("GET", &path, job_id)?;
        let mut request = self.http.get(format!("{}{path}", endpoint.trim_end_matches('/')));
        for (name, value) in read_headers(&auth) {
            request = request.header(name, value);
        }
        Ok(request)
    }

    /// Fetches `gateway`'s envelope of the result, decrypts it and checks it is the tree `cid`, in memory.
    async fn open_sealed(
        &self,
        job_id: B256,
        cid: Cid,
        gateway: &str,
        identity: &ocean_crypto::Identity,
    ) -> Result<Store> {
        let url = format!("{}{}", gateway.trim_end_matches('/'), task_path(job_id));
        let peer = |message: String| Error::Peer { peer: url.clone(), message };
        let resp = self.task_read(gateway, job_id)?.send().await.map_err(|e| peer(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(peer(format!("HTTP {}", resp.status())));
        }
        let status: TaskStatus = resp.json().await.map_err(|e| peer(e.to_string()))?;
        let envelope: Cid =
            status.envelope_cid.ok_or_else(|| peer("serves no encrypted result".into()))?.parse()?;
        if !self.store.has(&envelope)? {
            let fetcher = ocean_store::fetch::Fetcher::new(self.store.clone(), vec![gateway.to_owned()])?;
            fetcher.fetch(&envelope, &Arc::new(ocean_store::fetch::Progress::default())).await?;
        }
        let mut sealed = Vec::new();
        self.store
            .cat(&envelope)?
            .read_to_end(&mut sealed)
            .map_err(|e| Error::io(format!("reading {envelope}"), e))?;
        let car = ocean_crypto::decrypt(identity, &sealed)
            .map_err(|e| Error::envelope(format!("the result of job {job_id:#x} from {gateway}"), e))?;
        let plain = Store::memory();
        let roots = plain.import_car(std::io::Cursor::new(car))?;
        if roots != [cid] {
            return Err(Error::Privacy(format!(
                "the decrypted result from {gateway} is {roots:?}, not the finalized {cid}"
            )));
        }
        // Every block of the tree must be there before anything is written out.
        plain.export_car(&cid, std::io::sink())?;
        Ok(plain)
    }
}

fn parse_commit(sc: &ocean_protocol::SignedCommit) -> Option<JobMarket::SignedCommit> {
    Some(JobMarket::SignedCommit {
        index: sc.index,
        commitment: sc.commitment.parse().ok()?,
        r: sc.r.parse().ok()?,
        vs: sc.vs.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_words_reach_the_terminal_without_control_characters() {
        // A registered endpoint or a decline reason is whatever its provider wrote: clearing the screen,
        // moving the cursor or forging another line of `--explain` output must not get through.
        let hostile = "declined the offer: \u{1b}[2J\u{1b}[1;1H+ 0xbeef: chosen\r\nok\u{7}";
        let shown = printable(hostile);
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert_eq!(shown, "declined the offer: \\u{1b}[2J\\u{1b}[1;1H+ 0xbeef: chosen\\r\\nok\\u{7}");
        assert_eq!(printable("plain text, ünïcode kept"), "plain text, ünïcode kept");
    }

    #[test]
    fn a_compacted_log_keeps_the_last_events_of_each_provider_in_order() {
        let event = |p: u64, at: f64| {
            serde_json::to_string(&Event::Failed { task: TaskId(0), provider: ProviderId(p), at })
                .expect("encodes")
        };
        let mut lines: Vec<String> = (0..200).map(|i| event(1, f64::from(i))).collect();
        lines.push(event(2, 500.0));
        lines.push("not an event".into());
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let kept = compacted(&refs);
        assert_eq!(kept.len(), LOG_KEEP_PER_PROVIDER + 1);
        assert_eq!(kept[0], event(1, f64::from(200 - LOG_KEEP_PER_PROVIDER as i32)));
        assert_eq!(kept[LOG_KEEP_PER_PROVIDER - 1], event(1, 199.0));
        assert_eq!(kept[LOG_KEEP_PER_PROVIDER], event(2, 500.0));
    }
}
