//! The provider daemon.
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

use crate::{
    Error, Result,
    db::{Db, Task, TaskState},
};

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
    /// Most tasks offered or queued at once; more offers are declined.
    pub max_queue: usize,
    /// How often the chain is scanned.
    pub poll_interval: Duration,
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
            poll_interval: Duration::from_millis(500),
            commit_grace: Duration::from_secs(30),
            cores,
            memory_mib: 4096,
            #[cfg(feature = "fault-injection")]
            fault_wrong_result: false,
            executor: ocean_executor::Config::default(),
            identity: None,
            zk_params: None,
        }
    }
}

/// Shared state of the daemon's tasks.
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) client: Client,
    pub(crate) store: Store,
    pub(crate) runtime: ocean_runtime::Runtime,
    pub(crate) db: Db,
    /// Serializes read-modify-write of task records (never held across an await).
    pub(crate) tasks_lock: Mutex<()>,
    pub(crate) queue: mpsc::Sender<String>,
    pub(crate) poke: Notify,
    pub(crate) running: AtomicU32,
    pub(crate) completed: AtomicU64,
    /// The zk proving key, loaded at the first zk job.
    pub(crate) zk_params: tokio::sync::OnceCell<Arc<ocean_zk::Params>>,
}

impl Inner {
    /// Applies `f` to the stored task, persists and returns the result; `None` if unknown.
    pub(crate) fn update(&self, job_id: &str, f: impl FnOnce(&mut Task)) -> Result<Option<Task>> {
        let _guard = self.tasks_lock.lock().map_err(|_| Error::Db("task lock poisoned".into()))?;
        let Some(mut task) = self.db.get(job_id)? else { return Ok(None) };
        f(&mut task);
        self.db.put(&task)?;
        Ok(Some(task))
    }

    pub(crate) fn queued(&self) -> Result<u32> {
        Ok(self
            .db
            .active()?
            .iter()
            .filter(|t| matches!(t.state, TaskState::Offered { .. } | TaskState::Assigned))
            .count() as u32)
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
        let runtime = ocean_runtime::Runtime::new(&ocean_runtime::Config {
            cache_dir: Some(config.repo.join("cache")),
        })?;
        let (queue, receiver) = mpsc::channel(config.max_queue.max(1));
        let inner = Arc::new(Inner {
            config,
            client,
            store,
            runtime,
            db,
            tasks_lock: Mutex::new(()),
            queue,
            poke: Notify::new(),
            running: AtomicU32::new(0),
            completed: AtomicU64::new(0),
            zk_params: tokio::sync::OnceCell::new(),
        });
        Ok(Self { inner, receiver })
    }

    /// The node's tasks.
    pub fn tasks(&self) -> Result<Vec<Task>> {
        self.inner.db.all()
    }

    /// Runs the daemon until `shutdown` resolves: API, chain watcher, workers and settler.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<()> {
        let Self { inner, receiver } = self;
        let listener = tokio::net::TcpListener::bind(inner.config.listen)
            .await
            .map_err(|e| Error::io(format!("listening on {}", inner.config.listen), e))?;
        info!(target: "ocean::node", addr = %inner.config.listen, provider = %inner.client.address(), "provider up");

        // Resume: anything assigned or interrupted mid-run goes back in the queue.
        for task in inner.db.active()? {
            if matches!(task.state, TaskState::Assigned | TaskState::Running) {
                info!(target: "ocean::node", job = %task.job_id, state = task.state.name(), "resuming task");
                inner.queue.send(task.job_id.clone()).await.map_err(|_| Error::Db("queue closed".into()))?;
            }
        }

        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let api = tokio::spawn({
            let router = api::router(inner.clone());
            let mut stop = stop_rx.clone();
            async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stop.changed().await;
                    })
                    .await
            }
        });
        let workers = worker::spawn(inner.clone(), receiver, stop_rx.clone());
        let watcher = tokio::spawn(settle::watch(inner.clone(), stop_rx.clone()));

        shutdown.await;
        info!(target: "ocean::node", "shutting down");
        let _ = stop_tx.send(true);
        if let Err(e) = watcher.await {
            warn!(target: "ocean::node", "watcher ended abnormally: {e}");
        }
        for w in workers {
            let _ = w.await;
        }
        match api.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::io("serving the API", e)),
            Err(e) => Err(Error::Db(format!("API task: {e}"))),
        }
    }
}

pub(crate) fn running_inc(inner: &Inner) {
    inner.running.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn running_dec(inner: &Inner) {
    inner.running.fetch_sub(1, Ordering::Relaxed);
}
