//! Crafted UnixFS trees that try to make `Store::get` write outside its output folder: two entries of one name
//! (a symlink that points out, and a directory or file that is then written "into" it), in plain and
//! HAMT-sharded directories, at the top and nested. Each tree is built by hand and put straight into the
//! blockstore, as a hostile CAR would deliver it.

use std::path::{Path, PathBuf};

use ocean_store::cid::{Cid, DAG_PB, Version};
use ocean_store::dagpb::{Link, Node};
use ocean_store::unixfs::{Data, Kind};
use ocean_store::{Error, ImportOptions, NameProblem, Store};

/// Puts a dag-pb node into the store as is (no name checks: that is the point) and returns its CID.
pub fn put(store: &Store, node: &Node) -> Cid {
    let block = node.encode();
    let cid = Cid::hash_block(Version::V1, DAG_PB, &block);
    store.put_blocks(&[(cid, block)]).unwrap();
    cid
}

/// A plain directory whose links are exactly `links`, in this order.
pub fn dir(store: &Store, links: &[(&str, Cid)]) -> Cid {
    let links =
        links.iter().map(|(n, c)| Link { cid: *c, name: Some((*n).to_owned()), tsize: Some(0) }).collect();
    put(store, &Node { links, data: Some(Data::new(Kind::Directory).encode()) })
}

/// A one-level HAMT shard whose links are exactly `links` (names already carry their two-digit prefix).
pub fn shard(store: &Store, links: &[(&str, Cid)]) -> Cid {
    let links =
        links.iter().map(|(n, c)| Link { cid: *c, name: Some((*n).to_owned()), tsize: Some(0) }).collect();
    let data = Data {
        data: Some(vec![0xff]),
        hash_type: Some(0x22),
        fanout: Some(256),
        ..Data::new(Kind::HamtShard)
    };
    put(store, &Node { links, data: Some(data.encode()) })
}

pub fn symlink(store: &Store, target: &str) -> Cid {
    let data = Data { data: Some(target.as_bytes().to_vec()), ..Data::new(Kind::Symlink) };
    put(store, &Node { links: Vec::new(), data: Some(data.encode()) })
}

pub fn file(store: &Store, bytes: &[u8]) -> Cid {
    store.add_bytes(bytes, &ImportOptions::default()).unwrap().cid
}

/// A scratch folder with `outside/` (what an escape would reach, with one file in it) beside the output path.
pub struct Scene {
    pub tmp: tempfile::TempDir,
}

impl Scene {
    pub fn new() -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("outside")).unwrap();
        std::fs::write(tmp.path().join("outside/keep"), b"untouched").unwrap();
        Scene { tmp }
    }

    pub fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    pub fn out(&self) -> PathBuf {
        self.tmp.path().join("out")
    }

    /// Everything under the scratch folder that is not under `out`, with file contents.
    pub fn around_out(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        list(self.tmp.path(), &self.out(), &mut found);
        found.sort();
        found
    }
}

fn list(at: &Path, skip: &Path, found: &mut Vec<(PathBuf, Vec<u8>)>) {
    for e in std::fs::read_dir(at).unwrap() {
        let p = e.unwrap().path();
        if p == skip {
            continue;
        }
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            found.push((p.clone(), Vec::new()));
            list(&p, skip, found);
        } else {
            found.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
        }
    }
}

/// Exports `root`, checks that nothing beside `out` changed, and that the export was refused for the duplicate
/// name `evil`, with an error naming the directory that lists it.
fn assert_contained(store: &Store, root: &Cid, scene: &Scene, what: &str) {
    let before = scene.around_out();
    let result = store.get(root, scene.out());
    assert_eq!(scene.around_out(), before, "{what}: the export wrote outside its output folder");
    match &result {
        Err(err @ Error::UnsafeName { dir, name, problem: NameProblem::Duplicate }) => {
            assert_eq!(name, "evil", "{what}");
            // The message names the directory and the entry.
            let text = err.to_string();
            assert!(text.contains(&dir.to_string()) && text.contains("\"evil\""), "{what}: {text}");
        }
        other => panic!("{what}: expected the duplicate `evil` to be refused, got {other:?}"),
    }
}

