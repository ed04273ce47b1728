//! `ocean devnet`: a whole network on this machine — Anvil, the protocol, funded accounts, N provider nodes.
//!
//! Everything lives in one folder (default `.devnet/`): `anvil.json` (its accounts), `deployment.json`,
//! `node-<i>/` (each node's repo and `node.log`), `requester/` (a funded requester's repo) and `devnet.json`
//! (the processes started, read by `ocean devnet down`). Nodes are separate `ocean node start` processes, as
//! on a real network; their keystores use the password `devnet`.

use std::{
    path::{Path, PathBuf},
    process::{Command as Process, Stdio},
    time::{Duration, Instant},
};

use eyre::{WrapErr, bail, eyre};
use ocean_chain::{Client, Deployment, Params, PrivateKeySigner, deploy};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::{config::Config, exit::out};

/// Password of every devnet keystore (test keys only).
pub(crate) const PASSWORD: &str = "devnet";
const OCAT: u128 = 1_000_000_000_000_000_000;

/// Run a local network for development and demos.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Start Anvil, deploy the contracts, fund accounts with OCAT and start N provider nodes.
    Up(Up),
    /// Stop everything `up` started.
    Down {
        /// The devnet folder.
        #[arg(long, default_value = ".devnet")]
        dir: PathBuf,
        /// Also delete the folder (chain state, node stores, logs).
        #[arg(long)]
        clean: bool,
    },
    /// `up`, submit an example 3-replica job, wait for it, print the result and payments, `down`.
    Demo {
        /// The job to run.
        #[arg(long, default_value = "examples/jobs/wordcount.toml")]
        job: PathBuf,
        #[command(flatten)]
        up: Up,
    },
}

#[derive(Debug, Clone, clap::Args)]
struct Up {
    /// Provider nodes to start.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// The devnet folder.
    #[arg(long, default_value = ".devnet")]
    dir: PathBuf,
    /// Anvil's port.
    #[arg(long, default_value_t = 8545)]
    port: u16,
    /// First node's API port (node i listens on base + i).
    #[arg(long, default_value_t = 7700)]
    base_port: u16,
}

/// What `up` started, for `down`.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    rpc_url: String,
    anvil_pid: u32,
    node_pids: Vec<u32>,
    deployment: PathBuf,
    requester: PathBuf,
}

/// Runs `ocean devnet`.
pub(crate) async fn run(args: Args, config: &Config) -> eyre::Result<()> {
    match args.command {
        Command::Up(up) => {
            let (state, _children) = start(&up).await?;
            out(&format!("devnet up in {}", up.dir.display()));
            out(&format!("  RPC URL     {}", state.rpc_url));
            out(&format!("  deployment  {}", state.deployment.display()));
            out(&format!(
                "  nodes       {} (logs in {}/node-*/node.log)",
                state.node_pids.len(),
                up.dir.display()
            ));
            out("submit a job as the funded requester:");
            out(&format!(
                "  export OCEAN_REPO={} OCEAN_DEPLOYMENT={} OCEAN_RPC_URL={} OCEAN_PASSWORD={PASSWORD}",
                state.requester.display(),
                state.deployment.display(),
                state.rpc_url
            ));
            out("  ocean job submit examples/jobs/wordcount.toml");
            out("stop it with: ocean devnet down");
            Ok(())
        }
        Command::Down { dir, clean } => {
            stop(&dir)?;
            if clean && dir.exists() {
                std::fs::remove_dir_all(&dir).wrap_err_with(|| format!("removing {}", dir.display()))?;
            }
            Ok(())
        }
        Command::Demo { job, up } => {
            if !job.exists() {
                bail!("{} not found (run from the repository root after `make guests`)", job.display());
            }
            let (state, children) = start(&up).await?;
            let result = demo(&state, &job, config).await;
            stop_children(children);
            let _ = std::fs::remove_file(up.dir.join("devnet.json"));
            result
        }
    }
}

async fn demo(state: &State, job: &Path, config: &Config) -> eyre::Result<()> {
    let mut config = config.clone();
    config.repo = state.requester.clone();
    config.deployment = Some(state.deployment.clone());
    config.rpc_url = state.rpc_url.clone();
    config.account = None;
    let password_file = state.requester.join("password");
    std::fs::write(&password_file, PASSWORD).wrap_err("writing the devnet password file")?;
    config.password_file = Some(password_file);
    eprintln_step(&format!("submitting {} (3 replicas, quorum 2)", job.display()));
    crate::cmd::job::submit_and_wait(job, None, 300, false, &config).await
}

