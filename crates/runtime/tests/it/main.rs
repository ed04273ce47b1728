//! Integration tests of the sandbox: hostile guests (committed `.wat`), what guests see of their files, the
//! example guests (`make guests` builds them into `guests/wasm/`), whole jobs against the store, and the
//! compiled-module cache.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

mod cache;
mod guests;
mod hostfs;
mod hostile;
mod job;
mod limits;
mod onnx;

use std::path::{Path, PathBuf};

use ocean_runtime::{Invocation, Outcome, Result, Runtime};
use ocean_types::manifest::Limits;

/// A runtime whose disk cache is shared by every test process (artifacts are keyed by content hash, written
/// atomically), so big guests such as the ONNX one compile once per machine rather than once per test.
pub fn runtime() -> Runtime {
    let cache = std::env::temp_dir().join("ocean-runtime-tests-cache");
    Runtime::new(&ocean_runtime::Config { cache_dir: Some(cache) }).expect("engine")
}

/// Compiles `wasm` (or finds it cached) under a key derived from its bytes, as a CID would be.
pub fn prepare(rt: &Runtime, wasm: Vec<u8>) -> ocean_runtime::Program {
    use sha2::Digest;
    let key = format!("test{}", hex::encode(sha2::Sha256::digest(&wasm)));
    rt.prepare(&key, || Ok(wasm)).expect("compiles")
}

/// Limits small enough for tests to hit quickly.
pub fn small_limits() -> Limits {
    Limits { memory_mib: 64, fuel: 200_000_000, timeout_secs: 30, output_mib: 1, ..Limits::default() }
}

/// A compiled example guest from `guests/wasm/` (built by `make guests`).
pub fn guest(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guests/wasm").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run `make guests` first)", path.display()))
}

/// A committed hostile guest from `tests/guests/`.
pub fn wat(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests").join(format!("{name}.wat"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Scratch `/inputs` and `/outputs` folders.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Default for Scratch {
    fn default() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("inputs")).unwrap();
        std::fs::create_dir(dir.path().join("outputs")).unwrap();
        Self { dir }
    }
}

impl Scratch {
    pub fn inputs(&self) -> PathBuf {
        self.dir.path().join("inputs")
    }
    pub fn outputs(&self) -> PathBuf {
        self.dir.path().join("outputs")
    }
    pub fn invocation(&self, args: &[&str], limits: Limits) -> Invocation {
        Invocation {
            args: args.iter().map(|s| s.to_string()).collect(),
            inputs: self.inputs(),
            outputs: self.outputs(),
            limits,
            seed: 42,
        }
    }
}

/// Compiles and runs `wasm` with fresh scratch folders (`_name` only labels the call site).
pub async fn run(
    rt: &Runtime,
    _name: &str,
    wasm: Vec<u8>,
    args: &[&str],
    limits: Limits,
) -> (Result<Outcome>, Scratch) {
    let scratch = Scratch::default();
    let program = prepare(rt, wasm);
    let out = rt.run(&program, &scratch.invocation(args, limits)).await;
    (out, scratch)
}
