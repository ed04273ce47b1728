//! What a stranger can do to a provider's listener: unsolicited and oversize uploads, slow-loris clients,
//! connection floods and request floods. In each case the node keeps serving an honest client.

use std::{net::SocketAddr, time::Duration};

use axum::{body::Body, extract::ConnectInfo, http::Request};
use bytes::Bytes;
use futures::StreamExt as _;
use ocean_chain::B256;
use ocean_protocol::OfferResponse;
use ocean_provider::db::TaskState;
use ocean_store::{ImportOptions, Store};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use tower::ServiceExt;

use crate::node::{Node, car, open};

const ATTACKER: [u8; 4] = [127, 0, 0, 2];

/// Whether the server closed `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A response (e.g. 408) before the close.
            Ok(Ok(_)) => continue,
        }
    }
}

async fn telemetry_ok(node: &Node) -> bool {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    http.get(format!("{}/telemetry", node.url)).send().await.is_ok_and(|r| r.status().is_success())
}

#[tokio::test]
async fn an_unsolicited_upload_is_refused_in_process_and_stores_nothing() {
    let (provider, _dir, _anvil) = open(|_| {}).await;
    let (bytes, _) = car(1000);
    let peer: SocketAddr = "127.0.0.9:4000".parse().unwrap();
    let job = format!("{:#x}", ocean_chain::B256::repeat_byte(7));
    for uri in ["/car".to_string(), format!("/car?job={job}")] {
        let mut req = Request::post(&uri).body(Body::from(bytes.clone())).unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        let resp = provider.router().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(status == 400 || status == 403, "{uri}: {status} {json}");
        assert!(json["error"].as_str().is_some_and(|e| !e.is_empty()), "a JSON error: {json}");
    }
}

#[tokio::test]
async fn unsolicited_uploads_are_refused_and_store_nothing() {
    let node = Node::start(|_| {}).await;
    let http = reqwest::Client::new();
    let (bytes, root) = car(10_000);
    let stranger = format!("{:#x}", ocean_chain::B256::repeat_byte(9));
    for url in [format!("{}/car", node.url), format!("{}/car?job={stranger}", node.url)] {
        let resp = http.post(&url).body(bytes.clone()).send().await.unwrap();
        assert!(resp.status() == 400 || resp.status() == 403, "{url}: {}", resp.status());
        let json: serde_json::Value = resp.json().await.unwrap();
        assert!(json["error"].is_string(), "{json}");
    }
    let (store, _dir) = node.stop().await;
    assert!(!store.has(&root).unwrap(), "nothing of an unsolicited upload is stored");
}

#[tokio::test]
async fn an_upload_for_a_live_offer_is_taken_and_pinned() {
    let node = Node::start(|_| {}).await;
    let (bytes, root) = car(10_000);
    let (job, offer) = node.offer(1).await;
    assert!(matches!(offer, OfferResponse::Reserved { .. }), "{offer:?}");
    let resp =
        reqwest::Client::new().post(format!("{}/car?job={job}", node.url)).body(bytes).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let json: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(json["roots"][0], root.to_string());
    // One offer admits one upload: a second one for the same job would let a free offer fill the disk.
    let (more, other) = car(20_000);
    let resp =
        reqwest::Client::new().post(format!("{}/car?job={job}", node.url)).body(more).send().await.unwrap();
    assert_eq!(resp.status(), 409);
    let (store, _dir) = node.stop().await;
    assert!(store.pins().unwrap().contains(&root), "the upload's root is pinned for the job");
    assert!(!store.has(&other).unwrap(), "the second upload stored nothing");
}

