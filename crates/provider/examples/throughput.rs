//! Throughput and latency of the whole protocol on a local Anvil: N providers (in this process, each with its
//! own store, database and HTTP API on 127.0.0.1) and K requesters submitting 3-replica jobs concurrently,
//! each job settled on chain and its result fetched and verified.
//!
//! ```text
//! cargo run --release -p ocean-provider --example throughput -- [NODES] [REQUESTERS] [JOBS_PER_REQUESTER]
//! ```
//! Prints one JSON object: jobs, seconds, jobs/s, latency percentiles, gas per job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, missing_docs)]

use std::{
    net::TcpListener,
    path::PathBuf,
    time::{Duration, Instant},
};

use alloy::{
    network::EthereumWallet,
    providers::{Provider as _, ProviderBuilder},
};
use ocean_chain::{Client, Params, PrivateKeySigner, anvil, bindings::NodeRegistry, deploy};
use ocean_provider::{self as provider, Provider};
use ocean_requester::{Options, Requester};
use ocean_store::Store;
use ocean_types::manifest::Manifest;

const OCAT: u128 = 1_000_000_000_000_000_000;

fn main() -> std::process::ExitCode {
    // The providers run each task in an executor process: this very binary, started with `executor`.
    if std::env::args().nth(1).as_deref() == Some("executor") {
        return ocean_executor::child::main();
    }
    tokio::runtime::Runtime::new().expect("async runtime").block_on(run());
    std::process::ExitCode::SUCCESS
}

async fn run() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let nodes = args.first().copied().unwrap_or(10);
    let requesters = args.get(1).copied().unwrap_or(16);
    let per = args.get(2).copied().unwrap_or(10);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();

    let anvil = anvil::spawn_with(vec!["--accounts".into(), (nodes + requesters + 2).to_string()]).unwrap();
    let keys: Vec<PrivateKeySigner> = anvil.keys().iter().map(|k| k.clone().into()).collect();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(keys[0].clone()))
        .connect_http(anvil.endpoint_url())
        .erased();
    let deployment =
        deploy::deploy(&provider, keys[0].address(), &Params::devnet(keys[1].address())).await.unwrap();
    let deployer = Client::connect(&anvil.endpoint(), keys[0].clone(), deployment.clone()).await.unwrap();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for i in 0..nodes {
        let key = keys[2 + i].clone();
        deployer.transfer(key.address(), 1_000 * OCAT).await.unwrap();
        let client = Client::connect(&anvil.endpoint(), key, deployment.clone()).await.unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let caps = NodeRegistry::Capabilities {
            cores: 2,
            memoryMiB: 4096,
            gpuVramMiB: 0,
            benchmarkScore: 100,
            gpuModel: String::new(),
        };
        client
            .register_node(200 * OCAT, caps, Default::default(), format!("http://127.0.0.1:{port}"))
            .await
            .unwrap();
        let mut cfg =
            provider::Config::new(dir.path().join(format!("node-{i}")), ([127, 0, 0, 1], port).into());
        cfg.price = OCAT / 100;
        cfg.poll_interval = Duration::from_millis(50);
        cfg.max_concurrency = 2;
        let node = Provider::open(cfg, client).unwrap();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            node.run(async move {
                let _ = stop.changed().await;
            })
            .await
            .unwrap()
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A trivial job (1,000 Monte-Carlo samples, 3 replicas): what is measured is the protocol, not the guest.
    let text = std::fs::read_to_string(root.join("examples/jobs/pi.toml")).unwrap();
    let mut manifest = Manifest::from_toml(&text).unwrap();
    manifest.program.args = vec!["--samples".into(), "1000".into()];
    manifest.verification.replicas = 3;
    manifest.verification.quorum = 2;
    manifest.payment.max_price = "0.3 OCAT".parse().unwrap();
    let base = root.join("examples/jobs");
    let mut ready = Vec::new();
    for r in 0..requesters {
        let key = keys[2 + nodes + r].clone();
        deployer.transfer(key.address(), 10_000 * OCAT).await.unwrap();
        let client = Client::connect(&anvil.endpoint(), key, deployment.clone()).await.unwrap();
        client.approve_market(alloy::primitives::U256::MAX).await.unwrap();
        let repo = dir.path().join(format!("requester-{r}"));
        std::fs::create_dir_all(&repo).unwrap();
        let store = Store::open(repo.join("store")).unwrap();
        let options = Options { poll: Duration::from_millis(20), ..Options::default() };
        let requester = Requester::new(client, store, repo, options).unwrap();
        let prepared = requester.prepare(manifest.clone(), &base).unwrap();
        ready.push((requester, prepared));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (mut requester, prepared) in ready {
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut gas = Vec::new();
            for _ in 0..per {
                let t = Instant::now();
                let rec = requester.submit(&prepared, &mut |_| {}).await.unwrap();
                let out = requester
                    .wait(rec.job_id.parse().unwrap(), Duration::from_secs(120), &mut |_| {})
                    .await
                    .unwrap();
                lat.push(t.elapsed().as_secs_f64());
                gas.push(out.gas);
            }
            (lat, gas)
        }));
    }
    let mut lat = Vec::new();
    let mut gas = Vec::new();
    for t in tasks {
        let (l, g) = t.await.unwrap();
        lat.extend(l);
        gas.extend(g);
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    lat.sort_by(f64::total_cmp);
    gas.sort_unstable();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    let jobs = lat.len();
    println!(
        "{}",
        serde_json::json!({
            "nodes": nodes, "requesters": requesters, "jobs": jobs, "seconds": secs,
            "jobs_per_second": jobs as f64 / secs,
            "latency_p50_s": pct(0.5), "latency_p90_s": pct(0.9), "latency_max_s": pct(1.0),
            "gas_per_job_median": gas[gas.len() / 2], "gas_per_job_max": gas[gas.len() - 1],
        })
    );
}
