//! Compiled modules, cached by module CID: in memory (ready-to-instantiate [`InstancePre`]s) and on disk
//! (wasmtime's serialized artifacts), so a repeated module skips Cranelift entirely.
//!
//! On disk an artifact lives at `<dir>/<engine>/<cid>.cwasm` beside `<cid>.hmac`, where `<engine>` is a hash
//! of wasmtime's version and every compilation setting ([`wasmtime::Engine::precompile_compatibility_hash`]):
//! an engine never sees an artifact another configuration produced.
//!
//! An artifact is native code that wasmtime maps as executable, so the cache loads only what this node wrote:
//! `<cid>.hmac` is HMAC-SHA256, under a per-node secret key, of the CID and the artifact. The key is 32 random
//! bytes made on first use and kept in `<dir>/cache.key` (mode 0600). Someone who can write into the cache
//! folder but cannot read the key (a job that got out of its sandbox as another user, a shared or restored
//! folder) cannot make a digest that passes: whatever they plant is recompiled, never run. The digest also binds
//! the artifact to its CID, so the node's own artifacts cannot be swapped between names, and it catches a
//! truncated or corrupted file.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    io::{Read, Write},
    path::{Path, PathBuf},
    sync::Mutex,
};

use hmac::{Hmac, Mac};
use sha2::Sha256;
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

/// Name of the key file, in the cache folder (beside the engine folders).
const KEY_FILE: &str = "cache.key";
const KEY_LEN: usize = 32;
/// Separates the digest of an artifact from any other use of the key.
const DOMAIN: &[u8] = b"ocean-runtime compiled-module cache v1\0";

pub(crate) struct Cache<T> {
    /// The engine folder and the node's key; `None` when there is no disk cache (or no usable key).
    disk: Option<(PathBuf, [u8; KEY_LEN])>,
    memory: Mutex<HashMap<String, T>>,
}

impl<T: Clone> Cache<T> {
    pub(crate) fn new(engine: &Engine, dir: Option<&Path>) -> Self {
        let disk = dir.and_then(|d| {
            let key = match load_or_create_key(d) {
                Ok(key) => key,
                Err(err) => {
                    // Without a trustworthy key nothing on disk may be loaded: keep compiled modules in memory.
                    tracing::warn!(target: "ocean::runtime", dir = %d.display(), %err, "no usable cache key; the disk cache is off");
                    return None;
                }
            };
            let mut h = DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut h);
            Some((d.join(format!("wasmtime-{:016x}", h.finish())), key))
        });
        Self { disk, memory: Mutex::default() }
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

    fn paths(&self, cid: &str) -> Option<(PathBuf, PathBuf, &[u8; KEY_LEN])> {
        // CIDs are base32/base58 text; anything else must not become a path.
        if cid.is_empty() || !cid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let (dir, key) = self.disk.as_ref()?;
        Some((dir.join(format!("{cid}.cwasm")), dir.join(format!("{cid}.hmac")), key))
    }

    /// The module compiled earlier for `cid`, if the disk cache has a copy this node wrote.
    pub(crate) fn load(&self, engine: &Engine, cid: &str) -> Option<Module> {
        let (artifact, digest, key) = self.paths(cid)?;
        let bytes = std::fs::read(&artifact).ok()?;
        let expected = std::fs::read_to_string(&digest).ok()?;
        let authentic =
            hex::decode(expected.trim()).is_ok_and(|tag| mac(key, cid, &bytes).verify_slice(&tag).is_ok());
        if !authentic {
            tracing::warn!(target: "ocean::runtime", %cid, "cached artifact does not carry this node's digest; recompiling");
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
        let Some((artifact, digest, key)) = self.paths(cid) else { return Ok(()) };
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
        write(&digest, hex::encode(mac(key, cid, &bytes).finalize().into_bytes()).as_bytes())
    }
}

/// HMAC-SHA256 of `cid` and `artifact` under `key`, ready to finalize or verify.
fn mac(key: &[u8; KEY_LEN], cid: &str, artifact: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(DOMAIN);
    // Length-prefixed, so no (cid, artifact) pair reads as another.
    mac.update(&(cid.len() as u64).to_be_bytes());
    mac.update(cid.as_bytes());
    mac.update(artifact);
    mac
}

/// The node's cache key from `<dir>/cache.key`, made (32 random bytes, mode 0600) if there is none yet.
fn load_or_create_key(dir: &Path) -> std::io::Result<[u8; KEY_LEN]> {
    let path = dir.join(KEY_FILE);
    if let Some(key) = read_key(&path)? {
        return Ok(key);
    }
    std::fs::create_dir_all(dir)?;
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
    // Written whole under a private name, then linked into place: a concurrent reader sees no key or all of
    // it, and of two processes creating one at once, the first link wins and both use its key.
    let tmp = dir.join(format!("{KEY_FILE}.tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut f| f.write_all(&key).and_then(|()| f.sync_all()));
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, &path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_key(&path)?.ok_or_else(|| std::io::Error::other("the cache key vanished while it was made"))
        }
        Err(e) => Err(e),
    }
}

/// Reads a key file; `None` if there is none. A key others could read or replace is refused.
fn read_key(path: &Path) -> std::io::Result<Option<[u8; KEY_LEN]>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let refuse = |why: &str| Err(std::io::Error::other(format!("{}: {why}", path.display())));
    if !meta.is_file() {
        return refuse("not a regular file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if meta.permissions().mode() & 0o077 != 0 {
            return refuse("readable or writable by others (it must be 0600)");
        }
        // std cannot ask for our own uid; the key must at least belong to whoever owns the cache folder, so a
        // key planted by another user who can write there is refused even when we could read it (as root).
        let owner = std::fs::metadata(path.parent().unwrap_or(Path::new("."))).map(|m| m.uid())?;
        if meta.uid() != owner {
            return refuse("not owned by the owner of the cache folder");
        }
    }
    let mut key = [0u8; KEY_LEN];
    let mut file = std::fs::File::open(path)?;
    let mut rest = Vec::new();
    file.read_exact(&mut key)
        .map_err(|_| std::io::Error::other(format!("{}: shorter than {KEY_LEN} bytes", path.display())))?;
    file.read_to_end(&mut rest)?;
    if !rest.is_empty() {
        return refuse("longer than 32 bytes");
    }
    Ok(Some(key))
}

/// Loads a compiled artifact.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Module> {
    // SAFETY: `Module::deserialize` trusts that `bytes` are an artifact wasmtime produced, since it maps them
    // as executable code. That holds here: the file sits in our own cache folder under a folder keyed by this
    // engine's compatibility hash (wasmtime version + every compilation setting), and its HMAC under this
    // node's secret key matched, which only `Cache::store` (holding the key) can produce from
    // `Module::serialize`'s output. wasmtime also re-checks the version and settings in the header.
    unsafe { Module::deserialize(engine, bytes) }
}
