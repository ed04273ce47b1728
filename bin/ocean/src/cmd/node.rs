//! `ocean node`: run a provider.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use eyre::{WrapErr, bail};
use ocean_chain::{B256, bindings::NodeRegistry};
use ocean_node::provider::{self, Provider};
use ocean_types::Amount;
use serde::{Deserialize, Serialize};

use crate::{config::Config, exit::out, session};

/// Run a provider: earn OCAT by running jobs in the sandbox.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
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
}

#[derive(Debug, clap::Args)]
struct Start {
    #[command(flatten)]
    settings: Settings,
    /// Chain polling interval in milliseconds.
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
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
        }
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
    match args.command {
        Command::Init(flags) => init(flags, config),
        Command::Start(start) => start_node(start, config).await,
        Command::Status => status(config).await,
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
    pc.commit_grace = Duration::from_secs(start.commit_grace_secs);
    pc.cores = cores;
    pc.memory_mib = memory;
    #[cfg(feature = "fault-injection")]
    {
        pc.fault_wrong_result = start.fault_wrong_result;
    }
    pc.identity = Some(identity);
    pc.zk_params = settings.zk_params.clone();
    let node = Provider::open(pc, client)?;
    node.run(shutdown_signal()).await?;
    Ok(())
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
    let tasks: Vec<ocean_node::db::Task> = match reqwest_tasks(&settings.endpoint()).await {
        Some(t) => t,
        None => {
            let db = ocean_node::db::Db::open(&config.repo.join("node.redb"))
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

async fn reqwest_tasks(endpoint: &str) -> Option<Vec<ocean_node::db::Task>> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().ok()?;
    client.get(format!("{endpoint}/tasks")).send().await.ok()?.json().await.ok()
}
