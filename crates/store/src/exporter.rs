//! The UnixFS exporter: walks a DAG back into bytes ([`FileReader`]), directory trees (`Store::get`) and block
//! sequences in depth-first order (used by CAR export and the gateway).
//!
//! Everything is lazy: a file reader holds one block and one link list per tree level, never the file.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use cap_fs_ext::DirExt;
use cap_std::fs::Dir;

use crate::Error;
use crate::blockstore::Blockstore;
use crate::cid::{Cid, DAG_PB, RAW};
use crate::dagpb::Node;
use crate::unixfs::{Data, Kind};

/// A decoded block: raw bytes, or a dag-pb node with its UnixFS data (if it has any).
#[derive(Debug)]
pub(crate) enum Decoded {
    Raw(Vec<u8>),
    Pb { node: Node, unixfs: Option<Data> },
}

pub(crate) fn load(store: &dyn Blockstore, cid: &Cid) -> Result<Vec<u8>, Error> {
    if cid.hash_code() == crate::cid::IDENTITY {
        return Ok(cid.digest().to_vec());
    }
    store.get(cid)?.ok_or(Error::NotFound(*cid))
}

pub(crate) fn decode(cid: &Cid, block: Vec<u8>) -> Result<Decoded, Error> {
    match cid.codec() {
        RAW => Ok(Decoded::Raw(block)),
        DAG_PB => {
            let node = Node::decode(&block).map_err(|e| Error::Block { cid: *cid, source: e })?;
            let unixfs = match &node.data {
                Some(d) => Some(Data::decode(d).map_err(|e| Error::Block { cid: *cid, source: e })?),
                None => None,
            };
            // Checked here, where every consumer (get, resolve, the gateway's path walk, fetch) decodes
            // directories, so none of them ever sees a name it would have to think about.
            match unixfs.as_ref().map(|d| d.kind) {
                Some(Kind::Directory) => check_directory(cid, &node)?,
                Some(Kind::HamtShard) => crate::hamt::check_shard(cid, &node)?,
                _ => {}
            }
            Ok(Decoded::Pb { node, unixfs })
        }
        other => Err(Error::Cid(crate::cid::Error::Codec(other))),
    }
}

/// Why a directory entry name is refused: each of these could make a writer leave the directory or write one
/// path twice (a symlink, then a file "inside" it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    /// The link has no name, or an empty one.
    Empty,
    /// `.` or `..`.
    Dots,
    /// The name contains `/`.
    Slash,
    /// The name contains a NUL byte.
    Nul,
    /// Another entry of the same directory (or sharded directory) has this name.
    Duplicate,
}

impl std::fmt::Display for NameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameProblem::Empty => "is empty",
            NameProblem::Dots => "is `.` or `..`",
            NameProblem::Slash => "contains `/`",
            NameProblem::Nul => "contains NUL",
            NameProblem::Duplicate => "appears twice",
        })
    }
}

/// What is wrong with `name` as one directory entry, if anything (duplicates are checked by the caller).
pub(crate) fn name_problem(name: &str) -> Option<NameProblem> {
    if name.is_empty() {
        Some(NameProblem::Empty)
    } else if name == "." || name == ".." {
        Some(NameProblem::Dots)
    } else if name.contains('/') {
        Some(NameProblem::Slash)
    } else if name.contains('\0') {
        Some(NameProblem::Nul)
    } else {
        None
    }
}

/// Refuses the entry names of `names` (of the directory `dir`) that are unsafe alone or repeated.
pub(crate) fn check_names<'a>(dir: &Cid, names: impl IntoIterator<Item = &'a str>) -> Result<(), Error> {
    let unsafe_name = |name: &str, problem| Error::UnsafeName { dir: *dir, name: name.to_owned(), problem };
    let mut sorted = Vec::new();
    for name in names {
        if let Some(problem) = name_problem(name) {
            return Err(unsafe_name(name, problem));
        }
        sorted.push(name);
    }
    sorted.sort_unstable();
    match sorted.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(unsafe_name(w[0], NameProblem::Duplicate)),
        None => Ok(()),
    }
}

fn check_directory(cid: &Cid, node: &Node) -> Result<(), Error> {
    check_names(cid, node.links.iter().map(|l| l.name.as_deref().unwrap_or_default()))
}

