//! `ocean-store`: content-addressed storage that real IPFS implementations agree with.
//!
//! Jobs, programs, inputs and results travel as UnixFS DAGs named by CIDs. This crate owns the whole path:
//!
//! ```text
//!  file/dir/bytes ─► importer (chunk → leaves → balanced DAG, hashed on all cores) ─► blockstore (redb | memory)
//!  blockstore ─► exporter (cat / get / CAR walk) ─► gateway (axum, trustless HTTP)  ─► fetch (verify every block)
//! ```
//!
//! - [`cid`]: CIDv0/v1, sha2-256 multihash, raw and dag-pb codecs, base32/base58btc text.
//! - [`dagpb`], [`unixfs`]: the two protobuf layers, encoded byte-for-byte as kubo and Helia encode them.
//! - [`importer`]: the balanced layout with kubo's defaults ([`ImportOptions::default`]: CIDv1, raw leaves,
//!   256 KiB chunks, 174 links), the IPIP-499 `unixfs-v1-2025` profile and CIDv0. Streaming: memory is flat
//!   in the file size.
//! - [`blockstore`]: persistent ([`blockstore::Redb`], crash-safe transactions) or in-memory; pins and gc.
//! - [`car`]: CARv1 streaming reader (verifies every block) and writer.
//! - [`gateway`]: the trustless gateway (`GET/HEAD /ipfs/{cid}`, `?format=raw|car`); [`fetch`]: its client.
//!
//! # Untrusted trees
//!
//! Job inputs and results are DAGs written by strangers, and [`Store::get`] writes them to disk (the provider
//! unpacking inputs, the requester unpacking results). Everything below the output folder is written through
//! cap-std directory handles: children are created by name in their parent's handle, never by joining paths;
//! directories are opened without following symlinks, files are created fresh (an existing entry is an error,
//! never overwritten); UnixFS symlinks are written as symlinks and never followed. Decoding a directory, plain
//! or HAMT-sharded (across buckets too), refuses duplicate, empty, `.`, `..`, `/` and NUL names with
//! [`Error::UnsafeName`], so `get`, `resolve` and the gateway all refuse such a tree, and the importer never
//! makes one. The exporter and decoders are fuzzed (`tests/it/fuzz.rs`; `make fuzz` for a long run).
//!
//! [`Store`] ties them together. Its methods are synchronous (redb is); call them from async code through
//! `tokio::task::spawn_blocking`. A `Store` is cheap to clone and safe to share between threads.
//!
//! # Example
//!
//! ```
//! use std::io::Read;
//! use ocean_store::{Cid, Entry, ImportOptions, Store};
//!
//! # fn main() -> Result<(), ocean_store::Error> {
//! let store = Store::memory(); // or Store::open("/path/to/repo/store")?
//! let opts = ImportOptions::default(); // kubo `ipfs add --cid-version=1`
//!
//! let hello = store.add_bytes(b"hello world\n", &opts)?;
//! assert_eq!(hello.cid.to_string(), "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
//!
//! // A directory from entries: existing CIDs or fresh bytes.
//! let log = store.add_bytes(b"done\n", &opts)?;
//! let dir = store.put_dir(&[Entry::from_added("hello.txt", &hello), Entry::from_added("log.txt", &log)], &opts)?;
//!
//! // Read it back by path.
//! let file: Cid = store.resolve(&dir.cid, "hello.txt")?;
//! let mut text = String::new();
//! store.cat(&file)?.read_to_string(&mut text).map_err(|e| ocean_store::Error::io("cat", e))?;
//! assert_eq!(text, "hello world\n");
//!
//! // CIDs print and parse.
//! let parsed: Cid = dir.cid.to_string().parse()?;
//! assert_eq!(parsed, dir.cid);
//! # Ok(()) }
//! ```

pub mod blockstore;
pub mod car;
pub mod cid;
pub mod dagpb;
pub mod exporter;
pub mod fetch;
pub mod gateway;

mod hamt;
pub mod importer;
mod store;
pub mod unixfs;

pub use cid::Cid;
pub use exporter::{Expanded, ExportLimits, FileReader, NameProblem, Scope};
pub use importer::{Added, Entry, ImportOptions, Profile};
pub use store::{GcStats, Store};

use std::path::Path;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a local file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (usually a path).
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The blockstore failed.
    #[error(transparent)]
    Blockstore(#[from] blockstore::Error),
    /// A CID is malformed or uses an unsupported codec or hash.
    #[error(transparent)]
    Cid(#[from] cid::Error),
    /// A block is not valid dag-pb / UnixFS.
    #[error("block {cid} is malformed: {source}")]
    Block {
        /// The block.
        cid: Cid,
        /// What is wrong with it.
        source: dagpb::Error,
    },
    /// A CAR stream is malformed or carries a block that does not match its CID.
    #[error(transparent)]
    Car(#[from] car::Error),
    /// A block is not in the store.
    #[error("block {0} is not in the store")]
    NotFound(Cid),
    /// The CID names something that is not a file (a directory, or not UnixFS).
    #[error("{0} is not a UnixFS file")]
    NotAFile(Cid),
    /// A path does not exist inside the DAG.
    #[error("no entry {path:?} under {root}")]
    NoSuchPath {
        /// The DAG root.
        root: Cid,
        /// The missing path.
        path: String,
    },
    /// A directory holds an entry name that could lead a writer out of its folder or write one path twice.
    /// Refused when the directory is decoded, by every reader (get, resolve, the gateway, fetch).
    #[error("directory {dir} has an unsafe entry name {name:?}: it {problem}")]
    UnsafeName {
        /// The directory (or the root of the sharded directory, or the shard node) that lists it.
        dir: Cid,
        /// The name as the directory spells it.
        name: String,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// Invalid input (options, names, structure).
    #[error("{0}")]
    Invalid(String),
    /// A DAG unpacks to more than an export allows (its blocks may be shared at every level: a few KiB of
    /// blocks can name a tree of any size).
    #[error("{root} unpacks to more than {max} {what}")]
    TooLarge {
        /// The DAG.
        root: Cid,
        /// `bytes` or `entries`.
        what: &'static str,
        /// The limit.
        max: u64,
    },
    /// Fetching from a gateway failed.
    #[error(transparent)]
    Fetch(#[from] fetch::Error),
}

impl Error {
    /// An I/O error with the path or action it concerns.
    pub fn io(context: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io { context: context.as_ref().display().to_string(), source }
    }

    /// Unwraps a store error that travelled through `std::io::Read`, or wraps a plain I/O error.
    pub(crate) fn from_read(e: std::io::Error, context: &Path) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(Ok(err)) = e.into_inner().map(|inner| inner.downcast::<Error>()) {
                return *err;
            }
            return Error::Invalid("lost error".into());
        }
        Error::io(context, e)
    }

    /// Whether retrying (another gateway, later) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Fetch(e) => e.is_retryable(),
            Error::Io { .. } => true,
            _ => false,
        }
    }
}