#[tokio::test]
async fn uploads_for_unassigned_jobs_stop_at_the_nodes_offer_data_budget() {
    // Offers are free to ask for, and each lets its requester put `input_mib` on this node's disk: without a
    // node-wide budget, strangers could fill the disk with data for jobs that never exist on chain.
    let node = Node::start(|c| c.max_offer_data_mib = 3).await;
    let http = reqwest::Client::new();
    let (first, _) = node.offer(4).await;
    let (second, _) = node.offer(4).await;
    let (bytes, root) = car(2 << 20);
    let resp = http.post(format!("{}/car?job={first}", node.url)).body(bytes).send().await.unwrap();
    assert_eq!(resp.status(), 200, "asking for an offer reserves nothing: the first upload fits");
    let (bytes, other) = car((2 << 20) + 7);
    let resp = http.post(format!("{}/car?job={second}", node.url)).body(bytes).send().await.unwrap();
    assert_eq!(resp.status(), 507, "2 MiB more would pass the 3 MiB budget");
    assert!(telemetry_ok(&node).await);
    let (store, _dir) = node.stop().await;
    assert!(store.pins().unwrap().contains(&root));
    assert!(!store.pins().unwrap().contains(&other), "the cut-off upload pinned nothing");
}

/// A directory of `levels` levels each holding the level below twice, over one 1 KiB file: 2^levels KiB.
fn dir_bomb(store: &Store, levels: usize) -> ocean_store::Cid {
    use ocean_store::{
        cid::{DAG_PB, Version},
        dagpb::{Link, Node},
        unixfs::{Data, Kind},
    };
    let mut level = store.add_bytes(&[7u8; 1024], &ImportOptions::default()).unwrap().cid;
    let mut names = ["f", "g"];
    for _ in 0..=levels {
        let links =
            names.iter().map(|n| Link { cid: level, name: Some((*n).to_owned()), tsize: Some(0) }).collect();
        let block = Node { links, data: Some(Data::new(Kind::Directory).encode()) }.encode();
        level = ocean_store::Cid::hash_block(Version::V1, DAG_PB, &block);
        store.put_blocks(&[(level, block)]).unwrap();
        names = ["a", "b"];
    }
    level
}

#[tokio::test]
async fn a_job_whose_inputs_are_missing_or_unpack_past_its_limits_is_declined_before_signing() {
    // A job the node cannot stage fails unpaid and costs the node its no-show bond: the node checks what the
    // uploaded inputs unpack to (blocks shared at every level: 2^40 KiB from 43 blocks) and that they are all
    // here before it signs.
    let node = Node::start(|_| {}).await;
    let absent = Store::memory().add_bytes(b"never uploaded", &ImportOptions::default()).unwrap().cid;
    for (input, expect) in [(None, "unpacks to more than"), (Some(absent), "is not in the store")] {
        let store = Store::memory();
        let input = input.unwrap_or_else(|| dir_bomb(&store, 40));
        let opts = ImportOptions { hidden: true, ..ImportOptions::default() };
        let module = store.add_bytes(b"\0asm\x01\0\0\0", &opts).unwrap().cid;
        let manifest = ocean_types::manifest::Manifest::from_toml(&format!(
            "[program]\nkind = \"wasm\"\nmodule = \"{module}\"\n[inputs]\ndata = \"{input}\"\n[limits]\ninput_mib = 1\n\
             [verification]\nmode = \"quorum\"\nreplicas = 1\nquorum = 1\n"
        ))
        .unwrap();
        let manifest_cid = store.add_bytes(&manifest.canonical_bytes().unwrap(), &opts).unwrap();
        let mut entries = vec![
            ocean_store::Entry::from_added("manifest.json", &manifest_cid),
            ocean_store::Entry::from_added(
                "module.wasm",
                &store.add_bytes(b"\0asm\x01\0\0\0", &opts).unwrap(),
            ),
        ];
        if store.has(&input).unwrap() {
            entries.push(ocean_store::Entry { name: "data".into(), cid: input, tsize: 0 });
        }
        let bundle = store.put_dir(&entries, &opts).unwrap().cid;
        let mut bytes = Vec::new();
        store.export_car(&bundle, &mut bytes).unwrap();

        let job = format!("{:#x}", B256::from(rand::random::<[u8; 32]>()));
        let manifest_cid = manifest_cid.cid.to_string();
        let first = node.offer_for(&job, &manifest_cid, &manifest.limits).await;
        assert!(matches!(first, OfferResponse::Reserved { .. }), "{first:?}");
        let resp = reqwest::Client::new()
            .post(format!("{}/car?job={job}", node.url))
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            200,
            "the bundle's blocks are few and small: {}",
            resp.text().await.unwrap()
        );
        let again = node.offer_for(&job, &manifest_cid, &manifest.limits).await;
        assert!(
            matches!(&again, OfferResponse::Declined { reason } if reason.contains(expect)),
            "{expect}: {again:?}"
        );
    }
    assert!(telemetry_ok(&node).await);
    node.stop().await;
}

