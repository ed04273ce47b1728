//! The provider's HTTP API (see [`crate::protocol`] for the routes and bodies, [`super::auth`] for who may
//! read what, [`super::gate`] for what the gateway serves).

use std::sync::{Arc, atomic::Ordering};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State},
    http::{HeaderMap, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use ocean_chain::{Address, B256};
use tracing::{debug, info, warn};

use super::{Inner, job_hex, now, offers::Offer};
use crate::{
    db::{Task, TaskState},
    protocol::{OfferRequest, OfferResponse, TaskStatus, Telemetry, task_path},
};

/// Largest CAR a requester may push in one request.
const MAX_CAR_BYTES: usize = 1 << 30;
/// Seconds an offer stays valid.
const OFFER_TTL: u64 = 120;

pub(super) fn router(inner: Arc<Inner>) -> Router {
    let api = Router::new()
        .route("/telemetry", get(telemetry))
        .route("/offers", post(offer))
        .route("/car", post(car).layer(DefaultBodyLimit::max(MAX_CAR_BYTES)))
        .route("/tasks", get(tasks))
        .route("/tasks/{job}", get(task))
        .route("/tasks/{job}/poke", post(poke))
        .with_state(inner.clone());
    let gateway = ocean_store::gateway::router(inner.store.clone())
        .layer(middleware::from_fn_with_state(inner, gateway_guard));
    api.merge(gateway)
}

/// The same answer for every refused read, so a stranger learns nothing (not even whether the task exists).
fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "this read needs the job's requester's signature (see docs/protocol.md)")
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

