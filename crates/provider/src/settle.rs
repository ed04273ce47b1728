//! The watcher: scans the chain for this provider's assignments and moves finished tasks to settlement.
//!
//! Each tick (every `poll_interval`, or at once when a requester pokes) it
//! 1. reads `ProviderAssigned` logs for this provider since the last scanned block and queues new tasks;
//! 2. for every task with a result, reads the job on chain and acts: settled → record the pay; still open
//!    after the grace period → commit on chain (once); past the commit deadline → reveal its own result
//!    (the majority decides, so this cannot harm an honest requester); past the reveal deadline → expire
//!    the job so the requester is refunded and nothing stays stuck.

use std::sync::Arc;

use ocean_chain::{B256, JobView, State};
use ocean_store::Cid;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::{Inner, job_hex, now};
use crate::{
    Error, Result,
    db::{Proof, Task, TaskState},
};

const SCANNED: &str = "scanned_block";
/// The first 8 bytes of the scanned block's hash: the cursor is valid only on the chain that has that block.
const SCANNED_HASH: &str = "scanned_block_hash";

/// How long before a job's rebalance time a provider with a result commits it on chain if the job is still
/// open (and from when it shows its result only once committed): blocks, polls and a fee bump or two.
pub(super) const REBALANCE_MARGIN_SECS: u64 = 30;

/// Least time between two scans: anyone may poke, and a poke costs the node RPC calls.
const MIN_SCAN_GAP: std::time::Duration = std::time::Duration::from_millis(200);

