//! A local network for end-to-end tests: Anvil and the protocol (through the library, so each test has its
//! own chain on a free port) and provider nodes as separate `ocean node start` processes, as in production.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    network::EthereumWallet,
    node_bindings::AnvilInstance,
    providers::{Provider, ProviderBuilder},
};
use ocean_chain::{Address, Client, Deployment, Params, PrivateKeySigner, anvil, deploy};

pub const OCAT: u128 = 1_000_000_000_000_000_000;
pub const PASSWORD: &str = "e2e-password";

pub fn ocean() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ocean"))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Node {
    pub repo: PathBuf,
    pub port: u16,
    pub address: Address,
    pub args: Vec<String>,
    pub child: Option<Child>,
}

impl Node {
    /// `GET /tasks/{id}` as this node's operator (its token is in its repo): the task's JSON, if it answers.
    pub async fn task(&self, id: &str) -> Option<serde_json::Value> {
        let token = std::fs::read_to_string(self.repo.join("operator.token")).ok()?;
        let url = format!("http://127.0.0.1:{}/tasks/{id}", self.port);
        let resp = reqwest::Client::new().get(url).bearer_auth(token.trim()).send().await.ok()?;
        resp.error_for_status().ok()?.json().await.ok()
    }
}

pub struct Net {
    pub dir: tempfile::TempDir,
    pub anvil: AnvilInstance,
    pub deployment_path: PathBuf,
    pub deployment: Deployment,
    pub deployer: Client,
    pub requester: PathBuf,
    pub requester_address: Address,
    pub nodes: Vec<Node>,
    /// The RPC URL the nodes and the requester use: Anvil's, or the fault-injecting proxy's in front of it.
    pub rpc_url: String,
    pub proxy: Option<ocean_chain::rpc_proxy::Proxy>,
}

impl Net {
    /// A chain with the protocol, a funded requester, and `faults.len()` nodes (`true`: reports wrong results).
    pub async fn start(faults: &[bool], commit_grace_secs: u64) -> Net {
        Self::start_with_zk_key(faults, commit_grace_secs, None).await
    }

    /// [`Net::start`] whose market verifies zk proofs with `zk_key` (a ceremony's `.zkey`), which the nodes
    /// prove with.
    pub async fn start_with_zk_key(faults: &[bool], commit_grace_secs: u64, zk_key: Option<PathBuf>) -> Net {
        Self::start_full(faults, commit_grace_secs, zk_key, None).await
    }

    /// [`Net::start`] whose nodes and requester reach the chain only through a proxy with `rpc_faults`, on a
    /// chain 1,500 blocks long before the nodes start (so every scan from the deployment spans more than a
    /// capped `eth_getLogs` range).
    pub async fn start_behind_faulty_rpc(faults: &[bool], rpc_faults: ocean_chain::rpc_proxy::Faults) -> Net {
        Self::start_full(faults, 30, None, Some(rpc_faults)).await
    }