#[tokio::test]
async fn an_oversize_upload_is_cut_off_as_it_arrives_and_stores_nothing() {
    let node = Node::start(|c| c.max_input_mib = 2).await;
    let http = reqwest::Client::new();

    let (_, declined) = node.offer(3).await;
    assert!(
        matches!(&declined, OfferResponse::Declined { reason } if reason.contains("maximum")),
        "a job asking more data than the node's maximum is declined: {declined:?}"
    );

    let (job, _) = node.offer(1).await;
    let (bytes, root) = car(3 << 20);
    // Declared too large: refused before a byte of the body is read.
    let resp = http.post(format!("{}/car?job={job}", node.url)).body(bytes.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 413);

    // Not declared (chunked), and the client never finishes: the node answers 413 as soon as the cap is
    // passed, without waiting for (or buffering) the rest.
    let head = Bytes::from(bytes[..(3 << 19)].to_vec());
    let endless =
        futures::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(futures::stream::pending());
    let send =
        http.post(format!("{}/car?job={job}", node.url)).body(reqwest::Body::wrap_stream(endless)).send();
    let resp = tokio::time::timeout(Duration::from_secs(20), send)
        .await
        .expect("the node answers an oversize upload before its end")
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(resp.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("cap"));
    assert!(telemetry_ok(&node).await);
    let (store, _dir) = node.stop().await;
    assert!(!store.has(&root).unwrap(), "no block of the cut-off upload's root is kept");
    assert!(store.pins().unwrap().is_empty(), "nothing of it is pinned");
}

