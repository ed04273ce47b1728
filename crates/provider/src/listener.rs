//! The provider's listener: what a stranger on the network can cost the node, and where each bound is.
//!
//! | bound | where | default |
//! |---|---|---|
//! | open connections | accept loop (a semaphore; beyond it a new connection is closed at once) | 1024 |
//! | open connections per IP address | accept loop | 32 |
//! | time to send a request's headers, and to start the next request on an idle keep-alive connection | hyper (`header_read_timeout`) | 10 s |
//! | time to answer a request, body included | tower-http `TimeoutLayer` (408) | 30 s, uploads 600 s |
//! | request body | tower-http `RequestBodyLimitLayer` (413); uploads: the job's own cap, counted as bytes arrive | 64 KiB |
//! | requests handled at once | tower `ConcurrencyLimit` + `LoadShed` (503 at once, never a queue) | 256 |
//! | requests per IP address | `tower_governor` keyed by the peer address (429) | 100/s, bursts of 200 |
//!
//! The accept loop itself never waits on a client: it accepts, counts and hands the connection to a task, so
//! a flood of idle connections costs each peer its own quota and the node one file descriptor per connection
//! for at most the header timeout.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    error_handling::HandleErrorLayer,
    extract::{ConnectInfo, Request},
    http::StatusCode,
};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
};
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_governor::{
    GovernorError, GovernorLayer, governor::GovernorConfigBuilder, key_extractor::KeyExtractor,
};
use tracing::{debug, warn};

/// Limits on the provider's listener (see the module docs for where each applies).
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Connections open at once; a connection beyond it is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_connections_per_peer: usize,
    /// Time a client has to send a request's headers; also how long an idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// Time to answer one request, its body included (uploads excepted).
    pub request_timeout: Duration,
    /// Time to receive one upload (`POST /car`).
    pub upload_timeout: Duration,
    /// Largest request body on every route but uploads, bytes.
    pub max_body_bytes: usize,
    /// Requests handled at once by the whole node; more are answered 503 without waiting.
    pub max_in_flight: usize,
    /// Sustained requests per second from one IP address.
    pub rate_per_sec: u32,
    /// Requests one IP address may make at once above the sustained rate.
    pub rate_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_peer: 32,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(600),
            max_body_bytes: 64 * 1024,
            max_in_flight: 256,
            rate_per_sec: 100,
            rate_burst: 200,
        }
    }
}

/// Wraps `routes` (already bounded per route, see [`bounded`]) in the node-wide layers: the per-peer rate
/// limit outermost (a flooding peer is turned away before it takes a slot), then the global concurrency limit.
/// The rate limit is keyed by the `ConnectInfo<SocketAddr>` the accept loop adds to every request.
pub(crate) fn guarded(routes: Router, limits: &Limits) -> Router {
    let mut builder = GovernorConfigBuilder::default().key_extractor(PeerKey);
    builder
        .period(Duration::from_nanos(1_000_000_000 / u64::from(limits.rate_per_sec.max(1))))
        .burst_size(limits.rate_burst.max(1));
    // Both values are made non-zero above, the only case in which `finish` refuses.
    let governor = builder.finish().map(Arc::new);
    let shed = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: BoxError| async {
            super::api::error(StatusCode::SERVICE_UNAVAILABLE, "the node is busy; try again shortly")
        }))
        .load_shed()
        // Global: `Router::layer` makes one service per route, and the limit must be one for the whole node.
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(limits.max_in_flight.max(1)));
    let routes = routes.layer(shed);
    match governor {
        Some(config) => {
            forget_idle_peers(Arc::downgrade(&config));
            routes.layer(GovernorLayer::new(config).error_handler(|e| {
                let status = match e {
                    tower_governor::GovernorError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
                    _ => StatusCode::BAD_REQUEST,
                };
                super::api::error(status, e.to_string())
            }))
        }
        None => {
            warn!(target: "ocean::node", "per-peer rate limit disabled: invalid rate settings");
            routes
        }
    }
}

/// Rate-limit key: the TCP peer's address as the accept loop records it. A request without one can only come
/// from inside the process (tests driving the router directly); those share one key.
#[derive(Clone, Copy, Debug)]
struct PeerKey;

impl KeyExtractor for PeerKey {
    type Key = IpAddr;

    fn extract<T>(&self, req: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        Ok(req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip()))
    }
}

/// The per-route bounds: a request timeout (408) and, unless the handler counts the body itself, a body
/// limit (413).
pub(crate) fn bounded(routes: Router, timeout: Duration, max_body: Option<usize>) -> Router {
    let routes = match max_body {
        Some(max) => routes.layer(tower_http::limit::RequestBodyLimitLayer::new(max)),
        None => routes,
    };
    routes.layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
}

/// The rate limiter keeps one entry per peer address it has seen: drop the idle ones now and then so a
/// stranger cycling through addresses cannot grow it without end. Ends when the router is dropped.
fn forget_idle_peers(
    config: std::sync::Weak<
        tower_governor::governor::GovernorConfig<PeerKey, governor::middleware::NoOpMiddleware>,
    >,
) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
    handle.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(config) = config.upgrade() else { return };
            config.limiter().retain_recent();
        }
    });
}

/// Open connections per peer address; the count goes down when the [`PeerSlot`] is dropped.
#[derive(Default)]
struct Peers(Mutex<HashMap<IpAddr, usize>>);

struct PeerSlot {
    peers: Arc<Peers>,
    ip: IpAddr,
}

impl Peers {
    fn acquire(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let mut map = self.0.lock().ok()?;
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(PeerSlot { peers: self.clone(), ip })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.peers.0.lock()
            && let Some(n) = map.get_mut(&self.ip)
        {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// How long a stopping node waits for requests in flight before it drops their connections.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `stop` turns true, then lets requests in flight finish (for at most
/// [`DRAIN`]). Each connection is HTTP/1.1 with keep-alive, bounded by `limits`; every request carries the
/// peer's `ConnectInfo<SocketAddr>`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let peers = Arc::new(Peers::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = stopped(stop.clone()) => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors (or a connection reset before accept): wait a moment instead of
                    // spinning, and go on.
                    warn!(target: "ocean::node", "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            debug!(target: "ocean::node", %peer, "connection refused: the node's connection cap is reached");
            continue;
        };
        let Some(peer_slot) = peers.acquire(peer.ip(), limits.max_connections_per_peer) else {
            debug!(target: "ocean::node", %peer, "connection refused: this peer's connection cap is reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = tower::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let stop = stop.clone();
        connections.spawn(async move {
            let _slots = (slot, peer_slot);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                () = stopped(stop.clone()) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                debug!(target: "ocean::node", %peer, "connection ended: {e}");
            }
        });
    }
    connections.close();
    if tokio::time::timeout(DRAIN, connections.wait()).await.is_err() {
        warn!(target: "ocean::node", "requests still in flight after {DRAIN:?}; dropping them");
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_gets_its_cap_of_connections_and_each_closed_one_back() {
        let peers = Arc::new(Peers::default());
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let held: Vec<_> = (0..3).filter_map(|_| peers.acquire(a, 3)).collect();
        assert_eq!(held.len(), 3);
        assert!(peers.acquire(a, 3).is_none(), "a fourth connection from the same address is refused");
        assert!(peers.acquire(b, 3).is_some(), "another address is not affected");
        drop(held);
        assert!(peers.acquire(a, 3).is_some());
        assert!(peers.0.lock().is_ok_and(|m| m.is_empty()), "closed peers are forgotten");
    }
}
