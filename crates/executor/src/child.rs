//! The executor process's side: isolate, read one request, set rlimits from its limits, run it, answer.
//!
//! Order matters: the process isolates itself (network namespace, signal mask, parent-death signal) while
//! it still has one thread, since a user namespace can only be entered by a single-threaded process and a
//! signal mask is inherited by the threads created after it. The file-size rlimit comes after compiling, so
//! that writing the compiled-module cache is not held to the job's output cap.

use std::process::ExitCode;

use nix::sys::resource::{Resource, setrlimit};
use ocean_runtime::{Runtime, job::MAX_MODULE_BYTES};
use ocean_types::manifest::Limits;

use crate::{
    Request, Response, WasmTask,
    protocol::{read_frame, write_frame},
};

/// Exit code when the request could not be read or the answer not written (the parent reports a crash).
const EXIT_PROTOCOL: u8 = 2;
/// Memory the process may use beyond the guest's linear memory and the kept stdout/stderr: the compiler,
/// the engine, the WASI context, thread stacks.
const DATA_HEADROOM: u64 = 1 << 30;
/// Open files: the guest's descriptors, the compiled-module cache, the work folder.
const MAX_OPEN_FILES: u64 = 1024;
/// CPU seconds beyond the deadline's worth (process start, loading).
const CPU_HEADROOM_SECS: u64 = 10;

/// The executor process's `main`: serves one request from stdin and answers on stdout.
pub fn main() -> ExitCode {
    isolate();
    let request: Request = match read_frame(&mut std::io::stdin().lock()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(target: "ocean::executor", "reading the request: {e}");
            return ExitCode::from(EXIT_PROTOCOL);
        }
    };
    let response = serve(request);
    let mut stdout = std::io::stdout().lock();
    match write_frame(&mut stdout, &response) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: "ocean::executor", "writing the answer: {e}");
            ExitCode::from(EXIT_PROTOCOL)
        }
    }
}

/// Runs one request in this process (after [`isolate`]); every failure of the task is an answer.
pub fn serve(request: Request) -> Response {
    if let Err(e) = limit_resources(&request.limits()) {
        return host_refusal(format!("setting rlimits: {e}"));
    }
    match request {
        Request::Wasm(task) => serve_wasm(task),
        Request::Fhe(task) => serve_fhe(&task),
    }
}

/// Evaluates a staged `fhe` job: the outputs file is the only file written, held to the output cap.
#[cfg(feature = "fhe")]
fn serve_fhe(task: &ocean_runtime::job::FheStaged) -> Response {
    let cap = u64::from(task.limits.output_mib) << 20;
    if let Err(e) = setrlimit(Resource::RLIMIT_FSIZE, cap + 1, cap + 1) {
        return host_refusal(format!("setting RLIMIT_FSIZE: {e}"));
    }
    // Everything staged came from the job's uploaded data, which `input_mib` bounds.
    let max_file = u64::from(task.limits.input_mib) << 20;
    match ocean_runtime::job::evaluate_fhe(task, max_file) {
        Ok(work) => Response::Ran {
            status: ocean_runtime::Status::Exited { code: 0 },
            fuel_used: work,
            output_scans: 0,
        },
        Err(e) => Response::from_error(&e),
    }
}

#[cfg(not(feature = "fhe"))]
fn serve_fhe(_: &ocean_runtime::job::FheStaged) -> Response {
    Response::Refused {
        reason: crate::Refusal::Job,
        message: "this executor was built without the `fhe` feature: it cannot evaluate fhe jobs".into(),
    }
}

fn host_refusal(message: String) -> Response {
    Response::Refused { reason: crate::Refusal::Host, message }
}

