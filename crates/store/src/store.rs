//! [`Store`]: the importer, exporter, CAR and pins over one blockstore.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::Error;
use crate::blockstore::{self, Blockstore};
use crate::car;
use crate::cid::{Cid, DAG_PB};
use crate::exporter::{self, Decoded, FileReader, Scope};
use crate::importer::{self, Added, Entry, FileBuilder, ImportOptions, NullSink, Sink};
use crate::unixfs::Kind;

/// What [`Store::gc`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GcStats {
    /// Blocks deleted.
    pub blocks: u64,
    /// Bytes freed.
    pub bytes: u64,
}

/// A content-addressed store: import, export, CAR, pins. Clone it freely; clones share the backend.
#[derive(Debug, Clone)]
pub struct Store {
    blocks: Arc<dyn Blockstore>,
    /// Imports hold it shared, gc exclusively, so gc never deletes blocks of an import not yet pinned.
    gc_lock: Arc<RwLock<()>>,
}

impl Error {
    /// Whether the store failed because its disk is full (the write was abandoned; nothing of it is visible).
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::Blockstore(blockstore::Error::Full(_)) => true,
            Error::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}

impl Entry {
    /// An entry named `name` for something already added.
    pub fn from_added(name: impl Into<String>, added: &Added) -> Entry {
        Entry { name: name.into(), cid: added.cid, tsize: added.tsize }
    }
}

