//! Compiled modules, cached by module CID: in memory (ready-to-instantiate [`InstancePre`]s) and on disk
//! (wasmtime's serialized artifacts), so a repeated module skips Cranelift entirely.
//!
//! On disk an artifact lives at `<dir>/<engine>/<cid>.cwasm` beside `<cid>.sha256`, where `<engine>` is a hash
//! of wasmtime's version and every compilation setting ([`wasmtime::Engine::precompile_compatibility_hash`]):
//! an engine never sees an artifact another configuration produced. The digest catches a truncated or
//! corrupted file before wasmtime trusts it.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    path::{Path, PathBuf},
    sync::Mutex,
};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

use crate::{Error, Result};

/// Where compiled modules come from, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Compiled now.
    Compiled,
    /// Loaded from the on-disk cache.
    Disk,
    /// Already in memory.
    Memory,
}

pub(crate) struct Cache<T> {
    dir: Option<PathBuf>,
    memory: Mutex<HashMap<String, T>>,
}

impl<T: Clone> Cache<T> {
    pub(crate) fn new(engine: &Engine, dir: Option<&Path>) -> Self {
        let dir = dir.map(|d| {
            let mut h = DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut h);
            d.join(format!("wasmtime-{:016x}", h.finish()))
        });
        Self { dir, memory: Mutex::default() }
    }

    pub(crate) fn memory(&self, cid: &str) -> Option<T> {
        self.memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(cid).cloned()
    }

    pub(crate) fn remember(&self, cid: &str, value: T) {
        self.memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(cid.to_owned(), value);
    }

    /// Drops the in-memory entries (the disk cache stays): used by benchmarks and tests.
    pub(crate) fn forget(&self) {
        self.memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    fn paths(&self, cid: &str) -> Option<(PathBuf, PathBuf)> {
        // CIDs are base32/base58 text; anything else must not become a path.
        if cid.is_empty() || !cid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let dir = self.dir.as_ref()?;
        Some((dir.join(format!("{cid}.cwasm")), dir.join(format!("{cid}.sha256"))))
    }

    /// The module compiled earlier for `cid`, if the disk cache has an intact copy.
    pub(crate) fn load(&self, engine: &Engine, cid: &str) -> Option<Module> {
        let (artifact, digest) = self.paths(cid)?;
        let bytes = std::fs::read(&artifact).ok()?;
        let expected = std::fs::read_to_string(&digest).ok()?;
        if hex::encode(Sha256::digest(&bytes)) != expected.trim() {
            tracing::warn!(target: "ocean::runtime", %cid, "cached artifact does not match its digest; recompiling");
            return None;
        }
        match deserialize(engine, &bytes) {
            Ok(m) => Some(m),
            Err(err) => {
                tracing::warn!(target: "ocean::runtime", %cid, %err, "cached artifact rejected; recompiling");
                None
            }
        }
    }

    /// Writes `module`'s artifact for the next process (atomically: temp file, then rename).
    pub(crate) fn store(&self, cid: &str, module: &Module) -> Result<()> {
        let Some((artifact, digest)) = self.paths(cid) else { return Ok(()) };
        let bytes = module.serialize().map_err(Error::Setup)?;
        let dir = artifact.parent().expect("artifact paths are inside the cache folder");
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let write = |path: &Path, data: &[u8]| -> Result<()> {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, data)
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))
        };
        // The digest goes last: a reader that finds it also finds the complete artifact.
        write(&artifact, &bytes)?;
        write(&digest, hex::encode(Sha256::digest(&bytes)).as_bytes())
    }
}

/// Loads a compiled artifact.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Module> {
    // SAFETY: `Module::deserialize` trusts that `bytes` are an artifact wasmtime produced, since it maps them
    // as executable code. That holds here: the file sits in our own cache folder, was written by
    // `Cache::store` from `Module::serialize`, under a folder keyed by this engine's compatibility hash
    // (wasmtime version + every compilation setting), and its SHA-256 matched the digest written with it, so
    // it is byte for byte what we serialized. wasmtime also re-checks the version and settings in the header.
    unsafe { Module::deserialize(engine, bytes) }
}
