//! The executor process: where a provider compiles and runs strangers' jobs, apart from the node.
//!
//! The node (async, holding the store, the chain client and the keys) never compiles or runs untrusted code
//! itself. For each task it stages the inputs in the task's work folder, then starts one executor process
//! ([`Executor::run`]), sends it one [`Request`] and reads one [`Response`]:
//!
//! ```text
//!   node (parent)                                  executor process (child, one per task)
//!   ─────────────                                  ──────────────────────────────────────
//!   stage inputs → work/inputs  (spawn_blocking)
//!   spawn `<program> <args>` ─────────────────────► isolate: no network namespace, SIGXFSZ blocked,
//!                                                   dies with the parent
//!   frame: Request::Wasm ──────── stdin ──────────► rlimits from the job's limits (data, CPU, open files,
//!                                                   no core), compile (or load the cached artifact),
//!                                                   file-size rlimit, run under fuel/memory/output limits
//!   frame: Response ◄──────────── stdout ───────── guest's stdout/stderr → work/stdout, work/stderr
//!   wall-clock deadline: kill the child
//!   exit by signal / no frame → Error::Crashed
//!   store the result (spawn_blocking)
//! ```
//!
//! The child never opens the node's store (redb is single-process) and never sees the node's keys; it reads
//! the module and inputs from the work folder and writes only there and to the compiled-module cache.
//!
//! One process per task keeps the isolation simple: rlimits are per task, and a crash, a panic or a signal
//! ends only that task's process (the node maps it to [`Error::Crashed`] and goes on). Wasmtime's on-disk
//! compiled-module cache makes a repeated module cost a load rather than a compilation.
//!
//! Framing ([`protocol`]): a 4-byte big-endian length, then that many bytes of JSON, at most
//! [`protocol::MAX_FRAME`] bytes. [`Request`] has a variant per kind of untrusted work: `Wasm` (compile and
//! run a guest) and `Fhe` (tfhe-rs parses the job's key, program and ciphertexts and evaluates; the `fhe`
//! feature, which the `ocean` binary turns on). The container jobs and the native inference to come run in
//! this same process as further variants.
//!
//! Features: `fault-injection` (test builds only) forwards ocean-runtime's fault that panics the host
//! function layer.

pub mod child;
mod error;
mod parent;
pub mod protocol;

pub use error::{Error, Exit, Result};
pub use parent::{Config, Executor};
pub use protocol::{Refusal, Request, Response, WasmTask};
