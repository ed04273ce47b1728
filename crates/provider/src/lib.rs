//! The provider daemon (`ocean node start`): it sells compute to strangers and trusts none of them.
//!
//! A persisted state machine ([`db`], redb) per task: assigned → running → done → (committing → committed) →
//! settled | failed. An HTTP API (its wire types are ocean-protocol's) answers offer requests with EIP-712
//! signatures, accepts the job's blocks as a CAR (hash-checked), reports task status and signed commitments
//! to the job's requester, and serves finalized results as a trustless gateway. A watcher scans the chain for
//! assignments and drives settlement; a bounded queue feeds a fixed number of workers, each of which runs its
//! task in an executor process (ocean-executor), never on the async runtime. This crate is the only one that
//! links the sandbox and the prover; the requester side (ocean-requester) meets it only through the chain and
//! this API.
//!
//! ```text
//!   HTTP API (api.rs) ── offers, CAR uploads, pokes, task status, gateway
//!        │ poke                                   ▲ status
//!        ▼                                        │
//!   watcher: scan ProviderAssigned logs ──► Assigned ──► bounded queue ──► workers (runtime) ──► Done
//!        │                                                                                  │
//!        └──── settler: Done ─(no settlement in time)─► Committing ─► Committed ─► Settled  ◄┘
//!                          (requester settled with the signed commit) ──────────────► Settled
//! ```
//!
//! Every transition is persisted in [`Db`](crate::db::Db) before its effect, and a restart resumes:
//! `Assigned`/`Running` tasks are queued again (runs are deterministic, so a re-run gives the same result and
//! the same commitment), `Committing` checks the chain before committing, so no job is ever committed twice.

mod api;
pub mod auth;
pub mod db;
mod error;
mod gate;
pub mod gc;
mod listener;
mod offers;
mod private;
mod settle;
mod worker;
mod zk;

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use ocean_chain::{B256, Client};
use ocean_store::Store;
use tokio::sync::{Notify, mpsc};
use tracing::{info, warn};

use crate::db::{Db, Task, TaskState};

pub use error::{Error, Result};
pub use listener::Limits;

/// How a provider runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Data directory: `store/`, `node.redb`, `cache/`, `work/`.
    pub repo: PathBuf,
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// Price per job (wei) the provider asks.
    pub price: u128,
    /// Tasks run at once.
    pub max_concurrency: usize,
    /// Most tasks assigned and waiting for a worker; more offers are declined.
    pub max_queue: usize,
    /// Most offers signed and not yet assigned or expired, in all and per asking peer (the offer table is in
    /// memory; see `offers.rs`).
    pub max_offers: usize,
    /// See `max_offers`.
    pub max_offers_per_peer: usize,
    /// How often the chain is scanned (and settlement looks at the node's tasks).
    pub poll_interval: Duration,
    /// A WebSocket endpoint of the chain: when set, the node subscribes to its own assignment events and scans
    /// the moment one arrives instead of at its next poll (polling goes on: the subscription is only a hint).
    pub ws_url: Option<String>,
    /// Blocks an assignment must be deep before the node takes it as work (0 on an automining devnet, a few
    /// on a chain that reorganizes).
    pub confirmations: u64,
    /// After a result is ready, how long the requester has to settle with the signed commitment before the
    /// node commits on chain itself (never later than half-way to the commit deadline).
    pub commit_grace: Duration,
    /// Advertised cores and memory.
    pub cores: u32,
    /// Advertised memory, MiB.
    pub memory_mib: u64,
    /// Fault injection (test builds only): report a wrong result for every job.
    #[cfg(feature = "fault-injection")]
    pub fault_wrong_result: bool,
    /// How to start the executor process that compiles and runs each task (default: this binary's hidden
    /// `executor` subcommand).
    pub executor: ocean_executor::Config,
    /// The node's age identity, whose recipient is its registered encryption key: it opens private jobs'
    /// inputs. Without one the node declines private jobs.
    pub identity: Option<ocean_crypto::Identity>,
    /// Proving key for zk jobs (`ocean zk setup` → params.bin). Without one the node proves with the
    /// development parameters, whose verifier `ocean deploy` installs.
    pub zk_params: Option<PathBuf>,
    /// Bounds on the listener: connections, timeouts, body sizes, concurrency, per-peer rate.
    pub limits: Limits,
    /// Most job data (`limits.input_mib`) the node accepts for one job, MiB; it declines jobs that ask more.
    pub max_input_mib: u32,
    /// Most job data, MiB, the node holds for jobs not assigned on chain: uploads for open offers (counted as
    /// their bytes arrive) and for expired ones until gc releases them. An upload past it is cut off (507).
    pub max_offer_data_mib: u64,
    /// How long a finished job's data and result stay pinned (for the requester to fetch) before gc may
    /// delete them.
    pub retention: Duration,
    /// How often the daemon runs gc.
    pub gc_interval: Duration,
}

