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

/// A transaction a mempool will not mine (its fee cap is under every block's base fee) is replaced with the same
/// nonce and a higher fee until it is mined, and it takes effect once. Anvil mines only when told, each block
/// with a base fee just above the first transaction's cap, as a public chain whose fees rose does.
#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_transaction_is_replaced_with_a_higher_fee_and_the_same_nonce() {
    let n = net().await;
    let key: PrivateKeySigner = n.anvil.keys()[1].clone().into();
    let options = RpcOptions { bump_after: std::time::Duration::from_secs(1), ..quick() };
    let sender = Client::connect_with(&n.anvil.endpoint(), key, n.deployment.clone(), options).await.unwrap();
    n.deployer.transfer(sender.address(), 10 * OCAT).await.unwrap();
    let chain = n.deployer.provider();
    chain.raw_request::<_, ()>("evm_setAutomine".into(), (false,)).await.unwrap();

    let to = alloy::primitives::Address::repeat_byte(0x77);
    let send = tokio::spawn(async move { sender.transfer(to, OCAT).await });
    // The first transaction, as the pool holds it.
    let (first_hash, first_cap, first_nonce) = loop {
        let pool: serde_json::Value = chain.raw_request("txpool_content".into(), ()).await.unwrap();
        let mine = pool["pending"].as_object().and_then(|by| by.values().next().cloned());
        if let Some(tx) =
            mine.and_then(|by_nonce| by_nonce.as_object().and_then(|m| m.values().next().cloned()))
        {
            let cap = u128::from_str_radix(tx["maxFeePerGas"].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap();
            let nonce =
                u64::from_str_radix(tx["nonce"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
            break (tx["hash"].as_str().unwrap().parse::<alloy::primitives::B256>().unwrap(), cap, nonce);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let started = std::time::Instant::now();
    while !send.is_finished() {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "never mined");
        chain.raw_request::<_, ()>("anvil_setNextBlockBaseFeePerGas".into(), (first_cap + 1,)).await.unwrap();
        chain.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let receipt = send.await.unwrap().unwrap();
    chain.raw_request::<_, ()>("evm_setAutomine".into(), (true,)).await.unwrap();

    assert_ne!(receipt.tx, first_hash, "the first transaction was replaced");
    assert!(chain.get_transaction_receipt(first_hash).await.unwrap().is_none(), "and never mined");
    let mined = chain.get_transaction_by_hash(receipt.tx).await.unwrap().unwrap();
    use alloy::consensus::Transaction as _;
    assert!(mined.max_fee_per_gas() > first_cap, "a higher fee cap");
    assert_eq!(mined.nonce(), first_nonce, "the same nonce");
    assert_eq!(n.deployer.ocat_balance(to).await.unwrap(), OCAT, "it took effect once");
}

/// After the chain went back to an earlier state (a devnet's snapshot reverted, a reset), the account's nonce
/// is lower than the client's count: the next send must use the chain's, not wait for a receipt that never
/// comes.
#[tokio::test(flavor = "multi_thread")]
async fn a_send_after_the_chain_was_reverted_uses_the_chains_nonce() {
    let n = net().await;
    let chain = n.deployer.provider();
    let snapshot: alloy::primitives::U256 = chain.raw_request("evm_snapshot".into(), ()).await.unwrap();
    n.deployer.transfer(alloy::primitives::Address::repeat_byte(1), OCAT).await.unwrap();
    let reverted: bool = chain.raw_request("evm_revert".into(), (snapshot,)).await.unwrap();
    assert!(reverted);
    let again = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        n.deployer.transfer(alloy::primitives::Address::repeat_byte(2), OCAT),
    )
    .await
    .expect("a send after a revert must not wait for a receipt that never comes");
    again.unwrap();
}

/// Issue 16: reading the registry batches through Multicall3 (installed on the devnet at its canonical address,
/// where public chains have it): nine nodes cost five `eth_call`s (the count, then one `aggregate` for each of
/// the four reads), not four per node, and read the same as the registry answers node by node.
#[tokio::test(flavor = "multi_thread")]
async fn registry_reads_are_batched_through_multicall3() {
    let n = net().await;
    for i in 0..9 {
        let key: PrivateKeySigner = n.anvil.keys()[i + 1].clone().into();
        let p = Client::connect(&n.anvil.endpoint(), key, n.deployment.clone()).await.unwrap();
        n.deployer.transfer(p.address(), 500 * OCAT).await.unwrap();
        register(&p, i).await;
    }
    let proxy = Proxy::start(n.anvil.endpoint(), Faults::default()).await.unwrap();
    let reader = Client::connect(&proxy.url, PrivateKeySigner::random(), n.deployment.clone()).await.unwrap();
    let before = proxy.seen.calls.load(Ordering::Relaxed);
    let nodes = reader.nodes().await.unwrap();
    let calls = proxy.seen.calls.load(Ordering::Relaxed) - before;
    assert_eq!(nodes.len(), 9);
    assert_eq!(calls, 5, "eth_calls for 9 nodes");

    let registry = ocean_chain::bindings::NodeRegistry::new(n.deployment.registry, n.deployer.provider());
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(node.address, registry.nodes(alloy::primitives::U256::from(i)).call().await.unwrap());
        let info = registry.info(node.address).call().await.unwrap();
        assert_eq!(node.endpoint, info.endpoint);
        assert_eq!(node.encryption_key, info.encryptionKey);
        let stake = registry.stakes(node.address).call().await.unwrap();
        assert_eq!(node.stake, stake.staked.to::<u128>());
        assert_eq!(node.active, registry.isActive(node.address).call().await.unwrap());
    }
}
