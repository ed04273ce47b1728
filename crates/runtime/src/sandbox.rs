//! The wasmtime engine, its settings, and one guest run.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use ocean_types::manifest::Limits;
use wasmtime::{CallHook, Engine, InstancePre, Linker, Module, ResourceLimiter, Store, Trap};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder, p1::WasiP1Ctx};

use crate::{
    Error, Limit, Result,
    cache::{Cache, Origin},
    determinism, hostfs, output,
};

/// Native stack the guest's WebAssembly frames may use. An engine-wide setting in wasmtime, so it is the same
/// for every job rather than a manifest field.
pub const MAX_WASM_STACK: usize = 512 * 1024;
/// Fuel between two yields to the async executor; at each yield the deadline is checked. About a few
/// milliseconds of guest work.
const YIELD_INTERVAL: u64 = 10_000_000;
/// argv[0] of every guest: a constant, so the module's path or CID never leaks into the computation.
const ARGV0: &str = "main";

/// Settings of a [`Runtime`].
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Folder of the on-disk compiled-module cache; `None` keeps compiled modules in memory only.
    pub cache_dir: Option<PathBuf>,
}

/// A compiled module, linked against WASI preview 1 and ready to instantiate (cheap to clone).
#[derive(Clone)]
pub struct Program {
    pre: InstancePre<State>,
    origin: Origin,
}

impl Program {
    /// Whether this program was compiled now, read from the disk cache, or already in memory.
    pub fn origin(&self) -> Origin {
        self.origin
    }
}

/// One run of a guest.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Invocation {
    /// Arguments after argv\[0\].
    pub args: Vec<String>,
    /// Host folder the guest sees read-only as `/inputs`.
    pub inputs: PathBuf,
    /// Host folder (normally empty) the guest sees read-write as `/outputs`.
    pub outputs: PathBuf,
    /// The job's limits.
    pub limits: Limits,
    /// Seed of the guest's randomness.
    pub seed: u64,
}

/// How a guest ended, when it ended on its own.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Status {
    /// `_start` returned or the guest called `proc_exit`.
    Exited {
        /// 0 is success.
        code: i32,
    },
    /// The guest trapped (unreachable, out-of-bounds access, division by zero, a Rust panic, ...).
    Trapped {
        /// Which trap, as wasmtime names it (no backtrace: it must be the same bytes everywhere).
        trap: String,
    },
}

impl Status {
    /// Whether the guest succeeded.
    pub fn success(&self) -> bool {
        matches!(self, Self::Exited { code: 0 })
    }
}

/// What a run that stayed within its limits produced (the files are in [`Invocation::outputs`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How the guest ended.
    pub status: Status,
    /// Units of work spent (wasmtime fuel): deterministic, and what the job is billed for.
    pub fuel_used: u64,
    /// What the guest wrote to stdout.
    pub stdout: Vec<u8>,
    /// What the guest wrote to stderr.
    pub stderr: Vec<u8>,
    /// How many times `/outputs` was measured on disk: a cost figure (writes are counted as they happen, so
    /// the folder is walked only when a host call could have changed it in ways a count cannot see); not part
    /// of the result.
    pub output_scans: u64,
}

/// The sandbox: one wasmtime engine (shared by every run), the WASI linker and the compiled-module cache.
pub struct Runtime {
    engine: Engine,
    linker: Linker<State>,
    cache: Cache<Program>,
}

/// Per-run host state.
pub(crate) struct State {
    pub(crate) wasi: WasiP1Ctx,
    /// What the guest is told about its files instead of the host's facts.
    pub(crate) fs: hostfs::View,
    memory_cap: usize,
    output_cap: u64,
    outputs: PathBuf,
    written: Arc<AtomicU64>,
    stdout: output::Pipe,
    stderr: output::Pipe,
    pub(crate) hit: Option<Limit>,
    /// Set when the host failed to give the guest memory within its limit (see `memory_grow_failed`).
    host_memory: Option<String>,
    /// Bytes of `/outputs` at its last measurement.
    measured: u64,
    /// How much `/outputs` can have grown since, through writes counted as they happened.
    unmeasured: u64,
    /// Set by the write calls (`hostfs`): by how much the call that is returning grew `/outputs` at most.
    /// `None` after any other host call, whose effect on `/outputs` is not counted.
    pub(crate) write_growth: Option<u64>,
    /// Measurements of `/outputs` so far.
    scans: u64,
}

