//! Workers: take assigned jobs off the bounded queue and run them in the sandbox.

use std::{io::Read, sync::Arc, time::Instant};

use ocean_chain::B256;
use ocean_store::{Cid, ImportOptions};
use ocean_types::manifest::{Manifest, VerificationMode};
use tokio::sync::{Mutex, mpsc, watch};
use tracing::{info, warn};

use super::{Inner, now, running_dec, running_inc};
use crate::{Error, Result, db::TaskState, protocol::SignedCommit};

pub(super) fn spawn(
    inner: Arc<Inner>,
    receiver: mpsc::Receiver<String>,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let receiver = Arc::new(Mutex::new(receiver));
    (0..inner.config.max_concurrency.max(1))
        .map(|_| {
            let inner = inner.clone();
            let receiver = receiver.clone();
            let mut stop = stop.clone();
            tokio::spawn(async move {
                loop {
                    let job = tokio::select! {
                        job = async { receiver.lock().await.recv().await } => job,
                        _ = stop.changed() => None,
                    };
                    let Some(job) = job else { break };
                    running_inc(&inner);
                    if let Err(e) = run(&inner, &job).await {
                        warn!(target: "ocean::node", %job, "task failed: {e}");
                        let reason = e.to_string();
                        let _ = inner.update(&job, |t| t.state = TaskState::Failed { reason });
                    }
                    running_dec(&inner);
                }
            })
        })
        .collect()
}

async fn run(inner: &Arc<Inner>, job: &str) -> Result<()> {
    let Some(task) = inner.update(job, |t| {
        if matches!(t.state, TaskState::Assigned | TaskState::Running) {
            t.state = TaskState::Running;
        }
    })?
    else {
        return Ok(());
    };
    if task.state != TaskState::Running {
        return Ok(());
    }
    let index = task.index.ok_or_else(|| Error::Job(format!("task {job} has no assignment index")))?;
    let job_id: B256 = job.parse().map_err(|_| Error::Job(format!("bad job id {job}")))?;
    let manifest_cid: Cid = task.manifest_cid.parse()?;

    let started = Instant::now();
    let store = inner.store.clone();
    let manifest = tokio::task::spawn_blocking(move || -> Result<Manifest> {
        let mut bytes = Vec::new();
        store
            .cat(&manifest_cid)?
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("reading manifest {manifest_cid}"), e))?;
        Manifest::from_canonical(&bytes).map_err(|e| Error::Job(format!("manifest {manifest_cid}: {e}")))
    })
    .await
    .map_err(|e| Error::Job(format!("manifest task: {e}")))??;

    if manifest.verification.mode == VerificationMode::Zk {
        let proof = super::zk::prove(inner, &manifest, job_id).await?;
        let run_secs = started.elapsed().as_secs_f64();
        inner.update(job, |t| {
            t.proof = Some(proof);
            t.run_secs = Some(run_secs);
            t.done_at = Some(now());
            t.state = TaskState::Done;
        })?;
        inner.completed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        info!(target: "ocean::node", %job, secs = run_secs, "proof made");
        // The settler submits it at once.
        inner.poke.notify_one();
        return Ok(());
    }

    let work = inner.config.repo.join("work").join(job);
    if work.exists() {
        // Left over from a run interrupted by a crash: start from a clean slate.
        std::fs::remove_dir_all(&work).map_err(|e| Error::io(format!("cleaning {}", work.display()), e))?;
    }
    std::fs::create_dir_all(&work).map_err(|e| Error::io(format!("creating {}", work.display()), e))?;
    let (result, envelope) = if manifest.privacy.encrypt {
        // Decrypted inputs and outputs exist only in memory and under `work`, removed right after.
        let sealed = super::private::execute(inner, &manifest, &work).await;
        let _ = std::fs::remove_dir_all(&work);
        let sealed = sealed?;
        (sealed.result, Some(sealed.envelope))
    } else {
        let executed = ocean_runtime::job::execute(&inner.runtime, &inner.store, &manifest, &work).await;
        let _ = std::fs::remove_dir_all(&work);
        let executed = executed?;
        let mut result = executed.result;
        if inner.config.fault_wrong_result {
            // Fault injection (tests only): a different, well-formed result.
            result = inner
                .store
                .add_bytes(format!("not the result of {job}").as_bytes(), &ImportOptions::default())?
                .cid;
        }
        inner.store.pin(&result)?;
        (result, None)
    };
    let sc = inner.client.sign_commit(job_id, index, &result.to_bytes())?;
    let run_secs = started.elapsed().as_secs_f64();
    inner.update(job, |t| {
        t.result_cid = Some(result.to_string());
        t.signed_commit = Some(SignedCommit {
            index,
            commitment: format!("{:#x}", sc.commitment),
            r: format!("{:#x}", sc.r),
            vs: format!("{:#x}", sc.vs),
        });
        t.run_secs = Some(run_secs);
        t.envelope_cid = envelope.map(|c| c.to_string());
        t.done_at = Some(now());
        t.state = TaskState::Done;
    })?;
    inner.completed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    info!(target: "ocean::node", %job, %result, private = manifest.privacy.encrypt, secs = run_secs, "task done");
    Ok(())
}