/// Reads a UnixFS file (or a byte range of it) block by block.
pub struct FileReader {
    store: Arc<dyn Blockstore>,
    /// Children still to read, per tree level: (cid, file bytes under it).
    stack: Vec<std::vec::IntoIter<(Cid, u64)>>,
    current: Vec<u8>,
    pos: usize,
    /// Bytes still to skip before the range starts.
    skip: u64,
    /// Bytes still to return (u64::MAX: to the end).
    remaining: u64,
    size: u64,
}

impl std::fmt::Debug for FileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader").field("size", &self.size).field("remaining", &self.remaining).finish()
    }
}

impl FileReader {
    /// Opens the file `cid` and positions it at `offset`, returning at most `len` bytes.
    pub(crate) fn open(
        store: Arc<dyn Blockstore>,
        cid: &Cid,
        offset: u64,
        len: Option<u64>,
    ) -> Result<Self, Error> {
        let mut r = FileReader {
            store,
            stack: Vec::new(),
            current: Vec::new(),
            pos: 0,
            skip: offset,
            remaining: len.unwrap_or(u64::MAX),
            size: 0,
        };
        let block = load(r.store.as_ref(), cid)?;
        r.size = match decode(cid, block)? {
            Decoded::Raw(b) => b.len() as u64,
            Decoded::Pb { unixfs: Some(d), .. } => {
                if !matches!(d.kind, Kind::File | Kind::Raw) {
                    return Err(Error::NotAFile(*cid));
                }
                let inline = d.data.as_ref().map_or(0, Vec::len) as u64;
                d.filesize.unwrap_or_else(|| inline + d.blocksizes.iter().sum::<u64>())
            }
            Decoded::Pb { unixfs: None, .. } => return Err(Error::NotAFile(*cid)),
        };
        r.enter(cid)?;
        Ok(r)
    }

    /// Size of the whole file in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Loads `cid` and makes its inline bytes current and its children the next level.
    fn enter(&mut self, cid: &Cid) -> Result<(), Error> {
        let block = load(self.store.as_ref(), cid)?;
        match decode(cid, block)? {
            Decoded::Raw(b) => self.set_current(b),
            Decoded::Pb { node, unixfs } => {
                let d = unixfs.ok_or(Error::NotAFile(*cid))?;
                if !matches!(d.kind, Kind::File | Kind::Raw) {
                    return Err(Error::NotAFile(*cid));
                }
                if node.links.len() != d.blocksizes.len() {
                    return Err(Error::Invalid(format!(
                        "{cid}: {} links but {} blocksizes",
                        node.links.len(),
                        d.blocksizes.len()
                    )));
                }
                let children: Vec<(Cid, u64)> = node.links.iter().map(|l| l.cid).zip(d.blocksizes).collect();
                self.stack.push(children.into_iter());
                self.set_current(d.data.unwrap_or_default());
            }
        }
        Ok(())
    }

    fn set_current(&mut self, b: Vec<u8>) {
        let skip = self.skip.min(b.len() as u64);
        self.skip -= skip;
        self.pos = skip as usize;
        self.current = b;
    }

