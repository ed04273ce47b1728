//! `ocean node`: run a provider.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use eyre::{WrapErr, bail};
use ocean_chain::{B256, bindings::NodeRegistry};
use ocean_provider::{self as provider, Provider};
use ocean_types::Amount;
use serde::{Deserialize, Serialize};

use crate::{config::Config, exit::out, session};

/// Run a provider: earn OCAT by running jobs in the sandbox.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    // Boxed: the node's settings make this the largest of the top-level commands.
    #[command(subcommand)]
    command: Box<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create the node's key (an Ethereum keystore) and settings in the repo; prints its address and the
    /// age recipient (derived from the key) that private jobs' inputs are encrypted to.
    Init(Settings),
    /// Register on chain if needed, then serve: watch for assignments, run jobs, commit, collect payment.
    Start(Start),
    /// Show the node's tasks, stake and earnings.
    Status,
    /// Withdraw everything the JobMarket owes this node.
    Withdraw,
    /// Release the data of jobs finished more than the retention period ago, and delete unpinned blocks. Run it
    /// on a stopped node: a running node does this by itself every `--gc-interval-secs`.
    Gc {
        /// Seconds a finished job's data is kept [default: the node's `retention_secs`, else 86400].
        #[arg(long)]
        retention_secs: Option<u64>,
    },
    /// Start unbonding stake (withdrawable after the registry's unbonding delay).
    Unbond {
        /// Amount to unbond, e.g. `100` or `100 OCAT`; all of it when omitted.
        amount: Option<Amount>,
    },
}

/// Settings kept in `<repo>/node.json`; flags override them.
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
struct Settings {
    /// Key name in <repo>/keys.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Address the HTTP API listens on [default: 127.0.0.1:7700].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<SocketAddr>,
    /// URL requesters reach the API at, registered on chain [default: http://<listen>].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    /// Price per job [default: 0.001 OCAT].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<Amount>,
    /// Stake to register with [default: the registry's minimum].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    stake: Option<Amount>,
    /// Jobs run at once [default: number of cores].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency: Option<usize>,
    /// Proving key for zk jobs (params.bin from `ocean zk setup`) [default: the development parameters,
    /// whose verifier `ocean deploy` installs].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    zk_params: Option<PathBuf>,
    /// Connections open at once; more are closed on accept [default: 1024].
    #[arg(long, env = "OCEAN_NODE_MAX_CONNECTIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections: Option<usize>,
    /// Connections open at once from one IP address [default: 32].
    #[arg(long, env = "OCEAN_NODE_MAX_CONNECTIONS_PER_PEER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections_per_peer: Option<usize>,
    /// Seconds a client has to send a request's headers (and an idle connection stays open) [default: 10].
    #[arg(long, env = "OCEAN_NODE_HEADER_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    header_timeout_secs: Option<u64>,
    /// Seconds to answer a request, body included, uploads excepted [default: 30].
    #[arg(long, env = "OCEAN_NODE_REQUEST_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    request_timeout_secs: Option<u64>,
    /// Seconds to receive one upload of a job's data [default: 600].
    #[arg(long, env = "OCEAN_NODE_UPLOAD_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_timeout_secs: Option<u64>,
    /// Requests handled at once; more are answered 503 [default: 256].
    #[arg(long, env = "OCEAN_NODE_MAX_IN_FLIGHT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_in_flight: Option<usize>,
    /// Sustained requests per second from one IP address [default: 100].
    #[arg(long, env = "OCEAN_NODE_RATE_PER_SEC")]
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_per_sec: Option<u32>,
    /// Requests one IP address may make at once above the rate [default: 200].
    #[arg(long, env = "OCEAN_NODE_RATE_BURST")]
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_burst: Option<u32>,
    /// Most job data the node accepts for one job, MiB; jobs asking more are declined [default: 4096].
    #[arg(long, env = "OCEAN_NODE_MAX_INPUT_MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_input_mib: Option<u32>,
    /// Most job data, MiB, the node holds for jobs not yet assigned on chain (uploads for open offers, and for
    /// expired ones until gc releases them); an upload past it is cut off with 507 [default: 16384].
    #[arg(long, env = "OCEAN_NODE_MAX_OFFER_DATA_MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_offer_data_mib: Option<u64>,
    /// Seconds a finished job's data and result stay pinned before gc may delete them [default: 86400].
    #[arg(long, env = "OCEAN_NODE_RETENTION_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_secs: Option<u64>,
    /// Seconds between the running node's gc passes [default: 3600].
    #[arg(long, env = "OCEAN_NODE_GC_INTERVAL_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    gc_interval_secs: Option<u64>,
    /// Blocks an assignment must be deep before the node takes it as work: 0 on an automining devnet, a few
    /// on a chain that reorganizes [default: 0].
    #[arg(long, env = "OCEAN_NODE_CONFIRMATIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmations: Option<u64>,
}