fn eprintln_step(line: &str) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("==> {line}");
    }
}

#[derive(Deserialize)]
struct AnvilConfig {
    private_keys: Vec<String>,
}

/// Starts the devnet; on failure, stops whatever it had started.
async fn start(up: &Up) -> eyre::Result<(State, Vec<std::process::Child>)> {
    let mut children = Vec::new();
    match start_inner(up, &mut children).await {
        Ok(state) => Ok((state, children)),
        Err(e) => {
            stop_children(children);
            let _ = std::fs::remove_file(up.dir.join("devnet.json"));
            Err(e)
        }
    }
}

async fn start_inner(up: &Up, children: &mut Vec<std::process::Child>) -> eyre::Result<State> {
    if up.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    let dir = &up.dir;
    if dir.join("devnet.json").exists() {
        bail!(
            "a devnet is already running from {} (stop it with `ocean devnet down --dir {}`)",
            dir.display(),
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize().wrap_err("resolving the devnet folder")?;
    let rpc_url = format!("http://127.0.0.1:{}", up.port);
    if reqwest::Client::new().get(&rpc_url).send().await.is_ok() {
        bail!("something already listens on {rpc_url}; pick another --port or stop it");
    }

    eprintln_step(&format!("starting anvil on {rpc_url}"));
    let anvil_config = dir.join("anvil.json");
    let _ = std::fs::remove_file(&anvil_config);
    let log = std::fs::File::create(dir.join("anvil.log")).wrap_err("creating anvil.log")?;
    let anvil = Process::new(ocean_chain::anvil::binary())
        .args(["--port", &up.port.to_string(), "--host", "127.0.0.1"])
        .args(["--accounts", &(up.nodes + 3).max(10).to_string()])
        .arg("--config-out")
        .arg(&anvil_config)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .wrap_err_with(|| format!("starting {} (run `make deps`)", ocean_chain::anvil::binary().display()))?;
    let anvil_pid = anvil.id();
    children.push(anvil);
    let mut state = State {
        rpc_url: rpc_url.clone(),
        anvil_pid,
        node_pids: Vec::new(),
        deployment: dir.join("deployment.json"),
        requester: dir.join("requester"),
    };
    save_state(&dir, &state)?;

    let keys: Vec<PrivateKeySigner> = {
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&anvil_config)
                && let Ok(cfg) = serde_json::from_str::<AnvilConfig>(&text)
                && reqwest::Client::new()
                    .post(&rpc_url)
                    .json(&serde_json::json!({"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}))
                    .send()
                    .await
                    .is_ok()
            {
                break cfg.private_keys.iter().map(|k| k.parse()).collect::<Result<_, _>>()?;
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("anvil did not start within 30 s (see {})", dir.join("anvil.log").display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let key = |i: usize| keys.get(i).cloned().ok_or_else(|| eyre!("anvil has no account {i}"));

    eprintln_step(
        "deploying the protocol (CREATE2, deterministic addresses) with the devnet profile: one-block voting \
         delay, no proposal threshold, 60-second window floors; for a local network only",
    );
    let deployer_key = key(0)?;
    let provider = alloy::providers::ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(deployer_key.clone()))
        .connect_http(rpc_url.parse()?);
    let provider = alloy::providers::Provider::erased(provider);
    let treasury = key(keys.len() - 1)?.address();
    let deployment: Deployment =
        deploy::deploy(&provider, deployer_key.address(), &Params::devnet(treasury)).await?;
    deployment.save(&state.deployment)?;
    let deployer = Client::connect(&rpc_url, deployer_key, deployment.clone()).await?;

    eprintln_step("funding the requester and the nodes with OCAT");
    let requester_key = key(1)?;
    import_key(&state.requester, "default", &requester_key)?;
    deployer.transfer(requester_key.address(), 100_000 * OCAT).await?;

    let exe = std::env::current_exe().wrap_err("locating the ocean binary")?;
    for i in 0..up.nodes {
        let node_key = key(2 + i)?;
        let repo = dir.join(format!("node-{i}"));
        import_key(&repo, "node", &node_key)?;
        deployer.transfer(node_key.address(), 1_000 * OCAT).await?;
        let port = up.base_port + i as u16;
        let settings = serde_json::json!({
            "name": "node",
            "listen": format!("127.0.0.1:{port}"),
            "price": "0.01 OCAT",
            "stake": "200 OCAT",
        });
        std::fs::write(repo.join("node.json"), serde_json::to_vec_pretty(&settings)?)?;
        let log = std::fs::File::create(repo.join("node.log"))?;
        let child = Process::new(&exe)
            .args(["node", "start", "--poll-ms", "100", "--commit-grace-secs", "10"])
            .arg("--repo")
            .arg(&repo)
            .arg("--deployment")
            .arg(&state.deployment)
            .args(["--rpc-url", &rpc_url])
            // Anvil serves WebSocket on the same port: nodes see their assignments as events.
            .args(["--ws-url", &rpc_url.replacen("http://", "ws://", 1)])
            .env("OCEAN_PASSWORD", PASSWORD)
            .env_remove("OCEAN_CONFIG")
            .env_remove("OCEAN_ACCOUNT")
            .env_remove("OCEAN_PASSWORD_FILE")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .wrap_err("starting a node")?;
        state.node_pids.push(child.id());
        children.push(child);
        save_state(&dir, &state)?;
    }

    eprintln_step(&format!("waiting for {} nodes to register and serve", up.nodes));
    let started = Instant::now();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(1)).build()?;
    loop {
        let nodes = deployer.nodes().await?;
        let mut serving = 0;
        for n in &nodes {
            if http
                .get(format!("{}/telemetry", n.endpoint))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                serving += 1;
            }
        }
        if serving >= up.nodes {
            break;
        }
        if started.elapsed() > Duration::from_secs(90) {
            bail!(
                "only {serving} of {} nodes came up within 90 s (see {}/node-*/node.log)",
                up.nodes,
                dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    info!(target: "ocean::devnet", nodes = up.nodes, "devnet up");
    Ok(state)
}

/// Stops processes this one started: nodes first (SIGTERM, then SIGKILL after 5 s), then anvil.
fn stop_children(mut children: Vec<std::process::Child>) {
    children.rotate_left(1);
    for c in &children {
        signal(c.id(), "-TERM");
    }
    let started = Instant::now();
    for c in &mut children {
        while started.elapsed() < Duration::from_secs(5) {
            if matches!(c.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !matches!(c.try_wait(), Ok(Some(_))) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    eprintln_step("devnet stopped");
}

fn import_key(repo: &Path, name: &str, key: &PrivateKeySigner) -> eyre::Result<()> {
    let wallet = ocean_wallet::Wallet::open(repo.join("keys"));
    if wallet.path_of(name).exists() {
        return Ok(());
    }
    std::fs::create_dir_all(repo)?;
    let hex = format!("{:#x}", key.to_bytes());
    wallet.import_private_key(name, &hex, PASSWORD)?;
    Ok(())
}

fn save_state(dir: &Path, state: &State) -> eyre::Result<()> {
    let path = dir.join("devnet.json");
    std::fs::write(&path, serde_json::to_vec_pretty(state)?)
        .wrap_err_with(|| format!("writing {}", path.display()))
}

fn alive(pid: u32) -> bool {
    Process::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn signal(pid: u32, sig: &str) {
    let _ = Process::new("kill").args([sig, &pid.to_string()]).stderr(Stdio::null()).status();
}

fn stop(dir: &Path) -> eyre::Result<()> {
    let path = dir.join("devnet.json");
    let state: State = match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).wrap_err_with(|| format!("reading {}", path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("no devnet is running from {}", dir.display())
        }
        Err(e) => return Err(e).wrap_err_with(|| format!("reading {}", path.display())),
    };
    let pids: Vec<u32> = state.node_pids.iter().copied().chain([state.anvil_pid]).collect();
    for &pid in &pids {
        signal(pid, "-TERM");
    }
    let started = Instant::now();
    while pids.iter().any(|&p| alive(p)) && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &pid in &pids {
        if alive(pid) {
            signal(pid, "-KILL");
        }
    }
    std::fs::remove_file(&path).wrap_err_with(|| format!("removing {}", path.display()))?;
    eprintln_step("devnet stopped");
    Ok(())
}
