//! A JSON-RPC proxy in front of a real Anvil that behaves like a public RPC provider on a bad day (the
//! `test-utils` feature): it refuses `eth_getLogs` ranges above a cap (as Alchemy, Infura and others do, with
//! their wording) and answers some requests 503 or 429 without forwarding them. It counts what it did, so a
//! test can show the faults were met. Tests of this crate and end-to-end tests of `ocean` put it between
//! the nodes and the chain.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, response::IntoResponse, routing::post};
use serde_json::{Value, json};

/// What the proxy does wrong (`None`: never).
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Largest `eth_getLogs` range (blocks) it serves; larger ranges get JSON-RPC error -32005.
    pub max_log_range: Option<u64>,
    /// Every n-th request is answered 503 (not forwarded).
    pub unavailable_every: Option<u64>,
    /// Every n-th request is answered 429 (not forwarded).
    pub rate_limited_every: Option<u64>,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct Seen {
    /// Requests received.
    pub requests: AtomicU64,
    /// `eth_call`s forwarded (reads of contract state).
    pub calls: AtomicU64,
    /// `eth_getLogs` calls refused for their range.
    pub range_refusals: AtomicU64,
    /// Requests answered 503.
    pub unavailable: AtomicU64,
    /// Requests answered 429.
    pub rate_limited: AtomicU64,
}

struct Shared {
    upstream: String,
    faults: Faults,
    seen: Arc<Seen>,
    http: reqwest::Client,
}

/// A running proxy; it stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    /// Its URL (`http://127.0.0.1:<port>`).
    pub url: String,
    /// What it did so far.
    pub seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Starts a proxy on a free port of 127.0.0.1 that forwards to `upstream` with `faults`.
    pub async fn start(upstream: String, faults: Faults) -> std::io::Result<Proxy> {
        let seen = Arc::new(Seen::default());
        let shared = Arc::new(Shared { upstream, faults, seen: seen.clone(), http: reqwest::Client::new() });
        let app = Router::new().route("/", post(handle)).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Proxy { url, seen, task })
    }
}

fn block_of(v: &Value, latest: u64) -> u64 {
    match v.as_str() {
        Some(s) if s.starts_with("0x") => u64::from_str_radix(&s[2..], 16).unwrap_or(0),
        Some("earliest") => 0,
        _ => latest,
    }
}

async fn latest(shared: &Shared) -> Option<u64> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    let v: Value = shared.http.post(&shared.upstream).json(&body).send().await.ok()?.json().await.ok()?;
    Some(block_of(&v["result"], 0))
}

fn bad_gateway(e: impl std::fmt::Display) -> axum::response::Response {
    (StatusCode::BAD_GATEWAY, format!("upstream: {e}")).into_response()
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
    if request["method"].as_str() == Some("eth_call") {
        shared.seen.calls.fetch_add(1, Ordering::Relaxed);
    }
    if let (Some(max), Some("eth_getLogs")) = (f.max_log_range, request["method"].as_str()) {
        let filter = &request["params"][0];
        let Some(head) = latest(&shared).await else { return bad_gateway("no block number") };
        let (from, to) = (block_of(&filter["fromBlock"], head), block_of(&filter["toBlock"], head));
        if to.saturating_sub(from) + 1 > max {
            shared.seen.range_refusals.fetch_add(1, Ordering::Relaxed);
            let error = json!({"jsonrpc": "2.0", "id": request["id"],
                "error": {"code": -32005, "message": format!("query exceeds max block range {max}")}});
            return axum::Json(error).into_response();
        }
    }
    let upstream = match shared
        .http
        .post(&shared.upstream)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return bad_gateway(e),
    };
    let status = StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    match upstream.bytes().await {
        Ok(bytes) => (status, [("content-type", "application/json")], bytes).into_response(),
        Err(e) => bad_gateway(e),
    }
}