/// (description, symlink target) for each way of pointing out of `out/<nested>`.
fn targets(scene: &Scene, depth: usize) -> Vec<(String, String)> {
    let up = "../".repeat(depth + 1);
    vec![
        ("absolute".into(), scene.outside().to_str().unwrap().to_owned()),
        ("relative".into(), format!("{up}outside")),
    ]
}

/// The two entries named `evil`: a symlink to `target` and a directory holding `pwned` (or a file written over
/// the link's target when `as_file`), in both orders.
fn evil_pairs(store: &Store, target: &str, as_file: bool) -> Vec<(&'static str, Vec<(String, Cid)>)> {
    let link = symlink(store, target);
    let payload = file(store, b"pwned");
    let other = if as_file { payload } else { dir(store, &[("pwned", payload)]) };
    let name = |n: &str| n.to_owned();
    if as_file {
        vec![
            ("symlink-then-file", vec![(name("evil"), link), (name("evil"), other)]),
            ("file-then-symlink", vec![(name("evil"), other), (name("evil"), link)]),
        ]
    } else {
        vec![
            ("symlink-then-dir", vec![(name("evil"), link), (name("evil"), other)]),
            ("dir-then-symlink", vec![(name("evil"), other), (name("evil"), link)]),
        ]
    }
}

fn refs(links: &[(String, Cid)]) -> Vec<(&str, Cid)> {
    links.iter().map(|(n, c)| (n.as_str(), *c)).collect()
}

#[test]
fn duplicate_names_with_a_symlink_never_write_outside() {
    for depth in [0usize, 2] {
        for as_file in [false, true] {
            let scene = Scene::new();
            for (how, target) in targets(&scene, depth) {
                let store = Store::memory();
                // For a file, the symlink names a file inside `outside/` that the export would create.
                let target = if as_file { format!("{target}/planted") } else { target };
                for (order, links) in evil_pairs(&store, &target, as_file) {
                    let mut root = dir(&store, &refs(&links));
                    for level in 0..depth {
                        root = dir(&store, &[(["a", "b"][level % 2], root)]);
                    }
                    let what = format!("{order}, {how} target, depth {depth}");
                    assert_contained(&store, &root, &scene, &what);
                    let _ = std::fs::remove_dir_all(scene.out());
                }
            }
        }
    }
}

#[test]
fn duplicate_names_in_a_hamt_never_write_outside() {
    for as_file in [false, true] {
        let scene = Scene::new();
        for (how, target) in targets(&scene, 0) {
            let store = Store::memory();
            let target = if as_file { format!("{target}/planted") } else { target };
            for (order, links) in evil_pairs(&store, &target, as_file) {
                // The same entry name in two buckets, and twice in one bucket.
                for prefixes in [["00", "01"], ["7F", "7F"]] {
                    let named: Vec<(String, Cid)> =
                        links.iter().zip(prefixes).map(|((n, c), p)| (format!("{p}{n}"), *c)).collect();
                    let root = shard(&store, &refs(&named));
                    let what = format!("HAMT {order}, {how} target, prefixes {prefixes:?}");
                    assert_contained(&store, &root, &scene, &what);
                    let _ = std::fs::remove_dir_all(scene.out());
                }
            }
        }
    }
}

#[test]
fn resolve_refuses_a_directory_with_duplicate_names() {
    let store = Store::memory();
    let a = file(&store, b"a");
    let b = file(&store, b"b");
    let root = dir(&store, &[("twice", a), ("twice", b)]);
    let err = store.resolve(&root, "twice").unwrap_err();
    assert!(
        matches!(err, Error::UnsafeName { dir, problem: NameProblem::Duplicate, .. } if dir == root),
        "{err}"
    );
}

