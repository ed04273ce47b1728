//! The provider's HTTP API (see [`ocean_protocol`] for the routes and bodies, [`super::auth`] for who may
//! read what, [`super::gate`] for what the gateway serves).

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::Poll,
};

use axum::{
    Json, Router,
    body::Body,
    extract::{ConnectInfo, Path, Query, Request, State},
    http::{HeaderMap, StatusCode, header::CONTENT_LENGTH},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use futures::{FutureExt, StreamExt};
use ocean_chain::{Address, B256};
use serde::Deserialize;
use tracing::{debug, info, warn};

use super::{Inner, job_hex, listener, now, offers::Offer};
use ocean_protocol::{OfferRequest, OfferResponse, TaskStatus, Telemetry, task_path};

use crate::{
    Result,
    db::{Task, TaskState},
};

/// Seconds an offer stays valid.
pub(super) const OFFER_TTL: u64 = 120;
const MIB: u64 = 1024 * 1024;

/// The API and the `/ipfs` gateway on one router, every route behind the listener's limits: uploads with
/// their own timeout and the job's own cap, the rest with the request timeout and the small body limit.
pub(super) fn router(inner: Arc<Inner>) -> Router {
    let limits = &inner.config.limits;
    let api = Router::new()
        .route("/telemetry", get(telemetry))
        .route("/offers", post(offer))
        .route("/tasks", get(tasks))
        .route("/tasks/{job}", get(task))
        .route("/tasks/{job}/poke", post(poke))
        .with_state(inner.clone());
    let gateway = ocean_store::gateway::router(inner.store.clone())
        .layer(middleware::from_fn_with_state(inner.clone(), gateway_guard));
    let api = listener::bounded(api.merge(gateway), limits.request_timeout, Some(limits.max_body_bytes));
    let uploads = Router::new().route("/car", post(car)).with_state(inner.clone());
    let uploads = listener::bounded(uploads, limits.upload_timeout, None);
    listener::guarded(api.merge(uploads), limits)
}

/// The same answer for every refused read, so a stranger learns nothing (not even whether the task exists).
fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "this read needs the job's requester's signature (see docs/protocol.md)")
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
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
    peer: Option<axum::Extension<ConnectInfo<std::net::SocketAddr>>>,
    Json(req): Json<OfferRequest>,
) -> Response {
    let decline = |reason: String| Json(OfferResponse::Declined { reason }).into_response();
    let Ok(job_id) = req.job_id.parse::<B256>() else {
        return error(StatusCode::BAD_REQUEST, format!("bad job id `{}`", req.job_id));
    };
    let Ok(manifest) = req.manifest_cid.parse::<ocean_store::Cid>() else {
        return error(StatusCode::BAD_REQUEST, format!("bad manifest CID `{}`", req.manifest_cid));
    };
    let Ok(cap) = req.price_cap_wei.parse::<u128>() else {
        return error(StatusCode::BAD_REQUEST, format!("bad price `{}`", req.price_cap_wei));
    };
    let me = inner.client.address();
    let providers = &req.terms.providers;
    if providers.len() != usize::from(req.terms.replicas) || !providers.contains(&me) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("the terms must list {} providers, this one ({me}) among them", req.terms.replicas),
        );
    }
    if req.terms.limits.input_mib != req.input_mib {
        return error(StatusCode::BAD_REQUEST, "input_mib differs from the limits' input_mib");
    }
    if req.terms.limits.memory_mib > inner.config.memory_mib.try_into().unwrap_or(u32::MAX) {
        return decline(format!(
            "the job asks for {} MiB of memory; this node has {} MiB",
            req.terms.limits.memory_mib, inner.config.memory_mib
        ));
    }
    if req.input_mib > inner.config.max_input_mib {
        return decline(format!(
            "the job's data ({} MiB) exceeds this node's maximum of {} MiB",
            req.input_mib, inner.config.max_input_mib
        ));
    }
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
    // Past its rebalance time a provider that has not committed may be left out unpaid: it must leave at least
    // the job's own wall-clock limit to run it.
    // (An offer to join a job being rebalanced is past that time by definition: `join_terms` checks the time to
    // the commit deadline instead.)
    let rebalance_at = req.terms.rebalance_at;
    if req.slot.is_none() && rebalance_at != 0 && rebalance_at < t + req.terms.limits.timeout_secs {
        return decline(format!(
            "the job may be handed to another provider {}s from now, less than its {}s time limit",
            rebalance_at.saturating_sub(t),
            req.terms.limits.timeout_secs
        ));
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
    // An offer to join a running job is checked against the chain before the node takes any of its data.
    if let Some(slot) = req.slot {
        match join_terms(&inner, job_id, manifest, &req, slot, price).await {
            Ok(Ok(_)) => {}
            Ok(Err(why)) => return decline(why),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
    let expiry = t + OFFER_TTL;
    // Nothing durable: the offer is a signature the requester may never use. If the chain assigns the job,
    // the watcher builds the task from the chain alone.
    let offer = Offer {
        expiry,
        input_bytes: u64::from(req.input_mib) * MIB,
        peer: peer.map(|axum::Extension(ConnectInfo(a))| a.ip()),
        uploaded: 0,
        inputs_checked: false,
    };
    if let Err(full) = inner.offers.insert(job_id, offer, t) {
        return decline(full.to_string());
    }
    // Sign only for data this node holds and has checked: a requester that withheld the data, or escrowed a
    // manifest whose limits are not the signed ones, would otherwise leave the provider without a commitment to
    // make, and cost it its no-show bond.
    match check_data(&inner, job_id, manifest, &req).await {
        Ok(None) => {}
        Ok(Some(DataCheck::Missing)) => {
            return Json(OfferResponse::Reserved { upload: format!("/car?job={job_id:#x}") }).into_response();
        }
        Ok(Some(DataCheck::Mismatch(why))) => return decline(why),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let terms = match req.slot {
        None => req.terms_hash(manifest.to_bytes(), cap),
        Some(slot) => match join_terms(&inner, job_id, manifest, &req, slot, price).await {
            Ok(Ok(terms)) => terms,
            Ok(Err(why)) => {
                inner.offers.remove(&job_id);
                return decline(why);
            }
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
    };
    match inner.client.sign_offer(job_id, price, expiry, terms) {
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

/// The terms of an offer to join job `job_id` in `slot` (see [`OfferRequest::slot`]), or why not: the job is on
/// chain with the terms asked for (manifest, limits, verification, deadline), may be rebalanced now, leaves this
/// node the job's time limit before its commit deadline, and this node is not in it yet.
async fn join_terms(
    inner: &Arc<Inner>,
    job_id: B256,
    manifest: ocean_store::Cid,
    req: &OfferRequest,
    slot: u8,
    price: u128,
) -> Result<std::result::Result<B256, String>> {
    let client = &inner.client;
    let view = client.job(job_id).await?;
    // Whether its rebalance time has come is the market's to check at `reassign` (by the block that carries it;
    // the latest block of an idle devnet is older than the clock): this node only needs a job that may be
    // rebalanced at all and leaves it time to run.
    let t = now();
    if view.state != ocean_chain::State::Assigned || view.rebalance_at == 0 {
        return Ok(Err("the job is not open to rebalancing".into()));
    }
    // Only quorum jobs are rebalanced, and a private job's inputs are sealed to its original providers.
    if view.mode != ocean_chain::Mode::Quorum || req.private {
        return Ok(Err("only a public quorum job can be joined".into()));
    }
    // The offer may land up to its lifetime after it is signed.
    if view.commit_deadline < t.saturating_add(OFFER_TTL).saturating_add(req.terms.limits.timeout_secs) {
        return Ok(Err(format!(
            "the job's commit deadline is {}s away, less than its {}s time limit",
            view.commit_deadline.saturating_sub(t),
            req.terms.limits.timeout_secs
        )));
    }
    let Some((onchain_manifest, limits_hash)) = client.job_created(job_id).await? else {
        return Ok(Err("the job is not on chain".into()));
    };
    if onchain_manifest != manifest.to_bytes() || limits_hash != req.terms.limits.hash() {
        return Ok(Err("the job on chain has another manifest or other limits than the terms".into()));
    }
    if (view.replicas, view.quorum, view.mode, view.commit_deadline)
        != (req.terms.replicas, req.terms.quorum, req.terms.mode, req.commit_deadline)
    {
        return Ok(Err("the job on chain has other verification or deadline than the terms".into()));
    }
    if price > view.price_per_replica {
        return Ok(Err(format!(
            "the job pays at most {} wei, below this provider's price",
            view.price_per_replica
        )));
    }
    let me = client.address();
    let mut current: Vec<_> =
        client.assignment(job_id).await?.iter().map(ocean_chain::Assigned::to_assignment).collect();
    current.truncate(usize::from(view.replicas));
    let mut next = current.clone();
    if next.iter().any(|a| a.provider == me) {
        return Ok(Err("this node is in the job already".into()));
    }
    let Some(entry) = next.get_mut(usize::from(slot)) else {
        return Ok(Err(format!("the job has no slot {slot}")));
    };
    // The price is at most the job's cap (a uint96), checked above.
    *entry = ocean_chain::Assigned { job_id, provider: me, index: slot, price, block: 0 }.to_assignment();
    Ok(Ok(ocean_chain::eip712::reassign_terms(&current, &next)))
}

/// Why a node does not sign yet.
enum DataCheck {
    /// The job's data has not been uploaded (completely) yet.
    Missing,
    /// The data does not match the terms asked for.
    Mismatch(String),
}

/// Largest manifest a node reads to check an offer (real ones are a few KiB).
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Whether the uploaded data of `job` holds `manifest` and that manifest is what the terms say: its limits hash
/// to the terms' limits, and its verification (mode, replicas, quorum) is the terms'. `None`: ready to sign.
async fn check_data(
    inner: &Arc<Inner>,
    job_id: B256,
    manifest: ocean_store::Cid,
    req: &OfferRequest,
) -> Result<Option<DataCheck>> {
    if inner.db.hold_of(&job_hex(job_id))?.is_none_or(|h| h.cids.is_empty()) {
        return Ok(Some(DataCheck::Missing));
    }
    let store = inner.store.clone();
    let read = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>> {
        use std::io::Read as _;
        if !store.has(&manifest)? {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        store
            .cat(&manifest)?
            .take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| crate::Error::io(format!("reading manifest {manifest}"), e))?;
        Ok(Some(bytes))
    })
    .await
    .map_err(|e| crate::Error::Job(format!("manifest read: {e}")))??;
    let Some(bytes) = read else {
        return Ok(Some(DataCheck::Mismatch(format!(
            "the uploaded data does not hold the manifest {manifest}"
        ))));
    };
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Ok(Some(DataCheck::Mismatch("the manifest is larger than 1 MiB".into())));
    }
    let m = match ocean_types::manifest::Manifest::from_canonical(&bytes) {
        Ok(m) => m,
        Err(e) => return Ok(Some(DataCheck::Mismatch(format!("the manifest {manifest} is not valid: {e}")))),
    };
    let t = &req.terms;
    let mode = match m.verification.mode {
        ocean_types::manifest::VerificationMode::None => ocean_chain::Mode::None,
        ocean_types::manifest::VerificationMode::Quorum => ocean_chain::Mode::Quorum,
        ocean_types::manifest::VerificationMode::Zk => ocean_chain::Mode::Proof,
    };
    if ocean_protocol::OfferLimits::of(&m.limits) != t.limits {
        return Ok(Some(DataCheck::Mismatch("the manifest's limits are not the terms' limits".into())));
    }
    if mode != t.mode || m.verification.replicas != t.replicas || m.verification.quorum != t.quorum {
        return Ok(Some(DataCheck::Mismatch("the manifest's verification is not the terms'".into())));
    }
    // Every input here and within what the job may unpack to (`input_mib`; blocks may be shared at every level
    // of a DAG): a job this node cannot stage would fail unpaid and cost it its no-show bond. It reads every
    // input block, so it runs once per offer, not on every ask.
    if !inner.offers.get(&job_id, now()).is_some_and(|o| o.inputs_checked) {
        let store = inner.store.clone();
        match tokio::task::spawn_blocking(move || ocean_job::check_inputs(&store, &m)).await {
            Ok(Ok(_)) => inner.offers.inputs_checked(&job_id, now()),
            Ok(Err(e)) => return Ok(Some(DataCheck::Mismatch(format!("the job's inputs: {e}")))),
            Err(e) => return Err(crate::Error::Job(format!("checking the job's inputs: {e}"))),
        }
    }
    Ok(None)
}

/// How many bytes the node accepts for `job`'s data now, or `None` if it takes none: the job must have a live
/// offer from this node (its cap is the `input_mib` the offer request declared) or be assigned to it and not yet
/// run (the node's maximum: the offer, and with it the declared size, is forgotten at assignment).
pub(super) fn upload_cap(inner: &Inner, job: B256) -> Result<Option<u64>> {
    let max = u64::from(inner.config.max_input_mib) * MIB;
    if let Some(offer) = inner.offers.get(&job, now()) {
        return Ok(Some(offer.input_bytes.min(max)));
    }
    Ok(match inner.db.get(&job_hex(job))? {
        Some(t) if matches!(t.state, TaskState::Assigned | TaskState::Running) => Some(max),
        _ => None,
    })
}

#[derive(Deserialize)]
struct CarQuery {
    job: Option<String>,
}

/// `POST /car?job=0x…`: the job's blocks, streamed into the store (never buffered whole) and counted as they
/// arrive; past the job's cap the upload is cut off with 413 and nothing of it is pinned.
async fn car(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<CarQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(job_id) = q.job.as_deref().and_then(|j| j.parse::<B256>().ok()) else {
        return error(StatusCode::BAD_REQUEST, "name the job the data belongs to: POST /car?job=0x<job id>");
    };
    let job = job_hex(job_id);
    // Data for a task already assigned (an arbiter's, pushed after the draw) must hold that task's manifest:
    // otherwise the first stranger to upload anything would take the one upload the job gets.
    let assigned_manifest: Option<ocean_store::Cid> = if inner.offers.get(&job_id, now()).is_some() {
        None
    } else {
        match inner.db.get(&job) {
            Ok(Some(t)) => t.manifest_cid.parse().ok(),
            Ok(None) => None,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    };
    let cap = match upload_cap(&inner, job_id) {
        Ok(Some(cap)) => cap,
        Ok(None) => {
            warn!(target: "ocean::node", %job, "refused an upload for a job with no live offer or assignment");
            return error(
                StatusCode::FORBIDDEN,
                format!("no live offer or assigned task for job {job} on this node"),
            );
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    // One upload per job: an offer costs nothing, so a second, third... upload for it would let anyone fill
    // the disk with the offer's cap again and again.
    match inner.db.hold_of(&job) {
        Ok(Some(hold)) if !hold.cids.is_empty() => {
            return error(StatusCode::CONFLICT, format!("the data of job {job} is already uploaded"));
        }
        Ok(_) => {}
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let too_large = || format!("the upload exceeds job {job}'s data cap of {cap} bytes");
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap) {
        return error(StatusCode::PAYLOAD_TOO_LARGE, too_large());
    }

    let over = Arc::new(AtomicBool::new(false));
    // If this handler is dropped (request timeout, client gone), the import on the blocking thread must stop
    // too: its body stream then fails instead of waiting for bytes that may never come.
    let abandoned = tokio_util::sync::CancellationToken::new();
    let _abandon_on_drop = abandoned.clone().drop_guard();
    let received = Arc::new(AtomicU64::new(0));
    // An upload for an offer (no job on chain yet) takes room from the node's offer-data budget as it arrives;
    // an assigned task's data is the task's.
    let for_offer = assigned_manifest.is_none() && inner.offers.get(&job_id, now()).is_some();
    let no_room = Arc::new(AtomicBool::new(false));
    let budget = for_offer.then(|| Budgeted { inner: inner.clone(), no_room: no_room.clone() });
    let stream = capped(body, cap, over.clone(), received.clone(), budget, abandoned);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let store = inner.store.clone();
    // Import verifies every block against its CID before storing it, and pins the roots only once all of it is
    // in; a cut-off upload leaves no pin (blocks spilled before the cut are unpinned, and gc removes them).
    let imported = tokio::task::spawn_blocking(move || {
        store.import_car(std::io::BufReader::with_capacity(1 << 20, reader))
    })
    .await;
    // Whatever arrived is on disk until gc (a cut-off upload's blocks too): an offer's data counts against the
    // node's offer-data budget even after the offer expires (see `offers.rs`).
    if for_offer {
        inner.offers.received(job_id, received.load(Ordering::Relaxed), now());
    }
    match imported {
        Ok(Ok(roots)) => {
            if let Some(manifest) = &assigned_manifest {
                let holds_manifest = {
                    let (store, manifest) = (inner.store.clone(), *manifest);
                    tokio::task::spawn_blocking(move || store.has(&manifest)).await
                };
                if !matches!(holds_manifest, Ok(Ok(true))) {
                    for root in &roots {
                        let _ = inner.store.unpin(root);
                    }
                    warn!(target: "ocean::node", %job, "refused an upload without the task's manifest");
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("the upload does not hold job {job}'s manifest {manifest}"),
                    );
                }
            }
            let roots: Vec<String> = roots.iter().map(ToString::to_string).collect();
            if let Err(e) = inner.db.hold(&job, &roots, now()) {
                return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
            }
            info!(target: "ocean::node", %job, ?roots, "imported CAR");
            Json(serde_json::json!({ "roots": roots })).into_response()
        }
        Ok(Err(_)) if no_room.load(Ordering::Relaxed) => {
            warn!(target: "ocean::node", %job, "cut off an upload: the offer-data budget is spent");
            error(
                StatusCode::INSUFFICIENT_STORAGE,
                "this node holds as much data for unassigned jobs as it takes (max_offer_data_mib); try again later",
            )
        }
        Ok(Err(_)) if over.load(Ordering::Relaxed) => {
            warn!(target: "ocean::node", %job, cap, "cut off an upload past the job's cap");
            error(StatusCode::PAYLOAD_TOO_LARGE, too_large())
        }
        Ok(Err(e)) if e.is_disk_full() => {
            warn!(target: "ocean::node", %job, "upload refused: {e}");
            error(StatusCode::INSUFFICIENT_STORAGE, e.to_string())
        }
        Ok(Err(e)) => {
            warn!(target: "ocean::node", %job, "rejected CAR: {e}");
            error(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The request body as a byte stream that fails the moment more than `cap` bytes have arrived (setting
/// `over`), or once `abandoned` is cancelled.
/// An offer upload's bytes are admitted against the node's offer-data budget ([`crate::offers::Offers::admit`]).
struct Budgeted {
    inner: Arc<Inner>,
    /// Set when the budget cut the upload off.
    no_room: Arc<AtomicBool>,
}

fn capped(
    body: Body,
    cap: u64,
    over: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
    budget: Option<Budgeted>,
    abandoned: tokio_util::sync::CancellationToken,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    let mut body = body.into_data_stream();
    let mut cancelled: Pin<Box<_>> = Box::pin(abandoned.cancelled_owned());
    let mut seen = 0u64;
    futures::stream::poll_fn(move |cx| {
        if cancelled.poll_unpin(cx).is_ready() {
            return Poll::Ready(Some(Err(std::io::Error::other("the upload was abandoned"))));
        }
        let chunk = match body.poll_next_unpin(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(std::io::Error::other(e)))),
            Poll::Ready(Some(Ok(chunk))) => chunk,
        };
        seen += chunk.len() as u64;
        if seen > cap {
            over.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(std::io::Error::other("upload over the job's cap"))));
        }
        if let Some(b) = &budget
            && let Err(full) = b.inner.offers.admit(chunk.len() as u64, now())
        {
            b.no_room.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(std::io::Error::other(full.to_string()))));
        }
        // Only admitted bytes: `Offers::received` gives back exactly what `admit` took.
        received.store(seen, Ordering::Relaxed);
        Poll::Ready(Some(Ok(chunk)))
    })
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
    // Near and past the job's rebalance time the requester could hand this node's slot to a node of its own that
    // commits to the result read here: show it only once this node's commitment is on chain.
    let rebalancing =
        t.rebalance_at.is_some_and(|r| r != 0 && now() + super::settle::REBALANCE_MARGIN_SECS >= r);
    let shown = !rebalancing || matches!(t.state, TaskState::Committed | TaskState::Settled { .. });
    Json(TaskStatus {
        job_id: t.job_id,
        state: t.state.phase(),
        result_cid: t.result_cid.filter(|_| shown),
        signed_commit: t.signed_commit.filter(|_| shown),
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
    if let Some((signer, auth)) = signed
        && !matches!(t.state, TaskState::Settled { .. })
    {
        let requester = match requester_of(&inner, &t, job_id).await {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_GATEWAY, format!("reading the job's requester: {e}")),
        };
        if signer != requester {
            debug!(target: "ocean::node", job = %t.job_id, %signer, denied = %super::auth::Denied::NotRequester, "task read refused");
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
async fn gateway_guard(
    State(inner): State<Arc<Inner>>,
    Path(path): Path<String>,
    request: Request,
    next: Next,
) -> Response {
    // The CID as the gateway will read it: from the same (percent-decoded) path parameter, so no spelling of
    // the path reaches the gateway unchecked. Whatever does not parse is refused here, not passed through.
    let root = path.split('/').next().unwrap_or_default();
    let Ok(cid) = root.parse::<ocean_store::Cid>() else {
        return error(StatusCode::BAD_REQUEST, format!("`{root}` is not a CID"));
    };
    if inner.gate.allows(&cid) {
        return next.run(request).await;
    }
    let mut due = inner.gate.due_check(&cid, std::time::Instant::now());
    if let Some((_, wait)) = due
        && !wait.is_zero()
    {
        // Checked less than a second ago (perhaps just before the job was finalized): wait for the next check
        // rather than turn the requester away. Waiting requests are bounded by the listener's limits.
        tokio::time::sleep(wait).await;
        if inner.gate.allows(&cid) {
            return next.run(request).await;
        }
        due = inner.gate.due_check(&cid, std::time::Instant::now());
    }
    if let Some((job, wait)) = due
        && wait.is_zero()
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
