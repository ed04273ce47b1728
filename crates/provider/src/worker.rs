//! Workers: take assigned jobs off the bounded queue and run them in the executor process.
//!
//! Nothing untrusted runs on the async runtime: staging the inputs and storing the result run on the
//! blocking pool, compiling and running the guest in a child process (ocean-executor) that the worker waits
//! for. Each task runs in a tokio task of its own, so a panic while handling one fails that task and the
//! worker goes on with the next.

use std::{
    io::Read,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use ocean_chain::B256;
use ocean_executor::{Executor, Request, Response, WasmTask};
use ocean_runtime::{
    Outcome,
    job::{Executed, MAX_MODULE_BYTES, Staged},
};
use ocean_store::{Cid, Store};
use ocean_types::manifest::{Kind, Manifest, VerificationMode};
use tokio::sync::{Mutex, mpsc, watch};
use tracing::{info, warn};

use super::{Inner, now, running_dec, running_inc};
use ocean_protocol::SignedCommit;

use crate::{Error, Result, db::TaskState};

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
                    let task = {
                        let (inner, job) = (inner.clone(), job.clone());
                        async move { run(&inner, &job).await }
                    };
                    if let Err(reason) = isolated(task).await {
                        warn!(target: "ocean::node", %job, "task failed: {reason}");
                        let _ = inner.update(&job, |t| t.state = TaskState::Failed { reason });
                    }
                    running_dec(&inner);
                }
            })
        })
        .collect()
}

/// Runs `task` in a tokio task of its own and returns why it failed: its error, or the panic that ended it
/// (which would otherwise end the worker loop and leave the task `running` for good).
async fn isolated(task: impl Future<Output = Result<()>> + Send + 'static) -> Result<(), String> {
    match tokio::spawn(task).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(join) if join.is_panic() => {
            let panic = join.into_panic();
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Err(format!("the node panicked while handling the task (a bug): {message}"))
        }
        Err(_) => Err("the task was cancelled".to_owned()),
    }
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
    if !blocking({
        let (store, cid) = (inner.store.clone(), manifest_cid);
        move || Ok(store.has(&cid)?)
    })
    .await?
    {
        // Drafted (as an arbiter) before anyone pushed the job's data: park the task until it arrives.
        inner.update(job, |t| t.state = TaskState::Assigned)?;
        inner
            .awaiting_data
            .lock()
            .map_err(|_| Error::Db("awaiting-data lock poisoned".into()))?
            .insert(job.to_owned());
        info!(target: "ocean::node", %job, "waiting for the job's data");
        return Ok(());
    }
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

    // The offer signed the limits' hash, not the manifest (a private job's is made afterwards): run nothing
    // whose limits are not the ones agreed to.
    let agreed = match task.limits_hash.as_deref() {
        Some(h) => {
            Some(h.parse::<B256>().map_err(|_| Error::Db(format!("bad limits hash {h} in task {job}")))?)
        }
        // A task recorded before offers bound the limits: ask the chain.
        None => inner.client.limits_hash(job_id).await?,
    };
    let actual = ocean_protocol::OfferLimits::of(&manifest.limits).hash();
    if agreed != Some(actual) {
        return Err(Error::Job(format!(
            "the manifest's limits (hash {actual:#x}) are not those the job was created with ({})",
            agreed.map_or_else(|| "no JobCreated event".to_owned(), |h| format!("{h:#x}"))
        )));
    }

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
    blocking({
        let work = work.clone();
        move || {
            if work.exists() {
                // Left over from a run interrupted by a crash: start from a clean slate.
                std::fs::remove_dir_all(&work)
                    .map_err(|e| Error::io(format!("cleaning {}", work.display()), e))?;
            }
            std::fs::create_dir_all(&work).map_err(|e| Error::io(format!("creating {}", work.display()), e))
        }
    })
    .await?;
    let (result, envelope) = if manifest.privacy.encrypt {
        // Decrypted inputs and outputs exist only in memory and under `work`, removed right after.
        let sealed = super::private::execute(inner, &manifest, &work).await;
        remove_work(work).await;
        let sealed = sealed?;
        (sealed.result, Some(sealed.envelope))
    } else {
        let executed = execute(inner, &inner.store, &manifest, &work).await;
        remove_work(work).await;
        let executed = executed?;
        if let Some(hit) = executed.limit() {
            info!(target: "ocean::node", %job, limit = %hit.limit, max = hit.max, "{hit}: committing the limit result");
        }
        #[allow(unused_mut)] // changed only by fault injection
        let mut result = executed.result;
        #[cfg(feature = "fault-injection")]
        if inner.config.fault_wrong_result {
            // Fault injection (test builds only): a different, well-formed result.
            let opts = ocean_store::ImportOptions::default();
            result = inner.store.add_bytes(format!("not the result of {job}").as_bytes(), &opts)?.cid;
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
        // A task released while it ran (its slot handed to another provider) stays failed: nothing to commit.
        if !matches!(t.state, TaskState::Failed { .. }) {
            t.state = TaskState::Done;
        }
    })?;
    inner.completed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    info!(target: "ocean::node", %job, %result, private = manifest.privacy.encrypt, secs = run_secs, "task done");
    Ok(())
}

/// Runs blocking file and store work on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Job(format!("blocking task: {e}")))?
}

