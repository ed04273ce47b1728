//! Sandbox vs native, side by side: each example guest's kernel run natively (the same Rust code, linked into
//! this release binary), inside the sandbox as providers run it (fuel metering on), the same with the guest
//! built without WebAssembly SIMD (when `make guests-scalar` has built those), and inside the sandbox's own
//! engine with fuel off, then also NaN canonicalization off (to put a number on each cost); then the
//! instantiation time of a cached module.
//!
//!     make guests guests-scalar && cargo bench -p ocean-runtime --bench runtime
//!     cargo bench -p ocean-runtime --bench runtime --features native-soft   # native SHA-256 without SHA-NI
//!
//! Prints a Markdown table (the one in docs/benchmarks.md). Best of several runs each, to filter noise.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use ocean_runtime::{Config, Invocation, Runtime};
use ocean_types::manifest::Limits;

const RUNS: usize = 7;

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

fn wasm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guests/wasm")
}

fn guest(name: &str) -> Vec<u8> {
    std::fs::read(wasm_dir().join(format!("{name}.wasm"))).expect("run `make guests` first")
}

/// The sandbox's engine with some settings changed, no limits, plain WASI p1: what metering and NaN
/// canonicalization cost. Same async calling convention as the sandbox.
fn variant(
    rt: &tokio::runtime::Runtime,
    config: &wasmtime::Config,
    wasm: &[u8],
    args: &[String],
    inputs: &Path,
    outputs: &Path,
) -> Duration {
    use wasmtime_wasi::{FsPerms, WasiCtxBuilder, p1};
    let engine = wasmtime::Engine::new(config).unwrap();
    let module = wasmtime::Module::new(&engine, wasm).unwrap();
    let mut linker = wasmtime::Linker::new(&engine);
    p1::add_to_linker_async(&mut linker, |s: &mut p1::WasiP1Ctx| s).unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    best(|| {
        let mut argv = vec!["main".to_string()];
        argv.extend(args.iter().cloned());
        let mut b = WasiCtxBuilder::new();
        b.args(&argv);
        b.preopened_dir(inputs, "/inputs", FsPerms::ReadOnly).unwrap();
        b.preopened_dir(outputs, "/outputs", FsPerms::ReadWrite).unwrap();
        let mut store = wasmtime::Store::new(&engine, b.build_p1());
        rt.block_on(async {
            let instance = pre.instantiate_async(&mut store).await.unwrap();
            let start = instance.get_typed_func::<(), ()>(&mut store, "_start").unwrap();
            start.call_async(&mut store, ()).await.unwrap();
        });
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
    let limits = Limits {
        memory_mib: 512,
        fuel: u64::MAX / 2,
        timeout_secs: 600,
        output_mib: 64,
        ..Limits::default()
    };
    let sha =
        if cfg!(feature = "native-soft") { "portable code, no SHA-NI" } else { "SHA-NI if the CPU has it" };
    println!(
        "native sha256: {sha}; native target: {}",
        if cfg!(target_feature = "avx") { "with AVX" } else { "x86-64 baseline (SSE2)" }
    );
    println!();
    println!(
        "| guest | native | sandbox (simd128) | ratio | sandbox, scalar guest | ratio | no fuel | ratio | \
         no fuel, no NaN canon. | ratio | fuel (simd128) | fuel (scalar) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut no_fuel = ocean_runtime::engine_config();
    no_fuel.consume_fuel(false);
    let mut no_canon = ocean_runtime::engine_config();
    no_canon.consume_fuel(false).cranelift_nan_canonicalization(false);
    for case in &cases {
        let inv = Invocation {
            args: case.args.clone(),
            inputs: inputs.clone(),
            outputs: outputs.clone(),
            limits,
            seed: 1,
        };
        let sandboxed = |key: &str, wasm: &[u8]| {
            let program = runtime.prepare(key, || Ok(wasm.to_vec())).unwrap();
            let mut fuel = 0;
            let t = best(|| {
                let out = rt.block_on(runtime.run(&program, &inv)).unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                fuel = out.fuel_used;
            });
            (t, fuel)
        };
        let wasm = guest(case.name);
        let native = best(|| (case.native)(&inputs));
        let (sandbox, fuel) = sandboxed(case.name, &wasm);
        let scalar = std::fs::read(wasm_dir().join(format!("scalar/{}.wasm", case.name)))
            .ok()
            .map(|w| sandboxed(&format!("{}scalar", case.name), &w));
        let plain = variant(&rt, &no_fuel, &wasm, &case.args, &inputs, &outputs);
        let raw = variant(&rt, &no_canon, &wasm, &case.args, &inputs, &outputs);
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        let ratio = |d: Duration| format!("{:.2}×", d.as_secs_f64() / native.as_secs_f64());
        let (scalar_ms, scalar_ratio, scalar_fuel) = match scalar {
            Some((t, f)) => (ms(t), ratio(t), f.to_string()),
            None => ("–".into(), "–".into(), "–".into()),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            case.name,
            ms(native),
            ms(sandbox),
            ratio(sandbox),
            scalar_ms,
            scalar_ratio,
            ms(plain),
            ratio(plain),
            ms(raw),
            ratio(raw),
            fuel,
            scalar_fuel,
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