#[test]
fn each_unsafe_name_is_refused_with_its_reason() {
    let store = Store::memory();
    let a = file(&store, b"a");
    for (name, problem) in [
        ("", NameProblem::Empty),
        (".", NameProblem::Dots),
        ("..", NameProblem::Dots),
        ("a/b", NameProblem::Slash),
        ("/", NameProblem::Slash),
        ("a\0b", NameProblem::Nul),
    ] {
        let root = dir(&store, &[(name, a)]);
        let scene = Scene::new();
        match store.get(&root, scene.out()) {
            Err(Error::UnsafeName { dir, name: n, problem: p }) => {
                assert_eq!((dir, n.as_str(), p), (root, name, problem));
            }
            other => panic!("{name:?}: {other:?}"),
        }
        let shard_root = shard(&store, &[(&format!("0A{name}"), a)]);
        let err = store.get(&shard_root, scene.out()).unwrap_err();
        if name.is_empty() {
            // `0A` alone names a sub-shard, which a file is not.
            assert!(matches!(err, Error::Invalid(_)), "{err}");
        } else {
            assert!(matches!(err, Error::UnsafeName { problem: p, .. } if p == problem), "{name:?}: {err}");
        }
    }
}

#[test]
fn a_sharded_directory_with_one_name_in_two_sub_shards_is_refused() {
    let store = Store::memory();
    let a = file(&store, b"a");
    let b = file(&store, b"b");
    let left = shard(&store, &[("00same", a)]);
    let right = shard(&store, &[("01same", b)]);
    let root = shard(&store, &[("00", left), ("01", right)]);
    let scene = Scene::new();
    let err = store.get(&root, scene.out()).unwrap_err();
    assert!(
        matches!(&err, Error::UnsafeName { name, problem: NameProblem::Duplicate, .. } if name == "same"),
        "{err}"
    );
    assert!(store.resolve(&root, "same").is_err());
}

#[test]
fn a_sharded_directory_that_links_one_sub_shard_twice_is_refused_without_walking_it_twice() {
    // Sixty levels, each linking the level below from two buckets: 2^60 paths to one entry. A walk that
    // expands every path never ends; a valid HAMT never holds one sub-shard twice (its names would hash to
    // two prefixes), so the second sight of a sub-shard is the error.
    let store = Store::memory();
    let mut level = shard(&store, &[("00x", file(&store, b"x"))]);
    for _ in 0..60 {
        level = shard(&store, &[("00", level), ("01", level)]);
    }
    let scene = Scene::new();
    let started = std::time::Instant::now();
    let err = store.get(&level, scene.out()).unwrap_err();
    assert!(matches!(&err, Error::Invalid(why) if why.contains("twice")), "{err}");
    assert!(store.resolve(&level, "x").is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "the walk must stay linear");
}

/// A directory of `levels` levels, each holding the level below twice (`a` and `b`), over one 1 KiB file:
/// 2^levels paths and 2^levels KiB of content from `levels` + 2 blocks.
fn dir_bomb(store: &Store, levels: usize) -> Cid {
    let mut level = dir(store, &[("f", file(store, &[7u8; 1024]))]);
    for _ in 0..levels {
        level = dir(store, &[("a", level), ("b", level)]);
    }
    level
}

/// A file of `levels` levels, each node linking the level below twice: 2^levels KiB from `levels` + 1 blocks.
fn file_bomb(store: &Store, levels: usize) -> Cid {
    let mut level = file(store, &[7u8; 1024]);
    let mut size = 1024u64;
    for _ in 0..levels {
        let data = Data { filesize: Some(2 * size), blocksizes: vec![size, size], ..Data::new(Kind::File) };
        let links = [level, level]
            .iter()
            .map(|c| Link { cid: *c, name: Some(String::new()), tsize: Some(size) })
            .collect();
        level = put(store, &Node { links, data: Some(data.encode()) });
        size *= 2;
    }
    level
}

