//! The client against what public RPC endpoints do: capped log ranges, 503s, 429s, a dead URL in the list.
//! The faults come from the in-process proxy (`ocean_chain::rpc_proxy`) in front of a real Anvil; the job is a
//! real one.

use std::sync::atomic::Ordering;

use alloy::{providers::Provider, signers::local::PrivateKeySigner};
use ocean_chain::{Client, RpcOptions, State};

use ocean_chain::rpc_proxy::{Faults, Proxy};

use crate::lifecycle::{OCAT, net, register, run_job};

/// Retries fast enough for a test (the defaults suit public endpoints).
fn quick() -> RpcOptions {
    RpcOptions { backoff_ms: 10, ..RpcOptions::default() }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_paid_and_found_through_an_endpoint_that_caps_log_ranges_and_fails_calls() {
    let n = net().await;
    // 1,500 empty blocks first: every scan from the deployment then spans more than the proxy serves at once.
    n.deployer.provider().raw_request::<_, ()>("anvil_mine".into(), (1_500u64,)).await.unwrap();
    let faults =
        Faults { max_log_range: Some(500), unavailable_every: Some(10), rate_limited_every: Some(13) };
    let proxy = Proxy::start(n.anvil.endpoint(), faults).await.unwrap();
    let via_proxy = |index: usize| {
        let key: PrivateKeySigner = n.anvil.keys()[index].clone().into();
        Client::connect_with(&proxy.url, key, n.deployment.clone(), quick())
    };
    let requester = via_proxy(1).await.unwrap();
    n.deployer.transfer(requester.address(), 1_000 * OCAT).await.unwrap();
    let mut providers = Vec::new();
    for i in 0..3 {
        let p = via_proxy(2 + i).await.unwrap();
        n.deployer.transfer(p.address(), 500 * OCAT).await.unwrap();
        register(&p, i).await;
        providers.push(p);
    }
    run_job(&requester, &providers, 9, [10 * OCAT; 3]).await;

    // A client that has seen nothing scans from the deployment block, 1,500+ blocks, in chunks the proxy takes.
    let fresh = via_proxy(1).await.unwrap();
    let jobs = fresh.jobs_of(requester.address()).await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job_id = jobs[0].0;
    assert_eq!(fresh.job(job_id).await.unwrap().state, State::Finalized);
    assert!(fresh.result_cid(job_id).await.unwrap().is_some());
    assert_eq!(fresh.assignment(job_id).await.unwrap().len(), 3);
    let direct = n.deployer.settlement(job_id, providers[0].address()).await.unwrap();
    assert!(direct.0 > 0);
    assert_eq!(fresh.settlement(job_id, providers[0].address()).await.unwrap(), direct);

    let seen = &proxy.seen;
    assert!(seen.range_refusals.load(Ordering::Relaxed) > 0, "the range cap was met");
    assert!(seen.unavailable.load(Ordering::Relaxed) > 0 && seen.rate_limited.load(Ordering::Relaxed) > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_url_in_the_list_is_passed_over() {
    let n = net().await;
    let key: PrivateKeySigner = n.anvil.keys()[1].clone().into();
    // Nothing listens on port 9 of 127.0.0.1: the connection is refused, the next URL answers.
    let urls = format!("http://127.0.0.1:9,{}", n.anvil.endpoint());
    let client = Client::connect_with(&urls, key, n.deployment.clone(), quick()).await.unwrap();
    n.deployer.transfer(client.address(), 5 * OCAT).await.unwrap();
    client.transfer(n.deployer.address(), OCAT).await.unwrap();
    assert_eq!(client.ocat_balance(client.address()).await.unwrap(), 4 * OCAT);
    assert!(Client::connect("", PrivateKeySigner::random(), n.deployment.clone()).await.is_err());
}