    /// Moves to the next block with bytes to return; false at the end.
    fn advance(&mut self) -> Result<bool, Error> {
        loop {
            let Some(level) = self.stack.last_mut() else { return Ok(false) };
            match level.next() {
                None => {
                    self.stack.pop();
                }
                Some((_, size)) if size <= self.skip => self.skip -= size,
                Some((cid, _)) => {
                    self.enter(&cid)?;
                    if self.pos < self.current.len() {
                        return Ok(true);
                    }
                }
            }
        }
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        if self.pos >= self.current.len() && !self.advance().map_err(io::Error::other)? {
            return Ok(0);
        }
        let avail = &self.current[self.pos..];
        let n = avail.len().min(buf.len()).min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Which blocks of a DAG a traversal visits (the gateway's `dag-scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every block reachable from the root.
    #[default]
    All,
    /// The blocks needed to read the root entity: a whole file, or a directory's own node(s) only.
    Entity,
    /// Only the root block.
    Block,
}

/// A callback that receives each visited block.
pub(crate) type Visit<'a> = dyn FnMut(&Cid, &[u8]) -> Result<(), Error> + 'a;

/// Visits the blocks of the DAG under `root` in depth-first pre-order (the order CAR files use),
/// restricted to `scope` and, for files, to the byte range `range` (`entity-bytes`).
///
/// Each block is visited once (`dups=n`): its subtree was walked at its first sight, so a DAG that shares
/// blocks at every level costs what its distinct blocks cost, not the exponentially many paths to them. With a
/// byte range, a file block shared at two offsets can need other children at each, so it is visited once per
/// offset.
pub(crate) fn walk(
    store: &dyn Blockstore,
    root: &Cid,
    scope: Scope,
    range: Option<(u64, Option<u64>)>,
    visit: &mut Visit<'_>,
) -> Result<(), Error> {
    // Stack of (cid, file offset of its first byte, whether it is inside the root entity of a file).
    let mut stack: Vec<(Cid, u64, bool)> = vec![(*root, 0, false)];
    let mut seen: HashSet<(Cid, u64)> = HashSet::new();
    let mut first = true;
    while let Some((cid, offset, in_file)) = stack.pop() {
        if !seen.insert((cid, if range.is_some() { offset } else { 0 })) {
            continue;
        }
        let block = load(store, &cid)?;
        visit(&cid, &block)?;
        let is_root = std::mem::replace(&mut first, false);
        if scope == Scope::Block || cid.codec() != DAG_PB {
            continue;
        }
        let Decoded::Pb { node, unixfs } = decode(&cid, block)? else { continue };
        let kind = unixfs.as_ref().map(|d| d.kind);
        let file_like = matches!(kind, Some(Kind::File | Kind::Raw)) || in_file;
        if scope == Scope::Entity && !file_like && !is_root && kind != Some(Kind::HamtShard) {
            continue;
        }
        let mut children: Vec<(Cid, u64, bool)> = Vec::new();
        if file_like {
            let d = unixfs.unwrap_or_else(|| Data::new(Kind::File));
            let mut start = offset + d.data.as_ref().map_or(0, Vec::len) as u64;
            for (link, size) in
                node.links.iter().zip(d.blocksizes.iter().copied().chain(std::iter::repeat(0)))
            {
                let end = start + size;
                let wanted = match range {
                    None => true,
                    Some((from, to)) => end > from && to.is_none_or(|t| start <= t),
                };
                if wanted {
                    children.push((link.cid, start, true));
                }
                start = end;
            }
        } else if scope == Scope::All {
            children.extend(node.links.iter().map(|l| (l.cid, 0, false)));
        } else if kind == Some(Kind::HamtShard) {
            // A sharded directory's entity is its shard nodes, not the entries below them.
            children.extend(
                node.links
                    .iter()
                    .filter(|l| l.name.as_ref().is_some_and(|n| n.len() == 2))
                    .map(|l| (l.cid, 0, false)),
            );
        }
        stack.extend(children.into_iter().rev());
    }
    Ok(())
}

/// What one node of a tree to export is.
enum Entity {
    File,
    Dir(Vec<(String, Cid)>),
    Symlink(Vec<u8>),
}

fn classify(store: &dyn Blockstore, cid: &Cid) -> Result<Entity, Error> {
    Ok(match decode(cid, load(store, cid)?)? {
        Decoded::Raw(_) => Entity::File,
        Decoded::Pb { node, unixfs } => match unixfs.map(|d| (d.kind, d.data)) {
            Some((Kind::File | Kind::Raw, _)) => Entity::File,
            Some((Kind::Directory, _)) => {
                Entity::Dir(node.links.into_iter().map(|l| (l.name.unwrap_or_default(), l.cid)).collect())
            }
            Some((Kind::HamtShard, _)) => Entity::Dir(crate::hamt::entries(store, cid, &node)?),
            Some((Kind::Symlink, target)) => Entity::Symlink(target.unwrap_or_default()),
            Some((Kind::Metadata, _)) | None => return Err(Error::NotAFile(*cid)),
        },
    })
}

/// What a DAG unpacks to: the bytes of its files and the number of entries (files, directories, symlinks)
/// below its root, counting every path: a block that two paths share counts twice, as the exporter writes it
/// twice. Blocks may be shared at every level, so a few KiB of blocks can name a tree of any size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expanded {
    /// Bytes of file content.
    pub bytes: u64,
    /// Entries below the root.
    pub entries: u64,
}

/// Most a single export may write (see [`Expanded`]): a DAG over its limits is refused with
/// [`Error::TooLarge`] before or while it is written, whatever its blocks weigh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportLimits {
    /// Most bytes of file content.
    pub max_bytes: u64,
    /// Most entries below the root.
    pub max_entries: u64,
}

impl ExportLimits {
    /// No bounds: for DAGs the caller chose (`ocean store get` of the user's own CID).
    pub const UNLIMITED: ExportLimits = ExportLimits { max_bytes: u64::MAX, max_entries: u64::MAX };