impl Config {
    /// Defaults for `repo`, listening on `listen`.
    pub fn new(repo: PathBuf, listen: SocketAddr) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        Self {
            repo,
            listen,
            price: 1_000_000_000_000_000,
            max_concurrency: cores as usize,
            max_queue: 256,
            max_offers: 4096,
            max_offers_per_peer: 64,
            poll_interval: Duration::from_millis(500),
            ws_url: None,
            confirmations: 0,
            commit_grace: Duration::from_secs(30),
            cores,
            memory_mib: 4096,
            #[cfg(feature = "fault-injection")]
            fault_wrong_result: false,
            executor: ocean_executor::Config::default(),
            identity: None,
            zk_params: None,
            limits: Limits::default(),
            max_input_mib: 4096,
            max_offer_data_mib: 16 * 1024,
            retention: Duration::from_secs(24 * 3600),
            gc_interval: Duration::from_secs(3600),
        }
    }
}

/// Shared state of the daemon's tasks.
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) client: Client,
    pub(crate) store: Store,
    pub(crate) db: Db,
    /// Serializes read-modify-write of task records (never held across an await).
    pub(crate) tasks_lock: Mutex<()>,
    pub(crate) queue: mpsc::Sender<String>,
    pub(crate) poke: Notify,
    pub(crate) running: AtomicU32,
    pub(crate) completed: AtomicU64,
    /// The zk proving key, loaded at the first zk job.
    pub(crate) zk_params: tokio::sync::OnceCell<Arc<ocean_zk::Params>>,
    /// Offers signed and not yet assigned (memory only).
    pub(crate) offers: offers::Offers,
    /// Who may read what.
    pub(crate) auth: auth::Auth,
    /// What the gateway may serve.
    pub(crate) gate: gate::Gate,
    /// Parked tasks: their job data has not arrived yet (an arbiter is drafted by the chain before anyone
    /// pushes it the data), or the queue was full when they were assigned or resumed. The watcher queues each once its
    /// data's upload is complete and the queue has room, and fails it once its job can no longer use a result.
    pub(crate) awaiting_data: Mutex<std::collections::BTreeSet<String>>,
}

impl Inner {
    /// Applies `f` to the stored task, persists and returns the result; `None` if unknown.
    pub(crate) fn update(&self, job_id: &str, f: impl FnOnce(&mut Task)) -> Result<Option<Task>> {
        let _guard = self.tasks_lock.lock().map_err(|_| Error::Db("task lock poisoned".into()))?;
        let Some(mut task) = self.db.get(job_id)? else { return Ok(None) };
        f(&mut task);
        self.db.put(&task)?;
        if task.state == TaskState::Done {
            // From this moment the requester may settle and fetch the result before the watcher's next look
            // at the chain: the gateway must know to check the chain when the result is asked for.
            self.gate.expect_task(&task);
        }
        Ok(Some(task))
    }