    async fn start_full(
        faults: &[bool],
        commit_grace_secs: u64,
        zk_key: Option<PathBuf>,
        rpc_faults: Option<ocean_chain::rpc_proxy::Faults>,
    ) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("anvil-state.json");
        let anvil = anvil::spawn_with(anvil_args(&state)).expect("anvil (run `make deps`)");
        let keys: Vec<PrivateKeySigner> = anvil.keys().iter().map(|k| k.clone().into()).collect();
        let deployer_key = keys[0].clone();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(deployer_key.clone()))
            .connect_http(anvil.endpoint_url())
            .erased();
        let treasury = keys[11].address();
        let words: Option<Vec<ocean_chain::B256>> = zk_key.as_ref().map(|path| {
            let key = ocean_zk::Params::from_file_bytes(&std::fs::read(path).unwrap()).unwrap();
            key.evm_key_words().into_iter().map(ocean_chain::B256::from).collect()
        });
        let deployment = deploy::deploy_with_zk_key(
            &provider,
            deployer_key.address(),
            &Params::devnet(treasury),
            words.as_deref(),
        )
        .await
        .unwrap();
        let deployment_path = dir.path().join("deployment.json");
        deployment.save(&deployment_path).unwrap();
        let deployer = Client::connect(&anvil.endpoint(), deployer_key, deployment.clone()).await.unwrap();

        let requester = dir.path().join("requester");
        import(&requester, "default", &keys[1]);
        deployer.transfer(keys[1].address(), 10_000 * OCAT).await.unwrap();

        let (rpc_url, proxy) = match rpc_faults {
            Some(f) => {
                let _: serde_json::Value =
                    deployer.provider().raw_request("anvil_mine".into(), (1_500u64,)).await.unwrap();
                let proxy = ocean_chain::rpc_proxy::Proxy::start(anvil.endpoint(), f).await.unwrap();
                (proxy.url.clone(), Some(proxy))
            }
            None => (anvil.endpoint(), None),
        };
        let mut net = Net {
            dir,
            anvil,
            deployment_path,
            deployment,
            deployer,
            requester,
            requester_address: keys[1].address(),
            nodes: Vec::new(),
            rpc_url,
            proxy,
        };
        for (i, &fault) in faults.iter().enumerate() {
            let key = &keys[2 + i];
            let repo = net.dir.path().join(format!("node-{i}"));
            import(&repo, "node", key);
            net.deployer.transfer(key.address(), 1_000 * OCAT).await.unwrap();
            let port = free_port();
            let settings = serde_json::json!({
                "name": "node", "listen": format!("127.0.0.1:{port}"), "price": "0.01 OCAT", "stake": "200 OCAT",
            });
            std::fs::write(repo.join("node.json"), serde_json::to_vec(&settings).unwrap()).unwrap();
            let mut args: Vec<String> = vec![
                "node".into(),
                "start".into(),
                "--poll-ms".into(),
                "100".into(),
                "--commit-grace-secs".into(),
                commit_grace_secs.to_string(),
            ];
            if fault {
                args.push("--fault-wrong-result".into());
            }
            if let Some(key) = &zk_key {
                args.push("--zk-params".into());
                args.push(key.to_string_lossy().into_owned());
            }
            net.nodes.push(Node { repo, port, address: key.address(), args, child: None });
            net.spawn_node(i);
        }
        net.wait_serving().await;
        net
    }

    /// Stops Anvil as an operator would (SIGINT: it writes its state to its `--state` file) and starts it again
    /// on the same port from that file, so the nodes and the requester keep their URL and find the chain,
    /// blocks and logs included, as it was.
    pub async fn restart_chain_from_dump(&mut self) {
        let pid = self.anvil.child().id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        self.anvil.child_mut().wait().unwrap();
        let state = self.dir.path().join("anvil-state.json");
        assert!(state.exists(), "anvil wrote no state dump");
        self.anvil = alloy::node_bindings::Anvil::at(anvil::binary())
            .port(self.anvil.port())
            .args(anvil_args(&state))
            .try_spawn()
            .expect("anvil from its dump");
    }

    /// Moves the chain's clock 5 s past `job`'s reveal deadline and mines a block (Anvil's own methods), so that
    /// it can be expired.
    pub async fn warp_past_reveal_deadline(&self, job: ocean_chain::B256) -> ocean_chain::JobView {
        let view = self.deployer.job(job).await.unwrap();
        let now = self.deployer.chain_time().await.unwrap();
        let provider = self.deployer.provider();
        let _: serde_json::Value =
            provider.raw_request("evm_increaseTime".into(), (view.reveal_deadline - now + 5,)).await.unwrap();
        let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await.unwrap();
        view
    }

    pub fn env(&self, cmd: &mut Command) {
        cmd.env("OCEAN_DEPLOYMENT", &self.deployment_path)
            .env("OCEAN_RPC_URL", &self.rpc_url)
            .env("OCEAN_PASSWORD", PASSWORD)
            .env_remove("OCEAN_CONFIG")
            .env_remove("OCEAN_ACCOUNT")
            .env_remove("OCEAN_PASSWORD_FILE")
            .env("OCEAN_LOG", "info");
    }

    pub fn spawn_node(&mut self, i: usize) {
        let node = &self.nodes[i];
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(node.repo.join("node.log")).unwrap();
        let mut cmd = Command::new(ocean());
        cmd.args(&node.args).arg("--repo").arg(&node.repo);
        self.env(&mut cmd);
        let child = cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        self.nodes[i].child = Some(child);
    }

    /// SIGKILL: no chance to clean up, as in a crash.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    pub async fn wait_serving(&self) {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap();
        let started = Instant::now();
        loop {
            let registered = self.deployer.nodes().await.unwrap().len();
            let mut serving = 0;
            for n in &self.nodes {
                if n.child.is_some()
                    && http.get(format!("http://127.0.0.1:{}/telemetry", n.port)).send().await.is_ok()
                {
                    serving += 1;
                }
            }
            let expected = self.nodes.iter().filter(|n| n.child.is_some()).count();
            if serving == expected && registered >= self.nodes.len() {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "nodes did not come up: {}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `ocean ARGS` as the requester.
    pub fn requester(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(ocean());
        cmd.args(args).arg("--repo").arg(&self.requester).current_dir(self.dir.path());
        self.env(&mut cmd);
        cmd.stdin(Stdio::null()).output().unwrap()
    }

    /// A job file in the test folder running `guest` with `args`.
    pub fn job(
        &self,
        name: &str,
        guest: &str,
        args: &[&str],
        replicas: u8,
        quorum: u8,
        deadline_secs: u64,
    ) -> PathBuf {
        self.job_timed(name, guest, args, replicas, quorum, deadline_secs, deadline_secs.min(120))
    }

    /// [`Net::job`] with its own `limits.timeout_secs` (the requester's rebalance time follows from it).
    #[allow(clippy::too_many_arguments)]
    pub fn job_timed(
        &self,
        name: &str,
        guest: &str,
        args: &[&str],
        replicas: u8,
        quorum: u8,
        deadline_secs: u64,
        timeout: u64,
    ) -> PathBuf {
        let module = repo_root().join("guests/wasm").join(format!("{guest}.wasm"));
        assert!(module.exists(), "{} missing: run `make guests`", module.display());
        let corpus = repo_root().join("examples/data/corpus.txt");
        let mode = if replicas == 1 { "none" } else { "quorum" };
        let text = format!(
            "[program]\nkind = \"wasm\"\nmodule = {module:?}\nargs = {args:?}\nseed = 1\n\
             [inputs]\ncorpus = {corpus:?}\n\
             [limits]\nmemory_mib = 128\nfuel = 500_000_000_000\ntimeout_secs = {timeout}\n\
             [verification]\nmode = \"{mode}\"\nreplicas = {replicas}\nquorum = {quorum}\n\
             [payment]\nmax_price = \"9 OCAT\"\ndeadline_secs = {deadline_secs}\n",
        );
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn logs(&self) -> String {
        let mut s = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let log = std::fs::read_to_string(n.repo.join("node.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            s.push_str(&format!("\n--- node {i} ---\n"));
            for l in tail.into_iter().rev() {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }

    /// OCAT held by every account and contract this network knows: must always equal the supply.
    pub async fn total_ocat(&self) -> u128 {
        let d = &self.deployment;
        let mut who: Vec<Address> = vec![
            d.deployer,
            d.treasury,
            d.market,
            d.registry,
            d.rewards,
            d.timelock,
            d.governor,
            self.requester_address,
        ];
        who.extend(self.nodes.iter().map(|n| n.address));
        let mut sum = 0;
        for a in who {
            sum += self.deployer.ocat_balance(a).await.unwrap();
        }
        sum
    }

    pub fn client_for(&self, key_index: usize) -> PrivateKeySigner {
        self.anvil.keys()[key_index].clone().into()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// Anvil's arguments for a test network: 12 funded accounts, its state kept in (and, when the file exists,
/// loaded from) `state` when it is stopped gracefully.
fn anvil_args(state: &Path) -> Vec<String> {
    vec!["--accounts".into(), "12".into(), "--state".into(), state.to_string_lossy().into_owned()]
}

pub fn import(repo: &Path, name: &str, key: &PrivateKeySigner) {
    std::fs::create_dir_all(repo).unwrap();
    let wallet = ocean_wallet::Wallet::open(repo.join("keys"));
    wallet.import_private_key(name, &format!("{:#x}", key.to_bytes()), PASSWORD).unwrap();
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
