//! `ocean exec job.toml [-o DIR]`: runs a job locally in the sandbox, without any chain, and prints its result
//! CID — what a provider would commit. Requesters use it to test a job before paying for it.
//!
//! The job's files are added to the local store (`<repo>/store`), compiled modules are cached in
//! `<repo>/cache/modules`, and scratch space lives in `<repo>/tmp` while the job runs.

use std::path::{Path, PathBuf};

use eyre::WrapErr;
use ocean_runtime::{Limit, Runtime, Status, job};
use ocean_store::Store;
use ocean_types::{
    Manifest,
    limit::Exceeded,
    manifest::{Kind, Source, VerificationMode},
};

use crate::{config::Config, exit::Failure};

/// The guest failed: it exited with a non-zero status or trapped (its result CID is still printed).
pub(crate) const GUEST_FAILED: u8 = 20;
/// The job's fuel (units of work) ran out (a limit result). `ocean job` uses the same code.
pub(crate) const FUEL: u8 = 21;
/// The guest asked for more memory than `[limits] memory_mib` (a limit result).
pub(crate) const MEMORY: u8 = 22;
/// The wall-clock deadline `[limits] timeout_secs` passed (no result: it depends on the host).
pub(crate) const TIMEOUT: u8 = 23;
/// The guest wrote more than `[limits] output_mib` (a limit result).
pub(crate) const OUTPUT: u8 = 24;
/// The guest overflowed its call stack (no result: the depth depends on the engine build).
pub(crate) const STACK: u8 = 25;

const AFTER_HELP: &str = "\
Prints the result CID on stdout: a UnixFS directory with outputs/ (what the guest wrote to /outputs),
stdout, stderr and result.json (exit status, units of work used, manifest CID). The same job gives the
same CID on every machine. A verification.mode = zk job runs the quantized model's integer inference
that its provider will prove; its result directory holds result.json (class, logits, the on-chain result).

A job that runs out of fuel, memory or output space has a result too, the same on every machine: a
directory holding only ocean-limit.json, {\"limit\":\"fuel\",\"max\":N,\"manifest\":CID} (max is the value in
[limits]); its CID is printed and providers are paid for it. A wall-clock deadline or a stack overflow
depends on the host: no result, no CID.

Exit codes:
  0    the guest succeeded
  1    the job could not run (invalid job.toml, missing file, invalid module, ...)
  20   the guest failed (non-zero exit status or trap); the result CID is printed all the same
  21   fuel (units of work) exhausted      ([limits] fuel); the limit result's CID is printed
  22   memory limit exceeded               ([limits] memory_mib); the limit result's CID is printed
  23   wall-clock deadline passed          ([limits] timeout_secs); no result
  24   output size limit exceeded          ([limits] output_mib); the limit result's CID is printed
  25   call stack overflow; no result";

/// Arguments of `ocean exec`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct Args {
    /// The job manifest (job.toml); relative paths in it are taken from its folder.
    job: PathBuf,
    /// Also write the result directory (outputs/, stdout, stderr, result.json) to this folder.
    #[arg(short = 'o', long = "out")]
    out: Option<PathBuf>,
    /// The inference guest of `kind = "onnx"` jobs that name no `module`.
    #[arg(long, env = "OCEAN_ONNX_GUEST", default_value = "guests/wasm/onnx.wasm")]
    onnx_guest: PathBuf,
}

