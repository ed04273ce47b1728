//! A provider node on a fresh devnet, for tests.

use std::net::SocketAddr;

use alloy::node_bindings::AnvilInstance;
use ocean_chain::{B256, Client, anvil};
use ocean_protocol::{OfferRequest, OfferResponse};
use ocean_provider::{Config, Provider};
use ocean_store::{ImportOptions, Store};

pub struct Node {
    pub url: String,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<ocean_provider::Result<()>>>,
    dir: Option<tempfile::TempDir>,
    _anvil: AnvilInstance,
}

async fn client() -> (AnvilInstance, Client) {
    anvil::spawn_deployed().await.expect("anvil with the protocol (run `make deps`)")
}

/// An opened (not running) provider, for in-process router tests; keep the guards alive.
pub async fn open(tune: impl FnOnce(&mut Config)) -> (Provider, tempfile::TempDir, AnvilInstance) {
    let (anvil, client) = client().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    tune(&mut config);
    (Provider::open(config, client).unwrap(), dir, anvil)
}

impl Node {
    /// Starts a node on a free port of 127.0.0.1 with `tune` applied to its configuration.
    pub async fn start(tune: impl FnOnce(&mut Config)) -> Node {
        let (anvil, client) = client().await;
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().to_owned(), addr);
        config.poll_interval = std::time::Duration::from_secs(5);
        tune(&mut config);
        let node = Provider::open(config, client).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(node.run(async {
            let _ = rx.await;
        }));
        let url = format!("http://{addr}");
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http.get(format!("{url}/telemetry")).send().await.is_ok_and(|r| r.status().is_success()) {
                return Node {
                    url,
                    addr,
                    stop: Some(tx),
                    handle: Some(handle),
                    dir: Some(dir),
                    _anvil: anvil,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the node did not come up at {url}");
    }

    /// Asks for an offer for a fresh job id declaring `input_mib` of data; returns the job id.
    pub async fn offer(&self, input_mib: u32) -> (String, OfferResponse) {
        let job = format!("{:#x}", B256::from(rand::random::<[u8; 32]>()));
        let limits = ocean_types::manifest::Limits { input_mib, ..Default::default() };
        let fake = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
        let resp = self.offer_for(&job, fake, &limits).await;
        (job, resp)
    }

    /// Asks for an offer for `job` (1 replica, quorum mode) with the manifest `manifest_cid` of `limits`.
    pub async fn offer_for(
        &self,
        job: &str,
        manifest_cid: &str,
        limits: &ocean_types::manifest::Limits,
    ) -> OfferResponse {
        let input_mib = limits.input_mib;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let telemetry: serde_json::Value =
            reqwest::get(format!("{}/telemetry", self.url)).await.unwrap().json().await.unwrap();
        let me: ocean_chain::Address = telemetry["address"].as_str().unwrap().parse().unwrap();
        let req = OfferRequest {
            job_id: job.to_owned(),
            manifest_cid: manifest_cid.to_owned(),
            price_cap_wei: u128::MAX.to_string(),
            commit_deadline: now + 600,
            private: false,
            input_mib,
            terms: ocean_protocol::OfferTerms {
                replicas: 1,
                quorum: 1,
                mode: ocean_chain::Mode::Quorum,
                proof_spec: B256::ZERO,
                limits: ocean_protocol::OfferLimits::of(limits),
                providers: vec![me],
                rebalance_at: 0,
            },
            slot: None,
        };
        let resp =
            reqwest::Client::new().post(format!("{}/offers", self.url)).json(&req).send().await.unwrap();
        assert!(resp.status().is_success(), "offer request failed: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// Stops the node gracefully, checks it ended without error, and opens its store.
    pub async fn stop(mut self) -> (Store, tempfile::TempDir) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(std::time::Duration::from_secs(30), h)
                .await
                .expect("the node stops within 30 s")
                .unwrap()
                .unwrap();
        }
        let dir = self.dir.take().expect("the node's folder");
        (Store::open(dir.path().join("store")).unwrap(), dir)
    }
}

/// A CAR holding one file of `len` bytes (distinct blocks), and its root.
pub fn car(len: usize) -> (Vec<u8>, ocean_store::Cid) {
    let store = Store::memory();
    let data: Vec<u8> = (0..len as u64).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let added = store.add_bytes(&data, &ImportOptions::default()).unwrap();
    let mut car = Vec::new();
    store.export_car(&added.cid, &mut car).unwrap();
    (car, added.cid)
}