fn serve_wasm(task: WasmTask) -> Response {
    // The guest's run yields to a timer (the deadline inside); one thread is all it needs.
    let rt = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(rt) => rt,
        Err(e) => return host_refusal(format!("starting the async runtime: {e}")),
    };
    let runtime = match Runtime::new(&ocean_runtime::Config { cache_dir: task.cache_dir.clone() }) {
        Ok(r) => r,
        Err(e) => return Response::from_error(&e),
    };
    let program = runtime.prepare(&task.module_key, || {
        let meta = std::fs::metadata(&task.module).map_err(|e| ocean_runtime::Error::Io {
            what: format!("reading {}", task.module.display()),
            source: e,
        })?;
        if meta.len() > MAX_MODULE_BYTES {
            return Err(ocean_runtime::Error::ModuleTooLarge { max: MAX_MODULE_BYTES });
        }
        std::fs::read(&task.module).map_err(|e| ocean_runtime::Error::Io {
            what: format!("reading {}", task.module.display()),
            source: e,
        })
    });
    let program = match program {
        Ok(p) => p,
        Err(e) => return Response::from_error(&e),
    };
    // From here on the only files written are the guest's: none may outgrow the output cap (see `hostfs`:
    // the host's EFBIG is the output limit).
    let cap = u64::from(task.invocation.limits.output_mib) << 20;
    if let Err(e) = setrlimit(Resource::RLIMIT_FSIZE, cap + 1, cap + 1) {
        return host_refusal(format!("setting RLIMIT_FSIZE: {e}"));
    }
    let ran = rt.block_on(runtime.run(&program, &task.invocation));
    match ran {
        Ok(outcome) => {
            for (path, bytes) in [(&task.stdout, &outcome.stdout), (&task.stderr, &outcome.stderr)] {
                if let Err(e) = std::fs::write(path, bytes) {
                    return host_refusal(format!("writing {}: {e}", path.display()));
                }
            }
            Response::Ran {
                status: outcome.status,
                fuel_used: outcome.fuel_used,
                output_scans: outcome.output_scans,
            }
        }
        Err(e) => Response::from_error(&e),
    }
}

/// Cuts the process off what it does not need, best-effort where the kernel refuses (logged): its own empty
/// network namespace (no interface but a down loopback), SIGXFSZ blocked (a write past `RLIMIT_FSIZE` then
/// fails with `EFBIG` instead of killing the process), and death with its parent.
///
/// Call while the process has a single thread.
pub fn isolate() {
    use nix::sched::{CloneFlags, unshare};
    if unshare(CloneFlags::CLONE_NEWNET).is_err() {
        // Unprivileged: a user namespace of its own grants the right to make a network namespace.
        if let Err(e) = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET) {
            tracing::warn!(target: "ocean::executor", "no network namespace (the kernel refused: {e}); the guest has no network calls anyway");
        }
    }
    let mut xfsz = nix::sys::signal::SigSet::empty();
    xfsz.add(nix::sys::signal::Signal::SIGXFSZ);
    if let Err(e) = xfsz.thread_block() {
        tracing::warn!(target: "ocean::executor", "could not block SIGXFSZ: {e}");
    }
    if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL) {
        tracing::warn!(target: "ocean::executor", "could not tie the process to its parent: {e}");
    }
}

/// The rlimits of a task with `limits`. Not `RLIMIT_AS`: wasmtime reserves 4 GiB of address space (plus
/// guards) per linear memory and commits only what the guest grows into, so the data limit, which counts
/// committed writable memory, is the one that fits.
fn limit_resources(limits: &Limits) -> Result<(), String> {
    let memory = u64::from(limits.memory_mib) << 20;
    // stdout and stderr are each kept in memory up to the output cap.
    let streams = 2 * (u64::from(limits.output_mib) << 20);
    let data = memory.saturating_add(streams).saturating_add(DATA_HEADROOM);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    // Compilation is parallel: CPU time can run ahead of the wall clock on every core.
    let cpu = limits.timeout_secs.saturating_mul(cores).saturating_add(CPU_HEADROOM_SECS);
    let set = |resource, soft: u64, hard: u64| {
        setrlimit(resource, soft, hard).map_err(|e| format!("{resource:?}: {e}"))
    };
    set(Resource::RLIMIT_DATA, data, data)?;
    // SIGXCPU at the soft limit, SIGKILL at the hard one.
    set(Resource::RLIMIT_CPU, cpu, cpu.saturating_add(5))?;
    set(Resource::RLIMIT_NOFILE, MAX_OPEN_FILES, MAX_OPEN_FILES)?;
    set(Resource::RLIMIT_CORE, 0, 0)?;
    Ok(())
}