/// The marker error the host returns from a hook to stop the guest at a limit.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Stop(Limit);

impl ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            return Err(self.stop(Limit::Memory));
        }
        Ok(true)
    }

    /// A growth this limiter allowed (or one past the module's own declared maximum, which wasmtime refuses
    /// before asking) failed. The module's own bounds are the same on every host, and the guest gets `-1` as
    /// WebAssembly specifies; anything else is the operating system refusing memory (a data rlimit, overcommit
    /// settings, a full machine), which other replicas would not see: the run stops as the host's failure
    /// rather than let the guest react to `-1` and commit a result no other replica has.
    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        let text = format!("{error:#}");
        if is_module_bound(&text) {
            return Ok(());
        }
        self.host_memory = Some(text.clone());
        Err(wasmtime::Error::msg(text))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far above any real program.
        if desired > 1_000_000 {
            return Err(self.stop(Limit::Memory));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }
    fn memories(&self) -> usize {
        1
    }
    fn tables(&self) -> usize {
        4
    }
}

impl State {
    /// Called after every host call: the guest's writes so far must fit the output cap.
    ///
    /// The verdict is always the one a walk of `/outputs` after every call would give, at the same call (so
    /// replicas agree on where a guest went over). What changes is when the walk is needed: after a write
    /// whose growth of `/outputs` is known (see `hostfs`), it is skipped while the last measurement plus every
    /// counted growth since still fits. Any other call (opening, linking, truncating, renaming, ...) measures.
    fn check_output(&mut self) -> wasmtime::Result<()> {
        let streams = self.written.load(Ordering::Relaxed);
        if streams > self.output_cap {
            return Err(self.stop(Limit::Output));
        }
        let room = self.output_cap - streams;
        if let Some(growth) = self.write_growth.take() {
            self.unmeasured = self.unmeasured.saturating_add(growth);
            if self.measured.saturating_add(self.unmeasured) <= room {
                return Ok(());
            }
        }
        self.scans += 1;
        let (bytes, files) = output::dir_usage(&self.outputs, room)
            // The folder is ours; failing to read it is the host's problem, not the guest's.
            .map_err(|e| wasmtime::Error::new(e).context("measuring /outputs"))?;
        (self.measured, self.unmeasured) = (bytes, 0);
        if bytes > room || files > output::MAX_OUTPUT_FILES {
            return Err(self.stop(Limit::Output));
        }
        Ok(())
    }

    /// Records that the guest hit `limit` and returns the error that stops it.
    pub(crate) fn stop(&mut self, limit: Limit) -> wasmtime::Error {
        self.hit = Some(limit);
        Stop(limit).into()
    }
}

