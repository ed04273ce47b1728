//! CIDs must equal those of `ipfs-unixfs-importer@17` (kubo's defaults) on every boundary.

use std::io::Read;

use ocean_store::cid::Version;
use ocean_store::{ImportOptions, Profile, Store};

use crate::common::{cids, node, random_bytes};

/// Sizes around every boundary of a layout: empty, one byte, one chunk ±1, `links` chunks ±1 (a second tree
/// level), and a few MiB of random data.
fn boundary_sizes(chunk: usize, links: usize) -> Vec<usize> {
    vec![
        0,
        1,
        chunk - 1,
        chunk,
        chunk + 1,
        2 * chunk + 3,
        links * chunk - 1,
        links * chunk,
        links * chunk + 1,
    ]
}

/// Compares our CIDs with the JS importer's for `profile` (JS name) on files and zero streams.
fn compare(js_profile: &str, opts: &ImportOptions) {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = Vec::new();
    let mut ours: Vec<String> = Vec::new();
    // Random files up to a few chunks (distinct leaves).
    for (i, size) in
        [0usize, 1, 1000, opts.chunk_size - 1, opts.chunk_size, opts.chunk_size + 1, 3 * 1024 * 1024 + 7]
            .into_iter()
            .enumerate()
    {
        let path = dir.path().join(format!("r{i}"));
        std::fs::write(&path, random_bytes(i as u64, size)).unwrap();
        ours.push(Store::hash_path(&path, opts, &mut |_| {}).unwrap().cid.to_string());
        args.push(path.display().to_string());
    }
    // The layout boundaries need `links` chunks: zero streams keep them cheap (same leaf, same shape).
    for size in boundary_sizes(opts.chunk_size, opts.max_links) {
        ours.push(
            Store::hash_reader(&mut std::io::repeat(0).take(size as u64), opts, &mut |_| {})
                .unwrap()
                .cid
                .to_string(),
        );
        args.push(format!("zeros:{size}"));
    }
    let mut argv = vec![js_profile];
    argv.extend(args.iter().map(String::as_str));
    let theirs = cids(&node("import.mjs", &argv));
    assert_eq!(theirs.len(), ours.len());
    for ((path, js), ours) in theirs.iter().zip(&ours) {
        assert_eq!(ours, js, "{js_profile}: CID of {path} differs from ipfs-unixfs-importer");
    }
}

#[test]
fn kubo_cid_v1_defaults_match_js_importer() {
    compare("default", &ImportOptions::default());
}

#[test]
fn unixfs_v1_2025_profile_matches_js_importer() {
    compare("unixfs-v1-2025", &ImportOptions::profile(Profile::UnixfsV1_2025));
}

#[test]
fn cid_v0_matches_js_importer() {
    let opts = ImportOptions::default().with_cid_version(Version::V0);
    assert_eq!(opts, ImportOptions::profile(Profile::KuboV0));
    compare("unixfs-v0-2015", &opts);
}

/// A tree with nested, empty and many-entry directories and awkward names.
fn make_tree(root: &std::path::Path) {
    let w = |p: &str, data: &[u8]| {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    };
    w("a", b"a");
    w("a.b", b"");
    w("a0", &random_bytes(7, 300_000));
    w("B", b"upper case sorts first");
    w("sub/deeper/file.bin", &random_bytes(8, 70_000));
    w("sub/ünïcødé ✓.txt", b"names are UTF-8 bytes");
    std::fs::create_dir_all(root.join("empty")).unwrap();
    for i in 0..1000 {
        w(&format!("many/entry-{i:04}"), format!("{i}").as_bytes());
    }
}

#[test]
fn directories_match_js_importer() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    make_tree(&tree);
    for (js, opts) in [
        ("default", ImportOptions::default()),
        ("unixfs-v1-2025", ImportOptions::profile(Profile::UnixfsV1_2025)),
        ("unixfs-v0-2015", ImportOptions::profile(Profile::KuboV0)),
    ] {
        let theirs = cids(&node("import.mjs", &[js, &tree.display().to_string()]));
        let store = Store::memory();
        let ours = store.add_dir(&tree, &opts).unwrap();
        assert_eq!(
            ours.cid.to_string(),
            theirs[0].1,
            "{js}: directory CID differs from ipfs-unixfs-importer"
        );
        // And the stored DAG reads back to the same tree.
        let out = dir.path().join(format!("out-{js}"));
        store.get(&ours.cid, &out).unwrap();
        assert_eq!(std::fs::read(out.join("a0")).unwrap(), random_bytes(7, 300_000));
        assert_eq!(std::fs::read(out.join("many/entry-0999")).unwrap(), b"999");
        assert!(out.join("empty").is_dir());
    }
}

#[test]
fn hamt_sharded_directories_match_js_importer() {
    // ~4500 entries of ~66 bytes each: above the 256 KiB threshold under both size measures.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::create_dir_all(big.join("nested")).unwrap();
    for i in 0..4500 {
        std::fs::write(big.join(format!("a-file-with-a-rather-long-name-{i:05}")), format!("{i}")).unwrap();
    }
    std::fs::write(big.join("nested/inside"), b"x").unwrap();
    for (js, opts) in [
        ("default", ImportOptions::default()),
        ("unixfs-v1-2025", ImportOptions::profile(Profile::UnixfsV1_2025)),
        ("unixfs-v0-2015", ImportOptions::profile(Profile::KuboV0)),
    ] {
        let theirs = cids(&node("import.mjs", &[js, &big.display().to_string()]));
        let store = Store::memory();
        let ours = store.add_dir(&big, &opts).unwrap();
        assert_eq!(
            ours.cid.to_string(),
            theirs[0].1,
            "{js}: sharded directory CID differs from ipfs-unixfs-importer"
        );
        // The shard reads back: by path and as a tree.
        let leaf = store.resolve(&ours.cid, "a-file-with-a-rather-long-name-04321").unwrap();
        let mut text = String::new();
        store.cat(&leaf).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "4321");
        let out = dir.path().join(format!("out-{js}"));
        store.get(&ours.cid, &out).unwrap();
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4501);
        assert_eq!(std::fs::read(out.join("nested/inside")).unwrap(), b"x");
    }
}