/// The chain scan: new assignments become tasks. Its own task, apart from settlement, so a slow settlement
/// (a commit waiting for its receipt) never delays the sight of new work, and the other way round.
pub(super) async fn watch(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    // The cursor is checked against the chain at the first scan and whenever the head is behind it.
    let mut cursor_checked = false;
    loop {
        let started = tokio::time::Instant::now();
        if let Err(e) = scan(&inner, &mut cursor_checked).await {
            warn!(target: "ocean::node", "chain scan: {e}");
        }
        tokio::select! {
            _ = tokio::time::sleep(inner.config.poll_interval) => {}
            _ = inner.poke.notified() => {
                // Pokes coalesce (one permit), and a flood of them scans at most every MIN_SCAN_GAP.
                tokio::select! {
                    _ = tokio::time::sleep_until(started + MIN_SCAN_GAP) => {}
                    _ = stop.changed() => return,
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Longest wait before subscribing again after the WebSocket failed or closed.
const MAX_RESUBSCRIBE: std::time::Duration = std::time::Duration::from_secs(30);

/// Event ingestion over a WebSocket: every `ProviderAssigned` event of this node pokes the
/// scan, so new work is seen within a block instead of a poll interval. The scan stays the only reader of the
/// chain's record (cursor, confirmations, reorganizations); a lost connection is subscribed again with backoff,
/// and meanwhile polling finds everything.
pub(super) async fn subscribe(inner: Arc<Inner>, ws_url: String, mut stop: watch::Receiver<bool>) {
    let mut backoff = std::time::Duration::from_millis(500);
    loop {
        match inner.client.watch_provider_events(&ws_url, inner.client.address()).await {
            Ok(mut events) => {
                info!(target: "ocean::node", %ws_url, "subscribed to this node's assignment events");
                backoff = std::time::Duration::from_millis(500);
                loop {
                    tokio::select! {
                        event = events.next() => match event {
                            Some(block) => {
                                debug!(target: "ocean::node", block, "assignment event: scanning now");
                                inner.poke.notify_one();
                            }
                            None => break,
                        },
                        _ = stop.changed() => return,
                    }
                }
                warn!(target: "ocean::node", %ws_url, "the event subscription ended; subscribing again");
            }
            Err(e) => {
                warn!(target: "ocean::node", %ws_url, "cannot subscribe to events (polling goes on): {e}")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(MAX_RESUBSCRIBE);
    }
}

fn hash_tag(hash: B256) -> u64 {
    u64::from_be_bytes(hash.0[..8].try_into().unwrap_or_default())
}

async fn scan(inner: &Arc<Inner>, cursor_checked: &mut bool) -> Result<()> {
    let client = &inner.client;
    // Only blocks `confirmations` deep: an assignment in a block a reorg may still drop is not work yet.
    let latest = client.block_number().await?.saturating_sub(inner.config.confirmations);
    let mut scanned = inner.db.meta(SCANNED)?;
    if let Some(b) = scanned
        && (!*cursor_checked || b > latest)
    {
        // A cursor from another chain (a devnet started again at the same deterministic addresses, a chain
        // reset, a reorganization deeper than the cursor) would skip the blocks below it for good: assignments
        // there were never seen and their jobs never ran. Rescan from the deployment instead.
        let here = client.block_hash(b).await?.map(hash_tag);
        if here.is_none() || here != inner.db.meta(SCANNED_HASH)? {
            warn!(target: "ocean::node", cursor = b, latest, "this chain does not hold the last block scanned: it was reset or reorganized; rescanning from the deployment");
            scanned = None;
        }
        *cursor_checked = true;
    }
    let from = match scanned {
        Some(b) => b + 1,
        None => client.deployment().start_block,
    };
    if from > latest {
        return Ok(());
    }
    for a in client.assignments(Some(client.address()), from, latest).await? {
        let key = job_hex(a.job_id);
        if inner.db.get(&key)?.is_some() {
            continue;
        }
        // Everything about the task comes from the chain: the offer table only told the node it signed one.
        // The escrowed manifest is the one to run (a private job's names the input envelopes, which the
        // requester can only make once it knows who offered).
        let Some((manifest, limits_hash)) = client.job_created(a.job_id).await? else { continue };
        // Whoever created the job chose these bytes: a CID that does not parse is that job's problem, never a
        // reason to stop scanning (the cursor would stay put and every later assignment go unseen).
        let manifest = match Cid::from_bytes(&manifest) {
            Ok(cid) => cid,
            Err(e) => {
                warn!(target: "ocean::node", job = %key, "assigned a job whose manifest CID is not a CID: {e}");
                continue;
            }
        };
        let view = client.job(a.job_id).await?;
        // Work only for a job whose every slot is filled and that can still be settled: only such a job pays
        // whoever commits to its verdict.
        if !matches!(view.state, State::Assigned | State::Arbitration) {
            continue;
        }
        let task = Task {
            price_wei: a.price.to_string(),
            requester: Some(view.requester.to_string()),
            limits_hash: Some(format!("{limits_hash:#x}")),
            rebalance_at: Some(view.rebalance_at),
            ..Task::assigned(key.clone(), manifest.to_string(), view.commit_deadline, Some(a.index))
        };
        // Every task has a hold, even when its data was already here (no upload of its own): gc then releases
        // its result after the retention instead of keeping it pinned for good, and a restart finds the node's
        // servable results among the holds alone. Written first: a hold without a task is released at once.
        inner.db.hold(&key, &[], super::now())?;
        {
            let _guard = inner.tasks_lock.lock().map_err(|_| Error::Db("task lock poisoned".into()))?;
            inner.db.put(&task)?;
        }
        inner.offers.remove(&a.job_id);
        info!(target: "ocean::node", job = %key, index = a.index, "assigned");
        // A full queue must not stop the watcher (nothing would commit or reveal meanwhile): the task waits
        // with the parked ones and is queued on a later tick.
        match inner.queue.try_send(key.clone()) {
            Ok(()) => {}
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                inner
                    .awaiting_data
                    .lock()
                    .map_err(|_| Error::Db("awaiting-data lock poisoned".into()))?
                    .insert(key);
            }
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                return Err(Error::Db("task queue closed".into()));
            }
        }
    }
    if let Some(hash) = client.block_hash(latest).await? {
        inner.db.set_meta(SCANNED_HASH, hash_tag(hash))?;
        inner.db.set_meta(SCANNED, latest)?;
    }
    Ok(())
}

/// Settlement: parked tasks whose data arrived are queued, done tasks are committed, revealed, expired or
/// settled as their jobs move on chain. Every `poll_interval`.
pub(super) async fn settle_periodically(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = settle_all(&inner).await {
            warn!(target: "ocean::node", "settlement: {e}");
        }
        tokio::select! {
            _ = tokio::time::sleep(inner.config.poll_interval) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn settle_all(inner: &Arc<Inner>) -> Result<()> {
    queue_arrived_data(inner).await?;
    for task in inner.db.active()? {
        if let Err(e) = settle(inner, &task).await {
            warn!(target: "ocean::node", job = %task.job_id, "{e}");
        }
    }
    Ok(())
}

async fn settle(inner: &Arc<Inner>, task: &Task) -> Result<()> {
    let t = now();
    if !matches!(task.state, TaskState::Done | TaskState::Committing | TaskState::Committed) {
        return Ok(());
    }
    let client = &inner.client;
    let job_id: B256 = task.job_id.parse().map_err(|_| Error::Job(format!("bad job id {}", task.job_id)))?;
    inner.gate.expect_task(task);
    let view = client.job(job_id).await?;
    match view.state {
        State::Finalized => {
            let (paid, slashed) = client.settlement(job_id, client.address()).await?;
            info!(target: "ocean::node", job = %task.job_id, paid, slashed, "settled");
            let settled = inner.update(&task.job_id, |x| {
                x.state = TaskState::Settled { paid: paid.to_string(), slashed: slashed > 0 };
            })?;
            if let Some(settled) = settled {
                publish(inner, settled).await;
            }
            return Ok(());
        }
        // An endpoint behind the chain (a load-balanced public RPC, a node restarting from a dump) may not know a
        // job this node saw assigned: not a verdict until the job's commit deadline has passed.
        State::Nonexistent if t <= task.commit_deadline => {
            debug!(target: "ocean::node", job = %task.job_id, "the chain endpoint does not know the job (yet)");
            return Ok(());
        }
        State::Failed | State::Nonexistent => {
            inner.update(&task.job_id, |x| {
                x.state = TaskState::Failed { reason: "the job expired on chain without a verdict".into() };
            })?;
            return Ok(());
        }
        State::Assigned | State::Arbitration => {}
    }
    if let Some(proof) = &task.proof {
        return submit_proof(inner, task, job_id, view.commit_deadline, proof).await;
    }
    let Some(result) = task.result_cid.as_deref() else { return Ok(()) };
    let result: Cid = result.parse()?;

    if t > view.reveal_deadline {
        // Nobody settled in time: expire so the requester's escrow comes back and the job is final.
        debug!(target: "ocean::node", job = %task.job_id, "expiring overdue job");
        client.expire(job_id).await?;
        return Ok(());
    }

    match task.state {
        TaskState::Done if t < view.commit_deadline => {
            let done_at = task.done_at.unwrap_or(t);
            let half_way = done_at + view.commit_deadline.saturating_sub(done_at) / 2;
            let mut due = (done_at + inner.config.commit_grace.as_secs()).min(half_way);
            if view.rebalance_at != 0 {
                // From its rebalance time a job may settle without a provider whose commitment is not on chain
                // (its signed one only reached the requester): commit before then, whatever the grace.
                due = due.min(view.rebalance_at.saturating_sub(REBALANCE_MARGIN_SECS));
            }
            if t >= due {
                commit(inner, task, job_id, &view, &result).await?;
            }
        }
        TaskState::Committing if t < view.commit_deadline => {
            // A restart between deciding to commit and recording it: the chain knows whether it happened.
            commit(inner, task, job_id, &view, &result).await?;
        }
        TaskState::Committing => {
            let committed = client.onchain_commitment(job_id, client.address()).await? != B256::ZERO;
            inner.update(&task.job_id, |x| {
                x.state = if committed { TaskState::Committed } else { TaskState::Done };
            })?;
        }
        TaskState::Committed | TaskState::Done if t > view.commit_deadline => {
            // After the commit deadline any assigned provider may reveal; a majority of matching
            // commitments decides, so revealing its own result is safe. In arbitration the list is the
            // assignment followed by the arbiters, and the majority is of all of them.
            let all: Vec<_> =
                client.assignment(job_id).await?.iter().map(ocean_chain::Assigned::to_assignment).collect();
            let revealed = if view.state == State::Arbitration {
                client.reveal_arbitration(job_id, all, &result.to_bytes(), Vec::new()).await
            } else {
                let originals = all.into_iter().take(usize::from(view.replicas)).collect();
                client.reveal(job_id, originals, &result.to_bytes(), Vec::new()).await
            };
            match revealed {
                Ok(_) => info!(target: "ocean::node", job = %task.job_id, "revealed the result"),
                Err(e) => debug!(target: "ocean::node", job = %task.job_id, "reveal not possible yet: {e}"),
            }
        }
        _ => {}
    }
    Ok(())
}

/// Queues the parked tasks whose job data has arrived since (see `Inner::awaiting_data`).
async fn queue_arrived_data(inner: &Arc<Inner>) -> Result<()> {
    let waiting: Vec<String> = {
        let set = inner.awaiting_data.lock().map_err(|_| Error::Db("awaiting-data lock poisoned".into()))?;
        set.iter().cloned().collect()
    };
    for job in waiting {
        let task = inner.db.get(&job)?;
        let ready = match &task {
            // The hold is written once an upload is complete (blocks may be in the store before that).
            Some(t) if t.state == TaskState::Assigned => {
                inner.db.hold_of(&job)?.is_some_and(|h| !h.cids.is_empty())
            }
            // Gone, or moved on (failed, expired): nothing to wait for.
            _ => true,
        };
        if !ready {
            // A requester that never sends the data must not hold a queue slot (and the task's record) for good:
            // once the job can no longer use a result, the task is over.
            let job_id: B256 = job.parse().map_err(|_| Error::Job(format!("bad job id {job}")))?;
            let view = inner.client.job(job_id).await?;
            let open = matches!(view.state, State::Assigned | State::Arbitration)
                && inner.client.chain_time().await? <= view.commit_deadline;
            if !open {
                inner.update(&job, |t| {
                    t.state = TaskState::Failed {
                        reason: "the job's data never arrived before its deadline".into(),
                    };
                })?;
                inner
                    .awaiting_data
                    .lock()
                    .map_err(|_| Error::Db("awaiting-data lock poisoned".into()))?
                    .remove(&job);
            }
            continue;
        }
        if task.is_some_and(|t| t.state == TaskState::Assigned) {
            // A full queue keeps the task parked for the next tick: the watcher never waits on the workers.
            match inner.queue.try_send(job.clone()) {
                Ok(()) => info!(target: "ocean::node", %job, "job data arrived"),
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => continue,
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                    return Err(Error::Db("task queue closed".into()));
                }
            }
        }
        inner.awaiting_data.lock().map_err(|_| Error::Db("awaiting-data lock poisoned".into()))?.remove(&job);
    }
    Ok(())
}

async fn commit(inner: &Arc<Inner>, task: &Task, job_id: B256, view: &JobView, result: &Cid) -> Result<()> {
    let client = &inner.client;
    // Past its rebalance time the requester may have handed this node's slot to another provider: a commitment
    // would then be gas for nothing (it is never read). The task is over, unpaid and unbonded.
    if let Some(index) = task.index
        && view.rebalance_at != 0
        && client.chain_time().await? >= view.rebalance_at
    {
        let assignment = client.assignment(job_id).await?;
        if !assignment.iter().any(|a| a.index == index && a.provider == client.address()) {
            inner.update(&task.job_id, |t| {
                t.state = TaskState::Failed {
                    reason: format!("released: the requester handed slot {index} to another provider after the job's rebalance time"),
                };
            })?;
            info!(target: "ocean::node", job = %task.job_id, index, "released from the job");
            return Ok(());
        }
    }
    inner.update(&task.job_id, |x| x.state = TaskState::Committing)?;
    if client.onchain_commitment(job_id, client.address()).await? == B256::ZERO {
        client.commit(job_id, &result.to_bytes()).await?;
        info!(target: "ocean::node", job = %task.job_id, "committed on chain");
    }
    inner.update(&task.job_id, |x| x.state = TaskState::Committed)?;
    Ok(())
}

/// A zk job: submit the proof at once (it is the settlement), or expire the job once its deadline passed.
async fn submit_proof(
    inner: &Arc<Inner>,
    task: &Task,
    job_id: B256,
    commit_deadline: u64,
    proof: &Proof,
) -> Result<()> {
    let client = &inner.client;
    if now() > commit_deadline {
        // A proof job can be settled only until its commit deadline; after it, expiring refunds the requester.
        debug!(target: "ocean::node", job = %task.job_id, "expiring unproven job");
        client.expire(job_id).await?;
        return Ok(());
    }
    if !matches!(task.state, TaskState::Done | TaskState::Committing) {
        return Ok(());
    }
    let bytes =
        |s: &str| hex::decode(s.trim_start_matches("0x")).map_err(|e| Error::Db(format!("proof: {e}")));
    let (result, proof) = (bytes(&proof.result)?, bytes(&proof.proof)?);
    inner.update(&task.job_id, |x| x.state = TaskState::Committing)?;
    let assignment: Vec<_> =
        client.assignment(job_id).await?.iter().map(ocean_chain::Assigned::to_assignment).collect();
    // On failure the task stays `committing` and the next tick tries again, until the deadline.
    let receipt = client.submit_proof(job_id, assignment, &result, &proof).await?;
    info!(target: "ocean::node", job = %task.job_id, gas = receipt.gas_used, "proof accepted on chain");
    inner.update(&task.job_id, |x| x.state = TaskState::Committed)?;
    Ok(())
}

/// Makes a finalized task's result, manifest and envelope servable by the gateway (see [`super::gate`]).
/// A DAG this node does not hold whole (a private job's plaintext result, data already collected) is left
/// out; the rest is still published.
pub(super) async fn publish(inner: &Arc<Inner>, task: Task) {
    let Ok(job) = task.job_id.parse::<B256>() else { return };
    if inner.gate.published(&job) {
        return;
    }
    // Only a result the market paid this node for is served: an unpaid one (the node was released from the job,
    // or outvoted) is not the job's, and serving it would hand the requester work it never paid for.
    let paid = match &task.state {
        TaskState::Settled { paid, .. } => paid != "0",
        _ => inner.client.settlement(job, inner.client.address()).await.is_ok_and(|(paid, _)| paid > 0),
    };
    if !paid {
        return;
    }
    let store = inner.store.clone();
    let roots: Vec<Cid> = [task.result_cid, task.envelope_cid, Some(task.manifest_cid)]
        .into_iter()
        .flatten()
        .filter_map(|c| c.parse().ok())
        .collect();
    let blocks = tokio::task::spawn_blocking(move || {
        let mut blocks = Vec::new();
        for root in roots {
            match store.block_cids(&root) {
                Ok(mut b) => blocks.append(&mut b),
                Err(e) => debug!(target: "ocean::node", %root, "not published: {e}"),
            }
        }
        blocks
    })
    .await;
    match blocks {
        Ok(blocks) => inner.gate.publish(job, blocks),
        Err(e) => warn!(target: "ocean::node", job = %task.job_id, "publishing the result: {e}"),
    }
}
