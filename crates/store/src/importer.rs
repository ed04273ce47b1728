//! The UnixFS importer: bytes → chunks → leaves → a balanced DAG, exactly as kubo and `ipfs-unixfs-importer`
//! build it, so the root CID is the same everywhere.
//!
//! Streaming: a file is read into a fixed pool of 32 chunk buffers that one hashing thread per core works
//! through, and the tree keeps one pending link list per level (≤ `max_links` links each), so memory is flat
//! in the file size. Blocks go to a sink: the store's write transaction, or nothing for `--only-hash`.

use std::io::Read;
use std::sync::{Mutex, mpsc};

use crate::Error;
use crate::cid::{Cid, DAG_PB, RAW, Version};
use crate::dagpb::{Link, Node};
use crate::unixfs::{Data, Kind};

/// kubo's default chunk size (`size-262144`).
pub const KUBO_CHUNK: usize = 256 * 1024;
/// kubo's default links per node in the balanced layout.
pub const KUBO_LINKS: usize = 174;
/// kubo's (and Helia's) HAMT threshold: a directory whose estimated block size exceeds this is sharded.
pub const HAMT_THRESHOLD: usize = 256 * 1024;

/// How to import: chunking, layout width, CID version, leaves. `Default` is kubo `ipfs add --cid-version=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// CID version of dag-pb nodes (v0 also implies dag-pb leaves, as kubo does).
    pub cid_version: Version,
    /// Fixed chunk size in bytes.
    pub chunk_size: usize,
    /// Maximum links per node of the balanced layout.
    pub max_links: usize,
    /// Leaves are raw blocks (true) or UnixFS dag-pb `File` nodes (false).
    pub raw_leaves: bool,
    /// Pin the root after importing (kubo's `--pin`, default true).
    pub pin: bool,
    /// Include files whose name starts with `.` when importing a directory (kubo's `--hidden`).
    pub hidden: bool,
    /// A directory larger than this many bytes becomes a HAMT-sharded directory.
    pub shard_threshold: usize,
    /// Measure a directory by its exact block size (`unixfs-v1-2025`) instead of kubo's estimate (the sum
    /// of link name and CID lengths).
    pub shard_by_block_size: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            cid_version: Version::V1,
            chunk_size: KUBO_CHUNK,
            max_links: KUBO_LINKS,
            raw_leaves: true,
            pin: true,
            hidden: false,
            shard_threshold: HAMT_THRESHOLD,
            shard_by_block_size: false,
        }
    }
}

/// Named import profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// kubo `ipfs add --cid-version=1`: CIDv1, raw leaves, 256 KiB chunks, 174 links.
    KuboV1,
    /// IPIP-499 `unixfs-v1-2025`: CIDv1, raw leaves, 1 MiB chunks, 1024 links.
    UnixfsV1_2025,
    /// kubo `ipfs add` (legacy): CIDv0, dag-pb leaves, 256 KiB chunks, 174 links.
    KuboV0,
}

impl std::str::FromStr for Profile {
    type Err = Error;

    fn from_str(s: &str) -> Result<Profile, Error> {
        match s {
            "kubo-v1" | "default" => Ok(Profile::KuboV1),
            "unixfs-v1-2025" => Ok(Profile::UnixfsV1_2025),
            "kubo-v0" | "unixfs-v0-2015" => Ok(Profile::KuboV0),
            other => Err(Error::Invalid(format!(
                "unknown profile {other:?} (expected unixfs-v1-2025, kubo-v1 or kubo-v0)"
            ))),
        }
    }
}

impl ImportOptions {
    /// The options of a profile.
    pub fn profile(p: Profile) -> ImportOptions {
        match p {
            Profile::KuboV1 => ImportOptions::default(),
            Profile::UnixfsV1_2025 => ImportOptions {
                chunk_size: 1024 * 1024,
                max_links: 1024,
                shard_by_block_size: true,
                ..ImportOptions::default()
            },
            Profile::KuboV0 => ImportOptions::default().with_cid_version(Version::V0),
        }
    }

