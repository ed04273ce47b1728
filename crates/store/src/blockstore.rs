//! Where blocks live: a persistent [`Redb`] backend and an in-memory [`Memory`] backend behind one trait.
//!
//! Blocks are keyed by multihash, as kubo keys them, so a CIDv0 and a CIDv1 of the same bytes share one
//! block. Writes go through a [`Writer`], one transaction per import: redb commits it atomically, so a crash
//! leaves either all of an import's blocks or none of them (and never a half-written block). Pins are kept
//! in a second table; [`crate::Store::gc`] deletes every block not reachable from a pin.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};

use redb::{ReadableTable, TableDefinition};

use crate::cid::Cid;

/// Blocks by multihash.
const BLOCKS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("blocks");
/// Pinned roots by CID bytes (value unused).
const PINS: TableDefinition<'_, &[u8], u8> = TableDefinition::new("pins");

/// Errors of a blockstore backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed (I/O, corruption detected by redb, ...).
    #[error("blockstore database: {0}")]
    Db(String),
    /// The disk holding the blockstore is full: the write was abandoned and nothing of it is visible.
    #[error("the disk holding the blockstore is full ({0}); free space or run gc, then retry")]
    Full(String),
    /// A pin key could not be read back as a CID (the database was written by something else).
    #[error("blockstore holds an invalid pin key: {0}")]
    PinKey(#[from] crate::cid::Error),
}

impl From<redb::StorageError> for Error {
    fn from(e: redb::StorageError) -> Self {
        match &e {
            // ENOSPC (and EDQUOT, which Rust also maps to `StorageFull`): say so, so the caller can tell the
            // operator and fail the task instead of reporting a corrupt database.
            redb::StorageError::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
                Error::Full(e.to_string())
            }
            _ => Error::Db(e.to_string()),
        }
    }
}

macro_rules! db_err {
    ($($t:ident),*) => {$(
        impl From<redb::$t> for Error {
            fn from(e: redb::$t) -> Self {
                match e {
                    redb::$t::Storage(s) => s.into(),
                    other => Error::Db(other.to_string()),
                }
            }
        }
    )*};
}
db_err!(DatabaseError, TransactionError, TableError, CommitError);

/// The key of a block: its multihash.
fn key(cid: &Cid) -> Vec<u8> {
    let mut v1 = cid.to_v1().to_bytes();
    // Strip `0x01 codec` from the v1 bytes: what remains is the multihash.
    let prefix = 1 + crate::cid::varint::len(cid.codec());
    v1.drain(..prefix);
    v1
}

/// A backend that stores blocks and pins.
pub trait Blockstore: Send + Sync + std::fmt::Debug {
    /// The block named `cid`, if present.
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, Error>;
    /// Whether the block is present.
    fn has(&self, cid: &Cid) -> Result<bool, Error>;
    /// Starts a batch of writes that becomes visible (and durable) on [`Writer::commit`].
    fn writer(&self) -> Result<Box<dyn Writer + '_>, Error>;
    /// Pins `cid` (recursively: gc keeps everything reachable from it).
    fn pin(&self, cid: &Cid) -> Result<(), Error>;
    /// Removes a pin; returns whether it existed.
    fn unpin(&self, cid: &Cid) -> Result<bool, Error>;
    /// All pinned roots.
    fn pins(&self) -> Result<Vec<Cid>, Error>;
    /// Deletes every block whose multihash is not in `keep`; returns (blocks, bytes) removed.
    fn retain(&self, keep: &HashSet<Vec<u8>>) -> Result<(u64, u64), Error>;
    /// Number of blocks and their total size.
    fn stats(&self) -> Result<(u64, u64), Error>;
}

/// A batch of block writes.
pub trait Writer {
    /// Adds a block (idempotent: an existing block is left as it is).
    fn put(&mut self, cid: &Cid, data: &[u8]) -> Result<(), Error>;
    /// Makes the batch visible and durable.
    fn commit(self: Box<Self>) -> Result<(), Error>;
}

/// The multihash key of a block, for [`Blockstore::retain`].
pub fn block_key(cid: &Cid) -> Vec<u8> {
    key(cid)
}

/// Persistent backend: one redb file.
#[derive(Debug)]
pub struct Redb {
    db: redb::Database,
}

impl Redb {
    /// Opens or creates the database at `path` (a file).
    pub fn open(path: &Path) -> Result<Redb, Error> {
        // redb's default cache is 1 GiB, which would make memory grow with the data imported.
        let db = redb::Builder::new().set_cache_size(CACHE_BYTES).create(path)?;
        Redb::init(db)
    }