#[tokio::test]
async fn a_slow_loris_client_is_cut_off_while_honest_clients_are_served() {
    let node = Node::start(|c| {
        c.limits.header_timeout = Duration::from_secs(1);
        c.limits.request_timeout = Duration::from_secs(2);
    })
    .await;
    // Headers one byte at a time, never finished.
    let mut loris = TcpStream::connect(node.addr).await.unwrap();
    let drip = b"GET /telemetry HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut cut = false;
    for (i, b) in drip.iter().cycle().take(60).enumerate() {
        if loris.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
        if i % 10 == 0 {
            assert!(telemetry_ok(&node).await, "honest request during the slow-loris");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        cut || closed_within(&mut loris, Duration::from_secs(3)).await,
        "the slow-loris connection was closed"
    );

    // A body sent one byte at a time: the request timeout ends it.
    let mut slow_body = TcpStream::connect(node.addr).await.unwrap();
    slow_body
        .write_all(b"POST /offers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow_body.read_to_end(&mut reply)).await;
    assert!(read.is_ok(), "a request whose body never ends is cut off");
    assert!(
        String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert!(telemetry_ok(&node).await);
    let _ = node.stop().await;
}

#[tokio::test]
async fn a_thousand_idle_connections_do_not_stop_the_node() {
    // Both ends of every connection live in this process: 2,000 sockets and more.
    rlimit::increase_nofile_limit(8192).unwrap();
    let node = Node::start(|c| {
        c.limits.header_timeout = Duration::from_secs(2);
        c.limits.max_connections_per_peer = 32;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..1000 {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((ATTACKER, 0))).unwrap();
        idle.push(socket.connect(node.addr).await.unwrap());
    }
    for i in 0..20 {
        assert!(telemetry_ok(&node).await, "honest request {i} during the flood");
    }
    // Beyond its per-peer cap the attacker's connections are closed at once; the rest once the header
    // timeout passes. None is held.
    let mut open = 0;
    for s in &mut idle {
        if !closed_within(s, Duration::from_secs(5)).await {
            open += 1;
        }
    }
    assert_eq!(open, 0, "idle connections the node still holds");
    assert!(telemetry_ok(&node).await);
    let _ = node.stop().await;
}

#[tokio::test]
async fn a_request_flood_is_rate_limited_per_peer() {
    let node = Node::start(|c| {
        c.limits.rate_per_sec = 20;
        c.limits.rate_burst = 20;
    })
    .await;
    let flooder = reqwest::Client::builder().local_address(std::net::IpAddr::from(ATTACKER)).build().unwrap();
    let mut limited = 0;
    for _ in 0..200 {
        let r = flooder.get(format!("{}/telemetry", node.url)).send().await.unwrap();
        if r.status() == 429 {
            limited += 1;
        }
    }
    assert!(limited > 100, "only {limited} of 200 flood requests were limited");
    for _ in 0..10 {
        assert!(telemetry_ok(&node).await, "another peer is not limited by the flooder");
    }
    let _ = node.stop().await;
}

/// Issue 15 review: whoever creates a job chooses its manifest CID bytes. A job assigned to this node whose
/// "CID" does not parse used to stop the chain scan for good (the cursor never moved past its block), so the
/// node never saw another assignment and lost its no-show bond on every job it had signed for. Now the junk job
/// is skipped and the next job in a later block is picked up.
const OCAT: u128 = 1_000_000_000_000_000_000;

/// A provider opened (not running) and registered on a fresh chain, and a funded requester account.
async fn registered()
-> (ocean_provider::Provider, tempfile::TempDir, alloy::node_bindings::AnvilInstance, ocean_chain::Client) {
    let (provider, dir, anvil) = open(|c| c.poll_interval = Duration::from_millis(100)).await;
    let me = provider.client().clone();
    register(&me).await;
    let requester = funded(&anvil, &me, 1, 1_000).await;
    (provider, dir, anvil, requester)
}

/// Registers `node` as a provider with 100 OCAT of stake.
async fn register(node: &ocean_chain::Client) {
    let caps = ocean_chain::bindings::NodeRegistry::Capabilities {
        cores: 1,
        memoryMiB: 1024,
        gpuVramMiB: 0,
        benchmarkScore: 1,
        gpuModel: "".into(),
    };
    node.register_node(100 * OCAT, caps, B256::ZERO, "http://127.0.0.1:9".into()).await.unwrap();
}

/// A client for Anvil's account `index`, given `ocat` OCAT by `bank`.
async fn funded(
    anvil: &alloy::node_bindings::AnvilInstance,
    bank: &ocean_chain::Client,
    index: usize,
    ocat: u128,
) -> ocean_chain::Client {
    let key: ocean_chain::PrivateKeySigner = anvil.keys()[index].clone().into();
    let client =
        ocean_chain::Client::connect(&anvil.endpoint(), key, bank.deployment().clone()).await.unwrap();
    bank.transfer(client.address(), ocat * OCAT).await.unwrap();
    client
}

/// Creates a 1-replica job of `manifest` assigned to `provider`, with its signed offer; returns the job id.
async fn create_job(
    requester: &ocean_chain::Client,
    provider: &ocean_chain::Client,
    salt: u8,
    manifest: Vec<u8>,
) -> B256 {
    create_job_rebalanced(requester, provider, salt, manifest, B256::ZERO, 0).await
}

/// [`create_job`] with the manifest's `limits_hash`, that may be rebalanced `rebalance_in` seconds after creation
/// (0: never).
async fn create_job_rebalanced(
    requester: &ocean_chain::Client,
    provider: &ocean_chain::Client,
    salt: u8,
    manifest: Vec<u8>,
    limits_hash: B256,
    rebalance_in: u64,
) -> B256 {
    use ocean_chain::{JobRequest, Mode, eip712};
    let now = requester.chain_time().await.unwrap();
    let req = JobRequest {
        salt: B256::repeat_byte(salt),
        manifest_cid: manifest,
        late_manifest: false,
        replicas: 1,
        quorum: 1,
        mode: if rebalance_in == 0 { Mode::None } else { Mode::Quorum },
        price_per_replica: OCAT,
        commit_deadline: now + 600,
        proof_spec: B256::ZERO,
        limits_hash,
        rebalance_at: if rebalance_in == 0 { 0 } else { now + rebalance_in },
    };
    let id = requester.job_id(req.salt);
    let terms = eip712::terms_hash(&req, &[provider.address()]);
    let offer = provider.sign_offer(id, OCAT, now + 300, terms).unwrap();
    requester.create_job(&req, vec![offer]).await.unwrap().0
}

/// Runs `provider` for `secs` seconds, stops it, and reopens it to read its tasks.
async fn run_for(
    provider: ocean_provider::Provider,
    dir: &std::path::Path,
    me: ocean_chain::Client,
    secs: u64,
) -> Vec<ocean_provider::db::Task> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(provider.run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), run).await.unwrap().unwrap().unwrap();
    let config = ocean_provider::Config::new(dir.to_owned(), "127.0.0.1:0".parse().unwrap());
    ocean_provider::Provider::open(config, me).unwrap().tasks().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_with_more_tasks_than_the_queue_holds_comes_up() {
    // Resume used to wait for room in the bounded queue before any worker ran: with more tasks in flight than
    // the queue holds, the node never came up (and never stopped).
    let (provider, dir, _anvil) = open(|c| {
        c.max_queue = 1;
        c.max_concurrency = 1;
    })
    .await;
    let me = provider.client().clone();
    for i in 1..=4u8 {
        provider
            .put_task(&ocean_provider::db::Task {
                state: if i % 2 == 0 { TaskState::Running } else { TaskState::Assigned },
                ..ocean_provider::db::Task::assigned(
                    format!("{:#x}", B256::repeat_byte(i)),
                    "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".into(),
                    u64::MAX,
                    Some(0),
                )
            })
            .unwrap();
    }
    // `run_for` stops the node after 2 s and gives it 30 s to end: a node stuck in its resume never ends.
    let tasks = run_for(provider, dir.path(), me, 2).await;
    assert_eq!(tasks.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_assignment_becomes_work_only_once_it_is_confirmations_deep() {
    use alloy::providers::Provider as _;
    let (provider, dir, _anvil, requester) = registered().await;
    let me = provider.client().clone();
    drop(provider);
    let good: ocean_store::Cid =
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".parse().unwrap();
    let job = format!("{:#x}", create_job(&requester, &me, 4, good.to_bytes()).await);
    let open_deep = || {
        let mut config = ocean_provider::Config::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
        config.poll_interval = Duration::from_millis(100);
        config.confirmations = 3;
        ocean_provider::Provider::open(config, me.clone()).unwrap()
    };
    let tasks = run_for(open_deep(), dir.path(), me.clone(), 2).await;
    assert!(
        !tasks.iter().any(|t| t.job_id == job),
        "a block a reorg may still drop is not work yet: {tasks:?}"
    );
    let _: serde_json::Value = me.provider().raw_request("anvil_mine".into(), (3u64,)).await.unwrap();
    let tasks = run_for(open_deep(), dir.path(), me.clone(), 2).await;
    assert!(tasks.iter().any(|t| t.job_id == job), "three blocks deep, it is: {tasks:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_assignment_in_blocks_a_reorganization_dropped_is_forgotten_and_the_new_chain_rescanned() {
    use alloy::providers::Provider as _;
    let (provider, dir, anvil, requester) = registered().await;
    let me = provider.client().clone();
    drop(provider);
    let good: ocean_store::Cid =
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".parse().unwrap();
    let reopen = || {
        let mut config = ocean_provider::Config::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
        config.poll_interval = Duration::from_millis(100);
        ocean_provider::Provider::open(config, me.clone()).unwrap()
    };
    // The node sees a job assigned in a block that a reorganization then drops (Anvil's snapshot and revert).
    let snapshot: alloy::primitives::U256 =
        me.provider().raw_request("evm_snapshot".into(), ()).await.unwrap();
    let dropped = format!("{:#x}", create_job(&requester, &me, 5, good.to_bytes()).await);
    let tasks = run_for(reopen(), dir.path(), me.clone(), 2).await;
    assert!(tasks.iter().any(|t| t.job_id == dropped), "{tasks:?}");
    let reverted: bool = me.provider().raw_request("evm_revert".into(), (snapshot,)).await.unwrap();
    assert!(reverted);
    // The new chain grows past the old height with another job in it. (A fresh requester client: the old one
    // counted its nonces on the dropped chain; see the closing note of issue 16's first part.)
    let key: ocean_chain::PrivateKeySigner = anvil.keys()[1].clone().into();
    assert_eq!(key.address(), requester.address());
    let requester =
        ocean_chain::Client::connect(&anvil.endpoint(), key, me.deployment().clone()).await.unwrap();
    let kept = format!("{:#x}", create_job(&requester, &me, 6, good.to_bytes()).await);
    let _: serde_json::Value = me.provider().raw_request("anvil_mine".into(), (2u64,)).await.unwrap();
    let tasks = run_for(reopen(), dir.path(), me.clone(), 3).await;
    assert!(tasks.iter().any(|t| t.job_id == kept), "the new chain's assignment is seen: {tasks:?}");
    // The dropped job's task is over: its job does not exist (nothing to commit, nothing committed twice).
    let old = tasks.iter().find(|t| t.job_id == dropped).unwrap();
    assert!(matches!(old.state, TaskState::Failed { .. } | TaskState::Assigned), "{old:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_cursor_from_another_chain_is_not_trusted() {
    // A devnet started again at the same deterministic addresses left its nodes' cursors at a block the new
    // chain has not reached (or holds with another hash): the node skipped every assignment below it and the
    // job never ran (`make demo` run twice hung after the uploads).
    let (provider, dir, _anvil, requester) = registered().await;
    let me = provider.client().clone();
    drop(provider);
    {
        let db = ocean_provider::db::Db::open(&dir.path().join("node.redb")).unwrap();
        db.set_meta("scanned_block", 10_000).unwrap();
        db.set_meta("scanned_block_hash", 42).unwrap();
    }
    let good: ocean_store::Cid =
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".parse().unwrap();
    let job = create_job(&requester, &me, 3, good.to_bytes()).await;
    let config = ocean_provider::Config::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    let provider = ocean_provider::Provider::open(config, me.clone()).unwrap();
    let tasks = run_for(provider, dir.path(), me, 3).await;
    assert!(
        tasks.iter().any(|t| t.job_id == format!("{job:#x}")),
        "the assignment below the stale cursor is seen: {tasks:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_with_a_junk_manifest_cid_does_not_stop_the_scan() {
    let (provider, dir, _anvil, requester) = registered().await;
    let me = provider.client().clone();
    create_job(&requester, &me, 1, vec![0xde, 0xad]).await;
    let good: ocean_store::Cid =
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".parse().unwrap();
    let second = create_job(&requester, &me, 2, good.to_bytes()).await;
    let tasks = run_for(provider, dir.path(), me, 3).await;
    assert!(
        tasks.iter().any(|t| t.job_id == format!("{second:#x}")),
        "the job after the junk one is seen: {tasks:?}"
    );
    assert_eq!(tasks.len(), 1, "the junk job is skipped, not recorded: {tasks:?}");
}

/// Rebalancing (issue 16): an offer to join a running job (`slot`) is checked against the chain before the node
/// takes any data: a job that may not be rebalanced, one that does not exist, and one that already lists this
/// node are declined with the reason.
#[tokio::test(flavor = "multi_thread")]
async fn an_offer_to_join_a_job_is_declined_unless_the_chain_allows_it() {
    let (provider, _dir, _anvil, requester) = registered().await;
    let me = provider.client().clone();
    let manifest = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
    let manifest_bytes = manifest.parse::<ocean_store::Cid>().unwrap().to_bytes();
    let limits = ocean_types::manifest::Limits { timeout_secs: 10, ..Default::default() };
    let limits_hash = ocean_protocol::OfferLimits::of(&limits).hash();
    let fixed = create_job(&requester, &me, 1, manifest_bytes.clone()).await;
    let rebalanced = create_job_rebalanced(&requester, &me, 2, manifest_bytes, limits_hash, 60).await;
    let stranger = B256::repeat_byte(0xEE);
    let later = me.chain_time().await.unwrap() + 600;
    for (job, why) in [
        (fixed, "not open to rebalancing"),
        (stranger, "not open to rebalancing"),
        (rebalanced, "in the job already"),
    ] {
        let view = me.job(job).await.unwrap();
        let req = ocean_protocol::OfferRequest {
            job_id: format!("{job:#x}"),
            manifest_cid: manifest.into(),
            price_cap_wei: OCAT.to_string(),
            commit_deadline: if view.commit_deadline == 0 { later } else { view.commit_deadline },
            private: false,
            input_mib: limits.input_mib,
            terms: ocean_protocol::OfferTerms {
                replicas: 1,
                quorum: 1,
                mode: ocean_chain::Mode::Quorum,
                proof_spec: B256::ZERO,
                limits: ocean_protocol::OfferLimits::of(&limits),
                providers: vec![me.address()],
                rebalance_at: view.rebalance_at,
            },
            slot: Some(0),
        };
        let mut http = Request::post("/offers")
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&req).unwrap()))
            .unwrap();
        http.extensions_mut().insert(ConnectInfo("127.0.0.9:4000".parse::<SocketAddr>().unwrap()));
        let resp = provider.router().oneshot(http).await.unwrap();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        match serde_json::from_slice::<OfferResponse>(&body).unwrap() {
            OfferResponse::Declined { reason } => assert!(reason.contains(why), "{job:#x}: {reason}"),
            other => panic!("{job:#x}: a join offer was not declined: {other:?}"),
        }
    }
}

/// Issue 16, a lagging endpoint: a load-balanced public RPC (or a chain node restarting from its dump) may answer
/// for a state that does not hold a job this node saw assigned. That used to fail the task at once ("expired on
/// chain without a verdict"), and with it the commitment the node owed, which cost its no-show bond. Now the
/// task waits until its commit deadline has passed before the chain's silence counts.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_the_endpoint_does_not_know_fails_only_after_its_deadline() {
    let (provider, dir, _anvil) = open(|c| c.poll_interval = Duration::from_millis(100)).await;
    let me = provider.client().clone();
    let now = me.chain_time().await.unwrap();
    let done = |byte: u8, deadline: u64| ocean_provider::db::Task {
        state: TaskState::Done,
        result_cid: Some("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".into()),
        done_at: Some(now),
        ..ocean_provider::db::Task::assigned(
            format!("{:#x}", B256::repeat_byte(byte)),
            "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".into(),
            deadline,
            Some(0),
        )
    };
    provider.put_task(&done(1, now + 600)).unwrap();
    provider.put_task(&done(2, now.saturating_sub(1))).unwrap();
    let tasks = run_for(provider, dir.path(), me, 2).await;
    let state = |byte: u8| {
        let id = format!("{:#x}", B256::repeat_byte(byte));
        tasks.iter().find(|t| t.job_id == id).map(|t| t.state.clone()).unwrap()
    };
    assert_eq!(state(1), TaskState::Done, "still owed a commitment while the deadline has not passed");
    assert!(matches!(state(2), TaskState::Failed { .. }), "over once it has: {:?}", state(2));
}

/// Issue 16, event ingestion: with a WebSocket endpoint the node subscribes to its own assignment events and
/// scans when one arrives. Its poll interval here is a minute, so only the subscription can make it see a job
/// assigned after it started within the few seconds it runs.
#[tokio::test(flavor = "multi_thread")]
async fn an_assignment_is_seen_at_once_through_the_event_subscription() {
    let (anvil, me) = ocean_chain::anvil::spawn_deployed().await.unwrap();
    register(&me).await;
    let requester = funded(&anvil, &me, 1, 1_000).await;

    let dir = tempfile::tempdir().unwrap();
    let mut config = ocean_provider::Config::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    config.poll_interval = Duration::from_secs(60);
    config.ws_url = Some(anvil.ws_endpoint());
    let provider = ocean_provider::Provider::open(config, me.clone()).unwrap();
    let manifest: ocean_store::Cid =
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".parse().unwrap();
    let creator = {
        let me = me.clone();
        tokio::spawn(async move {
            // After the node's first scan (at start) and its subscription.
            tokio::time::sleep(Duration::from_secs(2)).await;
            create_job(&requester, &me, 9, manifest.to_bytes()).await
        })
    };
    let tasks = run_for(provider, dir.path(), me, 5).await;
    let job = format!("{:#x}", creator.await.unwrap());
    assert!(tasks.iter().any(|t| t.job_id == job), "the assignment was not seen: {tasks:?}");
}

/// Rebalancing (issue 16): a node whose slot the requester handed to another provider after the job's rebalance
/// time finds out before it commits (a commitment would be gas for nothing) and ends the task.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_slot_was_handed_on_drops_the_task_before_committing() {
    use alloy::providers::Provider as _;
    use ocean_chain::eip712;
    let (anvil, me) = ocean_chain::anvil::spawn_deployed().await.unwrap();
    register(&me).await;
    let requester = funded(&anvil, &me, 1, 1_000).await;
    let other = funded(&anvil, &me, 2, 500).await;
    register(&other).await;
    let manifest: ocean_store::Cid =
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".parse().unwrap();
    let job = create_job_rebalanced(&requester, &me, 3, manifest.to_bytes(), B256::ZERO, 60).await;
    let chain = requester.provider();
    chain.raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (61u64,)).await.unwrap();
    chain.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await.unwrap();
    let current: Vec<_> =
        requester.assignment(job).await.unwrap().iter().map(ocean_chain::Assigned::to_assignment).collect();
    let next = vec![
        ocean_chain::Assigned { job_id: job, provider: other.address(), index: 0, price: OCAT, block: 0 }
            .to_assignment(),
    ];
    let t = requester.chain_time().await.unwrap();
    let offer = other.sign_offer(job, OCAT, t + 300, eip712::reassign_terms(&current, &next)).unwrap();
    requester.reassign(job, current, 0, offer).await.unwrap();

    // The node finished before it noticed, and owes a commitment at once (no grace).
    let dir = tempfile::tempdir().unwrap();
    let mut config = ocean_provider::Config::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    config.poll_interval = Duration::from_millis(100);
    config.commit_grace = Duration::ZERO;
    let provider = ocean_provider::Provider::open(config, me.clone()).unwrap();
    let deadline = me.job(job).await.unwrap().commit_deadline;
    provider
        .put_task(&ocean_provider::db::Task {
            state: TaskState::Done,
            result_cid: Some(manifest.to_string()),
            done_at: Some(0),
            ..ocean_provider::db::Task::assigned(format!("{job:#x}"), manifest.to_string(), deadline, Some(0))
        })
        .unwrap();
    let tasks = run_for(provider, dir.path(), me.clone(), 2).await;
    let task = tasks.iter().find(|t| t.job_id == format!("{job:#x}")).expect("the task");
    match &task.state {
        TaskState::Failed { reason } => assert!(reason.contains("released"), "{reason}"),
        other => panic!("the released task is {other:?}"),
    }
    assert_eq!(me.onchain_commitment(job, me.address()).await.unwrap(), B256::ZERO, "no commitment sent");
}