/// Runs the job and prints its result CID.
pub(crate) async fn run(args: Args, config: &Config) -> eyre::Result<()> {
    let text =
        std::fs::read_to_string(&args.job).wrap_err_with(|| format!("reading {}", args.job.display()))?;
    let mut manifest = Manifest::from_toml(&text).wrap_err_with(|| format!("in {}", args.job.display()))?;
    let base = args.job.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    if manifest.verification.mode == VerificationMode::Zk {
        return zk(manifest, &base, args.out.as_deref(), config);
    }
    if manifest.program.kind == Kind::Onnx && manifest.program.module.is_none() {
        // Absolute, so it is not taken relative to the job's folder: the flag is relative to the caller's.
        let guest = std::path::absolute(&args.onnx_guest)?;
        manifest.program.module = Some(Source::Path(guest));
    }
    let store_dir = config.repo.join("store");
    let store =
        Store::open(&store_dir).wrap_err_with(|| format!("opening the store in {}", store_dir.display()))?;
    let manifest =
        ocean_job::resolve(&store, manifest, &base).wrap_err("adding the job's files to the store")?;
    let runtime =
        Runtime::new(&ocean_runtime::Config { cache_dir: Some(config.repo.join("cache/modules")) })?;
    let work = config.repo.join("tmp").join(format!("exec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let executed = job::execute(&runtime, &store, &manifest, &work).await;
    let _ = std::fs::remove_dir_all(&work);
    let executed = match executed {
        Ok(e) => e,
        Err(err) => {
            let code = match err.limit() {
                Some(Limit::Fuel) => FUEL,
                Some(Limit::Memory) => MEMORY,
                Some(Limit::Timeout) => TIMEOUT,
                Some(Limit::Output) => OUTPUT,
                Some(Limit::Stack) => STACK,
                None => return Err(err.into()),
            };
            // Only the host-dependent limits get here (the others are limit results above).
            return Err(Failure { code, message: format!("the job stopped, with no result: {err}") }.into());
        }
    };
    if let Some(out) = &args.out {
        store
            .get(&executed.result, out)
            .wrap_err_with(|| format!("writing the result to {}", out.display()))?;
    }
    #[allow(clippy::print_stdout)]
    {
        println!("{}", executed.result);
    }
    let outcome = match &executed.ended {
        job::Ended::Ran(outcome) => outcome,
        job::Ended::Limit { result, fuel_used } => {
            tracing::debug!(manifest = %executed.manifest, fuel_used, "stopped at a limit");
            return Err(Failure {
                code: limit_code(result.limit),
                message: format!(
                    "{result}: its result is the limit result above (ocean-limit.json), the same on every \
                     replica, and providers are paid for it"
                ),
            }
            .into());
        }
    };
    tracing::debug!(manifest = %executed.manifest, fuel_used = outcome.fuel_used, status = ?outcome.status, "ran");
    match &outcome.status {
        Status::Exited { code: 0 } => Ok(()),
        Status::Exited { code } => {
            Err(Failure { code: GUEST_FAILED, message: format!("the guest exited with status {code}") }
                .into())
        }
        Status::Trapped { trap } => {
            Err(Failure { code: GUEST_FAILED, message: format!("the guest trapped: {trap}") }.into())
        }
    }
}

/// The exit code of a limit result (the same for `ocean exec` and `ocean job`).
pub(crate) fn limit_code(limit: Exceeded) -> u8 {
    match limit {
        Exceeded::Fuel => FUEL,
        Exceeded::Memory => MEMORY,
        Exceeded::Output => OUTPUT,
    }
}

/// A `verification.mode = "zk"` job: runs what the provider will prove (the quantized model's integer
/// inference) and prints the CID of the result directory that the proven on-chain result decodes to, so the
/// CID matches what `ocean job submit` reports.
fn zk(manifest: Manifest, base: &Path, out: Option<&Path>, config: &Config) -> eyre::Result<()> {
    let store_dir = config.repo.join("store");
    let store =
        Store::open(&store_dir).wrap_err_with(|| format!("opening the store in {}", store_dir.display()))?;
    let manifest =
        ocean_job::resolve(&store, manifest, base).wrap_err("adding the job's files to the store")?;
    let (model, input) = ocean_job::proof::model_and_input(&store, &manifest)?;
    let output = model.infer(&input)?;
    let (cid, _) = ocean_job::proof::result_dir(&store, &output.to_bytes())?;
    if let Some(out) = out {
        store.get(&cid, out).wrap_err_with(|| format!("writing the result to {}", out.display()))?;
    }
    tracing::info!(
        class = output.class(),
        "zk job: inference of the quantized model (the provider proves it)"
    );
    #[allow(clippy::print_stdout)]
    {
        println!("{cid}");
    }
    Ok(())
}