#[test]
fn a_dag_that_shares_its_blocks_is_sized_in_linear_time_and_refused_over_the_limits() {
    let store = Store::memory();
    // 2^50 KiB (a zettabyte) and 2^51 entries, in 52 blocks.
    let tree = dir_bomb(&store, 50);
    let expanded = store.expanded(&tree).unwrap();
    assert_eq!(expanded.bytes, 1024 << 50);
    assert_eq!(expanded.entries, (1u64 << 51) - 2 + (1 << 50));
    let huge = file_bomb(&store, 50);
    assert_eq!(store.expanded(&huge).unwrap(), ocean_store::Expanded { bytes: 1024 << 50, entries: 0 });

    let limits = ocean_store::ExportLimits { max_bytes: 1 << 20, max_entries: 10_000 };
    for (root, what) in [(tree, "bytes"), (huge, "bytes")] {
        let scene = Scene::new();
        let err = store.get_limited(&root, scene.out(), limits).unwrap_err();
        assert!(matches!(&err, Error::TooLarge { what: w, .. } if *w == what), "{err}");
        assert!(!scene.out().exists(), "nothing is written for a DAG over the limits");
    }
    let many = dir_bomb(&store, 20); // 1 GiB in 2^21 entries
    let err = store
        .get_limited(&many, Scene::new().out(), ocean_store::ExportLimits { max_bytes: u64::MAX, ..limits })
        .unwrap_err();
    assert!(matches!(&err, Error::TooLarge { what: "entries", .. }), "{err}");
    // Within its limits the same kind of tree is written whole, both copies of every shared block.
    let small = dir_bomb(&store, 3);
    let scene = Scene::new();
    store.get_limited(&small, scene.out(), limits).unwrap();
    assert_eq!(std::fs::read(scene.out().join("a/b/a/f")).unwrap(), vec![7u8; 1024]);
    assert_eq!(store.expanded(&small).unwrap(), ocean_store::Expanded { bytes: 8 * 1024, entries: 14 + 8 });
}

#[test]
fn walking_a_dag_that_shares_its_blocks_visits_each_block_once() {
    let store = Store::memory();
    let tree = dir_bomb(&store, 60);
    let blocks = store.block_cids(&tree).unwrap();
    assert_eq!(blocks.len(), 62, "60 directories, the innermost directory and its file");
    let mut car = Vec::new();
    store.export_car(&tree, &mut car).unwrap();
    assert!(car.len() < 64 * 1024, "a CAR of the distinct blocks: {} bytes", car.len());
}

#[test]
fn existing_entries_in_the_output_folder_are_never_written_through() {
    let store = Store::memory();
    let payload = file(&store, b"pwned");
    let root = dir(&store, &[("evil", dir(&store, &[("pwned", payload)])), ("x.txt", payload)]);
    let scene = Scene::new();
    std::fs::create_dir(scene.out()).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(scene.outside(), scene.out().join("evil")).unwrap();
    let before = scene.around_out();
    let err = store.get(&root, scene.out()).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
        "{err}"
    );
    assert_eq!(scene.around_out(), before);
}

#[test]
fn symlinks_are_written_as_symlinks_and_a_clean_tree_exports_whole() {
    let store = Store::memory();
    let scene = Scene::new();
    let outside = scene.outside();
    let payload = file(&store, b"data");
    let abs = symlink(&store, outside.to_str().unwrap());
    let rel = symlink(&store, "../../outside/keep");
    let inner = dir(&store, &[("link", rel), ("f", payload)]);
    let sharded = shard(&store, &[("00g", payload), ("7Fabs", abs)]);
    let root = dir(&store, &[("abs", abs), ("inner", inner), ("sharded", sharded)]);
    store.get(&root, scene.out()).unwrap();
    let out = scene.out();
    assert_eq!(std::fs::read_link(out.join("abs")).unwrap(), outside);
    assert_eq!(std::fs::read_link(out.join("inner/link")).unwrap(), Path::new("../../outside/keep"));
    assert_eq!(std::fs::read(out.join("inner/f")).unwrap(), b"data");
    assert_eq!(std::fs::read(out.join("sharded/g")).unwrap(), b"data");
    assert_eq!(std::fs::read_link(out.join("sharded/abs")).unwrap(), outside);
}

#[test]
fn gc_keeps_working_with_a_hostile_tree_pinned() {
    let store = Store::memory();
    let scene = Scene::new();
    let link = symlink(&store, scene.outside().to_str().unwrap());
    let root = dir(&store, &[("evil", link), ("evil", link)]);
    store.blockstore().pin(&root).unwrap();
    let unpinned = ImportOptions { pin: false, ..ImportOptions::default() };
    let loose = store.add_bytes(b"unpinned", &unpinned).unwrap().cid;
    store.gc().unwrap();
    assert!(store.has(&root).unwrap() && store.has(&link).unwrap());
    assert!(!store.has(&loose).unwrap());
}