async fn telemetry(State(inner): State<Arc<Inner>>) -> Response {
    let queue_len = match inner.assigned() {
        Ok(n) => n + inner.offers.len(now()) as u32,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    Json(Telemetry {
        address: inner.client.address().to_string(),
        price_wei: inner.config.price.to_string(),
        queue_len,
        running: inner.running.load(Ordering::Relaxed),
        max_concurrency: inner.config.max_concurrency as u32,
        cores: inner.config.cores,
        memory_mib: inner.config.memory_mib,
        completed: inner.completed.load(Ordering::Relaxed),
    })
    .into_response()
}

async fn offer(
    State(inner): State<Arc<Inner>>,
    peer: Option<ConnectInfo<std::net::SocketAddr>>,
    Json(req): Json<OfferRequest>,
) -> Response {
    let decline = |reason: String| Json(OfferResponse::Declined { reason }).into_response();
    let Ok(job_id) = req.job_id.parse::<B256>() else {
        return error(StatusCode::BAD_REQUEST, format!("bad job id `{}`", req.job_id));
    };
    if req.manifest_cid.parse::<ocean_store::Cid>().is_err() {
        return error(StatusCode::BAD_REQUEST, format!("bad manifest CID `{}`", req.manifest_cid));
    }
    let Ok(cap) = req.price_cap_wei.parse::<u128>() else {
        return error(StatusCode::BAD_REQUEST, format!("bad price `{}`", req.price_cap_wei));
    };
    if req.private && inner.config.identity.is_none() {
        return decline("this node has no encryption identity for private jobs".into());
    }
    let price = inner.config.price;
    if cap < price {
        return decline(format!("price cap {cap} wei is below this provider's price {price} wei"));
    }
    let t = now();
    if req.commit_deadline <= t + 2 {
        return decline("the commit deadline leaves no time to run the job".into());
    }
    match inner.assigned() {
        Ok(n) if n as usize >= inner.config.max_queue => return decline(format!("queue full ({n} tasks)")),
        Ok(_) => {}
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    match inner.db.get(&job_hex(job_id)) {
        Ok(Some(existing)) => return decline(format!("job already {}", existing.state.name())),
        Ok(None) => {}
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let expiry = t + OFFER_TTL;
    // Nothing durable: the offer is a signature the requester may never use. If the chain assigns the job,
    // the watcher builds the task from the chain alone.
    let offer = Offer { expiry, input_bytes: MAX_CAR_BYTES as u64, peer: peer.map(|ConnectInfo(a)| a.ip()) };
    if let Err(full) = inner.offers.insert(job_id, offer, t) {
        return decline(full.to_string());
    }
    match inner.client.sign_offer(job_id, price, expiry) {
        Ok(o) => Json(OfferResponse::Offer {
            provider: o.provider.to_string(),
            price_wei: price.to_string(),
            expiry,
            r: format!("{:#x}", o.r),
            vs: format!("{:#x}", o.vs),
        })
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn car(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    let store = inner.store.clone();
    // Import verifies every block against its CID before storing it.
    let imported = tokio::task::spawn_blocking(move || store.import_car(std::io::Cursor::new(body))).await;
    match imported {
        Ok(Ok(roots)) => {
            let roots: Vec<String> = roots.iter().map(ToString::to_string).collect();
            info!(target: "ocean::node", ?roots, "imported CAR");
            Json(serde_json::json!({ "roots": roots })).into_response()
        }
        Ok(Err(e)) => {
            warn!(target: "ocean::node", "rejected CAR: {e}");
            error(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn tasks(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    if !inner.auth.is_operator(&headers) {
        return unauthorized();
    }
    match inner.db.all() {
        Ok(all) => Json(all).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn status(t: Task) -> Response {
    Json(TaskStatus {
        job_id: t.job_id,
        state: t.state.name().to_owned(),
        result_cid: t.result_cid,
        signed_commit: t.signed_commit,
        run_secs: t.run_secs,
        envelope_cid: t.envelope_cid,
        error: match t.state {
            TaskState::Failed { reason } => Some(reason),
            _ => None,
        },
    })
    .into_response()
}

async fn task(State(inner): State<Arc<Inner>>, Path(job): Path<String>, headers: HeaderMap) -> Response {
    let Ok(job_id) = job.parse::<B256>() else {
        return error(StatusCode::BAD_REQUEST, format!("bad job id `{job}`"));
    };
    let operator = inner.auth.is_operator(&headers);
    // Before anything touches the database or the chain: a stranger's request ends here, at the cost of
    // parsing three headers and one signature recovery.
    let signed = if operator {
        None
    } else {
        match inner.auth.signer(&headers, "GET", &task_path(job_id), job_id, now()) {
            Ok(s) => Some(s),
            Err(denied) => {
                // A finalized task is public; anything else is refused the same way whether it exists or not.
                return match inner.db.get(&job_hex(job_id)) {
                    Ok(Some(t)) if matches!(t.state, TaskState::Settled { .. }) => status(t),
                    Ok(_) => {
                        debug!(target: "ocean::node", job = %job_hex(job_id), %denied, "task read refused");
                        unauthorized()
                    }
                    Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                };
            }
        }
    };
    let t = match inner.db.get(&job_hex(job_id)) {
        Ok(Some(t)) => t,
        Ok(None) if operator => return error(StatusCode::NOT_FOUND, format!("no task for job {job_id:#x}")),
        Ok(None) => return unauthorized(),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if let Some((signer, auth)) = signed {
        let requester = match requester_of(&inner, &t, job_id).await {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_GATEWAY, format!("reading the job's requester: {e}")),
        };
        if signer != requester {
            debug!(target: "ocean::node", job = %t.job_id, %signer, "task read by someone else refused");
            return unauthorized();
        }
        if let Err(denied) = inner.auth.consume(&auth, now()) {
            debug!(target: "ocean::node", job = %t.job_id, %denied, "task read refused");
            return unauthorized();
        }
    }
    status(t)
}

/// The requester of a task this node holds: recorded at assignment, or read from chain once (a record from
/// before the field existed) and recorded.
async fn requester_of(inner: &Inner, task: &Task, job_id: B256) -> crate::Result<Address> {
    if let Some(r) = task.requester.as_deref().and_then(|r| r.parse().ok()) {
        return Ok(r);
    }
    let requester = inner.client.job(job_id).await?.requester;
    inner.update(&task.job_id, |t| t.requester = Some(requester.to_string()))?;
    Ok(requester)
}

/// Lets through only gateway requests for blocks of finalized tasks (see [`super::gate`]); everything else
/// gets the gateway's own answer for a block it does not hold.
async fn gateway_guard(State(inner): State<Arc<Inner>>, request: Request, next: Next) -> Response {
    let cid = request
        .uri()
        .path()
        .strip_prefix("/ipfs/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|c| c.parse::<ocean_store::Cid>().ok());
    let Some(cid) = cid else { return next.run(request).await };
    if inner.gate.allows(&cid) {
        return next.run(request).await;
    }
    if let Some(job) = inner.gate.due_check(&cid, std::time::Instant::now())
        && matches!(inner.client.job(job).await, Ok(view) if view.state == ocean_chain::State::Finalized)
        && let Ok(Some(t)) = inner.db.get(&job_hex(job))
    {
        // The requester saw the job finalized before this node's watcher did.
        super::settle::publish(&inner, t).await;
        inner.poke.notify_one();
        if inner.gate.allows(&cid) {
            return next.run(request).await;
        }
    }
    // Word for word what the gateway says of a block it lacks: a stranger cannot tell "held but secret".
    let mut r = (StatusCode::NOT_FOUND, ocean_store::Error::NotFound(cid).to_string()).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn poke(State(inner): State<Arc<Inner>>, Path(_job): Path<String>) -> StatusCode {
    inner.poke.notify_one();
    StatusCode::ACCEPTED
}