/// The wasmtime settings of the sandbox's engine; public so that benchmarks can compare against the same
/// engine with one setting changed (fuel off, NaN canonicalization off).
pub fn engine_config() -> wasmtime::Config {
    let mut c = wasmtime::Config::new();
    c.consume_fuel(true)
        // NaN bit patterns are the one place IEEE floats differ between CPUs (x86 makes negative quiet NaNs,
        // Arm positive ones). It costs a compare and a select after every float operation, scalar or SIMD.
        .cranelift_nan_canonicalization(true)
        // SIMD (wasm 2.0) is on by default and fully deterministic; relaxed SIMD is on too, pinned to one
        // result per instruction whatever the CPU.
        .wasm_simd(true)
        .relaxed_simd_deterministic(true)
        // Already wasmtime's defaults on 64-bit hosts, stated because the speed depends on them: linear memory
        // is reserved as 4 GiB plus guard pages, so Cranelift drops bounds checks on 32-bit addresses, and
        // out-of-bounds accesses trap through signals rather than explicit checks.
        .memory_reservation(1 << 32)
        .signals_based_traps(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        // (Shared-memory threads are not even compiled in: wasmtime's `threads` feature is off.)
        .max_wasm_stack(MAX_WASM_STACK)
        .parallel_compilation(true);
    c
}

impl Runtime {
    /// Builds the engine with the sandbox's deterministic settings.
    pub fn new(config: &Config) -> Result<Self> {
        let engine = Engine::new(&engine_config()).map_err(Error::Setup)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut State| &mut s.wasi)
            .map_err(Error::Setup)?;
        hostfs::add_to_linker(&mut linker).map_err(Error::Setup)?;
        let cache = Cache::new(&engine, config.cache_dir.as_deref());
        Ok(Self { engine, linker, cache })
    }

    /// The compiled form of the module whose CID is `cid` and whose bytes are `wasm` (consulted only on a cache
    /// miss). The caller vouches that `cid` is the CID of `wasm` (the store computed it).
    pub fn prepare(&self, cid: &str, wasm: impl FnOnce() -> Result<Vec<u8>>) -> Result<Program> {
        if let Some(mut p) = self.cache.memory(cid) {
            p.origin = Origin::Memory;
            return Ok(p);
        }
        let (module, origin) = match self.cache.load(&self.engine, cid) {
            Some(m) => (m, Origin::Disk),
            None => {
                let started = Instant::now();
                let module = Module::new(&self.engine, wasm()?).map_err(Error::Compile)?;
                tracing::debug!(target: "ocean::runtime", %cid, elapsed = ?started.elapsed(), "compiled");
                if let Err(err) = self.cache.store(cid, &module) {
                    tracing::warn!(target: "ocean::runtime", %cid, %err, "could not cache the compiled module");
                }
                (module, Origin::Compiled)
            }
        };
        let pre = self.linker.instantiate_pre(&module).map_err(Error::Instantiate)?;
        let program = Program { pre, origin };
        self.cache.remember(cid, program.clone());
        Ok(program)
    }

    /// Forgets the in-memory compiled modules (the disk cache stays).
    pub fn forget_compiled(&self) {
        self.cache.forget();
    }

    /// Instantiates `program` in a fresh store and returns it ready to run; exposed to measure instantiation.
    pub async fn instantiate(&self, program: &Program, run: &Invocation) -> Result<Duration> {
        let mut store = self.store(run)?;
        let started = Instant::now();
        program.pre.instantiate_async(&mut store).await.map_err(Error::Instantiate)?;
        Ok(started.elapsed())
    }

    fn store(&self, run: &Invocation) -> Result<Store<State>> {
        let limits = &run.limits;
        let output_cap = u64::from(limits.output_mib) << 20;
        let written = Arc::new(AtomicU64::new(0));
        // Keep one byte past the cap so that "exactly at the cap" and "over it" differ.
        let keep = usize::try_from(output_cap).unwrap_or(usize::MAX).saturating_add(1);
        let clock = determinism::Clock::default();
        let (secure, insecure, insecure_seed) = determinism::rngs(run.seed);
        let mut args = vec![ARGV0.to_owned()];
        args.extend(run.args.iter().cloned());
        let (stdout, stderr) =
            (output::Pipe::new(keep, written.clone()), output::Pipe::new(keep, written.clone()));
        let mut b = WasiCtxBuilder::new();
        b.args(&args)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(clock.clone())
            .monotonic_clock(clock)
            .secure_random(secure)
            .insecure_random(insecure)
            .insecure_random_seed(insecure_seed)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        b.preopened_dir(&run.inputs, "/inputs", FsPerms::ReadOnly).map_err(Error::Setup)?;
        b.preopened_dir(&run.outputs, "/outputs", FsPerms::ReadWrite).map_err(Error::Setup)?;
        let state = State {
            wasi: b.build_p1(),
            fs: hostfs::View::default(),
            memory_cap: usize::try_from(u64::from(limits.memory_mib) << 20).unwrap_or(usize::MAX),
            output_cap,
            outputs: run.outputs.clone(),
            written,
            stdout,
            stderr,
            hit: None,
            host_memory: None,
            measured: 0,
            unmeasured: 0,
            write_growth: None,
            scans: 0,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s);
        store.set_fuel(limits.fuel).map_err(Error::Setup)?;
        store.fuel_async_yield_interval(Some(YIELD_INTERVAL)).map_err(Error::Setup)?;
        store.call_hook(|mut ctx, hook| match hook {
            CallHook::ReturningFromHost => ctx.data_mut().check_output(),
            _ => Ok(()),
        });
        Ok(store)
    }

    /// Runs `program`'s `_start` under `run`'s limits.
    ///
    /// Cancel-safety: dropping the future stops the guest at its next yield and frees its store.
    pub async fn run(&self, program: &Program, run: &Invocation) -> Result<Outcome> {
        let mut store = self.store(run)?;
        let deadline = Duration::from_secs(run.limits.timeout_secs);
        let fuel = run.limits.fuel;
        let ran = tokio::time::timeout(deadline, async {
            let instance = program.pre.instantiate_async(&mut store).await?;
            let start = instance
                .get_typed_func::<(), ()>(&mut store, "_start")
                .map_err(|_| wasmtime::Error::new(Error::NoEntryPoint))?;
            start.call_async(&mut store, ()).await
        })
        .await;
        let fuel_used = fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let Ok(ran) = ran else {
            return Err(Error::Limit { limit: Limit::Timeout, fuel_used });
        };
        if let Some(host) = store.data_mut().host_memory.take() {
            return Err(Error::HostMemory(host));
        }
        let status = match ran {
            Ok(()) => Status::Exited { code: 0 },
            Err(err) => classify(err, store.data().hit, fuel_used)?,
        };
        // The last host call may have been the one that went over, or the guest exited right after writing.
        let state = store.data_mut();
        if let Err(err) = state.check_output() {
            return Err(match state.hit {
                Some(limit) => Error::Limit { limit, fuel_used },
                // Measuring `/outputs` failed: the host's trouble, not a verdict on the guest.
                None => Error::io("measuring /outputs", std::io::Error::other(format!("{err:#}"))),
            });
        }
        Ok(Outcome {
            status,
            fuel_used,
            stdout: state.stdout.take(),
            stderr: state.stderr.take(),
            output_scans: state.scans,
        })
    }
}