#[derive(Debug, clap::Args)]
struct Start {
    #[command(flatten)]
    settings: Settings,
    /// Chain polling interval in milliseconds.
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
    /// A WebSocket endpoint of the chain (ws:// or wss://): the node subscribes to its own assignment events
    /// there and sees new work at once instead of at its next poll. Polling goes on either way.
    #[arg(long, env = "OCEAN_NODE_WS_URL")]
    ws_url: Option<String>,
    /// Seconds a requester has to settle with the signed commitment before the node commits on chain.
    #[arg(long, default_value_t = 30)]
    commit_grace_secs: u64,
    /// Fault injection (test builds only): report a wrong result for every job.
    #[cfg(feature = "fault-injection")]
    #[arg(long, hide = true)]
    fault_wrong_result: bool,
}

const SETTINGS_FILE: &str = "node.json";

impl Settings {
    fn load(repo: &std::path::Path) -> eyre::Result<Self> {
        let path = repo.join(SETTINGS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).wrap_err_with(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).wrap_err_with(|| format!("reading {}", path.display())),
        }
    }

    fn merged(self, flags: Settings) -> Self {
        Self {
            name: flags.name.or(self.name),
            listen: flags.listen.or(self.listen),
            endpoint: flags.endpoint.or(self.endpoint),
            price: flags.price.or(self.price),
            stake: flags.stake.or(self.stake),
            concurrency: flags.concurrency.or(self.concurrency),
            zk_params: flags.zk_params.or(self.zk_params),
            max_connections: flags.max_connections.or(self.max_connections),
            max_connections_per_peer: flags.max_connections_per_peer.or(self.max_connections_per_peer),
            header_timeout_secs: flags.header_timeout_secs.or(self.header_timeout_secs),
            request_timeout_secs: flags.request_timeout_secs.or(self.request_timeout_secs),
            upload_timeout_secs: flags.upload_timeout_secs.or(self.upload_timeout_secs),
            max_in_flight: flags.max_in_flight.or(self.max_in_flight),
            rate_per_sec: flags.rate_per_sec.or(self.rate_per_sec),
            rate_burst: flags.rate_burst.or(self.rate_burst),
            max_input_mib: flags.max_input_mib.or(self.max_input_mib),
            max_offer_data_mib: flags.max_offer_data_mib.or(self.max_offer_data_mib),
            retention_secs: flags.retention_secs.or(self.retention_secs),
            gc_interval_secs: flags.gc_interval_secs.or(self.gc_interval_secs),
            confirmations: flags.confirmations.or(self.confirmations),
        }
    }

    /// The provider's limits and disk settings: each setting given, or its default.
    fn apply(&self, pc: &mut provider::Config) {
        let l = &mut pc.limits;
        let secs = Duration::from_secs;
        l.max_connections = self.max_connections.unwrap_or(l.max_connections);
        l.max_connections_per_peer = self.max_connections_per_peer.unwrap_or(l.max_connections_per_peer);
        l.header_timeout = self.header_timeout_secs.map_or(l.header_timeout, secs);
        l.request_timeout = self.request_timeout_secs.map_or(l.request_timeout, secs);
        l.upload_timeout = self.upload_timeout_secs.map_or(l.upload_timeout, secs);
        l.max_in_flight = self.max_in_flight.unwrap_or(l.max_in_flight);
        l.rate_per_sec = self.rate_per_sec.unwrap_or(l.rate_per_sec);
        l.rate_burst = self.rate_burst.unwrap_or(l.rate_burst);
        pc.max_input_mib = self.max_input_mib.unwrap_or(pc.max_input_mib);
        pc.max_offer_data_mib = self.max_offer_data_mib.unwrap_or(pc.max_offer_data_mib);
        pc.retention = self.retention_secs.map_or(pc.retention, secs);
        pc.gc_interval = self.gc_interval_secs.map_or(pc.gc_interval, secs);
        pc.confirmations = self.confirmations.unwrap_or(pc.confirmations);
    }

    fn listen(&self) -> SocketAddr {
        self.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7700)))
    }

    fn endpoint(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| format!("http://{}", self.listen()))
    }
}

