//! A whole job against the store: materialize the resolved manifest's inputs (ocean-job resolves it), run the
//! guest, and store its result as one UnixFS directory.
//!
//! The result directory (its CID is what replicas compare and commit to) holds:
//!
//! | entry | content |
//! |---|---|
//! | `outputs/` | every file the guest left under `/outputs` |
//! | `stdout`, `stderr` | the guest's standard streams |
//! | `result.json` | `{"manifest":CID,"status":"exited","code":0,"fuel_used":N}` or `{..,"status":"trapped","trap":..}` |
//!
//! Nothing host-dependent goes in: no timings, no paths, no host names.
//!
//! A run that hits a deterministic limit (fuel, memory, output; [`Limit::exceeded`]) has a result too: the
//! limit result of [`ocean_types::limit`], a directory whose only entry is `ocean-limit.json`
//! (`{"limit":"fuel","max":N,"manifest":CID}`), with no partial outputs; [`finish_limit`] stores it. A
//! wall-clock timeout, a stack overflow and every host failure stay errors: no result, nothing to commit.
//!
//! A `fhe` job runs no guest: ocean-fhe evaluates its program (`module`) with its `server_key` on the
//! ciphertext inputs, under the same limits (`fuel` bounds the program's work units, known before it runs;
//! `memory_mib` its memory estimate; `output_mib` the outputs; `timeout_secs` the wall clock). Its result has
//! the same shape: `outputs/result.fhe` (the encrypted outputs), a one-line summary in `stdout`, and
//! `result.json` with the work units as `fuel_used`. Its work, memory and output refusals are functions of the
//! program, the inputs' sizes and the limits, so they give the limit result too; its deadline is a failure.

use std::{
    io::Read,
    path::{Path, PathBuf},
    time::SystemTime,
};

use ocean_job::store_limit_result;
use ocean_store::{Cid, Entry, Store};
use ocean_types::{
    limit::LimitResult,
    manifest::{Kind, Manifest, Source},
};

use crate::{Error, Invocation, Limit, Outcome, Result, Runtime, Status};

/// Largest module a job may run (the compiler's time and memory grow with it). The ONNX inference guest, the
/// largest shipped, is a few MiB.
pub const MAX_MODULE_BYTES: u64 = 64 << 20;

pub use ocean_job::MODEL_INPUT;

/// What a run that has a result produced.
#[derive(Clone, Debug)]
pub struct Executed {
    /// The CID of the canonical manifest that ran.
    pub manifest: Cid,
    /// The result directory's CID: what replicas compare and commit to.
    pub result: Cid,
    /// How the run ended.
    pub ended: Ended,
}

/// How a run that has a result ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Within its limits: the guest exited or trapped.
    Ran(Outcome),
    /// At a deterministic limit: the result is the limit result, a directory holding `result` only.
    Limit {
        /// The content of the result's `ocean-limit.json`.
        result: LimitResult,
        /// Units of work spent before it stopped: a local figure, not part of the result.
        fuel_used: u64,
    },
}

impl Executed {
    /// The run's outcome, when it ended within its limits.
    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.ended {
            Ended::Ran(outcome) => Some(outcome),
            Ended::Limit { .. } => None,
        }
    }

    /// The limit it hit, when its result is a limit result.
    pub fn limit(&self) -> Option<&LimitResult> {
        match &self.ended {
            Ended::Limit { result, .. } => Some(result),
            Ended::Ran(_) => None,
        }
    }
}

#[derive(serde::Serialize)]
struct ResultJson<'a> {
    manifest: String,
    #[serde(flatten)]
    status: &'a Status,
    fuel_used: u64,
}

/// A job ready to run anywhere: its canonical manifest stored, its inputs materialized under the work
/// folder. The node hands it to the executor process; [`execute`] runs it here.
#[derive(Clone, Debug)]
pub struct Staged {
    /// The CID of the canonical manifest.
    pub manifest: Cid,
    /// The CID of the module to run (the key of the compiled-module cache).
    pub module: Cid,
    /// The run: arguments, `/inputs` and `/outputs` under the work folder, limits, seed.
    pub invocation: Invocation,
}

