//! A job's data in the store, as both sides of the market read and write it.
//!
//! ```text
//! requester:  job.toml ─► resolve (paths ─► CIDs in the store) ─► canonical manifest ─► offers, escrow
//!             zk job   ─► proof::model_and_input ─► proof::spec (the job's proofSpec on chain)
//! provider:   runs it (ocean-runtime, in the executor process) ─► result directory
//!                                                   │ at a deterministic limit: store_limit_result
//! requester:  fetched result ─► read_limit_result / read_limit_dir (was it a limit result?)
//!             zk job: the chain's 32-byte result ─► proof::result_dir (the same directory for everyone)
//! ```
//!
//! Nothing here runs a guest or proves anything: the requester side (ocean-requester) links this crate
//! without the sandbox or the prover.

pub mod proof;

use std::{io::Read, path::Path};

use ocean_store::{Cid, Entry, Expanded, ExportLimits, ImportOptions, Store};
use ocean_types::{
    limit::{self, LimitResult},
    manifest::{Kind, Limits, Manifest, Source},
};

/// Name under `/inputs` of an `onnx` job's model.
pub const MODEL_INPUT: &str = "model.onnx";
/// Most entries (files, directories, symlinks) a job's inputs may unpack to, all inputs together.
pub const MAX_INPUT_ENTRIES: u64 = 1_000_000;
/// Most entries a job's result may unpack to (a guest can write many empty files within its output cap).
pub const MAX_RESULT_ENTRIES: u64 = 10_000_000;

