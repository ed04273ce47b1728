//! A zk job on Anvil, end to end: `ocean deploy` wires the generated verifier into JobMarket; a provider's proof
//! is paid through `submitProof`; a tampered output, a tampered proof, a proof replayed for another job and a job
//! naming another model are each rejected by the chain.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use ark_std::rand::{SeedableRng, rngs::StdRng};
use ocean_chain::{
    Client, JobRequest, Mode, Params, State, anvil,
    bindings::{JobMarket, NodeRegistry, ZkInferenceVerifier},
    deploy,
};
use ocean_zk::{input_commitment, model::fr_to_bytes, model_commitment, spec};

use crate::common::{dev_params, digit, model};

const OCAT: u128 = 1_000_000_000_000_000_000;
const PRICE: u128 = 10 * OCAT;

async fn create(requester: &Client, provider: &Client, salt: u8, proof_spec: B256) -> B256 {
    let now = requester.chain_time().await.unwrap();
    let req = JobRequest {
        salt: B256::repeat_byte(salt),
        manifest_cid: b"\x01\x70\x12\x20zk-manifest".to_vec(),
        late_manifest: false,
        replicas: 1,
        quorum: 1,
        mode: Mode::Proof,
        price_per_replica: PRICE,
        commit_deadline: now + 600,
        proof_spec,
        limits_hash: B256::ZERO,
        rebalance_at: 0,
    };
    let job_id = requester.job_id(req.salt);
    let terms = ocean_chain::eip712::terms_hash(&req, &[provider.address()]);
    let offer = provider.sign_offer(job_id, PRICE, now + 300, terms).unwrap();
    let (id, _) = requester.create_job(&req, vec![offer]).await.unwrap();
    assert_eq!(id, job_id);
    job_id
}

/// A funded requester (Anvil's account 1, market approved) and a registered provider (account 2).
async fn parties(
    anvil: &alloy::node_bindings::AnvilInstance,
    deployer_key: PrivateKeySigner,
    deployment: &ocean_chain::Deployment,
) -> (Client, Client) {
    let deployer = Client::connect(&anvil.endpoint(), deployer_key, deployment.clone()).await.unwrap();
    let signer = |i: usize| -> PrivateKeySigner { anvil.keys()[i].clone().into() };
    let requester = Client::connect(&anvil.endpoint(), signer(1), deployment.clone()).await.unwrap();
    let provider = Client::connect(&anvil.endpoint(), signer(2), deployment.clone()).await.unwrap();
    deployer.transfer(requester.address(), 1_000 * OCAT).await.unwrap();
    deployer.transfer(provider.address(), 500 * OCAT).await.unwrap();
    let caps = NodeRegistry::Capabilities {
        cores: 2,
        memoryMiB: 4096,
        gpuVramMiB: 0,
        benchmarkScore: 100,
        gpuModel: String::new(),
    };
    provider.register_node(200 * OCAT, caps, B256::ZERO, "http://127.0.0.1:7000".into()).await.unwrap();
    requester.approve_market(U256::MAX).await.unwrap();
    (requester, provider)
}

fn rejected(r: ocean_chain::Result<ocean_chain::Receipt>) {
    let err = r.expect_err("the chain must reject this submission").to_string();
    assert!(err.contains("InvalidProof"), "{err}");
}