/// Whether a failed growth's message is one of wasmtime's refusals by the module's own bounds (its memory
/// type, its declared maximum), which every host gives alike. An unknown message counts as the host's: if a
/// later wasmtime words them differently, such a run becomes a failure (unpaid, never slashed), not a wrong
/// result.
fn is_module_bound(message: &str) -> bool {
    const MODULE_BOUNDS: [&str; 2] =
        ["memory growth exceeds memory type's limits", "Memory maximum size exceeded"];
    MODULE_BOUNDS.iter().any(|m| message.contains(m))
}

fn classify(err: wasmtime::Error, hit: Option<Limit>, fuel_used: u64) -> Result<Status> {
    if let Some(limit) = hit {
        return Err(Error::Limit { limit, fuel_used });
    }
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return Ok(Status::Exited { code: exit.0 });
    }
    if let Some(Stop(limit)) = err.downcast_ref::<Stop>() {
        return Err(Error::Limit { limit: *limit, fuel_used });
    }
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => Err(Error::Limit { limit: Limit::Fuel, fuel_used }),
            Trap::StackOverflow => Err(Error::Limit { limit: Limit::Stack, fuel_used }),
            other => Ok(Status::Trapped { trap: other.to_string() }),
        };
    }
    if let Some(Error::NoEntryPoint) = err.downcast_ref::<Error>() {
        return Err(Error::NoEntryPoint);
    }
    // Anything else failed on the host side (a WASI call that could not complete); no result.
    Err(Error::Instantiate(err))
}
