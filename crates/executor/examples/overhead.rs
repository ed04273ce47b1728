//! Job overhead of the process isolation: the same small guest run N times in process and through the
//! executor process (one process per task, compiled-module cache on disk, as a provider runs it).
//!
//! ```sh
//! cargo run -p ocean-executor --release --example overhead -- [N] [GUEST.wasm|.wat]
//! ```
//!
//! Prints the p50 and p90 wall time per task of each, and the difference (the isolation's cost per task).
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use ocean_executor::{Config, Executor, Request, Response, WasmTask};
use ocean_runtime::{Invocation, Runtime};
use ocean_types::manifest::Limits;

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    times[((times.len() - 1) as f64 * p).round() as usize]
}

fn fresh(root: &Path, i: usize) -> (PathBuf, PathBuf) {
    let work = root.join(format!("task-{i}"));
    std::fs::create_dir_all(work.join("inputs")).unwrap();
    std::fs::create_dir_all(work.join("outputs")).unwrap();
    (work.join("inputs"), work.join("outputs"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(50, |a| a.parse().expect("N is a number"));
    let guest = args.next().map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/guests/hello.wat"),
        PathBuf::from,
    );
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let limits = Limits::default();
    let key = "overheadguest";

    // In process: one engine, the module compiled once and kept in memory, as `ocean exec` runs.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let runtime = Runtime::new(&ocean_runtime::Config { cache_dir: Some(cache.clone()) }).unwrap();
    let wasm = std::fs::read(&guest).unwrap();
    let mut inproc = Vec::with_capacity(n);
    for i in 0..n {
        let (inputs, outputs) = fresh(&tmp.path().join("inproc"), i);
        let started = Instant::now();
        let program = runtime.prepare(key, || Ok(wasm.clone())).unwrap();
        let run = Invocation { args: Vec::new(), inputs, outputs, limits, seed: 1 };
        let out = rt.block_on(runtime.run(&program, &run)).unwrap();
        inproc.push(started.elapsed());
        assert!(out.status.success());
    }

    // Through the executor: a process per task, the compiled module loaded from the disk cache.
    let bin = std::env::var_os("OCEAN_EXECUTOR").map_or_else(
        || std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("ocean-executor"),
        PathBuf::from,
    );
    let executor = Executor::new(Config::program(&bin));
    let mut isolated = Vec::with_capacity(n);
    for i in 0..n {
        let (inputs, outputs) = fresh(&tmp.path().join("exec"), i);
        let work = outputs.parent().unwrap().to_path_buf();
        let request = Request::Wasm(WasmTask {
            module_key: key.into(),
            module: guest.clone(),
            cache_dir: Some(cache.clone()),
            invocation: Invocation { args: Vec::new(), inputs, outputs, limits, seed: 1 },
            stdout: work.join("stdout"),
            stderr: work.join("stderr"),
        });
        let started = Instant::now();
        let answer = rt.block_on(executor.run(&request, Duration::from_secs(60))).unwrap();
        isolated.push(started.elapsed());
        assert!(matches!(answer, Response::Ran { .. }), "{answer:?} (is {} built?)", bin.display());
    }

    let (p50_in, p90_in) = (percentile(&mut inproc, 0.5), percentile(&mut inproc, 0.9));
    let (p50_ex, p90_ex) = (percentile(&mut isolated, 0.5), percentile(&mut isolated, 0.9));
    println!("guest: {} (N = {n})", guest.display());
    println!("in process:        p50 {p50_in:>10.3?}  p90 {p90_in:>10.3?}");
    println!("executor process:  p50 {p50_ex:>10.3?}  p90 {p90_ex:>10.3?}");
    println!("overhead per task: p50 {:>10.3?}", p50_ex.saturating_sub(p50_in));
}