/// Validates a resolved `manifest`, stores its canonical form and materializes its inputs under `work`
/// (`work/inputs`, with an empty `work/outputs`). Blocking (file system and store).
///
/// Not for `fhe` jobs, which run no guest: [`execute`] runs those.
pub fn stage(store: &Store, manifest: &Manifest, work: &Path) -> Result<Staged> {
    manifest.validate().map_err(|e| Error::Job(e.to_string()))?;
    let canonical = manifest.canonical_bytes().map_err(|e| Error::Job(e.to_string()))?;
    let manifest_cid = store.add_bytes(&canonical, &ocean_job::import_options())?.cid;
    if manifest.program.kind == Kind::Fhe {
        return Err(Error::Job("a fhe job runs no guest: it has nothing to stage".into()));
    }
    let module = manifest.program.module.as_ref().ok_or_else(|| {
        Error::Job(
            "[program] module is missing (for onnx: the inference guest, e.g. guests/wasm/onnx.wasm)".into(),
        )
    })?;
    let module_cid = cid_of(module)?;

    let inputs = work.join("inputs");
    let outputs = work.join("outputs");
    for dir in [&inputs, &outputs] {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    // A stranger's DAG (its blocks may be shared at every level): each input is sized against what is left of
    // the job's limits before anything of it is written, and counted again as it is written.
    let mut left = ocean_job::input_limits(&manifest.limits);
    for (name, cid) in ocean_job::staged_inputs(manifest) {
        let cid = cid
            .ok_or_else(|| Error::Job(format!("input `{name}` is not a CID: resolve the manifest first")))?;
        let at = inputs.join(&name);
        let written = store.get_limited(&cid, &at, left)?;
        left.max_bytes = left.max_bytes.saturating_sub(written.bytes);
        left.max_entries = left.max_entries.saturating_sub(written.entries.saturating_add(1));
        fix_times(&at)?;
    }
    let invocation = Invocation {
        args: manifest.program.args.clone(),
        inputs,
        outputs,
        limits: manifest.limits,
        seed: manifest.program.seed,
    };
    Ok(Staged { manifest: manifest_cid, module: module_cid, invocation })
}

/// The bytes of the module `cid` (refused past `max` bytes, before reading them all).
pub fn read_module(store: &Store, cid: &Cid, max: u64) -> Result<Vec<u8>> {
    let mut wasm = Vec::new();
    store
        .cat(cid)?
        .take(max.saturating_add(1))
        .read_to_end(&mut wasm)
        .map_err(|e| Error::io("reading the module", e))?;
    if wasm.len() as u64 > max {
        return Err(Error::ModuleTooLarge { max });
    }
    Ok(wasm)
}

/// Stores the result of a staged job's run (`outcome`, and the files it left in its `/outputs`).
pub fn finish(store: &Store, staged: &Staged, outcome: Outcome) -> Result<Executed> {
    let result = store_result(store, &staged.manifest, &outcome, &staged.invocation.outputs)?;
    tracing::info!(target: "ocean::runtime", manifest = %staged.manifest, %result, fuel = outcome.fuel_used, "job ran");
    Ok(Executed { manifest: staged.manifest, result, ended: Ended::Ran(outcome) })
}

/// The result of a staged job's run that stopped at `limit`: the limit result when `limit` is deterministic,
/// else the error it is (a timeout or a stack overflow: no result, nothing to commit). Whatever the guest
/// left in `/outputs` is not part of it.
pub fn finish_limit(
    store: &Store,
    manifest: &Cid,
    limits: &ocean_types::manifest::Limits,
    limit: Limit,
    fuel_used: u64,
) -> Result<Executed> {
    let Some(kind) = limit.exceeded() else {
        return Err(Error::Limit { limit, fuel_used });
    };
    let hit = LimitResult::new(manifest.to_string(), kind, limits);
    let result = store_limit_result(store, &hit)?;
    tracing::info!(target: "ocean::runtime", %manifest, %result, limit = %kind, max = hit.max, "job hit a limit: its result is the limit result");
    Ok(Executed { manifest: *manifest, result, ended: Ended::Limit { result: hit, fuel_used } })
}

/// Turns a run's error into the limit result when it is a deterministic limit; other errors pass through.
fn limit_or(
    store: &Store,
    manifest: &Cid,
    limits: &ocean_types::manifest::Limits,
    err: Error,
) -> Result<Executed> {
    match err {
        Error::Limit { limit, fuel_used } => finish_limit(store, manifest, limits, limit, fuel_used),
        other => Err(other),
    }
}

/// Runs a resolved `manifest` in `runtime`, with `work` as scratch space (inputs and outputs are written
/// under it; the caller removes it), and stores the result.
///
/// An `onnx` job runs its `module` (the inference guest) with the model as `/inputs/model.onnx`; whoever
/// resolves the manifest fills in the guest when the user left it out (as `ocean exec` does), so the
/// canonical manifest always names the exact bytes that ran.
///
/// This runs the guest in the calling process; a provider runs untrusted jobs through [`stage`], the
/// executor process (ocean-executor) and [`finish`] instead.
pub async fn execute(runtime: &Runtime, store: &Store, manifest: &Manifest, work: &Path) -> Result<Executed> {
    if manifest.program.kind == Kind::Fhe {
        #[cfg(feature = "fhe")]
        return execute_fhe(store, manifest, work).await;
        #[cfg(not(feature = "fhe"))]
        return Err(Error::Job(
            "this build of ocean-runtime has no `fhe` feature: it cannot run fhe jobs".into(),
        ));
    }
    let staged = stage(store, manifest, work)?;
    let program = runtime
        .prepare(&staged.module.to_string(), || read_module(store, &staged.module, MAX_MODULE_BYTES))?;
    match runtime.run(&program, &staged.invocation).await {
        Ok(outcome) => finish(store, &staged, outcome),
        Err(err) => limit_or(store, &staged.manifest, &manifest.limits, err),
    }
}

/// The last server key a `fhe` job used, decompressed: a process running several jobs of one requester's
/// key set pays the decompression once (`ocean exec`; a provider's executor process serves one task).
#[cfg(feature = "fhe")]
static FHE_KEYS: ocean_fhe::job::Keys = ocean_fhe::job::Keys::new();

/// Name under `outputs/` of a `fhe` job's encrypted outputs.
pub const FHE_OUTPUTS: &str = "result.fhe";

/// A `fhe` job staged for evaluation anywhere: its program, server key and inputs as files under
/// `work/fhe/` (inputs are numbered files, their names travel beside them, so no name from the manifest
/// becomes a path), and the folder its outputs go to.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FheStaged {
    /// The CID of the canonical manifest.
    pub manifest: Cid,
    /// The server key's CID: the key of the decompressed-key cache.
    pub key_id: String,
    /// The program file.
    pub program: PathBuf,
    /// The compressed server key file.
    pub server_key: PathBuf,
    /// Every input: its name in the manifest and its file.
    pub inputs: Vec<(String, PathBuf)>,
    /// `work/outputs`, where [`FHE_OUTPUTS`] is written.
    pub outputs: PathBuf,
    /// The job's limits.
    pub limits: ocean_types::manifest::Limits,
}