impl Store {
    /// Opens (or creates) a persistent store in the directory `dir` (file `dir/blocks.redb`).
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, Error> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let db = blockstore::Redb::open(&dir.join("blocks.redb"))?;
        Ok(Store::with_backend(Arc::new(db)))
    }

    /// A store that keeps everything in memory (tests, scratch work).
    pub fn memory() -> Store {
        Store::with_backend(Arc::new(blockstore::Memory::default()))
    }

    /// A store over any backend.
    pub fn with_backend(blocks: Arc<dyn Blockstore>) -> Store {
        Store { blocks, gc_lock: Arc::new(RwLock::new(())) }
    }

    /// The backend.
    pub fn blockstore(&self) -> &Arc<dyn Blockstore> {
        &self.blocks
    }

    fn import<T>(
        &self,
        opts: &ImportOptions,
        f: impl FnOnce(&mut dyn Sink) -> Result<(T, Cid), Error>,
    ) -> Result<T, Error> {
        opts.check()?;
        let _guard = self.gc_lock.read().map_err(|_| Error::Invalid("store lock poisoned".into()))?;
        let mut writer = self.blocks.writer()?;
        let (out, root) = f(&mut writer)?;
        writer.commit()?;
        if opts.pin {
            self.blocks.pin(&root)?;
        }
        Ok(out)
    }

    /// Imports a byte slice as a UnixFS file.
    pub fn add_bytes(&self, data: &[u8], opts: &ImportOptions) -> Result<Added, Error> {
        self.add_reader(&mut &data[..], opts, &mut |_| {})
    }

    /// Imports everything `r` yields as one UnixFS file; `progress` receives byte counts as they are read.
    pub fn add_reader(
        &self,
        r: &mut dyn Read,
        opts: &ImportOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Added, Error> {
        self.import(opts, |sink| {
            let added = FileBuilder::new(opts).import(r, sink, progress)?;
            Ok((added, added.cid))
        })
    }

    /// Imports a file from disk.
    pub fn add_file(&self, path: impl AsRef<Path>, opts: &ImportOptions) -> Result<Added, Error> {
        self.add_path(path, opts, &mut |_| {})
    }

    /// Imports a directory tree from disk (recursively).
    pub fn add_dir(&self, path: impl AsRef<Path>, opts: &ImportOptions) -> Result<Added, Error> {
        self.add_path(path, opts, &mut |_| {})
    }

    /// Imports a file, directory (recursively) or symlink from disk.
    pub fn add_path(
        &self,
        path: impl AsRef<Path>,
        opts: &ImportOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Added, Error> {
        let path = path.as_ref();
        self.import(opts, |sink| {
            let added = add_path_to(sink, path, opts, progress)?;
            Ok((added, added.cid))
        })
    }

    /// Computes the CID of a path without storing anything (`--only-hash`).
    pub fn hash_path(
        path: impl AsRef<Path>,
        opts: &ImportOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Added, Error> {
        opts.check()?;
        add_path_to(&mut NullSink, path.as_ref(), opts, progress)
    }

    /// Computes the CID of a byte stream without storing anything.
    pub fn hash_reader(
        r: &mut dyn Read,
        opts: &ImportOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Added, Error> {
        opts.check()?;
        FileBuilder::new(opts).import(r, &mut NullSink, progress)
    }

    /// Builds a UnixFS directory from entries that are already in the store (see [`Entry::from_added`]).
    pub fn put_dir(&self, entries: &[Entry], opts: &ImportOptions) -> Result<Added, Error> {
        for e in entries {
            if !self.blocks.has(&e.cid)? {
                return Err(Error::NotFound(e.cid));
            }
        }
        self.import(opts, |sink| {
            let added = dir_to(sink, entries, opts)?;
            Ok((added, added.cid))
        })
    }

    /// The cumulative size of the DAG under `cid` (what a parent link's `Tsize` holds), from its root block.
    pub fn tsize(&self, cid: &Cid) -> Result<u64, Error> {
        let block = exporter::load(self.blocks.as_ref(), cid)?;
        let len = block.len() as u64;
        Ok(match exporter::decode(cid, block)? {
            Decoded::Raw(_) => len,
            Decoded::Pb { node, .. } => len + node.links.iter().filter_map(|l| l.tsize).sum::<u64>(),
        })
    }

    /// Opens the UnixFS file `cid` for reading.
    pub fn cat(&self, cid: &Cid) -> Result<FileReader, Error> {
        FileReader::open(self.blocks.clone(), cid, 0, None)
    }

    /// Opens `len` bytes (or the rest) of the file `cid` from `offset`.
    pub fn cat_range(&self, cid: &Cid, offset: u64, len: Option<u64>) -> Result<FileReader, Error> {
        FileReader::open(self.blocks.clone(), cid, offset, len)
    }

    /// Writes the DAG `cid` to `out` (a file, or a directory tree), however large it unpacks.
    pub fn get(&self, cid: &Cid, out: impl AsRef<Path>) -> Result<(), Error> {
        exporter::get(&self.blocks, cid, out.as_ref(), exporter::ExportLimits::UNLIMITED).map(drop)
    }

    /// Like [`Store::get`], writing at most `limits` (a stranger's DAG: job inputs, results); returns what it
    /// wrote.
    pub fn get_limited(
        &self,
        cid: &Cid,
        out: impl AsRef<Path>,
        limits: exporter::ExportLimits,
    ) -> Result<exporter::Expanded, Error> {
        exporter::get(&self.blocks, cid, out.as_ref(), limits)
    }

    /// What the DAG `cid` unpacks to (see [`exporter::Expanded`]), without writing anything.
    pub fn expanded(&self, cid: &Cid) -> Result<exporter::Expanded, Error> {
        exporter::expanded(self.blocks.as_ref(), cid)
    }

    /// Follows a `/`-separated path of directory entries from `root`.
    pub fn resolve(&self, root: &Cid, path: &str) -> Result<Cid, Error> {
        Ok(self.resolve_with_blocks(root, path)?.0)
    }

    /// Like [`Store::resolve`], also returning the CIDs of the nodes passed through (for CAR responses).
    pub fn resolve_with_blocks(&self, root: &Cid, path: &str) -> Result<(Cid, Vec<Cid>), Error> {
        let mut at = *root;
        let mut passed = Vec::new();
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            let missing = || Error::NoSuchPath { root: *root, path: path.to_owned() };
            if at.codec() != DAG_PB {
                return Err(missing());
            }
            let block = exporter::load(self.blocks.as_ref(), &at)?;
            let Decoded::Pb { node, unixfs } = exporter::decode(&at, block)? else { return Err(missing()) };
            passed.push(at);
            let next = match unixfs.map(|d| d.kind) {
                Some(Kind::Directory) => {
                    node.links.iter().find(|l| l.name.as_deref() == Some(seg)).map(|l| l.cid)
                }
                Some(Kind::HamtShard) => crate::hamt::entries(self.blocks.as_ref(), &at, &node)?
                    .into_iter()
                    .find(|(n, _)| n == seg)
                    .map(|(_, c)| c),
                _ => None,
            };
            at = next.ok_or_else(missing)?;
        }
        Ok((at, passed))
    }

    /// Whether the block `cid` is present.
    pub fn has(&self, cid: &Cid) -> Result<bool, Error> {
        Ok(self.blocks.has(cid)?)
    }

    /// The block `cid`.
    pub fn block(&self, cid: &Cid) -> Result<Vec<u8>, Error> {
        exporter::load(self.blocks.as_ref(), cid)
    }

    /// Stores blocks after checking each against its CID; nothing is stored if any block is bad.
    pub fn put_blocks(&self, blocks: &[(Cid, Vec<u8>)]) -> Result<(), Error> {
        for (cid, data) in blocks {
            if !cid.verify(data) {
                return Err(Error::Car(car::Error::HashMismatch(*cid)));
            }
        }
        let _guard = self.gc_lock.read().map_err(|_| Error::Invalid("store lock poisoned".into()))?;
        let mut w = self.blocks.writer()?;
        for (cid, data) in blocks {
            w.put(cid, data)?;
        }
        w.commit()?;
        Ok(())
    }

    /// Writes the DAG under `root` as a CARv1 (depth-first, each block once).
    pub fn export_car(&self, root: &Cid, out: impl Write) -> Result<(), Error> {
        self.export_car_scoped(root, &[], Scope::All, None, out)
    }

    /// Writes a CARv1 of `root` for the gateway: the blocks of `path_blocks` (a resolved path), then the DAG
    /// restricted to `scope` and the byte range `range`.
    pub fn export_car_scoped(
        &self,
        root: &Cid,
        path_blocks: &[Cid],
        scope: Scope,
        range: Option<(u64, Option<u64>)>,
        out: impl Write,
    ) -> Result<(), Error> {
        let header_root = path_blocks.first().copied().unwrap_or(*root);
        let io = |e| Error::io("writing CAR", e);
        let mut w = car::Writer::new(out, &[header_root]).map_err(io)?;
        for cid in path_blocks {
            let block = exporter::load(self.blocks.as_ref(), cid)?;
            w.write_block(cid, &block).map_err(io)?;
        }
        exporter::walk(self.blocks.as_ref(), root, scope, range, &mut |cid, data| {
            w.write_block(cid, data).map_err(io)
        })?;
        w.finish().map_err(io)?;
        Ok(())
    }

    /// The CIDs of every block of the DAG under `root`, in CAR order (each once). Fails if a block is missing.
    pub fn block_cids(&self, root: &Cid) -> Result<Vec<Cid>, Error> {
        let mut seen = std::collections::HashSet::new();
        let mut cids = Vec::new();
        exporter::walk(self.blocks.as_ref(), root, Scope::All, None, &mut |cid, _| {
            if seen.insert(*cid) {
                cids.push(*cid);
            }
            Ok(())
        })?;
        Ok(cids)
    }

    /// Imports a CAR (v1, or v2's payload): every block is checked against its CID and nothing is stored if
    /// any block is bad or the stream is truncated. Roots present afterwards are pinned. Returns the roots.
    pub fn import_car(&self, r: impl Read) -> Result<Vec<Cid>, Error> {
        let mut reader = car::Reader::new(r)?;
        let roots = reader.roots().to_vec();
        let _guard = self.gc_lock.read().map_err(|_| Error::Invalid("store lock poisoned".into()))?;
        let mut w = self.blocks.writer()?;
        while let Some((cid, data)) = reader.next_block()? {
            w.put(&cid, &data)?;
        }
        w.commit()?;
        for root in &roots {
            if self.blocks.has(root)? {
                self.blocks.pin(root)?;
            }
        }
        Ok(roots)
    }

    /// Pins `cid` after checking the whole DAG under it is present.
    pub fn pin(&self, cid: &Cid) -> Result<(), Error> {
        exporter::walk(self.blocks.as_ref(), cid, Scope::All, None, &mut |_, _| Ok(()))?;
        Ok(self.blocks.pin(cid)?)
    }

    /// Removes a pin; returns whether it existed.
    pub fn unpin(&self, cid: &Cid) -> Result<bool, Error> {
        Ok(self.blocks.unpin(cid)?)
    }

    /// The pinned roots.
    pub fn pins(&self) -> Result<Vec<Cid>, Error> {
        Ok(self.blocks.pins()?)
    }

    /// Deletes every block not reachable from a pin.
    pub fn gc(&self) -> Result<GcStats, Error> {
        let _guard = self.gc_lock.write().map_err(|_| Error::Invalid("store lock poisoned".into()))?;
        let mut keep = HashSet::new();
        for pin in self.blocks.pins()? {
            let mut stack = vec![pin];
            while let Some(cid) = stack.pop() {
                if !keep.insert(blockstore::block_key(&cid)) || cid.codec() != DAG_PB {
                    continue;
                }
                // A pinned DAG with missing blocks keeps what it has.
                let Some(block) = self.blocks.get(&cid)? else { continue };
                // Only the links matter here, not whether the tree is fit to export: a pinned DAG with a
                // malformed or hostile node (a stranger's CAR) must not stop gc for everyone else.
                if let Ok(node) = crate::dagpb::Node::decode(&block) {
                    stack.extend(node.links.iter().map(|l| l.cid));
                }
            }
        }
        let (blocks, bytes) = self.blocks.retain(&keep)?;
        Ok(GcStats { blocks, bytes })
    }

    /// Number of blocks and bytes held.
    pub fn stats(&self) -> Result<(u64, u64), Error> {
        Ok(self.blocks.stats()?)
    }
}

fn add_path_to(
    sink: &mut dyn Sink,
    path: &Path,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Added, Error> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(|e| Error::io(path, e))?;
        let (cid, block) = importer::symlink_block(target.as_os_str().as_encoded_bytes(), opts);
        sink.put(&cid, &block)?;
        return Ok(Added { cid, tsize: block.len() as u64, size: 0 });
    }
    if meta.is_dir() {
        let mut entries = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| Error::io(path, e))?;
        names.sort();
        for name in names {
            let name = name
                .into_string()
                .map_err(|n| Error::Invalid(format!("{}: name {n:?} is not UTF-8", path.display())))?;
            if name.starts_with('.') && !opts.hidden {
                continue;
            }
            let child = add_path_to(sink, &path.join(&name), opts, progress)?;
            entries.push(Entry { name, cid: child.cid, tsize: child.tsize });
        }
        return dir_to(sink, &entries, opts);
    }
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    FileBuilder::new(opts).import(&mut file, sink, progress).map_err(|e| match e {
        Error::Io { source, .. } => Error::io(path, source),
        other => other,
    })
}

fn dir_to(sink: &mut dyn Sink, entries: &[Entry], opts: &ImportOptions) -> Result<Added, Error> {
    importer::directory(sink, entries, opts)
}
