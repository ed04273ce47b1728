//! Deploy the protocol on Anvil and drive one 3-replica job from creation to payout.

use alloy::{
    network::EthereumWallet,
    node_bindings::AnvilInstance,
    primitives::{Address, B256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use ocean_chain::{
    Client, Deployment, JobRequest, Mode, Params, State, anvil,
    bindings::{JobMarket, NodeRegistry},
    deploy, eip712,
};

pub(crate) const OCAT: u128 = 1_000_000_000_000_000_000;

pub(crate) struct Net {
    pub(crate) anvil: AnvilInstance,
    pub(crate) deployment: Deployment,
    pub(crate) deployer: Client,
}

pub(crate) async fn net() -> Net {
    let (anvil, deployer) = anvil::spawn_deployed().await.expect("anvil with the protocol (run `make deps`)");
    Net { anvil, deployment: deployer.deployment().clone(), deployer }
}

impl Net {
    /// `count` funded (500 OCAT) and registered providers, accounts 2, 3, …
    async fn providers(&self, count: usize) -> Vec<Client> {
        let mut providers = Vec::new();
        for i in 0..count {
            let p = self.account(2 + i, 500).await;
            register(&p, i).await;
            assert!(p.is_active(p.address()).await.unwrap());
            providers.push(p);
        }
        providers
    }

    async fn account(&self, index: usize, ocat: u128) -> Client {
        let key: PrivateKeySigner = self.anvil.keys()[index].clone().into();
        let client = Client::connect(&self.anvil.endpoint(), key, self.deployment.clone()).await.unwrap();
        self.deployer.transfer(client.address(), ocat * OCAT).await.unwrap();
        client
    }
}

/// Registers `p` as the `i`-th provider of a test network (200 OCAT of stake).
pub(crate) async fn register(p: &Client, i: usize) {
    p.register_node(200 * OCAT, caps(), B256::repeat_byte(i as u8), format!("http://127.0.0.1:{}", 7000 + i))
        .await
        .unwrap();
}

fn caps() -> NodeRegistry::Capabilities {
    NodeRegistry::Capabilities {
        cores: 2,
        memoryMiB: 4096,
        gpuVramMiB: 0,
        benchmarkScore: 100,
        gpuModel: String::new(),
    }
}

#[tokio::test]
async fn deployment_is_deterministic_and_idempotent() {
    let n = net().await;
    // A second run finds every contract at the same CREATE2 address and skips the wiring already done.
    let key: PrivateKeySigner = n.anvil.keys()[0].clone().into();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key.clone()))
        .connect_http(n.anvil.endpoint_url())
        .erased();
    let again =
        deploy::deploy(&provider, key.address(), &Params::devnet(n.deployment.treasury)).await.unwrap();
    assert_eq!(again.market, n.deployment.market);
    assert_eq!(again.token, n.deployment.token);
    assert_eq!(again.governor, n.deployment.governor);

    // A fresh chain gives the same addresses: they depend only on the deployer and the parameters.
    let other = net().await;
    assert_eq!(other.deployment.market, n.deployment.market);
    assert_eq!(other.deployment.registry, n.deployment.registry);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deployment.json");
    n.deployment.save(&path).unwrap();
    assert_eq!(Deployment::load(&path).unwrap(), n.deployment);
}

/// A 2-of-3 quorum job request at 10 OCAT per replica, due 600 s after `now`.
fn two_of_three(salt: u8, now: u64) -> JobRequest {
    JobRequest {
        salt: B256::repeat_byte(salt),
        manifest_cid: b"\x01\x70\x12\x20manifest".to_vec(),
        late_manifest: false,
        replicas: 3,
        quorum: 2,
        mode: Mode::Quorum,
        price_per_replica: 10 * OCAT,
        commit_deadline: now + 600,
        proof_spec: B256::ZERO,
        limits_hash: eip712::limits_hash(256, 5_000_000_000, 60, 64, 1024),
        rebalance_at: 0,
    }
}

/// Creates and settles one 3-replica job; returns the gas of (createJobWithPermit, reveal).
pub(crate) async fn run_job(
    requester: &Client,
    providers: &[Client],
    salt: u8,
    prices: [u128; 3],
) -> (u64, u64) {
    let now = requester.chain_time().await.unwrap();
    let req = two_of_three(salt, now);
    let job_id = requester.job_id(req.salt);
    let addresses: Vec<Address> = providers.iter().map(Client::address).collect();
    let terms = eip712::terms_hash(&req, &addresses);
    let offers: Vec<_> = providers
        .iter()
        .zip(prices)
        .map(|(p, price)| p.sign_offer(job_id, price, now + 300, terms).unwrap())
        .collect();
    let before = requester.ocat_balance(requester.address()).await.unwrap();
    let (created_id, create) = requester.create_job(&req, offers).await.unwrap();
    assert_eq!(created_id, job_id);
    assert_eq!(requester.job(job_id).await.unwrap().state, State::Assigned);
    // 30 OCAT for the replicas and as much again as the arbitration deposit.
    assert_eq!(requester.ocat_balance(requester.address()).await.unwrap(), before - 60 * OCAT);
    assert_eq!(requester.limits_hash(job_id).await.unwrap(), Some(req.limits_hash));

    // Providers hand their signed commitments to the requester, which settles in one transaction.
    let result = b"\x01\x55\x12\x20result-bytes".to_vec();
    let signed: Vec<_> =
        providers.iter().enumerate().map(|(i, p)| p.sign_commit(job_id, i as u8, &result).unwrap()).collect();
    let assignment: Vec<_> = providers
        .iter()
        .zip(prices)
        .map(|(p, price)| JobMarket::Assignment {
            provider: p.address(),
            price: alloy::primitives::Uint::<96, 2>::from(price),
        })
        .collect();
    let reveal = requester.reveal(job_id, assignment, &result, signed).await.unwrap();
    assert_eq!(requester.job(job_id).await.unwrap().state, State::Finalized);
    (create.gas_used, reveal.gas_used)
}

