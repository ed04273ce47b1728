//! The executor process end to end: the crate's own `ocean-executor` binary runs hostile and honest guests
//! (the committed `.wat` guests of ocean-runtime) and the parent maps every ending to an answer or an error.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

mod deadline;
#[cfg(feature = "fhe")]
mod fhe;
mod runs;

use std::path::{Path, PathBuf};

use ocean_executor::{Config, Executor, Request, WasmTask};
use ocean_runtime::Invocation;
use ocean_types::manifest::Limits;

/// The crate's executor binary.
pub fn executor() -> Executor {
    Executor::new(Config::program(env!("CARGO_BIN_EXE_ocean-executor")))
}

/// A committed guest of ocean-runtime's tests (wasmtime reads the text format too).
pub fn wat(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/guests").join(format!("{name}.wat"))
}

/// Limits small enough for tests to hit quickly.
pub fn small_limits() -> Limits {
    Limits { memory_mib: 64, fuel: 200_000_000, timeout_secs: 30, output_mib: 1, ..Limits::default() }
}

/// A task's work folder: inputs, outputs, the guest's streams.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn create() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("inputs")).unwrap();
        std::fs::create_dir(dir.path().join("outputs")).unwrap();
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A request to run `module` (cache key `key`) here with `limits`.
    pub fn request(&self, key: &str, module: PathBuf, limits: Limits) -> Request {
        Request::Wasm(WasmTask {
            module_key: key.to_owned(),
            module,
            cache_dir: None,
            invocation: Invocation {
                args: Vec::new(),
                inputs: self.path("inputs"),
                outputs: self.path("outputs"),
                limits,
                seed: 42,
            },
            stdout: self.path("stdout"),
            stderr: self.path("stderr"),
        })
    }
}
