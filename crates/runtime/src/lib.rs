//! The sandbox where providers run strangers' code: deterministic, metered WebAssembly (WASI preview 1), and
//! ONNX inference run by a WebAssembly guest.
//!
//! A provider must not be hurt by a job, and every honest provider must produce the same bytes for the same
//! job, because payment depends on replicas agreeing. So:
//!
//! - **Isolation**: the guest sees only `/inputs` (read-only) and `/outputs`; no network, no environment
//!   variables, no host clock; stdin is empty.
//! - **Limits** ([`Limit`]): memory (a resource limiter), units of work (wasmtime *fuel*, deterministic and the
//!   billing unit), a wall-clock deadline (fuel-driven yields let a timer stop the guest), output size
//!   (counted as it is written, with `/outputs` measured only when a host call could have changed it in ways
//!   a count cannot see), and the native stack. Each ends the run with [`Error::Limit`], never a crash; the
//!   deterministic ones (fuel, memory, output: [`Limit::exceeded`]) give the job its *limit result*
//!   ([`job::finish_limit`], `ocean-limit.json`), which replicas commit to and are paid for, while a timeout
//!   or a stack overflow gives no result.
//! - **Determinism** ([`determinism`](crate::determinism)): clocks and randomness come from the job's seed,
//!   NaNs are canonicalized, relaxed SIMD is deterministic, threads are off. What the guest learns about its
//!   files ([`hostfs`](crate::hostfs)) is the same on every host: directories list in name order, inode
//!   numbers count 1, 2, 3, ... in the order the guest sees files, timestamps sit at the clock's epoch.
//! - **Cache**: compiled modules are kept by module CID, in memory and on disk ([`cache`]), so a repeated
//!   module only instantiates.
//!
//! Data flow: [`Runtime::prepare`] (module CID + bytes → [`Program`]) → [`Runtime::run`] ([`Invocation`]:
//! args, input/output folders, limits, seed → [`Outcome`]: status, fuel used, stdout, stderr), and
//! [`job::execute`] does the whole job against the store: manifest → inputs materialized → run → one result
//! CID (a UnixFS directory with `outputs/`, `stdout`, `stderr`, `result.json`).

pub mod cache;
mod determinism;
mod error;
mod hostfs;
pub mod job;
mod output;
mod sandbox;

pub use cache::Origin;
pub use error::{Error, Limit, Result};
#[cfg(feature = "fault-injection")]
pub use hostfs::FAULT_PANIC_PATH;
pub use sandbox::{Config, Invocation, MAX_WASM_STACK, Outcome, Program, Runtime, Status, engine_config};
