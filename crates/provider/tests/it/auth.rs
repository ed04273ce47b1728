//! Issue 14: what a stranger, another account, a replay and the job's requester can read from a provider.

use std::net::SocketAddr;

use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{Request, StatusCode},
};
use http_body_util::BodyExt;
use ocean_chain::{Address, B256, PrivateKeySigner, eip712};
use ocean_protocol::{read_headers, task_path};
use ocean_provider::{
    self as provider, Provider,
    auth::OPERATOR_TOKEN_FILE,
    db::{Task, TaskState},
};
use ocean_store::ImportOptions;
use tower::ServiceExt;

struct Node {
    _anvil: alloy::node_bindings::AnvilInstance,
    _dir: tempfile::TempDir,
    provider: Provider,
    token: String,
    domain: alloy::sol_types::Eip712Domain,
}

async fn node() -> Node {
    let (provider, dir, anvil) = crate::node::open(|_| {}).await;
    let token = std::fs::read_to_string(dir.path().join(OPERATOR_TOKEN_FILE)).unwrap();
    let domain = provider.client().api_domain();
    Node { _anvil: anvil, _dir: dir, provider, token, domain }
}

fn task(job: B256, requester: Address, state: TaskState, result: Option<String>) -> Task {
    let manifest = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".into();
    Task {
        price_wei: "1".into(),
        state,
        requester: Some(requester.to_string()),
        result_cid: result,
        run_secs: Some(1.0),
        ..Task::assigned(format!("{job:#x}"), manifest, u64::MAX / 2, Some(0))
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn signed_read(
    domain: &alloy::sol_types::Eip712Domain,
    signer: &PrivateKeySigner,
    job: B256,
    at: u64,
) -> Request<Body> {
    let auth = eip712::sign_api_read(signer, domain, "GET", &task_path(job), job, at).unwrap();
    let mut request = Request::get(task_path(job));
    for (k, v) in read_headers(&auth) {
        request = request.header(k, v);
    }
    request.body(Body::empty()).unwrap()
}

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_requester_and_the_operator_read_a_running_task_and_replays_are_refused() {
    let node = node().await;
    let router = node.provider.router();
    let requester = PrivateKeySigner::random();
    let stranger = PrivateKeySigner::random();
    let job = B256::repeat_byte(0x42);
    let result = "bafkreidon73zkcrwdb5iafqtijxildoonbwnpv7dyd6ef3qdgads2jc4su".to_owned();
    node.provider.put_task(&task(job, requester.address(), TaskState::Done, Some(result.clone()))).unwrap();

    // The hole this closes: the old API answered this request with the result CID.
    let (status, unsigned) = call(&router, Request::get(task_path(job)).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!unsigned.contains(&result));
    // A job the node does not hold gets exactly the same answer: existence is not revealed.
    let unknown = B256::repeat_byte(0x43);
    let (status, body) = call(&router, Request::get(task_path(unknown)).body(Body::empty()).unwrap()).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unsigned.clone()));
    let (status, body) = call(&router, signed_read(&node.domain, &requester, unknown, now())).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unsigned.clone()));

    // Someone else's signature, a stale one, one for another chain: refused the same way.
    let (status, body) = call(&router, signed_read(&node.domain, &stranger, job, now())).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unsigned.clone()));
    let (status, _) = call(&router, signed_read(&node.domain, &requester, job, now() - 3600)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let elsewhere = eip712::api_domain(1, node.domain.verifying_contract.unwrap());
    let (status, _) = call(&router, signed_read(&elsewhere, &requester, job, now())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The requester reads it, once per signature.
    let request = signed_read(&node.domain, &requester, job, now());
    let (parts, _) = request.into_parts();
    let rebuild = || {
        let mut r = Request::get(task_path(job));
        for (k, v) in &parts.headers {
            r = r.header(k, v);
        }
        r.body(Body::empty()).unwrap()
    };
    let (status, body) = call(&router, rebuild()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(&result));
    let (status, _) = call(&router, rebuild()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a replayed signature is refused");

    // The operator: every task, with its token only.
    let (status, _) = call(&router, Request::get("/tasks").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let bearer = format!("Bearer {}", node.token.trim());
    let (status, body) =
        call(&router, Request::get("/tasks").header("authorization", &bearer).body(Body::empty()).unwrap())
            .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&result));
    let (status, body) = call(
        &router,
        Request::get(task_path(job)).header("authorization", &bearer).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&result));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_is_public_and_served_only_once_its_job_is_final() {
    let node = node().await;
    let router = node.provider.router();
    let requester = PrivateKeySigner::random();
    let job = B256::repeat_byte(0x44);
    let result = node.provider.store().add_bytes(b"the answer\n", &ImportOptions::default()).unwrap().cid;
    let mut record = task(job, requester.address(), TaskState::Done, Some(result.to_string()));
    node.provider.put_task(&record).unwrap();

    let gateway = |cid: String| Request::get(format!("/ipfs/{cid}?format=raw")).body(Body::empty()).unwrap();
    let (status, body) = call(&router, gateway(result.to_string())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a result is not served before finalization");
    assert_eq!(body, format!("block {result} is not in the store"), "worded as for a block the node lacks");
    // The same CID spelled with a percent-escape (the gateway's path extractor decodes it) is no way around.
    let text = result.to_string();
    let escaped = format!("%{:02X}{}", text.as_bytes()[0], &text[1..]);
    let (status, _) = call(&router, gateway(escaped)).await;
    assert_ne!(status, StatusCode::OK, "a percent-escaped CID must not bypass the gate");

    record.state = TaskState::Settled { paid: "1".into(), slashed: false };
    node.provider.put_task(&record).unwrap();
    node.provider.publish(record).await;
    let (status, body) = call(&router, gateway(result.to_string())).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "the answer\n"));
    let (status, body) = call(&router, Request::get(task_path(job)).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "a finalized task is public");
    assert!(body.contains(&result.to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn offers_cost_nothing_durable_and_one_peer_cannot_fill_the_table() {
    let node = node().await;
    let router = node.provider.router();
    let peer: SocketAddr = "203.0.113.9:4000".parse().unwrap();
    let me = node.provider.client().address();
    let offer = |i: u64| {
        let body = serde_json::json!({
            "job_id": format!("{:#x}", B256::from(alloy::primitives::U256::from(i))),
            "manifest_cid": "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4",
            "price_cap_wei": u128::MAX.to_string(),
            "commit_deadline": now() + 600,
            "terms": {
                "replicas": 1, "quorum": 1, "mode": "quorum", "proof_spec": format!("{:#x}", B256::ZERO),
                "limits": { "memory_mib": 256, "fuel": 1000, "timeout_secs": 60, "output_mib": 64, "input_mib": 1024 },
                "providers": [me.to_string()],
            },
        });
        let mut r = Request::post("/offers")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        r.extensions_mut().insert(ConnectInfo(peer));
        r
    };
    let per_peer = provider::Config::new("x".into(), "127.0.0.1:0".parse().unwrap()).max_offers_per_peer;
    for i in 0..per_peer as u64 {
        let (status, body) = call(&router, offer(i)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("\"status\":\"reserved\""), "a slot, no signature before the data: {body}");
    }
    let (_, body) = call(&router, offer(per_peer as u64)).await;
    assert!(body.contains("declined") && body.contains("open offers"), "{body}");
    assert!(node.provider.tasks().unwrap().is_empty(), "an offer writes no task");
}

/// Issue 15: an offer signs the whole terms. The node refuses terms that do not name it among the providers,
/// and the signature it returns recovers to it only over the terms hash of exactly what was asked.
#[tokio::test(flavor = "multi_thread")]
async fn an_offer_signs_the_terms_it_was_asked_for_and_nothing_else() {
    use ocean_protocol::{OfferLimits, OfferRequest, OfferTerms};
    let node = node().await;
    let router = node.provider.router();
    let me = node.provider.client().address();
    let job = B256::repeat_byte(0x15);
    let manifest = ocean_types::manifest::Manifest::from_toml(
        "[program]\nkind = \"wasm\"\nmodule = \"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4\"\n\
         [verification]\nmode = \"quorum\"\nreplicas = 2\nquorum = 2\n\
         [payment]\nmax_price = \"1 OCAT\"\ndeadline_secs = 600\n",
    )
    .unwrap();
    let limits = manifest.limits;
    let data = ocean_store::Store::memory();
    let added = data.add_bytes(&manifest.canonical_bytes().unwrap(), &ImportOptions::default()).unwrap();
    let mut car = Vec::new();
    data.export_car(&added.cid, &mut car).unwrap();
    let mut req = OfferRequest {
        job_id: format!("{job:#x}"),
        manifest_cid: added.cid.to_string(),
        price_cap_wei: u128::MAX.to_string(),
        commit_deadline: now() + 600,
        private: false,
        input_mib: limits.input_mib,
        terms: OfferTerms {
            replicas: 2,
            quorum: 2,
            mode: ocean_chain::Mode::Quorum,
            proof_spec: B256::ZERO,
            limits: OfferLimits::of(&limits),
            providers: vec![Address::repeat_byte(1), Address::repeat_byte(2)],
            rebalance_at: 0,
        },
        slot: None,
    };
    let post = |req: &OfferRequest| {
        Request::post("/offers")
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(req).unwrap()))
            .unwrap()
    };
    let (status, body) = call(&router, post(&req)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "terms without this provider: {body}");

    req.terms.providers = vec![Address::repeat_byte(1), me];
    // No signature before the node holds the job's data: a requester that withheld it would cost the provider
    // its no-show bond.
    let (status, body) = call(&router, post(&req)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"status\":\"reserved\""), "{body}");
    let upload = Request::post(format!("/car?job={job:#x}")).body(Body::from(car)).unwrap();
    let (status, body) = call(&router, upload).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Terms whose limits are not the manifest's are declined, even with the data in.
    let mut greedy = req.clone();
    greedy.terms.limits.fuel += 1;
    let (_, body) = call(&router, post(&greedy)).await;
    assert!(body.contains("declined") && body.contains("limits"), "{body}");
    let (status, body) = call(&router, post(&req)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let sig = [
        answer["r"].as_str().unwrap().parse::<B256>().unwrap().as_slice(),
        answer["vs"].as_str().unwrap().parse::<B256>().unwrap().as_slice(),
    ]
    .concat();
    let sig = alloy::signers::Signature::from_erc2098(&sig);
    let price: u128 = answer["price_wei"].as_str().unwrap().parse().unwrap();
    let expiry = answer["expiry"].as_u64().unwrap();
    let manifest: ocean_store::Cid = req.manifest_cid.parse().unwrap();
    let domain = eip712::domain(31337, node.provider.client().deployment().market);
    let digest = |terms: B256| eip712::offer_digest(&domain, job, me, price, expiry, terms);
    let terms = req.terms_hash(manifest.to_bytes(), u128::MAX);
    assert_eq!(sig.recover_address_from_prehash(&digest(terms)).unwrap(), me);
    // The same offer over other co-providers, or another order of them, is someone else's signature.
    let mut other = req.clone();
    other.terms.providers.reverse();
    let reordered = other.terms_hash(manifest.to_bytes(), u128::MAX);
    assert_ne!(sig.recover_address_from_prehash(&digest(reordered)).unwrap(), me);
    other.terms.providers.reverse();
    other.terms.limits.fuel += 1;
    let more_fuel = other.terms_hash(manifest.to_bytes(), u128::MAX);
    assert_ne!(sig.recover_address_from_prehash(&digest(more_fuel)).unwrap(), me);
}

/// Issue 15 review: data for a task already assigned (an arbiter's, drafted before anyone pushed it the data)
/// must hold that task's manifest. Otherwise the first stranger to upload anything would take the one upload
/// the job gets, and the arbiter could never run it.
#[tokio::test(flavor = "multi_thread")]
async fn an_upload_for_an_assigned_task_must_hold_its_manifest() {
    let node = node().await;
    let router = node.provider.router();
    let data = ocean_store::Store::memory();
    let manifest = data.add_bytes(b"the task's manifest", &ImportOptions::default()).unwrap().cid;
    let junk = data.add_bytes(b"something else", &ImportOptions::default()).unwrap().cid;
    let job = B256::repeat_byte(0x42);
    let mut assigned = task(job, Address::repeat_byte(1), TaskState::Assigned, None);
    assigned.manifest_cid = manifest.to_string();
    node.provider.put_task(&assigned).unwrap();
    let upload = |root| {
        let mut car = Vec::new();
        data.export_car(&root, &mut car).unwrap();
        Request::post(format!("/car?job={job:#x}")).body(Body::from(car)).unwrap()
    };

    let (status, body) = call(&router, upload(junk)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(!node.provider.store().pins().unwrap().contains(&junk), "nothing of it stays pinned");
    // The real data is still welcome: the refused upload did not use up the job's one upload.
    let (status, body) = call(&router, upload(manifest)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(node.provider.store().pins().unwrap().contains(&manifest));
}

/// Rebalancing (issue 16), attacker review: from shortly before a job's rebalance time the requester could read a
/// provider's result, hand its slot to a node of its own and have that node commit to it. So a task near or past
/// its rebalance time shows its result and signed commitment only once its commitment is on chain; before that
/// time, and for jobs that are never rebalanced, nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn near_the_rebalance_time_a_result_shows_only_once_committed_on_chain() {
    let node = node().await;
    let router = node.provider.router();
    let bearer = format!("Bearer {}", node.token.trim());
    let result = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".to_string();
    let requester = Address::repeat_byte(9);
    let cases = [
        (1u8, Some(now() + 3_600), TaskState::Done, true),
        (2, Some(0), TaskState::Done, true),
        (3, Some(now() + 5), TaskState::Done, false),
        (4, Some(now().saturating_sub(5)), TaskState::Committing, false),
        (5, Some(now() + 5), TaskState::Committed, true),
    ];
    for (byte, rebalance_at, state, shown) in cases {
        let job = B256::repeat_byte(byte);
        node.provider
            .put_task(&Task { rebalance_at, ..task(job, requester, state, Some(result.clone())) })
            .unwrap();
        let (status, body) = call(
            &router,
            Request::get(task_path(job)).header("authorization", &bearer).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body.contains(&result), shown, "case {byte}: {body}");
    }
}