    /// Sets the CID version; v0 switches to dag-pb leaves (as kubo's `--cid-version=0` does).
    pub fn with_cid_version(mut self, v: Version) -> ImportOptions {
        self.cid_version = v;
        self.raw_leaves = v == Version::V1;
        self
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.chunk_size == 0 || self.chunk_size > 4 * 1024 * 1024 {
            return Err(Error::Invalid(format!("chunk size {} is not in 1..=4 MiB", self.chunk_size)));
        }
        if self.max_links < 2 {
            return Err(Error::Invalid("max links must be at least 2".into()));
        }
        Ok(())
    }
}

/// Where the importer puts blocks.
pub(crate) trait Sink {
    fn put(&mut self, cid: &Cid, data: &[u8]) -> Result<(), Error>;
}

/// Keeps nothing (`--only-hash`).
pub(crate) struct NullSink;

impl Sink for NullSink {
    fn put(&mut self, _: &Cid, _: &[u8]) -> Result<(), Error> {
        Ok(())
    }
}

impl Sink for Box<dyn crate::blockstore::Writer + '_> {
    fn put(&mut self, cid: &Cid, data: &[u8]) -> Result<(), Error> {
        Ok(crate::blockstore::Writer::put(self.as_mut(), cid, data)?)
    }
}

/// A link under construction: the child, its cumulative block size and its file size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Child {
    pub(crate) cid: Cid,
    pub(crate) tsize: u64,
    pub(crate) filesize: u64,
}

/// What an import produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// Root CID.
    pub cid: Cid,
    /// Cumulative size of the DAG's blocks (the `Tsize` a parent link would carry).
    pub tsize: u64,
    /// Bytes of file content (0 for directories).
    pub size: u64,
}

/// Chunks being read, hashed or waiting for their turn at once (8 MiB with 256 KiB chunks).
const IN_FLIGHT: usize = 32;

/// A hashed chunk on its way back from a hashing thread.
struct Hashed {
    seq: u64,
    buf: Vec<u8>,
    child: Child,
    block: Option<Vec<u8>>,
}

/// Builds one file's balanced DAG from a reader.
pub(crate) struct FileBuilder<'o> {
    opts: &'o ImportOptions,
    levels: Vec<Vec<Child>>,
}

impl<'o> FileBuilder<'o> {
    pub(crate) fn new(opts: &'o ImportOptions) -> Self {
        FileBuilder { opts, levels: vec![Vec::new()] }
    }