#[tokio::test]
async fn three_replica_job_is_paid_and_refunded() {
    let n = net().await;
    let requester = n.account(1, 1_000).await;
    let providers = n.providers(3).await;

    // Provider 2 offers below the cap: it is paid its own price and the difference is refunded.
    let prices = [10 * OCAT, 10 * OCAT, 8 * OCAT];
    let before_requester = requester.ocat_balance(requester.address()).await.unwrap();
    // The first job escrows with a permit signature (no allowance yet) and writes every account's first slot.
    let first = run_job(&requester, &providers, 1, prices).await;
    // A frequent requester approves the market once; from then on jobs need no permit.
    requester.approve_market(alloy::primitives::U256::MAX).await.unwrap();
    // Steady state: every account already has a balance in the market.
    let second = run_job(&requester, &providers, 2, prices).await;

    let fee = |p: u128| p * 250 / 10_000;
    for (p, price) in providers.iter().zip(prices) {
        assert_eq!(p.owed(p.address()).await.unwrap(), 2 * (price - fee(price)));
        let before = p.ocat_balance(p.address()).await.unwrap();
        p.withdraw().await.unwrap();
        assert_eq!(p.ocat_balance(p.address()).await.unwrap(), before + 2 * (price - fee(price)));
    }
    // Each job refunds its unused deposit (30) and provider 2's discount (2).
    assert_eq!(requester.owed(requester.address()).await.unwrap(), 64 * OCAT);
    requester.withdraw().await.unwrap();
    assert_eq!(requester.ocat_balance(requester.address()).await.unwrap(), before_requester - 56 * OCAT);
    let fees: u128 = 2 * prices.iter().map(|p| fee(*p)).sum::<u128>();
    assert_eq!(requester.owed(n.deployment.treasury).await.unwrap(), fees);

    for (label, (create, reveal)) in [("first job, permit", first), ("steady state, allowance", second)] {
        eprintln!(
            "gas (real receipts, {label}): createJob {create} + reveal {reveal} = {} for one 3-replica job",
            create + reveal
        );
    }
}

#[tokio::test]
async fn reverts_are_decoded_into_custom_errors() {
    let n = net().await;
    let requester = n.account(1, 100).await;
    let now = requester.chain_time().await.unwrap();
    let req = JobRequest {
        salt: B256::repeat_byte(1),
        manifest_cid: vec![1, 2, 3],
        late_manifest: false,
        replicas: 0,
        quorum: 0,
        mode: Mode::Quorum,
        price_per_replica: OCAT,
        commit_deadline: now + 600,
        proof_spec: B256::ZERO,
        limits_hash: B256::ZERO,
        rebalance_at: 0,
    };
    let err = requester.create_job(&req, vec![]).await.unwrap_err();
    assert!(err.to_string().contains("ZeroReplicas"), "{err}");
    assert!(!err.is_retryable());
    // The rejected sends took nonces in alloy's fillers; the client must hand them back, or its next
    // transaction waits forever behind the gap.
    for _ in 0..2 {
        assert!(requester.create_job(&req, vec![]).await.is_err());
    }
    let sent = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        requester.transfer(n.deployer.address(), OCAT),
    )
    .await
    .expect("a send after rejected sends must not stall");
    sent.unwrap();

    let stranger = PrivateKeySigner::random();
    let bad =
        Client::connect(&n.anvil.endpoint(), stranger, Deployment { chain_id: 1, ..n.deployment.clone() })
            .await;
    assert!(matches!(bad, Err(ocean_chain::Error::WrongChain { expected: 1, .. })));
}

