//! The end-to-end scenarios, each on its own chain with its own node processes.

use std::time::{Duration, Instant};

use alloy::{providers::Provider, rpc::types::Filter, sol_types::SolEvent};
use ocean_chain::{B256, Client, bindings::JobMarket};

use crate::harness::{Net, OCAT, PASSWORD, stderr, stdout};

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or("")
}

fn job_id_of(line: &str) -> B256 {
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn commits_of(net: &Net, job: B256) -> Vec<ocean_chain::Address> {
    let filter = Filter::new()
        .address(net.deployment.market)
        .event_signature(JobMarket::Committed::SIGNATURE_HASH)
        .topic1(job)
        .from_block(0);
    let logs = net.deployer.provider().get_logs(&filter).await.unwrap();
    logs.iter().map(|l| JobMarket::Committed::decode_log(&l.inner).unwrap().provider).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replica_job_is_finalized_and_paid() {
    let net = Net::start(&[false, false, false], 30).await;
    let supply = net.total_ocat().await;
    let job = net.job("wc", "wordcount", &["--top", "5"], 3, 2, 600);
    let out_dir = net.dir.path().join("out");
    let started = Instant::now();
    let o = net.requester(&[
        "job",
        "submit",
        job.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--explain",
    ]);
    let elapsed = started.elapsed();
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    // `--explain` says why each provider runs the job (three of three registered here).
    let explained = stderr(&o);
    let chosen = explained.lines().filter(|l| l.starts_with("+ 0x") && l.contains(": chosen: ")).count();
    assert_eq!(chosen, 3, "{explained}");
    let text = stdout(&o);
    let line = last_line(&text);
    assert!(line.starts_with("job 0x") && line.contains(" finalized: result bafy"), "{line}");
    assert!(line.ends_with("paid 0.02925 OCAT to 3 providers"), "{line}");
    eprintln!("submit to finalized (wordcount, 3 replicas, debug build): {elapsed:?}");

    // The result is on disk, verified, with the guest's outputs and its status.
    let result = std::fs::read_to_string(out_dir.join("result.json")).unwrap();
    assert!(result.contains("\"status\":\"exited\""), "{result}");
    assert!(out_dir.join("outputs").exists());

    // The scheduler learned each provider's speed from the verified result's work, over the time this requester
    // waited for that provider's commitment; nothing a provider merely reported.
    let fuel_used =
        serde_json::from_str::<serde_json::Value>(&result).unwrap()["fuel_used"].as_u64().unwrap();
    let log = std::fs::read_to_string(net.requester.join("scheduler.jsonl")).unwrap();
    let finished: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?.get("Finished").cloned())
        .collect();
    assert_eq!(finished.len(), 3, "{log}");
    for ev in &finished {
        assert_eq!(ev["work"].as_f64(), Some(fuel_used as f64 / 1e9), "work is counted in Gfuel: {ev}");
        assert!(ev["run_s"].as_f64().unwrap() > 0.0 && ev["at"].as_f64().unwrap() > 1.7e9, "{ev}");
    }
    // `ocean sched show` reports what was learned: every provider with evidence behind its speed.
    let shown = net.requester(&["sched", "show", "--json"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let learned: Vec<serde_json::Value> =
        stdout(&shown).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(learned.len(), 3, "{}", stdout(&shown));
    for l in &learned {
        assert!(l["evidence"].as_f64().unwrap() > 0.0 && l["speed"].as_f64().unwrap() > 0.0, "{l}");
        assert!(l["reliability"].as_f64().unwrap() > 0.5, "{l}");
    }

    let id = job_id_of(line);
    let paid = 10_000_000_000_000_000u128 - 10_000_000_000_000_000 * 250 / 10_000;
    for n in &net.nodes {
        assert_eq!(
            net.deployer.owed(n.address).await.unwrap(),
            paid,
            "each provider is owed its price less the fee"
        );
    }
    // The requester escrowed 9 OCAT and as much again as the arbitration deposit, and gets back what the
    // providers did not charge and the whole deposit.
    assert_eq!(
        net.deployer.owed(net.requester_address).await.unwrap(),
        2 * 9 * OCAT - 3 * 10_000_000_000_000_000
    );
    assert!(commits_of(&net, id).await.is_empty(), "settled with signed commitments: no commit transactions");
    assert_eq!(net.total_ocat().await, supply, "no OCAT created or lost");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_paid_through_an_rpc_endpoint_that_caps_log_ranges_and_fails_calls() {
    // What a public RPC does on a bad day, between every node (and the requester) and the chain: eth_getLogs
    // capped at 500 blocks on a chain 1,500 blocks long, one request in ten answered 503.
    let faults = ocean_chain::rpc_proxy::Faults {
        max_log_range: Some(500),
        unavailable_every: Some(10),
        ..Default::default()
    };
    let net = Net::start_behind_faulty_rpc(&[false, false, false], faults).await;
    let job = net.job("wc", "wordcount", &["--top", "5"], 3, 2, 600);
    let out_dir = net.dir.path().join("out");
    let o = net.requester(&["job", "submit", job.to_str().unwrap(), "-o", out_dir.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    let line = last_line(&stdout(&o)).to_owned();
    assert!(
        line.contains(" finalized: result bafy") && line.ends_with("paid 0.02925 OCAT to 3 providers"),
        "{line}"
    );
    let seen = &net.proxy.as_ref().unwrap().seen;
    use std::sync::atomic::Ordering;
    assert!(seen.range_refusals.load(Ordering::Relaxed) > 0, "the range cap was met");
    assert!(seen.unavailable.load(Ordering::Relaxed) > 0, "some calls failed");
}

#[cfg(feature = "fault-injection")]
#[tokio::test(flavor = "multi_thread")]
async fn wrong_result_is_outvoted_and_slashed() {
    let net = Net::start(&[false, false, true], 30).await;
    let supply = net.total_ocat().await;
    let job = net.job("wc", "wordcount", &["--top", "3"], 3, 2, 600);
    let o = net.requester(&["job", "submit", job.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    let text = stdout(&o);
    let liar = net.nodes[2].address;
    assert!(text.contains(&format!("slashed 20 OCAT from {liar}")), "{text}");
    assert!(last_line(&text).ends_with("to 2 providers"), "{text}");
    assert_eq!(net.deployer.owed(liar).await.unwrap(), 0, "a slashed provider is not paid");
    let stake = net.deployer.nodes().await.unwrap().into_iter().find(|n| n.address == liar).unwrap().stake;
    assert_eq!(stake, 180 * OCAT, "10% of its stake is gone");
    assert_eq!(net.total_ocat().await, supply);

    // A requester that never placed a job learns from the market's history: the liar is less reliable.
    let newcomer = net.dir.path().join("newcomer");
    crate::harness::import(&newcomer, "default", &net.client_for(10));
    let mut cmd = std::process::Command::new(crate::harness::ocean());
    cmd.args(["sched", "show", "--json", "--repo"]).arg(&newcomer);
    net.env(&mut cmd);
    let shown = cmd.output().unwrap();
    assert!(shown.status.success(), "{}", stderr(&shown));
    let reliability = |who: ocean_chain::Address| {
        stdout(&shown)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|l| l["address"].as_str().unwrap().eq_ignore_ascii_case(&who.to_string()))
            .unwrap()["reliability"]
            .as_f64()
            .unwrap()
    };
    let (honest, liar_r) = (reliability(net.nodes[0].address), reliability(liar));
    assert!(liar_r < honest, "the slashed provider {liar_r} vs an honest one {honest}: {}", stdout(&shown));
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_provider_job_still_completes_without_losing_ocat() {
    let mut net = Net::start(&[false, false, false], 30).await;
    let supply = net.total_ocat().await;
    // A job that runs a few seconds, with a short commit deadline.
    let job = net.job("pi", "pi", &["--samples", "30000000"], 3, 2, 20);
    let o = net.requester(&["job", "submit", "--detach", job.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    let id = stdout(&o).trim().to_owned();
    net.kill_node(2);
    let o = net.requester(&["job", "wait", &id, "--timeout", "120"]);
    assert!(o.status.success(), "wait failed: {}\n{}", stderr(&o), net.logs());
    assert!(last_line(&stdout(&o)).ends_with("to 2 providers"), "{}", stdout(&o));
    assert_eq!(net.deployer.owed(net.nodes[2].address).await.unwrap(), 0);
    assert_eq!(net.total_ocat().await, supply, "no OCAT lost when a provider dies");
}

/// Rebalancing (issue 16): `kill -9` of one of three providers no longer holds a short job until its deadline.
/// The job's rebalance time is its 10 s time limit plus the requester's slack; from then the two survivors'
/// agreeing results settle it, and the dead provider is released: neither paid nor bonded.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_provider_is_left_out_at_the_rebalance_time_not_at_the_deadline() {
    let mut net = Net::start(&[false, false, false], 30).await;
    let supply = net.total_ocat().await;
    let job = net.job_timed("pi", "pi", &["--samples", "30000000"], 3, 2, 300, 10);
    let started = Instant::now();
    let o = net.requester(&["job", "submit", "--detach", job.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    let id = stdout(&o).trim().to_owned();
    let job_id: B256 = id.parse().unwrap();
    net.kill_node(2);
    let view = net.deployer.job(job_id).await.unwrap();
    assert!(view.rebalance_at != 0 && view.rebalance_at < view.commit_deadline, "{view:?}");

    let o = net.requester(&["job", "wait", &id, "--timeout", "280"]);
    let took = started.elapsed();
    assert!(o.status.success(), "wait failed: {}\n{}", stderr(&o), net.logs());
    assert!(last_line(&stdout(&o)).ends_with("to 2 providers"), "{}", stdout(&o));
    // The deadline is 300 s away; the rebalance time about 40 s.
    assert!(
        took < Duration::from_secs(120),
        "settled after {took:?}: waited for the deadline\n{}",
        net.logs()
    );
    let dead = net.nodes[2].address;
    assert_eq!(net.deployer.owed(dead).await.unwrap(), 0, "the dead provider is not paid");
    let latest = net.deployer.block_number().await.unwrap();
    let verdicts = net.deployer.verdicts(0, latest).await.unwrap();
    assert!(
        !verdicts.iter().any(|(j, p, _, _)| *j == job_id && *p == dead),
        "the dead provider is released, not bonded: {verdicts:?}"
    );
    assert_eq!(net.total_ocat().await, supply, "no OCAT lost when a provider dies");
}

/// Rebalancing (issue 16), reassignment: a 2-of-2 job cannot settle without a killed provider, so past the
/// job's rebalance time the requester hands its slot to the third node, which runs the job; the job settles
/// long before its deadline and the killed provider is released (neither paid nor bonded) and seen as failed.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_providers_slot_is_handed_to_another_provider() {
    let mut net = Net::start(&[false, false, false], 30).await;
    let supply = net.total_ocat().await;
    let job = net.job_timed("pi", "pi", &["--samples", "30000000"], 2, 2, 300, 10);
    let started = Instant::now();
    let o = net.requester(&["job", "submit", "--detach", job.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    let id = stdout(&o).trim().to_owned();
    let job_id: B256 = id.parse().unwrap();
    let first: Vec<_> = net.deployer.assignment(job_id).await.unwrap().iter().map(|a| a.provider).collect();
    let victim = net.nodes.iter().position(|n| n.address == first[1]).unwrap();
    let spare = net.nodes.iter().position(|n| !first.contains(&n.address)).unwrap();
    net.kill_node(victim);

    let o = net.requester(&["job", "wait", &id, "--timeout", "280"]);
    let took = started.elapsed();
    assert!(o.status.success(), "wait failed: {}\n{}", stderr(&o), net.logs());
    assert!(took < Duration::from_secs(150), "settled after {took:?}\n{}", net.logs());
    let now: Vec<_> = net.deployer.assignment(job_id).await.unwrap().iter().map(|a| a.provider).collect();
    assert_eq!(now, vec![first[0], net.nodes[spare].address], "the silent slot went to the spare node");
    assert!(net.deployer.owed(net.nodes[spare].address).await.unwrap() > 0, "the newcomer is paid");
    let dead = net.nodes[victim].address;
    assert_eq!(net.deployer.owed(dead).await.unwrap(), 0, "the released provider is not paid");
    let latest = net.deployer.block_number().await.unwrap();
    let verdicts = net.deployer.verdicts(0, latest).await.unwrap();
    assert!(!verdicts.iter().any(|(j, p, _, _)| *j == job_id && *p == dead), "nor bonded: {verdicts:?}");
    assert_eq!(net.total_ocat().await, supply, "no OCAT lost");
}

/// Issue 16, real faults: the chain's node is restarted from its state dump while a job runs (down for a moment,
/// back on the same URL with the same blocks). The nodes and the requester ride it out and the job is paid.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_paid_across_an_anvil_restart_from_its_state_dump() {
    let mut net = Net::start(&[false, false, false], 30).await;
    let supply = net.total_ocat().await;
    let job = net.job("pi", "pi", &["--samples", "30000000"], 3, 2, 120);
    let o = net.requester(&["job", "submit", "--detach", job.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    let id = stdout(&o).trim().to_owned();
    let job_id: B256 = id.parse().unwrap();
    let head = net.deployer.block_number().await.unwrap();
    net.restart_chain_from_dump().await;
    assert!(net.deployer.block_number().await.unwrap() >= head, "the restarted chain kept its blocks");

    let o = net.requester(&["job", "wait", &id, "--timeout", "120"]);
    assert!(o.status.success(), "wait failed: {}\n{}", stderr(&o), net.logs());
    assert_eq!(net.deployer.job(job_id).await.unwrap().state, ocean_chain::State::Finalized);
    assert_eq!(net.total_ocat().await, supply, "no OCAT lost across the restart");
}

/// Submits (detached) a pi job that runs for seconds on node 0 and returns its id once node 0 is running it.
async fn submit_long_job_until_running(net: &Net) -> String {
    let job = net.job("pi", "pi", &["--samples", "60000000"], 1, 1, 300);
    let o = net.requester(&["job", "submit", "--detach", job.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    let id = stdout(&o).trim().to_owned();
    let started = Instant::now();
    loop {
        let state = net.nodes[0].task(&id).await.and_then(|v| v["state"].as_str().map(str::to_owned));
        if state.as_deref() == Some("running") {
            return id;
        }
        assert!(
            state.as_deref() != Some("done"),
            "the task finished before it could be killed; use a longer job"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "task never ran: {}", net.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn restarted_node_resumes_and_commits_once() {
    let mut net = Net::start(&[false], 1).await;
    let id = submit_long_job_until_running(&net).await;
    let job_id: B256 = id.parse().unwrap();

    // Kill -9 the node while the task runs.
    net.kill_node(0);
    net.spawn_node(0);
    net.wait_serving().await;

    // Nobody settles (the requester detached), so after its grace period the node commits on chain itself.
    let started = Instant::now();
    while commits_of(&net, job_id).await.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(90), "no commit after restart: {}", net.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let o = net.requester(&["job", "wait", &id, "--timeout", "120"]);
    assert!(o.status.success(), "wait failed: {}\n{}", stderr(&o), net.logs());
    assert_eq!(commits_of(&net, job_id).await, vec![net.nodes[0].address], "exactly one commit");
    let log = std::fs::read_to_string(net.nodes[0].repo.join("node.log")).unwrap();
    assert!(log.contains("resuming task"), "the restarted node resumed the task");
    assert!(!log.contains("AlreadyCommitted"), "the node never tried to commit twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_are_clear_errors_and_nothing_is_half_submitted() {
    let net = Net::start(&[false, false, false], 30).await;
    let dir = net.dir.path();

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[program]\nkind = \"wasm\"\nmodule = 42\n").unwrap();
    let o = net.requester(&["job", "submit", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not a valid job"), "{}", stderr(&o));

    let job = net.job("wc", "wordcount", &[], 3, 2, 600);
    let text = std::fs::read_to_string(&job).unwrap();
    let missing = dir.join("missing.toml");
    std::fs::write(&missing, text.replace("corpus.txt", "no-such-file.txt")).unwrap();
    let o = net.requester(&["job", "submit", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no-such-file.txt"), "{}", stderr(&o));

    let cheap = dir.join("cheap.toml");
    std::fs::write(&cheap, text.replace("max_price = \"9 OCAT\"", "max_price = \"0.0003 OCAT\"")).unwrap();
    let o = net.requester(&["job", "submit", cheap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("price"), "the reason is shown: {}", stderr(&o));

    // A funded-with-ETH but OCAT-less account.
    let poor = dir.join("poor");
    let wallet = ocean_wallet::Wallet::open(poor.join("keys"));
    wallet.import_private_key("default", &format!("{:#x}", net.client_for(10).to_bytes()), PASSWORD).unwrap();
    let mut cmd = std::process::Command::new(crate::harness::ocean());
    cmd.args(["job", "submit", job.to_str().unwrap(), "--repo", poor.to_str().unwrap()]);
    net.env(&mut cmd);
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("insufficient funds"), "{}", stderr(&o));

    let mut cmd = std::process::Command::new(crate::harness::ocean());
    cmd.args(["job", "submit", job.to_str().unwrap(), "--repo", net.requester.to_str().unwrap()]);
    net.env(&mut cmd);
    cmd.env("OCEAN_RPC_URL", "http://127.0.0.1:1");
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("connecting to the chain"), "{}", stderr(&o));

    let requester =
        Client::connect(&net.anvil.endpoint(), net.client_for(1), net.deployment.clone()).await.unwrap();
    assert!(requester.jobs_of(net.requester_address).await.unwrap().is_empty(), "nothing was half-submitted");
    assert_eq!(requester.ocat_balance(net.requester_address).await.unwrap(), 10_000 * OCAT);
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_gives_the_same_addresses_on_every_chain() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("deployer");
    let mut deployments = Vec::new();
    let mut chains = Vec::new();
    for i in 0..2 {
        let anvil =
            ocean_chain::anvil::spawn_with(vec!["--chain-id".into(), (31337 + i).to_string()]).unwrap();
        if i == 0 {
            let key: ocean_chain::PrivateKeySigner = anvil.keys()[0].clone().into();
            ocean_wallet::Wallet::open(repo.join("keys"))
                .import_private_key("default", &format!("{:#x}", key.to_bytes()), PASSWORD)
                .unwrap();
        }
        let out = dir.path().join(format!("deployment-{i}.json"));
        let o = std::process::Command::new(crate::harness::ocean())
            .args(["deploy", "--repo", repo.to_str().unwrap(), "--rpc-url", &anvil.endpoint()])
            .arg("--out")
            .arg(&out)
            .env("OCEAN_PASSWORD", PASSWORD)
            .env_remove("OCEAN_DEPLOYMENT")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("devnet profile"), "the devnet profile says so: {}", stderr(&o));
        let d = ocean_chain::Deployment::load(&out).unwrap();
        assert_eq!(d.chain_id, 31337 + i);
        // Issue 15: the development zk key is public, so only a local devnet (Anvil's 31337) gets it.
        if i == 0 {
            assert_ne!(d.zk_verifier, ocean_chain::Address::ZERO);
        } else {
            assert_eq!(
                d.zk_verifier,
                ocean_chain::Address::ZERO,
                "no forgeable verifier on chain {}",
                d.chain_id
            );
            assert!(stderr(&o).contains("zk (proof-verified) jobs are disabled"), "{}", stderr(&o));
        }
        let key: ocean_chain::PrivateKeySigner = anvil.keys()[0].clone().into();
        Client::connect(&anvil.endpoint(), key, d.clone()).await.expect("the deployment is live");
        deployments.push(d);
        chains.push(anvil);
    }
    let (a, b) = (&deployments[0], &deployments[1]);
    assert_eq!(
        (a.token, a.registry, a.market, a.rewards, a.timelock, a.governor),
        (b.token, b.registry, b.market, b.rewards, b.timelock, b.governor)
    );

    // The public development zk key is refused away from a local devnet, even when named explicitly.
    let dev_key = dir.path().join("dev.params");
    std::fs::write(&dev_key, ocean_zk::Params::dev().unwrap().to_bytes().unwrap()).unwrap();
    let o = std::process::Command::new(crate::harness::ocean())
        .args(["deploy", "--repo", repo.to_str().unwrap(), "--rpc-url", &chains[1].endpoint(), "--zk-key"])
        .arg(&dev_key)
        .arg("--out")
        .arg(dir.path().join("forgeable.json"))
        .env("OCEAN_PASSWORD", PASSWORD)
        .env_remove("OCEAN_DEPLOYMENT")
        .output()
        .unwrap();
    assert!(!o.status.success(), "the development key must be refused on chain 31338");
    assert!(stderr(&o).contains("public development key"), "{}", stderr(&o));

    // The production profile needs a guardian, and gets hours-long floors and a real voting delay.
    let deploy = |extra: &[&str]| {
        std::process::Command::new(crate::harness::ocean())
            .args(["deploy", "--repo", repo.to_str().unwrap(), "--rpc-url", &chains[1].endpoint()])
            .args(["--profile", "production", "--out"])
            .arg(dir.path().join("production.json"))
            .args(extra)
            .env("OCEAN_PASSWORD", PASSWORD)
            .env_remove("OCEAN_DEPLOYMENT")
            .output()
            .unwrap()
    };
    let o = deploy(&[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("needs --guardian"), "{}", stderr(&o));
    let guardian = "0x000000000000000000000000000000000000dEaD";
    let o = deploy(&["--guardian", guardian]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = ocean_chain::Deployment::load(&dir.path().join("production.json")).unwrap();
    let rpc = alloy::providers::ProviderBuilder::new().connect_http(chains[1].endpoint_url());
    let market = JobMarket::new(p.market, &rpc);
    assert_eq!(market.minRevealWindow().call().await.unwrap().to::<u64>(), 6 * 3600);
    assert_eq!(market.revealWindow().call().await.unwrap().to::<u64>(), 12 * 3600);
    let governor = ocean_chain::bindings::OceanGovernor::new(p.governor, &rpc);
    assert_eq!(governor.votingDelay().call().await.unwrap(), alloy::primitives::U256::from(7_200));
    assert!(governor.proposalThreshold().call().await.unwrap() > alloy::primitives::U256::ZERO);
    let timelock = ocean_chain::bindings::OceanTimelock::new(p.timelock, &rpc);
    let canceller = timelock.CANCELLER_ROLE().call().await.unwrap();
    assert!(
        timelock.hasRole(canceller, guardian.parse().unwrap()).call().await.unwrap(),
        "the guardian can cancel"
    );
    assert_eq!(p.zk_verifier, ocean_chain::Address::ZERO);
}

#[tokio::test(flavor = "multi_thread")]
async fn requester_expires_a_job_every_provider_abandoned_and_gets_the_escrow_back() {
    let mut net = Net::start(&[false], 30).await;
    let supply = net.total_ocat().await;
    let id = submit_long_job_until_running(&net).await;
    let job_id: B256 = id.parse().unwrap();

    // The only provider dies for good while it runs the job.
    net.kill_node(0);

    // Before the deadline the job can still be settled: cancelling is refused, with the reason.
    let o = net.requester(&["job", "cancel", &id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("can still be settled until"), "{}", stderr(&o));

    // Past the reveal deadline the requester expires it and gets the whole escrow back.
    let view = net.warp_past_reveal_deadline(job_id).await;
    let owed_before = net.deployer.owed(net.requester_address).await.unwrap();
    let o = net.requester(&["job", "cancel", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("expired unsettled"), "{}", stdout(&o));
    let refunded = net.deployer.owed(net.requester_address).await.unwrap() - owed_before;
    // The whole escrow, the arbitration deposit of a quorum job included.
    let deposit = if view.mode == ocean_chain::Mode::Quorum { 2 } else { 1 };
    assert_eq!(refunded, deposit * view.price_per_replica * u128::from(view.replicas), "the whole escrow");
    assert_eq!(net.deployer.job(job_id).await.unwrap().state, ocean_chain::State::Failed);
    assert_eq!(net.total_ocat().await, supply, "no OCAT lost");
    // A final job cannot be cancelled again.
    let o = net.requester(&["job", "cancel", &id]);
    assert!(stderr(&o).contains("already failed"), "{}", stderr(&o));
}

/// Issue 14: while a job collects commitments its result CID is the secret that makes replication worth
/// anything. A stranger, another account and a replayed request learn nothing; the requester's signed read
/// does; after finalization the result is public (it is on chain anyway).
#[tokio::test(flavor = "multi_thread")]
async fn strangers_learn_nothing_until_the_job_is_final() {
    use ocean_chain::eip712;
    use ocean_protocol::{read_headers, task_path};

    // A long commit grace: the node keeps its result off chain until the requester settles.
    let net = Net::start(&[false], 600).await;
    let job = net.job("wc", "wordcount", &["--top", "5"], 1, 1, 600);
    let o = net.requester(&["job", "submit", "--detach", job.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    let id = stdout(&o).trim().to_owned();
    let job_id: B256 = id.parse().unwrap();
    let node = &net.nodes[0];
    let started = Instant::now();
    let result = loop {
        if let Some(t) = node.task(&id).await
            && t["state"] == "done"
        {
            break t["result_cid"].as_str().unwrap().to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "task never finished: {}", net.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}", node.port);
    let url = format!("{base}{}", task_path(job_id));
    let domain = eip712::api_domain(net.deployment.chain_id, net.deployment.market);
    let signed = |key: usize| {
        let signer = net.client_for(key);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let auth = eip712::sign_api_read(&signer, &domain, "GET", &task_path(job_id), job_id, now).unwrap();
        let mut request = http.get(&url);
        for (k, v) in read_headers(&auth) {
            request = request.header(k, v);
        }
        request
    };

    // A stranger: no signature, the operator list, another account's signature, a random job id.
    let plain = http.get(&url).send().await.unwrap();
    assert_eq!(plain.status(), 401);
    assert!(!plain.text().await.unwrap().contains(&result));
    assert_eq!(http.get(format!("{base}/tasks")).send().await.unwrap().status(), 401);
    assert_eq!(signed(5).send().await.unwrap().status(), 401, "only the job's requester may read it");
    let unknown = http.get(format!("{base}{}", task_path(B256::repeat_byte(7)))).send().await.unwrap();
    assert_eq!(unknown.status(), 401, "an unknown job is refused the same way as a secret one");
    // The gateway does not serve the result before finalization, and says so exactly as for a missing block.
    let early = http.get(format!("{base}/ipfs/{result}?format=car")).send().await.unwrap();
    assert_eq!(early.status(), 404);
    assert_eq!(early.text().await.unwrap(), format!("block {result} is not in the store"));

    // The requester's signed read works once; the same headers again are a replay.
    let request = signed(1).build().unwrap();
    let replay = request.try_clone().unwrap();
    let own = http.execute(request).await.unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.json::<serde_json::Value>().await.unwrap()["result_cid"], result.as_str());
    assert_eq!(http.execute(replay).await.unwrap().status(), 401, "a replayed read is refused");

    // The requester settles through the same signed reads.
    let o = net.requester(&["job", "wait", &id, "--timeout", "120"]);
    assert!(o.status.success(), "wait failed: {}\n{}", stderr(&o), net.logs());

    // Final: the status and the result are public.
    let started = Instant::now();
    loop {
        let r = http.get(&url).send().await.unwrap();
        if r.status() == 200 {
            assert_eq!(r.json::<serde_json::Value>().await.unwrap()["result_cid"], result.as_str());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never public: {}", net.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fetched = http.get(format!("{base}/ipfs/{result}?format=car")).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
}

/// A guest that panics the host function layer (a fault only test builds have) crashes its executor process:
/// that task fails with a clear reason, and the node goes on to run and settle an honest job.
#[cfg(feature = "fault-injection")]
#[tokio::test(flavor = "multi_thread")]
async fn a_guest_that_panics_the_host_layer_fails_only_its_own_task() {
    let net = Net::start(&[false], 30).await;
    let module = crate::harness::repo_root().join("crates/runtime/tests/guests/panic_host.wat");
    let text = format!(
        "[program]\nkind = \"wasm\"\nmodule = {module:?}\n[limits]\ntimeout_secs = 30\n\
         [verification]\nmode = \"none\"\nreplicas = 1\nquorum = 1\n\
         [payment]\nmax_price = \"9 OCAT\"\ndeadline_secs = 300\n"
    );
    let bad = net.dir.path().join("panic.toml");
    std::fs::write(&bad, text).unwrap();
    let o = net.requester(&["job", "submit", "--detach", bad.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(net.nodes[0].repo.join("node.log")).unwrap_or_default();
        if log.contains("the executor process crashed") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "the task never failed: {}", net.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let job = net.job("wc", "wordcount", &["--top", "3"], 1, 1, 600);
    let o = net.requester(&["job", "submit", job.to_str().unwrap()]);
    assert!(o.status.success(), "the honest job after the crash: {}\n{}", stderr(&o), net.logs());
}

/// Issue 15: a disagreement is settled, not forgiven. Two providers of an r = 2, q = 2 job disagree (one reports
/// a wrong result); nobody can reveal, the job expires into arbitration, the contract drafts the two other
/// registered nodes, the requester's `job wait` hands them the job's data, and the majority of all four
/// (3 of 4) pays the honest provider and both arbiters and slashes the liar.
#[cfg(feature = "fault-injection")]
#[tokio::test(flavor = "multi_thread")]
async fn a_disagreement_goes_to_arbitration_and_the_minority_is_slashed() {
    let mut net = Net::start(&[false, true, false, false], 2).await;
    let supply = net.total_ocat().await;
    // Only nodes 0 and 1 can be offered the job; 2 and 3 stay registered (so they can be drafted) but down.
    net.kill_node(2);
    net.kill_node(3);
    let job = net.job("wc", "wordcount", &["--top", "3"], 2, 2, 60);
    let o = net.requester(&["job", "submit", "--detach", job.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    let id = stdout(&o).trim().to_owned();
    let job_id: B256 = id.parse().unwrap();

    // Both commit on chain (a short commit grace) to results that differ: no quorum can form.
    let started = Instant::now();
    while commits_of(&net, job_id).await.len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(90), "never committed\n{}", net.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    net.spawn_node(2);
    net.spawn_node(3);
    net.warp_past_reveal_deadline(job_id).await;
    let o = net.requester(&["job", "cancel", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("went to arbitration"), "{}", stdout(&o));
    assert_eq!(net.deployer.job(job_id).await.unwrap().state, ocean_chain::State::Arbitration);
    let drafted: Vec<_> =
        net.deployer.assignment(job_id).await.unwrap().into_iter().filter(|a| a.index >= 2).collect();
    let mut arbiters: Vec<_> = drafted.iter().map(|a| a.provider).collect();
    arbiters.sort();
    let mut expected = vec![net.nodes[2].address, net.nodes[3].address];
    expected.sort();
    assert_eq!(arbiters, expected, "the only active providers outside the job are drafted");

    // The requester waits: it gives the arbiters the job's data and settles on their signed commitments.
    let o = net.requester(&["job", "wait", &id, "--timeout", "120"]);
    assert!(o.status.success(), "wait failed: {}\n{}", stderr(&o), net.logs());
    assert_eq!(net.deployer.job(job_id).await.unwrap().state, ocean_chain::State::Finalized);
    let liar = net.nodes[1].address;
    let (paid, slashed) = net.deployer.settlement(job_id, liar).await.unwrap();
    assert_eq!((paid, slashed), (0, 20 * OCAT), "the minority is slashed 10% of its 200 OCAT stake");
    for n in [0, 2, 3] {
        let (paid, slashed) = net.deployer.settlement(job_id, net.nodes[n].address).await.unwrap();
        assert!(paid > 0 && slashed == 0, "node {n} agreed with the majority and is paid");
    }
    assert_eq!(net.total_ocat().await, supply, "no OCAT created or lost");
}
