//! Issue 15, finding 7: a limit hit is a result, a wall-clock timeout is not. A job whose guest runs out of
//! fuel on every replica is finalized with the limit result and its providers are paid; a job that runs past
//! its deadline fails, and nobody is paid or slashed.

use std::time::{Duration, Instant};

use ocean_chain::{B256, State};
use ocean_types::limit::{Exceeded, LimitResult};

use crate::harness::{Net, OCAT, repo_root, stderr, stdout};

/// A job file running the looping guest of ocean-runtime's tests with `limits` (TOML lines).
fn looping_job(net: &Net, name: &str, limits: &str, replicas: u8, quorum: u8) -> std::path::PathBuf {
    let module = repo_root().join("crates/runtime/tests/guests/loop.wat");
    let mode = if replicas == 1 { "none" } else { "quorum" };
    let text = format!(
        "[program]\nkind = \"wasm\"\nmodule = {module:?}\n[limits]\n{limits}\n\
         [verification]\nmode = \"{mode}\"\nreplicas = {replicas}\nquorum = {quorum}\n\
         [payment]\nmax_price = \"9 OCAT\"\ndeadline_secs = 600\n"
    );
    let path = net.dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_runs_out_of_fuel_is_finalized_and_its_providers_are_paid() {
    let net = Net::start(&[false, false, false], 30).await;
    let supply = net.total_ocat().await;
    let fuel = 50_000_000u64;
    let job = looping_job(&net, "spin", &format!("fuel = {fuel}\ntimeout_secs = 60"), 3, 2);
    let out_dir = net.dir.path().join("out");
    let o = net.requester(&["job", "submit", job.to_str().unwrap(), "-o", out_dir.to_str().unwrap()]);
    let (text, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(21), "exit code of a fuel limit result: {err}\n{text}\n{}", net.logs());
    assert!(
        err.contains(&format!("hit its fuel limit ({fuel} units of work); providers were paid")),
        "{err}"
    );
    let line = last_line(&text);
    assert!(line.contains(" finalized: result bafy"), "{line}");
    assert!(line.ends_with("paid 0.02925 OCAT to 3 providers"), "{line}");

    // The result written is the limit result, and nothing else.
    let names: Vec<_> =
        std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, ["ocean-limit.json"]);
    let hit = LimitResult::from_canonical(&std::fs::read(out_dir.join("ocean-limit.json")).unwrap()).unwrap();
    assert_eq!((hit.limit, hit.max), (Exceeded::Fuel, fuel));

    // On chain: finalized with that CID, every replica agreed and is paid its price less the fee.
    let id: B256 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(net.deployer.job(id).await.unwrap().state, State::Finalized);
    let cid = line.split("result ").nth(1).unwrap().split(',').next().unwrap();
    let on_chain = net.deployer.result_cid(id).await.unwrap().unwrap();
    assert_eq!(ocean_store::Cid::from_bytes(&on_chain).unwrap().to_string(), cid);
    let paid = 10_000_000_000_000_000u128 - 10_000_000_000_000_000 * 250 / 10_000;
    for n in &net.nodes {
        assert_eq!(net.deployer.owed(n.address).await.unwrap(), paid, "each replica is paid");
        let log = std::fs::read_to_string(n.repo.join("node.log")).unwrap();
        assert!(log.contains("committing the limit result"), "the node committed it: {log}");
    }
    // `ocean job results` writes it again and says the same.
    let again = net.dir.path().join("again");
    let o = net.requester(&["job", "results", &format!("{id:#x}"), "-o", again.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(21), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), cid);
    assert_eq!(std::fs::read(again.join("ocean-limit.json")).unwrap(), hit.canonical_bytes());
    assert_eq!(net.total_ocat().await, supply, "no OCAT created or lost");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wall_clock_timeout_fails_the_job_unpaid_and_unslashed() {
    let net = Net::start(&[false, false, false], 30).await;
    let supply = net.total_ocat().await;
    let stakes = net.deployer.nodes().await.unwrap();
    // Fuel for hours, a deadline of one second: every replica is stopped by its own clock.
    let job = looping_job(&net, "forever", "fuel = 1_000_000_000_000_000\ntimeout_secs = 1", 3, 2);
    let o = net.requester(&["job", "submit", "--detach", job.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    let id = stdout(&o).trim().to_owned();
    let job_id: B256 = id.parse().unwrap();

    // Every replica fails the task: no result, nothing committed.
    let started = Instant::now();
    for node in &net.nodes {
        loop {
            let task = node.task(&id).await;
            if let Some(t) = &task
                && t["state"] == "failed"
            {
                let reason = t["error"].as_str().unwrap_or_default();
                assert!(reason.contains("deadline"), "failed for its deadline: {t}");
                assert!(t["result_cid"].is_null() && t["signed_commit"].is_null(), "{t}");
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the task never failed: {task:?}\n{}",
                net.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Past the reveal deadline nothing can settle it: it expires, the escrow goes back whole.
    net.warp_past_reveal_deadline(job_id).await;
    let o = net.requester(&["job", "cancel", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(net.deployer.job(job_id).await.unwrap().state, State::Failed);
    assert_eq!(net.deployer.result_cid(job_id).await.unwrap(), None);
    // The whole escrow: 3 replicas × 3 OCAT and as much again as the unused arbitration deposit.
    assert_eq!(net.deployer.owed(net.requester_address).await.unwrap(), 18 * OCAT, "the whole escrow");
    for n in &net.nodes {
        assert_eq!(net.deployer.owed(n.address).await.unwrap(), 0, "a timeout is not paid");
    }
    // Nor slashed as a wrong result would be; a provider that committed nothing loses only its no-show
    // bond (5 % of stake on the devnet): it signed limits it could not keep (docs/protocol.md §17).
    let after = net.deployer.nodes().await.unwrap();
    for (before, after) in stakes.iter().zip(&after) {
        assert_eq!(after.stake, before.stake - before.stake * 500 / 10_000, "only the no-show bond");
    }
    // Waiting on it reports the failure (exit 5).
    let o = net.requester(&["job", "wait", &id, "--timeout", "30"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert_eq!(net.total_ocat().await, supply, "no OCAT created or lost");
}