/// Runs `ocean node`.
pub(crate) async fn run(args: Args, config: &Config) -> eyre::Result<()> {
    match *args.command {
        Command::Init(flags) => init(flags, config),
        Command::Start(start) => start_node(start, config).await,
        Command::Status => status(config).await,
        Command::Gc { retention_secs } => {
            let settings = Settings::load(&config.repo)?;
            let mut pc = provider::Config::new(config.repo.clone(), settings.listen());
            settings.apply(&mut pc);
            let retention = retention_secs.map_or(pc.retention, Duration::from_secs);
            let repo = config.repo.clone();
            let report = tokio::task::spawn_blocking(move || {
                provider::gc(&repo, retention).map_err(eyre::Report::from)
            })
            .await
            .wrap_err("gc task")?
            .wrap_err("collecting garbage (is the node running? it collects by itself)")?;
            out(&format!(
                "released {} finished jobs ({} pins); deleted {} blocks, {} bytes",
                report.released.len(),
                report.unpinned,
                report.blocks,
                report.bytes
            ));
            Ok(())
        }
        Command::Withdraw => {
            let client = client(config).await?;
            let owed = client.owed(client.address()).await?;
            if owed == 0 {
                bail!("the JobMarket owes {} nothing yet", client.address());
            }
            client.withdraw().await?;
            out(&format!("withdrew {}", Amount::from_wei(owed)));
            Ok(())
        }
        Command::Unbond { amount } => {
            let client = client(config).await?;
            let amount = match amount {
                Some(a) => a.wei(),
                None => client
                    .nodes()
                    .await?
                    .iter()
                    .find(|n| n.address == client.address())
                    .map_or(0, |n| n.stake),
            };
            if amount == 0 {
                bail!("nothing staked to unbond");
            }
            client.unbond(amount).await?;
            out(&format!("unbonding {}", Amount::from_wei(amount)));
            Ok(())
        }
    }
}

async fn client(config: &Config) -> eyre::Result<ocean_chain::Client> {
    let settings = Settings::load(&config.repo)?;
    let mut config = config.clone();
    if config.account.is_none() {
        config.account = settings.name;
    }
    session::connect(&config).await
}

fn init(flags: Settings, config: &Config) -> eyre::Result<()> {
    std::fs::create_dir_all(&config.repo).wrap_err_with(|| format!("creating {}", config.repo.display()))?;
    let settings = Settings::load(&config.repo)?.merged(flags);
    let name = settings.name.clone().unwrap_or_else(|| "node".to_owned());
    let (key, signer, created) =
        ocean_wallet::ensure_key(&config.keys_dir(), &name, config.password_file.as_deref())?;
    let settings = Settings { name: Some(name), ..settings };
    let path = config.repo.join(SETTINGS_FILE);
    std::fs::write(&path, serde_json::to_vec_pretty(&settings)?)
        .wrap_err_with(|| format!("writing {}", path.display()))?;
    tracing::info!(target: "ocean::node", created, key = %key.path.display(), "node initialized");
    out(&signer.address().to_string());
    // The recipient private jobs' inputs are encrypted to once `ocean node start` registers it.
    out(&format!("encryption key {}", identity_of(&signer).recipient()));
    Ok(())
}