    /// An error if `expanded` is over these limits.
    pub fn check(&self, root: &Cid, expanded: Expanded) -> Result<(), Error> {
        if expanded.bytes > self.max_bytes {
            return Err(Error::TooLarge { root: *root, what: "bytes", max: self.max_bytes });
        }
        if expanded.entries > self.max_entries {
            return Err(Error::TooLarge { root: *root, what: "entries", max: self.max_entries });
        }
        Ok(())
    }
}

/// The [`Expanded`] size of the DAG `root`, computed once per distinct block (a block's subtree is the same
/// wherever it is linked), so the work is linear in the blocks however much they are shared. Sums saturate.
pub(crate) fn expanded(store: &dyn Blockstore, root: &Cid) -> Result<Expanded, Error> {
    let mut memo: HashMap<Cid, Expanded> = HashMap::new();
    // Post-order without recursion (a hostile DAG may be deep): a node's children are sized before it.
    let mut children_of: HashMap<Cid, (u64, Vec<(Cid, bool)>)> = HashMap::new();
    let mut stack: Vec<(Cid, bool)> = vec![(*root, false)];
    while let Some((cid, children_known)) = stack.pop() {
        if memo.contains_key(&cid) {
            continue;
        }
        if !children_known {
            if children_of.contains_key(&cid) {
                continue;
            }
            let (own, children) = shape(store, &cid)?;
            stack.push((cid, true));
            stack.extend(children.iter().filter(|(c, _)| !memo.contains_key(c)).map(|(c, _)| (*c, false)));
            children_of.insert(cid, (own, children));
            continue;
        }
        let Some((own, children)) = children_of.remove(&cid) else { continue };
        let mut size = Expanded { bytes: own, entries: 0 };
        for (child, is_entry) in children {
            let sub = memo.get(&child).copied().unwrap_or_default();
            size.bytes = size.bytes.saturating_add(sub.bytes);
            size.entries = size.entries.saturating_add(sub.entries).saturating_add(u64::from(is_entry));
        }
        memo.insert(cid, size);
    }
    Ok(memo.get(root).copied().unwrap_or_default())
}

/// A node's own file bytes and its children, each marked whether it is a directory entry (a file's chunks
/// and a HAMT's shard nodes are not: [`crate::hamt::entries`] lists a sharded directory's entries).
fn shape(store: &dyn Blockstore, cid: &Cid) -> Result<(u64, Vec<(Cid, bool)>), Error> {
    Ok(match decode(cid, load(store, cid)?)? {
        Decoded::Raw(bytes) => (bytes.len() as u64, Vec::new()),
        Decoded::Pb { node, unixfs } => match unixfs.map(|d| (d.kind, d.data)) {
            Some((Kind::File | Kind::Raw, data)) => {
                (data.map_or(0, |d| d.len() as u64), node.links.iter().map(|l| (l.cid, false)).collect())
            }
            Some((Kind::Directory, _)) => (0, node.links.iter().map(|l| (l.cid, true)).collect()),
            Some((Kind::HamtShard, _)) => {
                (0, crate::hamt::entries(store, cid, &node)?.into_iter().map(|(_, c)| (c, true)).collect())
            }
            Some((Kind::Symlink, _)) => (0, Vec::new()),
            Some((Kind::Metadata, _)) | None => return Err(Error::NotAFile(*cid)),
        },
    })
}