/// The Rust twins of `jobIdOf` and `termsHash` agree with the contract, for a late manifest too: a provider
/// signs exactly what the market checks.
#[tokio::test]
async fn terms_and_job_ids_match_the_contract() {
    let n = net().await;
    let market = JobMarket::new(n.deployment.market, n.deployer.provider());
    let providers = [Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3)];
    for late in [false, true] {
        let req = JobRequest {
            salt: B256::repeat_byte(9),
            manifest_cid: b"\x01\x70\x12\x20some-manifest".to_vec(),
            late_manifest: late,
            replicas: 3,
            quorum: 2,
            mode: Mode::Quorum,
            price_per_replica: 7 * OCAT,
            commit_deadline: 1_900_000_000,
            proof_spec: B256::repeat_byte(4),
            limits_hash: eip712::limits_hash(512, 1_000, 30, 8, 16),
            rebalance_at: 1_899_999_000,
        };
        let onchain = market
            .termsHash(
                JobMarket::JobRequest {
                    salt: req.salt,
                    manifestCid: req.manifest_cid.clone().into(),
                    lateManifest: late,
                    replicas: 3,
                    quorum: 2,
                    mode: 1,
                    pricePerReplica: alloy::primitives::Uint::<96, 2>::from(req.price_per_replica),
                    commitDeadline: alloy::primitives::Uint::<40, 1>::from(req.commit_deadline),
                    proofSpec: req.proof_spec,
                    limitsHash: req.limits_hash,
                    rebalanceAt: 1_899_999_000,
                },
                providers.to_vec(),
            )
            .call()
            .await
            .unwrap();
        assert_eq!(onchain, eip712::terms_hash(&req, &providers), "late manifest: {late}");
    }
    let me = n.deployer.address();
    let onchain = market.jobIdOf(me, B256::repeat_byte(5)).call().await.unwrap();
    assert_eq!(onchain, n.deployer.job_id(B256::repeat_byte(5)));
}

/// Rebalancing through the client: past the job's rebalance time the requester hands a silent slot to another
/// provider (signed over `eip712::reassign_terms`, which must agree with the contract's hash of the new
/// assignment), the client's view of the assignment follows, and the
/// job settles long before its commit deadline.
#[tokio::test]
async fn a_silent_slot_is_handed_to_another_provider_and_the_job_settles_early() {
    let n = net().await;
    let requester = n.account(1, 1_000).await;
    let providers = n.providers(4).await;
    let now = requester.chain_time().await.unwrap();
    let req = JobRequest { rebalance_at: now + 60, ..two_of_three(7, now) };
    let job_id = requester.job_id(req.salt);
    let first: Vec<Address> = providers[..3].iter().map(Client::address).collect();
    let terms = eip712::terms_hash(&req, &first);
    let offers =
        providers[..3].iter().map(|p| p.sign_offer(job_id, 10 * OCAT, now + 300, terms).unwrap()).collect();
    requester.create_job(&req, offers).await.unwrap();
    let view = requester.job(job_id).await.unwrap();
    assert_eq!(view.rebalance_at, now + 60);
    assert!(!view.rebalancing(now));

    let _: serde_json::Value =
        n.deployer.provider().raw_request("evm_increaseTime".into(), (61u64,)).await.unwrap();
    let _: serde_json::Value = n.deployer.provider().raw_request("evm_mine".into(), ()).await.unwrap();
    let t = requester.chain_time().await.unwrap();
    assert!(requester.job(job_id).await.unwrap().rebalancing(t));

    let mut next: Vec<_> = requester
        .assignment(job_id)
        .await
        .unwrap()
        .iter()
        .map(ocean_chain::Assigned::to_assignment)
        .collect();
    let current = next.clone();
    let newcomer = &providers[3];
    next[2] = JobMarket::Assignment {
        provider: newcomer.address(),
        price: alloy::primitives::Uint::from(6 * OCAT),
    };
    let offer =
        newcomer.sign_offer(job_id, 6 * OCAT, t + 300, eip712::reassign_terms(&current, &next)).unwrap();
    // Replayed into the assignment as it becomes, the same offer no longer fits: it names the one it replaced.
    requester.reassign(job_id, current, 2, offer.clone()).await.unwrap();
    let replay = requester.reassign(job_id, next.clone(), 2, offer).await.unwrap_err();
    assert!(replay.to_string().contains("ProviderAlreadyAssigned"), "{replay}");

    let market = JobMarket::new(n.deployment.market, n.deployer.provider());
    let stored = market.jobOf(job_id).call().await.unwrap();
    assert_eq!(stored.assignmentHash, eip712::assignment_hash(&next));
    let seen = requester.assignment(job_id).await.unwrap();
    assert_eq!(
        seen.iter().map(|a| a.provider).collect::<Vec<_>>(),
        vec![first[0], first[1], newcomer.address()]
    );

    // Provider 0 and the newcomer agree: with provider 1 silent the quorum settles now, not at the deadline.
    let result = b"\x01\x55\x12\x20result-bytes".to_vec();
    let signed = vec![
        providers[0].sign_commit(job_id, 0, &result).unwrap(),
        newcomer.sign_commit(job_id, 2, &result).unwrap(),
    ];
    requester.reveal(job_id, next, &result, signed).await.unwrap();
    assert_eq!(requester.job(job_id).await.unwrap().state, State::Finalized);
    let fee = |p: u128| p * 250 / 10_000;
    assert_eq!(requester.owed(newcomer.address()).await.unwrap(), 6 * OCAT - fee(6 * OCAT));
    assert_eq!(requester.owed(first[1]).await.unwrap(), 0, "the silent provider is not paid");
    assert_eq!(requester.owed(first[2]).await.unwrap(), 0, "the released provider is not paid");
}