    /// Opens a store over any redb storage backend (tests use one that runs out of space).
    pub fn with_backend(backend: impl redb::StorageBackend) -> Result<Redb, Error> {
        let db = redb::Builder::new().set_cache_size(CACHE_BYTES).create_with_backend(backend)?;
        Redb::init(db)
    }

    fn init(db: redb::Database) -> Result<Redb, Error> {
        let tx = db.begin_write()?;
        tx.open_table(BLOCKS)?;
        tx.open_table(PINS)?;
        tx.commit()?;
        Ok(Redb { db })
    }
}

/// redb page cache.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Bytes written before an intermediate commit: redb keeps a transaction's dirty pages in memory, so long
/// imports commit every so often (without fsync) to keep memory flat in the file size.
const SPILL_BYTES: usize = 64 * 1024 * 1024;

struct RedbWriter<'d> {
    db: &'d redb::Database,
    tx: Option<redb::WriteTransaction>,
    pending: usize,
}

impl RedbWriter<'_> {
    fn tx(&mut self) -> Result<&mut redb::WriteTransaction, Error> {
        if self.tx.is_none() {
            self.tx = Some(self.db.begin_write()?);
        }
        self.tx.as_mut().ok_or_else(|| Error::Db("no write transaction".into()))
    }
}

impl Writer for RedbWriter<'_> {
    fn put(&mut self, cid: &Cid, data: &[u8]) -> Result<(), Error> {
        let k = key(cid);
        {
            let tx = self.tx()?;
            let mut t = tx.open_table(BLOCKS)?;
            if t.get(k.as_slice())?.is_some() {
                return Ok(());
            }
            t.insert(k.as_slice(), data)?;
        }
        self.pending += data.len();
        if self.pending >= SPILL_BYTES {
            // Blocks committed here without fsync are either made durable by the final commit or, after a
            // crash, lost or left unpinned (gc removes them): a root is pinned only after the final commit.
            if let Some(mut tx) = self.tx.take() {
                tx.set_durability(redb::Durability::None);
                tx.commit()?;
            }
            self.pending = 0;
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), Error> {
        let tx = match self.tx.take() {
            Some(tx) => tx,
            None => self.db.begin_write()?,
        };
        tx.commit()?;
        Ok(())
    }
}

impl Blockstore for Redb {
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, Error> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(BLOCKS)?;
        Ok(t.get(key(cid).as_slice())?.map(|v| v.value().to_vec()))
    }

    fn has(&self, cid: &Cid) -> Result<bool, Error> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(BLOCKS)?;
        Ok(t.get(key(cid).as_slice())?.is_some())
    }

    fn writer(&self) -> Result<Box<dyn Writer + '_>, Error> {
        Ok(Box::new(RedbWriter { db: &self.db, tx: None, pending: 0 }))
    }

    fn pin(&self, cid: &Cid) -> Result<(), Error> {
        let tx = self.db.begin_write()?;
        tx.open_table(PINS)?.insert(cid.to_v1().to_bytes().as_slice(), 1)?;
        tx.commit()?;
        Ok(())
    }

    fn unpin(&self, cid: &Cid) -> Result<bool, Error> {
        let tx = self.db.begin_write()?;
        let existed = tx.open_table(PINS)?.remove(cid.to_v1().to_bytes().as_slice())?.is_some();
        tx.commit()?;
        Ok(existed)
    }

    fn pins(&self) -> Result<Vec<Cid>, Error> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(PINS)?;
        let mut out = Vec::new();
        for entry in t.iter()? {
            let (k, _) = entry?;
            out.push(Cid::from_bytes(k.value())?);
        }
        Ok(out)
    }

    fn retain(&self, keep: &HashSet<Vec<u8>>) -> Result<(u64, u64), Error> {
        let tx = self.db.begin_write()?;
        let (mut n, mut bytes) = (0u64, 0u64);
        {
            let mut t = tx.open_table(BLOCKS)?;
            let mut doomed = Vec::new();
            for entry in t.iter()? {
                let (k, v) = entry?;
                if !keep.contains(k.value()) {
                    doomed.push(k.value().to_vec());
                    n += 1;
                    bytes += v.value().len() as u64;
                }
            }
            for k in doomed {
                t.remove(k.as_slice())?;
            }
        }
        tx.commit()?;
        Ok((n, bytes))
    }

    fn stats(&self) -> Result<(u64, u64), Error> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(BLOCKS)?;
        let (mut n, mut bytes) = (0u64, 0u64);
        for entry in t.iter()? {
            let (_, v) = entry?;
            n += 1;
            bytes += v.value().len() as u64;
        }
        Ok((n, bytes))
    }
}