#[tokio::test]
async fn zk_job_is_paid_for_a_valid_proof_and_every_forgery_is_rejected() {
    let anvil = anvil::spawn().expect("anvil (run `make deps`)");
    let key: PrivateKeySigner = anvil.keys()[0].clone().into();
    let rpc = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key.clone()))
        .connect_http(anvil.endpoint_url())
        .erased();
    let deployment =
        deploy::deploy(&rpc, key.address(), &Params::devnet(Address::repeat_byte(0x7e))).await.unwrap();
    assert_ne!(deployment.zk_verifier, Address::ZERO);
    let market = JobMarket::new(deployment.market, &rpc);
    assert_eq!(market.proofVerifier().call().await.unwrap(), deployment.zk_verifier);

    let (requester, provider) = parties(&anvil, key, &deployment).await;

    let params = dev_params();
    let model = model();
    let input = digit(5);
    let job_spec = B256::from(fr_to_bytes(&spec(model_commitment(&model), input_commitment(&input))));
    let job_a = create(&requester, &provider, 1, job_spec).await;
    let job_b = create(&requester, &provider, 2, job_spec).await;
    let mut other = model.clone();
    other.w2[3][3] -= 1;
    let other_spec = B256::from(fr_to_bytes(&spec(model_commitment(&other), input_commitment(&input))));
    let job_c = create(&requester, &provider, 3, other_spec).await;
    let assignment = || {
        vec![JobMarket::Assignment {
            provider: provider.address(),
            price: alloy::primitives::Uint::<96, 2>::from(PRICE),
        }]
    };

    let mut rng = StdRng::seed_from_u64(3);
    let proven = params.prove(&model, &input, job_a.0, &mut rng).unwrap();
    assert_eq!(proven.statement.output.class(), 5);
    let result = proven.statement.output.to_bytes();

    // A tampered output: class 0 now wins.
    let mut logits = proven.statement.output;
    logits.0[0] += 1 << 20;
    rejected(provider.submit_proof(job_a, assignment(), &logits.to_bytes(), &proven.proof).await);
    // A tampered proof (C.x changed: not on the curve, or a failing pairing).
    let mut bad = proven.proof;
    bad[200] ^= 0x01;
    rejected(provider.submit_proof(job_a, assignment(), &result, &bad).await);
    // Job A's proof replayed for job B (same model, same input, same output).
    rejected(provider.submit_proof(job_b, assignment(), &result, &proven.proof).await);
    // Job C names another model: a true proof for job C of the committed model does not match its spec.
    let for_c = params.prove(&model, &input, job_c.0, &mut rng).unwrap();
    rejected(
        provider.submit_proof(job_c, assignment(), &for_c.statement.output.to_bytes(), &for_c.proof).await,
    );
    assert_eq!(provider.owed(provider.address()).await.unwrap(), 0);

    // The adapter alone accepts it (the market's call below goes through the same function).
    let verifier = ZkInferenceVerifier::new(deployment.zk_verifier, &rpc);
    let ok = verifier
        .verify(job_a, job_spec, Bytes::copy_from_slice(&result), Bytes::copy_from_slice(&proven.proof))
        .call()
        .await
        .unwrap();
    assert!(ok);

    // The honest submission is paid, by the same client: its rejected sends above must not have left a nonce gap.
    let receipt = provider.submit_proof(job_a, assignment(), &result, &proven.proof).await.unwrap();
    eprintln!("JobMarket.submitProof: {} gas", receipt.gas_used);
    assert_eq!(requester.job(job_a).await.unwrap().state, State::Finalized);
    let fee = PRICE * 250 / 10_000;
    assert_eq!(provider.owed(provider.address()).await.unwrap(), PRICE - fee);
}

/// A deployment with its verifying key given as constructor arguments (`ZkKeyVerifier`, what a key ceremony's
/// key goes into): the market's verifier is that contract, whose key reads back as given, and a proof made with
/// the matching proving key is paid; one for another job is not.
#[tokio::test]
async fn a_verifier_built_from_a_given_key_pays_a_proof_made_with_that_key() {
    let anvil = anvil::spawn().expect("anvil (run `make deps`)");
    let key: PrivateKeySigner = anvil.keys()[0].clone().into();
    let rpc = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key.clone()))
        .connect_http(anvil.endpoint_url())
        .erased();
    let params = dev_params();
    let words: Vec<B256> = params.evm_key_words().into_iter().map(B256::from).collect();
    let deployment = deploy::deploy_with_zk_key(
        &rpc,
        key.address(),
        &Params::devnet(Address::repeat_byte(0x7e)),
        Some(&words),
    )
    .await
    .unwrap();
    let market = JobMarket::new(deployment.market, &rpc);
    assert_eq!(market.proofVerifier().call().await.unwrap(), deployment.zk_verifier);
    let keyed = ocean_chain::bindings::ZkKeyVerifier::new(deployment.zk_verifier, &rpc);
    let stored: Vec<B256> =
        keyed.verifyingKey().call().await.unwrap().iter().map(|w| B256::from(*w)).collect();
    assert_eq!(stored, words, "the key reads back as given");

    let (requester, provider) = parties(&anvil, key, &deployment).await;

    let (model, input) = (model(), digit(5));
    let job_spec = B256::from(fr_to_bytes(&spec(model_commitment(&model), input_commitment(&input))));
    let job_a = create(&requester, &provider, 1, job_spec).await;
    let job_b = create(&requester, &provider, 2, job_spec).await;
    let assignment = vec![JobMarket::Assignment {
        provider: provider.address(),
        price: alloy::primitives::Uint::<96, 2>::from(PRICE),
    }];
    let proven = params.prove(&model, &input, job_a.0, &mut StdRng::seed_from_u64(5)).unwrap();
    let result = proven.statement.output.to_bytes();
    rejected(provider.submit_proof(job_b, assignment.clone(), &result, &proven.proof).await);
    provider.submit_proof(job_a, assignment, &result, &proven.proof).await.unwrap();
    assert_eq!(requester.job(job_a).await.unwrap().state, State::Finalized);
}