/// Validates a resolved `fhe` manifest, stores its canonical form and writes its program, server key and
/// inputs under `work/fhe/`. Blocking (file system and store).
pub fn stage_fhe(store: &Store, manifest: &Manifest, work: &Path) -> Result<FheStaged> {
    manifest.validate().map_err(|e| Error::Job(e.to_string()))?;
    if manifest.program.kind != Kind::Fhe {
        return Err(Error::Job("only a fhe job is staged as a program, a key and inputs".into()));
    }
    let canonical = manifest.canonical_bytes().map_err(|e| Error::Job(e.to_string()))?;
    let manifest_cid = store.add_bytes(&canonical, &ocean_job::import_options())?.cid;
    let dir = work.join("fhe");
    std::fs::create_dir_all(dir.join("inputs"))
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let write = |what: &str, source: Option<&Source>, to: PathBuf| -> Result<PathBuf> {
        let source = source.ok_or_else(|| Error::Job(format!("[program] {what} is missing")))?;
        let mut file =
            std::fs::File::create(&to).map_err(|e| Error::io(format!("creating {}", to.display()), e))?;
        std::io::copy(&mut store.cat(&cid_of(source)?)?, &mut file)
            .map_err(|e| Error::io(format!("writing the {what} to {}", to.display()), e))?;
        Ok(to)
    };
    let program = write("module (the fhe program)", manifest.program.module.as_ref(), dir.join("program"))?;
    let server_key = write("server_key", manifest.program.server_key.as_ref(), dir.join("server_key"))?;
    let key_id = manifest.program.server_key.as_ref().map(cid_of).transpose()?.map(|c| c.to_string());
    let inputs = manifest
        .inputs
        .iter()
        .enumerate()
        .map(|(i, (name, source))| {
            Ok((
                name.clone(),
                write(&format!("input `{name}`"), Some(source), dir.join("inputs").join(i.to_string()))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let outputs = work.join("outputs");
    std::fs::create_dir_all(&outputs).map_err(|e| Error::io(format!("creating {}", outputs.display()), e))?;
    Ok(FheStaged {
        manifest: manifest_cid,
        key_id: key_id.unwrap_or_default(),
        program,
        server_key,
        inputs,
        outputs,
        limits: manifest.limits,
    })
}

/// The limit a `fhe` refusal is, if it is one. Work units, the memory estimate and the outputs' size are
/// functions of the program, the inputs' sizes and the limits (checked before any homomorphic work, the
/// outputs' size once more after): the same on every replica, so they are limit results. The deadline is
/// the wall clock's: [`finish_limit`] makes it a failure.
#[cfg(feature = "fhe")]
pub fn fhe_limit(err: &ocean_fhe::Error) -> Option<Limit> {
    Some(match err.limit()? {
        ocean_fhe::Limit::Work => Limit::Fuel,
        ocean_fhe::Limit::Memory => Limit::Memory,
        ocean_fhe::Limit::Output => Limit::Output,
        ocean_fhe::Limit::Timeout => Limit::Timeout,
    })
}

/// Evaluates a staged `fhe` job in this process and writes its outputs to `staged.outputs`; returns the work
/// units spent. Blocking: tfhe-rs computes on this thread and its own rayon pool. Reads at most `max_file`
/// bytes of each staged file. The provider's executor process calls this; so does [`execute`].
#[cfg(feature = "fhe")]
pub fn evaluate_fhe(staged: &FheStaged, max_file: u64) -> Result<u64> {
    evaluate_fhe_with(&FHE_KEYS, staged, max_file)
}

#[cfg(feature = "fhe")]
fn evaluate_fhe_with(keys: &ocean_fhe::job::Keys, staged: &FheStaged, max_file: u64) -> Result<u64> {
    let read = |path: &Path| -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(max_file.saturating_add(1)).read_to_end(&mut bytes))
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if bytes.len() as u64 > max_file {
            return Err(Error::Job(format!("{} is over {max_file} bytes", path.display())));
        }
        Ok(bytes)
    };
    let program = read(&staged.program)?;
    let server_key = read(&staged.server_key)?;
    let inputs = staged
        .inputs
        .iter()
        .map(|(name, path)| Ok((name.clone(), read(path)?)))
        .collect::<Result<std::collections::BTreeMap<_, _>>>()?;
    let l = staged.limits;
    let budget = ocean_fhe::job::Budget {
        work: l.fuel,
        memory_bytes: u64::from(l.memory_mib) << 20,
        output_bytes: u64::from(l.output_mib) << 20,
        deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(l.timeout_secs)),
    };
    let evaluated =
        ocean_fhe::job::evaluate_with(keys, &staged.key_id, &program, &server_key, &inputs, &budget)
            .map_err(|e| match fhe_limit(&e) {
                Some(limit) => {
                    tracing::debug!(target: "ocean::runtime", "fhe job stopped: {e}");
                    Error::Limit { limit, fuel_used: 0 }
                }
                None => Error::Job(format!("fhe: {e}")),
            })?;
    let file = staged.outputs.join(FHE_OUTPUTS);
    std::fs::write(&file, &evaluated.outputs)
        .map_err(|e| Error::io(format!("writing {}", file.display()), e))?;
    Ok(evaluated.work)
}

/// Stores the result of a staged `fhe` job that spent `work` units: `outputs/` as evaluated, a one-line
/// summary in `stdout`, the work units as `fuel_used`.
pub fn finish_fhe(store: &Store, staged: &FheStaged, work: u64) -> Result<Executed> {
    let outcome = Outcome {
        status: Status::Exited { code: 0 },
        fuel_used: work,
        stdout: format!("ocean-fhe: {work} work units; encrypted outputs in outputs/{FHE_OUTPUTS}\n")
            .into_bytes(),
        stderr: Vec::new(),
        output_scans: 0,
    };
    let result = store_result(store, &staged.manifest, &outcome, &staged.outputs)?;
    tracing::info!(target: "ocean::runtime", manifest = %staged.manifest, %result, work, "fhe job ran");
    Ok(Executed { manifest: staged.manifest, result, ended: Ended::Ran(outcome) })
}

#[cfg(feature = "fhe")]
async fn execute_fhe(store: &Store, manifest: &Manifest, work: &Path) -> Result<Executed> {
    let staged = stage_fhe(store, manifest, work)?;
    let evaluating = staged.clone();
    let evaluated = tokio::task::spawn_blocking(move || evaluate_fhe(&evaluating, u64::MAX))
        .await
        .map_err(|e| Error::Job(format!("the fhe evaluation stopped: {e}")))?;
    match evaluated {
        Ok(work) => finish_fhe(store, &staged, work),
        Err(err) => limit_or(store, &staged.manifest, &staged.limits, err),
    }
}

/// Stores the result directory of a run and returns its CID.
pub fn store_result(store: &Store, manifest: &Cid, outcome: &Outcome, outputs: &Path) -> Result<Cid> {
    let opts = ocean_job::import_options();
    let json =
        ResultJson { manifest: manifest.to_string(), status: &outcome.status, fuel_used: outcome.fuel_used };
    let mut json = serde_json::to_vec(&json).map_err(|e| Error::Job(format!("encoding result.json: {e}")))?;
    json.push(b'\n');
    let entries = [
        Entry::from_added("outputs", &store.add_dir(outputs, &opts)?),
        Entry::from_added("result.json", &store.add_bytes(&json, &opts)?),
        Entry::from_added("stderr", &store.add_bytes(&outcome.stderr, &opts)?),
        Entry::from_added("stdout", &store.add_bytes(&outcome.stdout, &opts)?),
    ];
    Ok(store.put_dir(&entries, &opts)?.cid)
}

fn cid_of(source: &Source) -> Result<Cid> {
    match source {
        Source::Cid(c) => Ok(c.parse::<Cid>().map_err(ocean_store::Error::from)?),
        Source::Path(p) => {
            Err(Error::Job(format!("{} is still a path: resolve the manifest first", p.display())))
        }
    }
}

/// Gives every materialized input the same timestamps on every host (the guest can `stat` them).
fn fix_times(path: &Path) -> Result<()> {
    let fixed = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(crate::determinism::EPOCH_SECS);
    let times = std::fs::FileTimes::new().set_accessed(fixed).set_modified(fixed);
    let mut stack: Vec<PathBuf> = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta =
            std::fs::symlink_metadata(&p).map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
        if meta.is_symlink() {
            continue;
        }
        if meta.is_dir() {
            for entry in
                std::fs::read_dir(&p).map_err(|e| Error::io(format!("listing {}", p.display()), e))?
            {
                stack.push(entry.map_err(|e| Error::io(format!("listing {}", p.display()), e))?.path());
            }
        }
        std::fs::File::open(&p)
            .and_then(|f| f.set_times(times))
            .map_err(|e| Error::io(format!("setting times of {}", p.display()), e))?;
    }
    Ok(())
}