/// In-memory backend for tests and `--only-hash`-like uses that still need to read back.
#[derive(Debug, Default, Clone)]
pub struct Memory {
    blocks: Arc<RwLock<BlockMap>>,
    pins: Arc<RwLock<HashSet<Cid>>>,
}

struct MemoryWriter<'a> {
    store: &'a Memory,
    pending: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Writer for MemoryWriter<'_> {
    fn put(&mut self, cid: &Cid, data: &[u8]) -> Result<(), Error> {
        self.pending.push((key(cid), data.to_vec()));
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), Error> {
        let mut map =
            self.store.blocks.write().map_err(|_| Error::Db("memory store lock poisoned".into()))?;
        for (k, v) in self.pending {
            map.entry(k).or_insert(v);
        }
        Ok(())
    }
}

type BlockMap = HashMap<Vec<u8>, Vec<u8>>;

impl Memory {
    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, BlockMap>, Error> {
        self.blocks.read().map_err(|_| Error::Db("memory store lock poisoned".into()))
    }
}

impl Blockstore for Memory {
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.read()?.get(&key(cid)).cloned())
    }

    fn has(&self, cid: &Cid) -> Result<bool, Error> {
        Ok(self.read()?.contains_key(&key(cid)))
    }

    fn writer(&self) -> Result<Box<dyn Writer + '_>, Error> {
        Ok(Box::new(MemoryWriter { store: self, pending: Vec::new() }))
    }

    fn pin(&self, cid: &Cid) -> Result<(), Error> {
        self.pins.write().map_err(|_| Error::Db("lock poisoned".into()))?.insert(cid.to_v1());
        Ok(())
    }

    fn unpin(&self, cid: &Cid) -> Result<bool, Error> {
        Ok(self.pins.write().map_err(|_| Error::Db("lock poisoned".into()))?.remove(&cid.to_v1()))
    }

    fn pins(&self) -> Result<Vec<Cid>, Error> {
        Ok(self.pins.read().map_err(|_| Error::Db("lock poisoned".into()))?.iter().copied().collect())
    }

    fn retain(&self, keep: &HashSet<Vec<u8>>) -> Result<(u64, u64), Error> {
        let mut map = self.blocks.write().map_err(|_| Error::Db("lock poisoned".into()))?;
        let (mut n, mut bytes) = (0u64, 0u64);
        map.retain(|k, v| {
            let kept = keep.contains(k);
            if !kept {
                n += 1;
                bytes += v.len() as u64;
            }
            kept
        });
        Ok((n, bytes))
    }

    fn stats(&self) -> Result<(u64, u64), Error> {
        let map = self.read()?;
        Ok((map.len() as u64, map.values().map(|v| v.len() as u64).sum()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io;

    use redb::backends::InMemoryBackend;

    use super::*;
    use crate::{ImportOptions, Store};

    /// A disk of `cap` bytes: writes past it fail with ENOSPC.
    #[derive(Debug)]
    struct SmallDisk {
        inner: InMemoryBackend,
        cap: u64,
    }

    impl redb::StorageBackend for SmallDisk {
        fn len(&self) -> io::Result<u64> {
            self.inner.len()
        }
        fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
            self.inner.read(offset, len)
        }
        fn set_len(&self, len: u64) -> io::Result<()> {
            if len > self.cap {
                return Err(io::ErrorKind::StorageFull.into());
            }
            self.inner.set_len(len)
        }
        fn sync_data(&self, eventual: bool) -> io::Result<()> {
            self.inner.sync_data(eventual)
        }
        fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
            if offset + data.len() as u64 > self.cap {
                return Err(io::ErrorKind::StorageFull.into());
            }
            self.inner.write(offset, data)
        }
    }

    #[test]
    fn a_full_disk_is_reported_as_such_and_stores_nothing() {
        let disk = SmallDisk { inner: InMemoryBackend::new(), cap: 8 << 20 };
        let store = Store::with_backend(Arc::new(Redb::with_backend(disk).unwrap()));
        let small = store.add_bytes(b"fits", &ImportOptions::default()).unwrap();
        // 32 MiB of distinct blocks cannot fit in 8 MiB.
        let big: Vec<u8> = (0..32u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let err = store.add_bytes(&big, &ImportOptions::default()).unwrap_err();
        assert!(err.is_disk_full(), "not reported as a full disk: {err}");
        assert!(err.to_string().contains("disk holding the blockstore is full"), "{err}");
        // redb refuses every later operation until the database is reopened (its documented behaviour after an
        // I/O error): the store answers errors, it does not panic or pretend.
        assert!(store.pins().is_err());
        assert!(store.add_bytes(b"after", &ImportOptions::default()).is_err());
        let _ = small;
    }
}
