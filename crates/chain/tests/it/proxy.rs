//! A JSON-RPC proxy in front of a real Anvil that behaves like a public RPC provider on a bad day: it refuses
//! `eth_getLogs` ranges above a cap (as Alchemy, Infura and others do, with their wording), answers some requests
//! 503 or 429 without forwarding them, and can delay every answer. It counts what it did, so a test can show the
//! faults were met.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, response::IntoResponse, routing::post};
use serde_json::{Value, json};

/// What the proxy does wrong.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Faults {
    /// Largest `eth_getLogs` range (blocks) it serves; larger ranges get JSON-RPC error -32005.
    pub(crate) max_log_range: Option<u64>,
    /// Every n-th request is answered 503 (not forwarded).
    pub(crate) unavailable_every: Option<u64>,
    /// Every n-th request is answered 429 (not forwarded).
    pub(crate) rate_limited_every: Option<u64>,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) requests: AtomicU64,
    pub(crate) range_refusals: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
}

struct Shared {
    upstream: String,
    faults: Faults,
    seen: Arc<Seen>,
    http: reqwest::Client,
}

pub(crate) struct Proxy {
    pub(crate) url: String,
    pub(crate) seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub(crate) async fn start(upstream: String, faults: Faults) -> Proxy {
        let seen = Arc::new(Seen::default());
        let shared = Arc::new(Shared { upstream, faults, seen: seen.clone(), http: reqwest::Client::new() });
        let app = Router::new().route("/", post(handle)).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy { url, seen, task }
    }
}

fn block_of(v: &Value, latest: u64) -> u64 {
    match v.as_str() {
        Some(s) if s.starts_with("0x") => u64::from_str_radix(&s[2..], 16).unwrap_or(0),
        Some("earliest") => 0,
        _ => latest,
    }
}

async fn latest(shared: &Shared) -> u64 {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    let v: Value = shared.http.post(&shared.upstream).json(&body).send().await.unwrap().json().await.unwrap();
    block_of(&v["result"], 0)
}

async fn handle(State(shared): State<Arc<Shared>>, body: Bytes) -> axum::response::Response {
    let n = shared.seen.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let f = shared.faults;
    if f.unavailable_every.is_some_and(|k| n % k == 0) {
        shared.seen.unavailable.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable").into_response();
    }
    if f.rate_limited_every.is_some_and(|k| n % k == 0) {
        shared.seen.rate_limited.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::TOO_MANY_REQUESTS, "429 Too Many Requests").into_response();
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let (Some(max), Some("eth_getLogs")) = (f.max_log_range, request["method"].as_str()) {
        let filter = &request["params"][0];
        let head = latest(&shared).await;
        let (from, to) = (block_of(&filter["fromBlock"], head), block_of(&filter["toBlock"], head));
        if to.saturating_sub(from) + 1 > max {
            shared.seen.range_refusals.fetch_add(1, Ordering::Relaxed);
            let error = json!({"jsonrpc": "2.0", "id": request["id"],
                "error": {"code": -32005, "message": format!("query exceeds max block range {max}")}});
            return axum::Json(error).into_response();
        }
    }
    let upstream = shared
        .http
        .post(&shared.upstream)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(upstream.status().as_u16()).unwrap();
    (status, [("content-type", "application/json")], upstream.bytes().await.unwrap()).into_response()
}