    /// Reads `r` to the end, writing every block to `sink`; `progress` gets the bytes of each chunk.
    ///
    /// A pipeline without barriers: this thread reads chunks into a fixed pool of `IN_FLIGHT` buffers and
    /// hands them to one hashing thread per core through a queue; finished leaves come back out of order and
    /// are put into the tree in order. A hashing thread that the OS schedules late holds up nothing but its
    /// own chunk, and memory is bounded by the pool.
    pub(crate) fn import(
        mut self,
        r: &mut dyn Read,
        sink: &mut dyn Sink,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Added, Error> {
        let chunk = self.opts.chunk_size;
        let opts = self.opts;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
        let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Vec<u8>)>(IN_FLIGHT);
        let work_rx = Mutex::new(work_rx);
        let (done_tx, done_rx) = mpsc::channel::<Hashed>();
        std::thread::scope(|s| {
            for _ in 0..threads {
                let done_tx = done_tx.clone();
                let work_rx = &work_rx;
                s.spawn(move || {
                    loop {
                        // The lock is held only to take one job; a poisoned lock means another hasher
                        // panicked, which the scope re-raises.
                        let job = match work_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((seq, buf)) = job else { return };
                        let (child, block) = leaf(&buf, opts);
                        if done_tx.send(Hashed { seq, buf, child, block }).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(done_tx);
            let result = (|| -> Result<(), Error> {
                let mut free: Vec<Vec<u8>> = (0..IN_FLIGHT).map(|_| Vec::with_capacity(chunk)).collect();
                let mut ready: std::collections::BTreeMap<u64, Hashed> = Default::default();
                let (mut next_in, mut next_out, mut eof) = (0u64, 0u64, false);
                loop {
                    // Put finished leaves into the tree in file order.
                    while let Some(h) = ready.remove(&next_out) {
                        match &h.block {
                            Some(encoded) => sink.put(&h.child.cid, encoded)?,
                            None => sink.put(&h.child.cid, &h.buf)?,
                        }
                        progress(h.buf.len() as u64);
                        self.push(0, h.child, sink)?;
                        free.push(h.buf);
                        next_out += 1;
                    }
                    if eof && next_out == next_in {
                        return Ok(());
                    }
                    if !eof && let Some(mut buf) = free.pop() {
                        fill(r, &mut buf, chunk)?;
                        // Every chunk is `chunk` bytes but the last; an empty input is one empty chunk.
                        if buf.is_empty() && next_in > 0 {
                            eof = true;
                            free.push(buf);
                            continue;
                        }
                        eof = buf.len() < chunk;
                        work_tx
                            .send((next_in, buf))
                            .map_err(|_| Error::Invalid("hashing threads stopped".into()))?;
                        next_in += 1;
                        continue;
                    }
                    let h = done_rx.recv().map_err(|_| Error::Invalid("hashing threads stopped".into()))?;
                    ready.insert(h.seq, h);
                }
            })();
            // Closing the queue stops the hashing threads.
            drop(work_tx);
            result
        })?;
        self.finish(sink)
    }

    fn push(&mut self, level: usize, child: Child, sink: &mut dyn Sink) -> Result<(), Error> {
        if self.levels.len() <= level {
            self.levels.push(Vec::new());
        }
        self.levels[level].push(child);
        if self.levels[level].len() == self.opts.max_links {
            let full = std::mem::take(&mut self.levels[level]);
            let parent = self.parent(&full, sink)?;
            self.push(level + 1, parent, sink)?;
        }
        Ok(())
    }

    fn parent(&self, children: &[Child], sink: &mut dyn Sink) -> Result<Child, Error> {
        let filesize: u64 = children.iter().map(|c| c.filesize).sum();
        let data = Data {
            filesize: Some(filesize),
            blocksizes: children.iter().map(|c| c.filesize).collect(),
            ..Data::new(Kind::File)
        };
        let links = children
            .iter()
            .map(|c| Link { cid: c.cid, name: Some(String::new()), tsize: Some(c.tsize) })
            .collect();
        let block = Node { links, data: Some(data.encode()) }.encode();
        let cid = Cid::hash_block(self.opts.cid_version, DAG_PB, &block);
        sink.put(&cid, &block)?;
        let tsize = block.len() as u64 + children.iter().map(|c| c.tsize).sum::<u64>();
        Ok(Child { cid, tsize, filesize })
    }

    /// Closes the partial groups bottom-up; the one node left on top is the root.
    fn finish(mut self, sink: &mut dyn Sink) -> Result<Added, Error> {
        let mut level = 0;
        loop {
            let higher_empty = self.levels.iter().skip(level + 1).all(Vec::is_empty);
            let items = std::mem::take(&mut self.levels[level]);
            if higher_empty && items.len() == 1 {
                let root = items[0];
                return Ok(Added { cid: root.cid, tsize: root.tsize, size: root.filesize });
            }
            if !items.is_empty() {
                let parent = self.parent(&items, sink)?;
                if self.levels.len() <= level + 1 {
                    self.levels.push(Vec::new());
                }
                self.levels[level + 1].push(parent);
            }
            level += 1;
            if level >= self.levels.len() {
                // Unreachable: the first chunk always yields a leaf, so some level holds a node.
                return Err(Error::Invalid("importer produced no root".into()));
            }
        }
    }
}

/// Reads until `buf` holds `want` bytes or the reader ends.
fn fill(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> Result<(), Error> {
    buf.resize(want, 0);
    let mut got = 0;
    while got < want {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io { context: "reading input".into(), source: e }),
        }
    }
    buf.truncate(got);
    Ok(())
}

/// Hashes (and for dag-pb leaves, encodes) one chunk.
fn leaf(chunk: &[u8], opts: &ImportOptions) -> (Child, Option<Vec<u8>>) {
    let len = chunk.len() as u64;
    if opts.raw_leaves {
        let cid = Cid::hash_block(Version::V1, RAW, chunk);
        (Child { cid, tsize: len, filesize: len }, None)
    } else {
        let data = Data {
            data: if chunk.is_empty() { None } else { Some(chunk.to_vec()) },
            filesize: Some(len),
            ..Data::new(Kind::File)
        };
        let block = Node { links: Vec::new(), data: Some(data.encode()) }.encode();
        let cid = Cid::hash_block(opts.cid_version, DAG_PB, &block);
        (Child { cid, tsize: block.len() as u64, filesize: len }, Some(block))
    }
}

/// One entry of a directory being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Entry name: UTF-8, not empty, no `/`, not `.` or `..`.
    pub name: String,
    /// The entry's root.
    pub cid: Cid,
    /// Cumulative size of the entry's DAG (see [`Added::tsize`]).
    pub tsize: u64,
}

/// Checks a directory entry name: the importer never produces a directory the exporter would refuse.
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    match crate::exporter::name_problem(name) {
        Some(problem) => Err(Error::Invalid(format!("invalid directory entry name {name:?}: it {problem}"))),
        None => Ok(()),
    }
}

/// Builds a UnixFS directory from entries, sharded (HAMT) above the threshold as kubo and Helia do.
pub(crate) fn directory(
    sink: &mut dyn Sink,
    entries: &[Entry],
    opts: &ImportOptions,
) -> Result<Added, Error> {
    let (cid, block, tsize) = directory_block(entries, opts)?;
    let size = if opts.shard_by_block_size {
        block.len()
    } else {
        entries.iter().map(|e| e.name.len() + e.cid.encoded_len()).sum()
    };
    if size > opts.shard_threshold {
        let (cid, tsize) = crate::hamt::build(sink, entries, opts)?;
        return Ok(Added { cid, tsize, size: 0 });
    }
    sink.put(&cid, &block)?;
    Ok(Added { cid, tsize, size: 0 })
}

/// Builds a flat UnixFS directory node from entries; returns the node's block.
fn directory_block(entries: &[Entry], opts: &ImportOptions) -> Result<(Cid, Vec<u8>, u64), Error> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    // dag-pb orders links by the bytes of their names.
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    for w in sorted.windows(2) {
        if w[0].name == w[1].name {
            return Err(Error::Invalid(format!("duplicate directory entry {:?}", w[0].name)));
        }
    }
    for e in &sorted {
        check_name(&e.name)?;
    }
    let links = sorted
        .iter()
        .map(|e| Link { cid: e.cid, name: Some(e.name.clone()), tsize: Some(e.tsize) })
        .collect();
    let block = Node { links, data: Some(Data::new(Kind::Directory).encode()) }.encode();
    let cid = Cid::hash_block(opts.cid_version, DAG_PB, &block);
    let tsize = block.len() as u64 + entries.iter().map(|e| e.tsize).sum::<u64>();
    Ok((cid, block, tsize))
}

/// The UnixFS symlink node for `target`.
pub(crate) fn symlink_block(target: &[u8], opts: &ImportOptions) -> (Cid, Vec<u8>) {
    let data = Data { data: Some(target.to_vec()), ..Data::new(Kind::Symlink) };
    let block = Node { links: Vec::new(), data: Some(data.encode()) }.encode();
    (Cid::hash_block(opts.cid_version, DAG_PB, &block), block)
}
