//! Sandbox vs native, side by side: each example guest's kernel run inside the sandbox (fuel metering on, as
//! providers run it), inside a plain wasmtime with no metering (to isolate fuel's cost), and natively (the
//! same Rust code, linked into this release binary); then the instantiation time of a cached module.
//!
//!     make guests && cargo bench -p ocean-runtime --bench runtime
//!
//! Prints a Markdown table (the one in docs/benchmarks.md). Best of several runs each, to filter noise.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::{
    collections::HashMap,
    path::Path,
    time::{Duration, Instant},
};

use ocean_runtime::{Config, Invocation, Runtime};
use ocean_types::manifest::Limits;

const RUNS: usize = 5;

struct Case {
    name: &'static str,
    args: Vec<String>,
    native: Box<dyn Fn(&Path)>,
}

fn best(mut f: impl FnMut()) -> Duration {
    (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn guest(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../guests/wasm/{name}.wasm")))
        .expect("run `make guests` first")
}

/// A plain wasmtime + WASI p1, no fuel, no limits: the reference point for the cost of metering.
fn unmetered(wasm: &[u8], args: &[String], inputs: &Path, outputs: &Path) -> Duration {
    use wasmtime_wasi::{FsPerms, WasiCtxBuilder, p1};
    let mut c = wasmtime::Config::new();
    c.cranelift_nan_canonicalization(true);
    let engine = wasmtime::Engine::new(&c).unwrap();
    let module = wasmtime::Module::new(&engine, wasm).unwrap();
    let mut linker = wasmtime::Linker::new(&engine);
    p1::add_to_linker_sync(&mut linker, |s: &mut p1::WasiP1Ctx| s).unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    best(|| {
        let mut argv = vec!["main".to_string()];
        argv.extend(args.iter().cloned());
        let mut b = WasiCtxBuilder::new();
        b.args(&argv);
        b.preopened_dir(inputs, "/inputs", FsPerms::ReadOnly).unwrap();
        b.preopened_dir(outputs, "/outputs", FsPerms::ReadWrite).unwrap();
        let mut store = wasmtime::Store::new(&engine, b.build_p1());
        let instance = pre.instantiate(&mut store).unwrap();
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start").unwrap();
        start.call(&mut store, ()).unwrap();
    })
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("inputs");
    let outputs = tmp.path().join("outputs");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::create_dir_all(&outputs).unwrap();
    // 16 MiB of text for wordcount and sha256sum, generated (no data set needed).
    let words = ["ocean", "wave", "tide", "compute", "node", "proof", "token", "market", "replica", "quorum"];
    let mut text = String::new();
    let mut x = 1u64;
    while text.len() < 16 << 20 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        text.push_str(words[(x >> 60) as usize % words.len()]);
        text.push(if (x >> 20).is_multiple_of(12) { '\n' } else { ' ' });
    }
    std::fs::write(inputs.join("corpus.txt"), &text).unwrap();

    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases = vec![
        Case {
            name: "wordcount",
            args: s(&["--top", "10"]),
            native: Box::new(|inputs| {
                let mut counts = HashMap::new();
                let text = std::fs::read(inputs.join("corpus.txt")).unwrap();
                wordcount::count(&String::from_utf8_lossy(&text), &mut counts);
                std::hint::black_box(wordcount::top(&counts, 10).len());
            }),
        },
        Case {
            name: "sha256sum",
            args: vec![],
            native: Box::new(|inputs| {
                let f = std::fs::File::open(inputs.join("corpus.txt")).unwrap();
                std::hint::black_box(sha256sum::digest(f).unwrap());
            }),
        },
        Case {
            name: "pi",
            args: s(&["--samples", "20000000", "--seed", "1"]),
            native: Box::new(|_| {
                std::hint::black_box(pi::hits(1, 20_000_000));
            }),
        },
        Case {
            name: "matmul",
            args: s(&["--n", "384", "--seed", "1"]),
            native: Box::new(|_| {
                let c = matmul::multiply(&matmul::matrix(384, 1), &matmul::matrix(384, 2), 384);
                std::hint::black_box(matmul::checksum(&c));
            }),
        },
    ];

    let rt = tokio::runtime::Runtime::new().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(&Config { cache_dir: Some(cache.path().to_path_buf()) }).unwrap();
    let limits = Limits { memory_mib: 512, fuel: u64::MAX / 2, timeout_secs: 600, output_mib: 64 };
    println!("| guest | native | sandbox, fuel on | ratio | wasmtime, no fuel | ratio | fuel used |");
    println!("|---|---|---|---|---|---|---|");
    for case in &cases {
        let wasm = guest(case.name);
        let program = runtime.prepare(case.name, || Ok(wasm.clone())).unwrap();
        let inv = Invocation {
            args: case.args.clone(),
            inputs: inputs.clone(),
            outputs: outputs.clone(),
            limits,
            seed: 1,
        };
        let native = best(|| (case.native)(&inputs));
        let mut fuel = 0;
        let sandbox = best(|| {
            let out = rt.block_on(runtime.run(&program, &inv)).unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            fuel = out.fuel_used;
        });
        let plain = unmetered(&wasm, &case.args, &inputs, &outputs);
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        let ratio = |d: Duration| format!("{:.2}×", d.as_secs_f64() / native.as_secs_f64());
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            case.name,
            ms(native),
            ms(sandbox),
            ratio(sandbox),
            ms(plain),
            ratio(plain),
            fuel
        );
    }

    // Instantiation of a cached module: a fresh runtime loads the artifact from disk, then instantiates.
    let fresh = Runtime::new(&Config { cache_dir: Some(cache.path().to_path_buf()) }).unwrap();
    let inv = Invocation { args: vec![], inputs, outputs, limits, seed: 1 };
    for name in ["wordcount", "matmul"] {
        let t = Instant::now();
        let program = fresh.prepare(name, || panic!("must come from the disk cache")).unwrap();
        let load = t.elapsed();
        let mut samples: Vec<Duration> =
            (0..200).map(|_| rt.block_on(fresh.instantiate(&program, &inv)).unwrap()).collect();
        samples.sort();
        println!(
            "\n{name}: load from disk cache {:.2} ms; instantiate median {:.1} µs, p99 {:.1} µs (200 runs)",
            load.as_secs_f64() * 1e3,
            samples[100].as_secs_f64() * 1e6,
            samples[197].as_secs_f64() * 1e6
        );
    }
}