/// What can go wrong with a job's data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed (a missing block, a bad CID, a full disk).
    #[error(transparent)]
    Store(#[from] ocean_store::Error),
    /// Local file trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The job's files do not make the job it claims to be.
    #[error("invalid job: {0}")]
    Job(String),
    /// A zk job's model, input or result.
    #[error("zk: {0}")]
    Zk(#[from] ocean_zk_model::Error),
}

impl Error {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}

impl From<ocean_store::cid::Error> for Error {
    fn from(e: ocean_store::cid::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a job's files and results are imported: guests may write dotfiles, and every byte they leave is part
/// of the result, so hidden files are kept.
pub fn import_options() -> ImportOptions {
    ImportOptions { hidden: true, ..ImportOptions::default() }
}

/// Adds every path source of `manifest` to `store` (relative paths are taken from `base`) and returns the
/// manifest with CIDs only, ready for [`Manifest::canonical_bytes`].
pub fn resolve(store: &Store, manifest: Manifest, base: &Path) -> Result<Manifest> {
    manifest.resolve(|path| {
        let full = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
        let added = store.add_path(&full, &import_options(), &mut |_| {})?;
        Ok::<_, Error>(added.cid.to_string())
    })
}

/// What a job's inputs may unpack to: `limits.input_mib` of file content (the same cap as its uploaded data) and
/// [`MAX_INPUT_ENTRIES`] entries. Blocks can be shared at every level of a DAG, so the upload's size alone
/// bounds nothing: a few KiB of blocks can name a petabyte.
pub fn input_limits(limits: &Limits) -> ExportLimits {
    ExportLimits { max_bytes: u64::from(limits.input_mib) << 20, max_entries: MAX_INPUT_ENTRIES }
}

/// What a job's result may unpack to: its `outputs/` and its two streams, each within `limits.output_mib`, plus
/// `result.json` (or a limit result), and [`MAX_RESULT_ENTRIES`] entries.
pub fn result_limits(limits: &Limits) -> ExportLimits {
    ExportLimits {
        max_bytes: (3 * (u64::from(limits.output_mib) << 20)).saturating_add(64 << 10),
        max_entries: MAX_RESULT_ENTRIES,
    }
}

/// The inputs a staged run materializes under `/inputs`: every `[inputs]` source, and an `onnx` job's model.
/// `None` for a source that is still a path.
pub fn staged_inputs(manifest: &Manifest) -> Vec<(String, Option<Cid>)> {
    let cid = |s: &Source| s.cid().and_then(|c| c.parse::<Cid>().ok());
    let mut out: Vec<_> = manifest.inputs.iter().map(|(name, s)| (name.clone(), cid(s))).collect();
    if let (Kind::Onnx, Some(model)) = (manifest.program.kind, &manifest.program.model) {
        out.push((MODEL_INPUT.to_owned(), cid(model)));
    }
    out
}

/// What a resolved manifest's inputs unpack to together (each input is one entry more), checked against
/// [`input_limits`]: an error names the input over them, or the block of it the store lacks. A provider runs
/// this before it signs an offer (so it never commits to a job it cannot stage); staging enforces the same limits.
pub fn check_inputs(store: &Store, manifest: &Manifest) -> Result<Expanded> {
    let limits = input_limits(&manifest.limits);
    let mut total = Expanded::default();
    for (name, cid) in staged_inputs(manifest) {
        let cid = cid.ok_or_else(|| Error::Job(format!("input `{name}` is not resolved to a CID")))?;
        let e = store.expanded(&cid)?;
        total.bytes = total.bytes.saturating_add(e.bytes);
        total.entries = total.entries.saturating_add(e.entries).saturating_add(1);
        limits.check(&cid, total).map_err(|e| Error::Job(format!("the inputs, up to `{name}`: {e}")))?;
    }
    Ok(total)
}

/// The units of work a result says its run spent (`result.json`'s `fuel_used`; a `fhe` job's work units),
/// `None` for a result without it (a limit result, a proof job's). A finalized result is the quorum's: its
/// figure is what every agreeing provider computed, not what one of them reported.
pub fn read_fuel_used(store: &Store, result: &Cid) -> Result<Option<u64>> {
    let Some(bytes) = read_entry(store, result, "result.json", 64 << 10)? else { return Ok(None) };
    Ok(serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|v| v["fuel_used"].as_u64()))
}

/// At most `max + 1` bytes of the file `name` at the root of the directory `result`; `None` when it has none.
fn read_entry(store: &Store, result: &Cid, name: &str, max: u64) -> Result<Option<Vec<u8>>> {
    let file = match store.resolve(result, name) {
        Ok(cid) => cid,
        Err(ocean_store::Error::NoSuchPath { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut bytes = Vec::new();
    store
        .cat(&file)?
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("reading {name} of {result}"), e))?;
    Ok(Some(bytes))
}

/// Stores the limit result `hit` (a directory with `ocean-limit.json` only) and returns its CID.
pub fn store_limit_result(store: &Store, hit: &LimitResult) -> Result<Cid> {
    let opts = import_options();
    let entries = [Entry::from_added(limit::FILE, &store.add_bytes(&hit.canonical_bytes(), &opts)?)];
    Ok(store.put_dir(&entries, &opts)?.cid)
}

/// The limit result that `result` is, if it is one: its root holds a canonical `ocean-limit.json` and the
/// whole directory is exactly what [`store_limit_result`] makes of it. `None` for any other result.
pub fn read_limit_result(store: &Store, result: &Cid) -> Result<Option<LimitResult>> {
    let Some(bytes) = read_entry(store, result, limit::FILE, limit::MAX_BYTES as u64)? else {
        return Ok(None);
    };
    let Ok(hit) = LimitResult::from_canonical(&bytes) else { return Ok(None) };
    // Same bytes, same directory: anything else beside the file would change the CID.
    Ok((store_limit_result(store, &hit)? == *result).then_some(hit))
}

/// The limit result that the result folder `dir` (a result written out with [`Store::get`]) is, if it is
/// one: `dir` holds `ocean-limit.json` and nothing else, in its canonical form. `None` for any other result.
pub fn read_limit_dir(dir: &Path) -> Result<Option<LimitResult>> {
    if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(None);
    }
    let listing = |e| Error::io(format!("listing {}", dir.display()), e);
    let mut entries = std::fs::read_dir(dir).map_err(listing)?;
    let (Some(first), None) = (entries.next(), entries.next()) else { return Ok(None) };
    let first = first.map_err(listing)?;
    if first.file_name() != limit::FILE || !first.file_type().map_err(listing)?.is_file() {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    std::fs::File::open(first.path())
        .and_then(|f| f.take(limit::MAX_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| Error::io(format!("reading {}", first.path().display()), e))?;
    Ok(LimitResult::from_canonical(&bytes).ok())
}

#[cfg(test)]
mod tests {
    use ocean_types::{limit::Exceeded, manifest::Limits};

    use super::*;

    const MANIFEST: &str = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

    #[test]
    fn a_limit_result_reads_back_from_the_store_and_from_disk() {
        let store = Store::memory();
        let hit = LimitResult::new(MANIFEST, Exceeded::Fuel, &Limits::default());
        let cid = store_limit_result(&store, &hit).expect("stores");
        assert_eq!(read_limit_result(&store, &cid).expect("reads"), Some(hit.clone()));
        let out = tempfile::tempdir().expect("tempdir");
        store.get(&cid, out.path().join("r")).expect("writes out");
        assert_eq!(read_limit_dir(&out.path().join("r")).expect("reads"), Some(hit));
    }

    #[test]
    fn a_result_that_only_contains_a_limit_file_is_not_a_limit_result() {
        let store = Store::memory();
        let hit = LimitResult::new(MANIFEST, Exceeded::Memory, &Limits::default());
        let opts = import_options();
        // The provider's guest can write `ocean-limit.json` itself: beside anything else it is just an output.
        let entries = [
            Entry::from_added(limit::FILE, &store.add_bytes(&hit.canonical_bytes(), &opts).expect("adds")),
            Entry::from_added("extra", &store.add_bytes(b"x", &opts).expect("adds")),
        ];
        let cid = store.put_dir(&entries, &opts).expect("puts").cid;
        assert_eq!(read_limit_result(&store, &cid).expect("reads"), None);
        let out = tempfile::tempdir().expect("tempdir");
        store.get(&cid, out.path().join("r")).expect("writes out");
        assert_eq!(read_limit_dir(&out.path().join("r")).expect("reads"), None);
        assert_eq!(read_limit_dir(&out.path().join("missing")).expect("reads"), None);
    }
}