    /// Tasks assigned and waiting for a worker.
    pub(crate) fn assigned(&self) -> Result<u32> {
        Ok(self.db.active()?.iter().filter(|t| t.state == TaskState::Assigned).count() as u32)
    }
}

/// A running provider.
pub struct Provider {
    inner: Arc<Inner>,
    receiver: mpsc::Receiver<String>,
}

/// Unix time now, seconds.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(crate) fn job_hex(id: B256) -> String {
    format!("{id:#x}")
}

impl Provider {
    /// Opens the node's store and state and prepares the sandbox. Does not touch the chain.
    pub fn open(config: Config, client: Client) -> Result<Self> {
        let store = Store::open(config.repo.join("store"))?;
        let db = Db::open(&config.repo.join("node.redb"))?;
        // Nothing runs in this process, but making the engine once checks the sandbox's configuration here
        // and creates the compiled-module cache's key before parallel executor processes look for it.
        ocean_runtime::Runtime::new(&ocean_runtime::Config { cache_dir: Some(config.repo.join("cache")) })?;
        let (queue, receiver) = mpsc::channel(config.max_queue.max(1));
        let auth = auth::Auth::open(&config.repo, client.api_domain())?;
        let offers = offers::Offers::new(
            config.max_offers,
            config.max_offers_per_peer,
            config.max_offer_data_mib.saturating_mul(1 << 20),
            config.gc_interval.as_secs(),
        );
        let inner = Arc::new(Inner {
            config,
            client,
            store,
            db,
            tasks_lock: Mutex::new(()),
            queue,
            poke: Notify::new(),
            running: AtomicU32::new(0),
            completed: AtomicU64::new(0),
            zk_params: tokio::sync::OnceCell::new(),
            offers,
            auth,
            gate: gate::Gate::default(),
            awaiting_data: Mutex::default(),
        });
        Ok(Self { inner, receiver })
    }

    /// The node's tasks.
    pub fn tasks(&self) -> Result<Vec<Task>> {
        self.inner.db.all()
    }

    /// The HTTP API as a `Router` with every limit applied (what [`Provider::run`] serves), for in-process tests
    /// (`tower::ServiceExt::oneshot`). The listener adds each request's `ConnectInfo<SocketAddr>`; without one
    /// requests share one rate-limit key.
    #[cfg(feature = "test-utils")]
    pub fn router(&self) -> axum::Router {
        api::router(self.inner.clone())
    }

    /// Writes a task record as if the watcher had, for tests of what the API shows of it.
    #[cfg(feature = "test-utils")]
    pub fn put_task(&self, task: &Task) -> Result<()> {
        self.inner.db.put(task)
    }

    /// Publishes a finalized task's blocks on the gateway as the watcher does, for tests.
    #[cfg(feature = "test-utils")]
    pub async fn publish(&self, task: Task) {
        settle::publish(&self.inner, task).await;
    }

    /// The node's chain client.
    #[cfg(feature = "test-utils")]
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The node's store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Runs the daemon until `shutdown` resolves: API, chain watcher, workers and settler.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<()> {
        let Self { inner, receiver } = self;
        let listener = tokio::net::TcpListener::bind(inner.config.listen)
            .await
            .map_err(|e| Error::io(format!("listening on {}", inner.config.listen), e))?;
        info!(target: "ocean::node", addr = %inner.config.listen, provider = %inner.client.address(), "provider up");