async fn remove_work(work: PathBuf) {
    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(work)).await;
}

/// Runs a resolved `manifest` whose sources are in `store`, with `work` as its scratch folder: stages the
/// inputs (blocking pool), runs the guest in an executor process, stores the result (blocking pool).
pub(super) async fn execute(
    inner: &Inner,
    store: &Store,
    manifest: &Manifest,
    work: &Path,
) -> Result<Executed> {
    if manifest.program.kind == Kind::Fhe {
        return execute_fhe(inner, store, manifest, work).await;
    }
    let task = {
        let (store, manifest, work) = (store.clone(), manifest.clone(), work.to_path_buf());
        let cache_dir = inner.config.repo.join("cache");
        blocking(move || stage(&store, &manifest, &work, cache_dir)).await?
    };
    let (staged, request) = task;
    let deadline = Duration::from_secs(manifest.limits.timeout_secs);
    let response = Executor::new(inner.config.executor.clone()).run(&request, deadline).await?;
    let (status, fuel_used, output_scans) = match response {
        Response::Ran { status, fuel_used, output_scans } => (status, fuel_used, output_scans),
        // A deterministic limit (fuel, memory, output) is a result, the same on every replica: stored,
        // committed and paid like any other, so a job cannot make providers work for free by setting a
        // limit it knows will be hit. The deadline inside the child and a stack overflow are the runtime's
        // errors, as in process: the task fails, nothing is committed.
        Response::Limit { limit, fuel_used } => {
            let store = store.clone();
            let limits = manifest.limits;
            return blocking(move || {
                Ok(ocean_runtime::job::finish_limit(&store, &staged.manifest, &limits, limit, fuel_used)?)
            })
            .await;
        }
        Response::Refused { reason, message } => {
            return Err(ocean_executor::Error::Refused { reason, message }.into());
        }
    };
    let store = store.clone();
    let Request::Wasm(task) = request else {
        return Err(Error::Job("the executor answered another kind of task".into()));
    };
    blocking(move || {
        let cap = (u64::from(staged.invocation.limits.output_mib) << 20) + 1;
        let outcome = Outcome {
            status,
            fuel_used,
            stdout: read_capped(&task.stdout, cap)?,
            stderr: read_capped(&task.stderr, cap)?,
            output_scans,
        };
        Ok(ocean_runtime::job::finish(&store, &staged, outcome)?)
    })
    .await
}

/// A `fhe` job: staged as files (blocking pool), evaluated by tfhe-rs in an executor process (a stranger's
/// key, program and ciphertexts are parsed there, under the task's rlimits), its result stored (blocking
/// pool). Each process decompresses the server key again: the price of isolation (see docs/benchmarks.md).
async fn execute_fhe(inner: &Inner, store: &Store, manifest: &Manifest, work: &Path) -> Result<Executed> {
    let staged = {
        let (store, manifest, work) = (store.clone(), manifest.clone(), work.to_path_buf());
        blocking(move || Ok(ocean_runtime::job::stage_fhe(&store, &manifest, &work)?)).await?
    };
    let deadline = Duration::from_secs(manifest.limits.timeout_secs);
    let request = Request::Fhe(staged.clone());
    let response = Executor::new(inner.config.executor.clone()).run(&request, deadline).await?;
    let store = store.clone();
    match response {
        Response::Ran { fuel_used, .. } => {
            blocking(move || Ok(ocean_runtime::job::finish_fhe(&store, &staged, fuel_used)?)).await
        }
        Response::Limit { limit, fuel_used } => {
            blocking(move || {
                Ok(ocean_runtime::job::finish_limit(
                    &store,
                    &staged.manifest,
                    &staged.limits,
                    limit,
                    fuel_used,
                )?)
            })
            .await
        }
        Response::Refused { reason, message } => {
            Err(ocean_executor::Error::Refused { reason, message }.into())
        }
    }
}

/// Stages the job under `work` and writes the module beside the inputs for the executor process (which
/// never opens the store).
fn stage(store: &Store, manifest: &Manifest, work: &Path, cache_dir: PathBuf) -> Result<(Staged, Request)> {
    let staged = ocean_runtime::job::stage(store, manifest, work)?;
    let wasm = ocean_runtime::job::read_module(store, &staged.module, MAX_MODULE_BYTES)?;
    let module = work.join("module.wasm");
    std::fs::write(&module, wasm).map_err(|e| Error::io(format!("writing {}", module.display()), e))?;
    let task = WasmTask {
        module_key: staged.module.to_string(),
        module,
        cache_dir: Some(cache_dir),
        invocation: staged.invocation.clone(),
        stdout: work.join("stdout"),
        stderr: work.join("stderr"),
    };
    Ok((staged, Request::Wasm(task)))
}

/// At most `cap` bytes of the file at `path`.
fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(cap).read_to_end(&mut bytes))
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_fails_alone_and_the_next_one_runs() {
        let panicked = isolated(async { panic!("boom") }).await;
        let reason = panicked.expect_err("a panic is a failure");
        assert!(reason.contains("boom"), "{reason}");
        assert_eq!(isolated(async { Ok(()) }).await, Ok(()));
        let failed = isolated(async { Err(Error::Job("no".into())) }).await;
        assert_eq!(failed, Err("invalid job: no".to_owned()));
    }
}