/// Writes the DAG `root` under `out`: a file becomes the file `out`, a directory the directory `out` (created
/// if missing), a symlink the symlink `out`.
///
/// `out` itself is the caller's path and is used as given. Everything below it is written through a handle
/// on its directory (cap-std): children are created by name relative to their parent's handle, never by
/// joining paths, so neither a name nor a symlink (from the tree or already on disk) can lead a write out of
/// `out`. Symlinks are written as symlinks and never followed; directories are opened without following
/// symlinks. Entries are created fresh: an entry that already exists under `out` (in a pre-existing `out`, or
/// put there by someone else meanwhile) is an error, never overwritten or written through.
///
/// At most `limits` is written: the DAG's [`Expanded`] size is checked first (nothing is written if it is
/// over), and the bytes and entries are counted again as they are written. Returns what was written.
pub(crate) fn get(
    store: &Arc<dyn Blockstore>,
    root: &Cid,
    out: &Path,
    limits: ExportLimits,
) -> Result<Expanded, Error> {
    if limits != ExportLimits::UNLIMITED {
        limits.check(root, expanded(store.as_ref(), root)?)?;
    }
    let mut budget = Budget { root: *root, limits, bytes: 0, entries: 0 };
    let entries = match classify(store.as_ref(), root)? {
        Entity::File => {
            let mut file = std::fs::File::create(out).map_err(|e| Error::io(out, e))?;
            copy_file(store, root, &mut file, out, &mut budget)?;
            return Ok(budget.written());
        }
        Entity::Symlink(target) => return root_symlink(&target, out).map(|()| budget.written()),
        Entity::Dir(entries) => entries,
    };
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let dir = Dir::open_ambient_dir(out, cap_std::ambient_authority()).map_err(|e| Error::io(out, e))?;
    // Depth first; each pending entry holds its parent's handle, so open handles are at most the tree depth.
    let mut stack: Vec<Pending> = Vec::new();
    push_children(&mut stack, &Arc::new(dir), out, entries);
    while let Some(Pending { parent, parent_path, name, cid }) = stack.pop() {
        let path = parent_path.join(&name); // for messages only
        let io = |e| Error::io(&path, e);
        budget.entry()?;
        match classify(store.as_ref(), &cid)? {
            Entity::File => {
                let mut file = parent
                    .open_with(&name, cap_std::fs::OpenOptions::new().write(true).create_new(true))
                    .map_err(io)?;
                copy_file(store, &cid, &mut file, &path, &mut budget)?;
            }
            Entity::Dir(entries) => {
                parent.create_dir(&name).map_err(io)?;
                let child = parent.open_dir_nofollow(&name).map_err(io)?;
                push_children(&mut stack, &Arc::new(child), &path, entries);
            }
            Entity::Symlink(target) => dir_symlink(&parent, &target, &name).map_err(io)?,
        }
    }
    Ok(budget.written())
}

/// An entry still to write: its name inside the directory `parent` (`parent_path` names it in messages).
struct Pending {
    parent: Arc<Dir>,
    parent_path: Arc<Path>,
    name: String,
    cid: Cid,
}

fn push_children(
    stack: &mut Vec<Pending>,
    parent: &Arc<Dir>,
    parent_path: &Path,
    entries: Vec<(String, Cid)>,
) {
    let parent_path: Arc<Path> = Arc::from(parent_path);
    // Reversed, so entries are written in the directory's order.
    stack.extend(entries.into_iter().rev().map(|(name, cid)| Pending {
        parent: parent.clone(),
        parent_path: parent_path.clone(),
        name,
        cid,
    }));
}

/// What an export has written so far, against its limits.
struct Budget {
    root: Cid,
    limits: ExportLimits,
    bytes: u64,
    entries: u64,
}

impl Budget {
    fn written(&self) -> Expanded {
        Expanded { bytes: self.bytes, entries: self.entries }
    }

    fn entry(&mut self) -> Result<(), Error> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(Error::TooLarge { root: self.root, what: "entries", max: self.limits.max_entries });
        }
        Ok(())
    }
}

fn copy_file(
    store: &Arc<dyn Blockstore>,
    cid: &Cid,
    file: &mut impl io::Write,
    path: &Path,
    budget: &mut Budget,
) -> Result<(), Error> {
    let left = budget.limits.max_bytes.saturating_sub(budget.bytes);
    let reader = FileReader::open(store.clone(), cid, 0, None)?;
    let written =
        io::copy(&mut reader.take(left.saturating_add(1)), file).map_err(|e| Error::from_read(e, path))?;
    budget.bytes = budget.bytes.saturating_add(written);
    if written > left {
        return Err(Error::TooLarge { root: budget.root, what: "bytes", max: budget.limits.max_bytes });
    }
    Ok(())
}

#[cfg(unix)]
fn dir_symlink(parent: &Dir, target: &[u8], name: &str) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    // `symlink_contents` stores the target verbatim (absolute ones too): it is data, never resolved here.
    parent.symlink_contents(std::ffi::OsStr::from_bytes(target), name)
}

#[cfg(not(unix))]
fn dir_symlink(_parent: &Dir, _target: &[u8], _name: &str) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "symlinks are not supported on this platform"))
}

#[cfg(unix)]
fn root_symlink(target: &[u8], path: &Path) -> Result<(), Error> {
    use std::os::unix::ffi::OsStrExt;
    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), path).map_err(|e| Error::io(path, e))
}

#[cfg(not(unix))]
fn root_symlink(_target: &[u8], path: &Path) -> Result<(), Error> {
    Err(Error::Invalid(format!("{}: symlinks are not supported on this platform", path.display())))
}
