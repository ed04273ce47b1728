//! The provider's HTTP API (see [`crate::protocol`] for the routes and bodies).

use std::sync::{Arc, atomic::Ordering};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use ocean_chain::B256;
use tracing::{info, warn};

use super::{Inner, job_hex, now};
use crate::{
    db::{Task, TaskState},
    protocol::{OfferRequest, OfferResponse, TaskStatus, Telemetry},
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
    api.merge(ocean_store::gateway::router(inner.store.clone()))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

async fn telemetry(State(inner): State<Arc<Inner>>) -> Response {
    let queue_len = match inner.queued() {
        Ok(n) => n,
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

async fn offer(State(inner): State<Arc<Inner>>, Json(req): Json<OfferRequest>) -> Response {
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
    match inner.queued() {
        Ok(n) if n as usize >= inner.config.max_queue => return decline(format!("queue full ({n} tasks)")),
        Ok(_) => {}
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let expiry = t + OFFER_TTL;
    // Persist before signing: the offer binds this node, so it must never forget it made one.
    let record = Task {
        job_id: job_hex(job_id),
        manifest_cid: req.manifest_cid.clone(),
        commit_deadline: req.commit_deadline,
        index: None,
        price_wei: price.to_string(),
        state: TaskState::Offered { expiry },
        result_cid: None,
        signed_commit: None,
        run_secs: None,
        done_at: None,
        envelope_cid: None,
        proof: None,
    };
    {
        let Ok(_guard) = inner.tasks_lock.lock() else {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "task lock poisoned");
        };
        match inner.db.get(&record.job_id) {
            Ok(Some(existing)) if !matches!(existing.state, TaskState::Offered { .. }) => {
                return decline(format!("job already {}", existing.state.name()));
            }
            Ok(_) => {}
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
        if let Err(e) = inner.db.put(&record) {
            return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        }
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

async fn tasks(State(inner): State<Arc<Inner>>) -> Response {
    match inner.db.all() {
        Ok(all) => Json(all).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn task(State(inner): State<Arc<Inner>>, Path(job): Path<String>) -> Response {
    let key = match job.parse::<B256>() {
        Ok(id) => job_hex(id),
        Err(_) => return error(StatusCode::BAD_REQUEST, format!("bad job id `{job}`")),
    };
    match inner.db.get(&key) {
        Ok(Some(t)) => Json(TaskStatus {
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
        .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no task for job {key}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn poke(State(inner): State<Arc<Inner>>, Path(_job): Path<String>) -> StatusCode {
    inner.poke.notify_one();
    StatusCode::ACCEPTED
}
