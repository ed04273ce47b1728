//! Balances of wallet keys on a real Anvil chain with the protocol deployed.

use alloy::{network::TransactionBuilder, providers::Provider, rpc::types::TransactionRequest};
use ocean_chain::{B256, Client, JobRequest, Mode, U256, anvil};
use ocean_wallet::{Balance, Error, Wallet, balance, format_units};

const E18: u128 = 1_000_000_000_000_000_000;

#[tokio::test]
async fn balances_of_a_wallet_key_and_of_a_bare_address() {
    let (anvil, deployer) =
        anvil::spawn_deployed().await.expect("anvil with the protocol (run `make deps-node`)");
    let deployment = deployer.deployment().clone();
    let provider = deployer.provider().clone();

    let dir = tempfile::tempdir().unwrap();
    let wallet = Wallet::open(dir.path());
    let alice = wallet.create("alice", "pw").unwrap().address.unwrap();

    // A new key holds nothing.
    let zero = balance(&anvil.endpoint(), deployment.clone(), alice).await.unwrap();
    assert_eq!(zero, Balance { address: alice, eth: U256::ZERO, ocat: 0, owed: 0 });

    // Fund it with 1.5 ETH and 42 OCAT; the selector resolves by name without a password.
    let tx = TransactionRequest::default().with_to(alice).with_value(U256::from(3 * E18 / 2));
    provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    deployer.transfer(alice, 42 * E18).await.unwrap();
    let who = wallet.address_of(Some("alice")).unwrap();
    let funded = balance(&anvil.endpoint(), deployment.clone(), who).await.unwrap();
    assert_eq!((format_units(funded.eth).as_str(), funded.ocat, funded.owed), ("1.5", 42 * E18, 0));

    // The key unlocked from the wallet signs on chain: a job (the deployer, registered, is its provider) that
    // nobody settles expires, and its escrow is owed back by the JobMarket.
    let caps = ocean_chain::bindings::NodeRegistry::Capabilities {
        cores: 1,
        memoryMiB: 1024,
        gpuVramMiB: 0,
        benchmarkScore: 1,
        gpuModel: String::new(),
    };
    deployer.register_node(100 * E18, caps, B256::ZERO, "http://127.0.0.1:7000".into()).await.unwrap();
    let signer = wallet.unlock(Some("alice"), "pw").unwrap();
    let requester = Client::connect(&anvil.endpoint(), signer, deployment.clone()).await.unwrap();
    let now = requester.chain_time().await.unwrap();
    let request = JobRequest {
        salt: B256::repeat_byte(7),
        manifest_cid: vec![1, 2, 3],
        late_manifest: false,
        replicas: 1,
        quorum: 1,
        mode: Mode::None,
        price_per_replica: 10 * E18,
        commit_deadline: now + 600,
        proof_spec: B256::ZERO,
        limits_hash: B256::ZERO,
        rebalance_at: 0,
    };
    let job_id = requester.job_id(request.salt);
    let terms = ocean_chain::eip712::terms_hash(&request, &[deployer.address()]);
    let offer = deployer.sign_offer(job_id, 10 * E18, now + 300, terms).unwrap();
    let (job, _) = requester.create_job(&request, vec![offer]).await.unwrap();
    let _: serde_json::Value = provider.raw_request("evm_increaseTime".into(), (3600u64,)).await.unwrap();
    let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await.unwrap();
    requester.expire(job).await.unwrap();
    let after = balance(&anvil.endpoint(), deployment.clone(), alice).await.unwrap();
    assert_eq!((after.ocat, after.owed), (32 * E18, 10 * E18));

    // An address with no key in the wallet: Anvil's second dev account, 10000 ETH and no OCAT.
    let bare = wallet.address_of(Some("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")).unwrap();
    let b = balance(&anvil.endpoint(), deployment.clone(), bare).await.unwrap();
    assert_eq!((format_units(b.eth).as_str(), b.ocat), ("10000", 0));

    // An RPC that is down is a clear, retryable chain error.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = balance(&format!("http://127.0.0.1:{port}"), deployment, alice).await.unwrap_err();
    match err {
        Error::Chain(e) => assert!(e.is_retryable(), "{e}"),
        other => panic!("expected a chain error, got {other}"),
    }
}