        // Resume: anything assigned or interrupted mid-run goes back in the queue, as far as it has room. The
        // workers do not run yet, so waiting for room here would never end: the rest wait with the parked tasks,
        // which the watcher queues as room frees up (a run is deterministic, so an interrupted one starts over).
        for task in inner.db.active()? {
            if matches!(task.state, TaskState::Assigned | TaskState::Running) {
                if task.state == TaskState::Running {
                    inner.update(&task.job_id, |t| t.state = TaskState::Assigned)?;
                }
                match inner.queue.try_send(task.job_id.clone()) {
                    Ok(()) => info!(target: "ocean::node", job = %task.job_id, "resuming task"),
                    Err(mpsc::error::TrySendError::Full(job)) => {
                        info!(target: "ocean::node", %job, "resuming task once the queue has room");
                        inner
                            .awaiting_data
                            .lock()
                            .map_err(|_| Error::Db("awaiting-data lock poisoned".into()))?
                            .insert(job);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        return Err(Error::Db("queue closed".into()));
                    }
                }
            }
        }

        // Finalized results stay servable across restarts for as long as their data is kept: the tasks whose
        // holds gc has not released (one retention period of history), not every task the node ever ran.
        tokio::spawn({
            let inner = inner.clone();
            async move {
                let settled = inner.db.holds().map(|holds| {
                    holds
                        .iter()
                        .filter_map(|h| inner.db.get(&h.job_id).ok().flatten())
                        .filter(|t| matches!(t.state, TaskState::Settled { .. }))
                        .collect::<Vec<_>>()
                });
                match settled {
                    Ok(tasks) => {
                        for t in tasks {
                            settle::publish(&inner, t).await;
                        }
                    }
                    Err(e) => warn!(target: "ocean::node", "listing finalized tasks: {e}"),
                }
            }
        });

        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let api = tokio::spawn({
            let router = api::router(inner.clone());
            let limits = inner.config.limits.clone();
            let stop = stop_rx.clone();
            async move { listener::serve(listener, router, &limits, stop).await }
        });
        let workers = worker::spawn(inner.clone(), receiver, stop_rx.clone());
        let watcher = tokio::spawn(settle::watch(inner.clone(), stop_rx.clone()));
        let subscriber = inner
            .config
            .ws_url
            .clone()
            .map(|url| tokio::spawn(settle::subscribe(inner.clone(), url, stop_rx.clone())));
        let settler = tokio::spawn(settle::settle_periodically(inner.clone(), stop_rx.clone()));
        let collector = tokio::spawn(collect_periodically(inner.clone(), stop_rx.clone()));

        shutdown.await;
        info!(target: "ocean::node", "shutting down");
        let _ = stop_tx.send(true);
        for (name, task) in [("watcher", watcher), ("settler", settler)] {
            if let Err(e) = task.await {
                warn!(target: "ocean::node", "{name} ended abnormally: {e}");
            }
        }
        for w in workers {
            let _ = w.await;
        }
        let _ = collector.await;
        if let Some(s) = subscriber {
            let _ = s.await;
        }
        api.await.map_err(|e| Error::Db(format!("API task: {e}")))
    }
}

/// Runs [`gc::collect`] on a stopped node's repository (`ocean node gc`): releases the data of jobs over for
/// longer than `retention` and deletes unpinned blocks. Fails if the node is running (its database is locked).
pub fn gc(repo: &std::path::Path, retention: Duration) -> Result<gc::Report> {
    let db = Db::open(&repo.join("node.redb"))?;
    let store = Store::open(repo.join("store"))?;
    gc::collect(&db, &store, now(), retention.as_secs())
}

/// The daemon's gc: every `gc_interval`, on a blocking thread.
async fn collect_periodically(inner: Arc<Inner>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(inner.config.gc_interval.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tick.tick() => {}
        }
        let inner2 = inner.clone();
        let ran = tokio::task::spawn_blocking(move || {
            gc::collect(&inner2.db, &inner2.store, now(), inner2.config.retention.as_secs())
        })
        .await;
        match ran {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(target: "ocean::node", "gc failed: {e}"),
            Err(e) => warn!(target: "ocean::node", "gc task: {e}"),
        }
    }
}

pub(crate) fn running_inc(inner: &Inner) {
    inner.running.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn running_dec(inner: &Inner) {
    inner.running.fetch_sub(1, Ordering::Relaxed);
}