/// The node's age identity, derived from its wallet key (so the keystore protects both).
fn identity_of(signer: &ocean_chain::PrivateKeySigner) -> ocean_crypto::Identity {
    ocean_crypto::Identity::derive(signer.to_bytes().as_slice())
}

/// A quick, honest measure of this machine's speed: SHA-256 throughput of one core, in MB/s.
fn benchmark_score() -> u64 {
    use sha2::Digest;
    let data = vec![7u8; 1 << 20];
    let started = std::time::Instant::now();
    let mut rounds = 0u64;
    while started.elapsed() < Duration::from_millis(200) {
        let mut h = sha2::Sha256::new();
        h.update(&data);
        std::hint::black_box(h.finalize());
        rounds += 1;
    }
    (rounds as f64 / started.elapsed().as_secs_f64()) as u64
}

fn memory_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(1024, |kb| kb / 1024)
}

async fn start_node(start: Start, config: &Config) -> eyre::Result<()> {
    let settings = Settings::load(&config.repo)?.merged(start.settings);
    let mut config = config.clone();
    if config.account.is_none() {
        config.account = settings.name.clone();
    }
    let deployment = session::load_deployment(&config)?;
    let signer = ocean_wallet::unlock_account(
        &config.keys_dir(),
        config.account.as_deref(),
        config.password_file.as_deref(),
    )?;
    let identity = identity_of(&signer);
    let key = B256::from(identity.recipient().to_bytes());
    let client = session::connect_as(&config, signer, deployment).await?;
    let me = client.address();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let memory = memory_mib();
    let listen = settings.listen();
    let endpoint = settings.endpoint();

    let registered = client.nodes().await?.into_iter().find(|n| n.address == me);
    if let Some(node) = &registered
        && node.encryption_key != key
    {
        // The key is derived from this account's wallet key, so a different one on chain was set by other
        // software (or never set): private jobs would be encrypted to a key this node cannot open.
        tracing::warn!(
            target: "ocean::node",
            registered = %node.encryption_key,
            ours = %identity.recipient(),
            "the registered encryption key is not this node's; updating it on chain"
        );
        let caps = NodeRegistry::Capabilities {
            cores: node.cores,
            memoryMiB: node.memory_mib,
            gpuVramMiB: node.gpu_vram_mib,
            benchmarkScore: node.benchmark_score,
            gpuModel: node.gpu_model.clone(),
        };
        NodeRegistry::new(client.deployment().registry, client.provider())
            .update(caps, key, node.endpoint.clone())
            .send()
            .await
            .wrap_err("updating the node's encryption key on chain")?
            .get_receipt()
            .await
            .wrap_err("updating the node's encryption key on chain")?;
    }
    if registered.is_none() {
        let min = client.min_stake().await?;
        let stake = settings.stake.map_or(min, Amount::wei);
        if stake < min {
            bail!(
                "stake {} is below the registry's minimum {}",
                Amount::from_wei(stake),
                Amount::from_wei(min)
            );
        }
        let have = client.ocat_balance(me).await?;
        if have < stake {
            bail!(
                "{me} holds {} but registering needs a stake of {}",
                Amount::from_wei(have),
                Amount::from_wei(stake)
            );
        }
        let caps = NodeRegistry::Capabilities {
            cores,
            memoryMiB: memory.min(u64::from(u32::MAX)) as u32,
            gpuVramMiB: 0,
            benchmarkScore: benchmark_score(),
            gpuModel: String::new(),
        };
        client
            .register_node(stake, caps, key, endpoint.clone())
            .await
            .wrap_err("registering the node on chain")?;
        tracing::info!(
            target: "ocean::node", %me, stake = %Amount::from_wei(stake), %endpoint,
            encryption_key = %identity.recipient(), "registered"
        );
    }

    let mut pc = provider::Config::new(config.repo.clone(), listen);
    pc.price = settings.price.map_or(1_000_000_000_000_000, Amount::wei);
    pc.max_concurrency = settings.concurrency.unwrap_or(cores as usize).max(1);
    pc.poll_interval = Duration::from_millis(start.poll_ms.max(10));
    pc.ws_url = start.ws_url.clone();
    pc.commit_grace = Duration::from_secs(start.commit_grace_secs);
    pc.cores = cores;
    pc.memory_mib = memory;
    #[cfg(feature = "fault-injection")]
    {
        pc.fault_wrong_result = start.fault_wrong_result;
    }
    pc.identity = Some(identity);
    pc.zk_params = settings.zk_params.clone();
    settings.apply(&mut pc);
    raise_open_files(pc.limits.max_connections);
    let node = Provider::open(pc, client)?;
    node.run(shutdown_signal()).await?;
    Ok(())
}

/// The listener holds up to `max_connections` sockets besides the node's own files: raise the soft limit of
/// open files towards the hard one when the default (often 1024) is too low for that.
fn raise_open_files(max_connections: usize) {
    let want = max_connections as u64 + 512;
    match rlimit::increase_nofile_limit(want) {
        Ok(got) if got < want => tracing::warn!(
            target: "ocean::node", limit = got, max_connections,
            "the open-files limit is below what the connection cap needs; lower --max-connections or raise it"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(target: "ocean::node", "cannot raise the open-files limit: {e}"),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn status(config: &Config) -> eyre::Result<()> {
    let settings = Settings::load(&config.repo)?;
    let client = client(config).await?;
    let me = client.address();
    let node = client.nodes().await?.into_iter().find(|n| n.address == me);
    let owed = client.owed(me).await?;
    // The running node's operator views need its token, which only the node's own data directory holds.
    let token = std::fs::read_to_string(config.repo.join(ocean_provider::auth::OPERATOR_TOKEN_FILE))
        .ok()
        .map(|t| t.trim().to_owned());
    let tasks: Vec<ocean_provider::db::Task> =
        match reqwest_tasks(&settings.endpoint(), token.as_deref()).await {
            Some(t) => t,
            None => {
                let db = ocean_provider::db::Db::open(&config.repo.join("node.redb"))
                    .wrap_err("opening the node's task database (is the node running elsewhere?)")?;
                db.all()?
            }
        };
    let mut lines = vec![format!("node      {me}")];
    match node {
        Some(n) => {
            lines.push(format!("endpoint  {}", n.endpoint));
            lines.push(format!(
                "stake     {} ({}), unbonding {}",
                Amount::from_wei(n.stake),
                if n.active { "active" } else { "inactive" },
                Amount::from_wei(n.unbonding)
            ));
        }
        None => lines.push("stake     not registered (run `ocean node start`)".into()),
    }
    lines.push(format!("earnings  {} withdrawable (`ocean node withdraw`)", Amount::from_wei(owed)));
    let mut counts = std::collections::BTreeMap::new();
    for t in &tasks {
        *counts.entry(t.state.name()).or_insert(0) += 1;
    }
    lines.push(format!(
        "tasks     {}",
        if counts.is_empty() {
            "none".to_owned()
        } else {
            counts.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
        }
    ));
    for l in lines {
        out(&l);
    }
    Ok(())
}

async fn reqwest_tasks(endpoint: &str, token: Option<&str>) -> Option<Vec<ocean_provider::db::Task>> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().ok()?;
    let resp = client.get(format!("{endpoint}/tasks")).bearer_auth(token?).send().await.ok()?;
    resp.error_for_status().ok()?.json().await.ok()
}
