//! The store against itself: add → cat/get/CAR → same bytes; pins and gc; persistence.

use std::io::Read;

use ocean_store::{Entry, ImportOptions, Profile, Store};

use crate::common::random_bytes;

fn cat_all(store: &Store, cid: &ocean_store::Cid) -> Vec<u8> {
    let mut out = Vec::new();
    store.cat(cid).unwrap().read_to_end(&mut out).unwrap();
    out
}

#[test]
fn add_cat_ranges_and_car_round_trip() {
    for opts in [
        ImportOptions::default(),
        ImportOptions::profile(Profile::KuboV0),
        ImportOptions { chunk_size: 1000, max_links: 3, ..ImportOptions::default() },
    ] {
        let data = random_bytes(1, 50_123);
        let store = Store::memory();
        let added = store.add_bytes(&data, &opts).unwrap();
        assert_eq!(added.size, data.len() as u64);
        assert_eq!(cat_all(&store, &added.cid), data);
        for (off, len) in [
            (0u64, Some(1u64)),
            (999, Some(2)),
            (1000, None),
            (12_345, Some(20_000)),
            (50_122, Some(5)),
            (60_000, None),
        ] {
            let mut got = Vec::new();
            store.cat_range(&added.cid, off, len).unwrap().read_to_end(&mut got).unwrap();
            let start = (off as usize).min(data.len());
            let end = len.map_or(data.len(), |l| (start + l as usize).min(data.len()));
            assert_eq!(got, &data[start..end], "range {off}+{len:?}");
        }
        let mut car = Vec::new();
        store.export_car(&added.cid, &mut car).unwrap();
        let other = Store::memory();
        assert_eq!(other.import_car(car.as_slice()).unwrap(), vec![added.cid]);
        assert_eq!(cat_all(&other, &added.cid), data);
    }
}

#[test]
fn put_dir_resolve_and_tsize() {
    let store = Store::memory();
    let opts = ImportOptions::default();
    let a = store.add_bytes(b"alpha", &opts).unwrap();
    let b = store.add_bytes(&random_bytes(2, 600_000), &opts).unwrap();
    let inner = store.put_dir(&[Entry::from_added("b.bin", &b)], &opts).unwrap();
    let root =
        store.put_dir(&[Entry::from_added("a.txt", &a), Entry::from_added("inner", &inner)], &opts).unwrap();
    assert_eq!(store.resolve(&root.cid, "inner/b.bin").unwrap(), b.cid);
    assert_eq!(store.tsize(&root.cid).unwrap(), root.tsize);
    assert_eq!(store.tsize(&b.cid).unwrap(), b.tsize);
    assert!(matches!(store.resolve(&root.cid, "nope"), Err(ocean_store::Error::NoSuchPath { .. })));
    assert!(matches!(store.cat(&root.cid), Err(ocean_store::Error::NotAFile(_))));
    // Entries must exist and names must be safe.
    let missing = Store::memory().add_bytes(b"elsewhere", &opts).unwrap();
    assert!(store.put_dir(&[Entry::from_added("x", &missing)], &opts).is_err());
    for bad in ["", ".", "..", "a/b"] {
        assert!(store.put_dir(&[Entry::from_added(bad, &a)], &opts).is_err(), "{bad:?}");
    }
    assert!(store.put_dir(&[Entry::from_added("x", &a), Entry::from_added("x", &a)], &opts).is_err());
}

#[test]
fn pins_gc_and_persistence() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(3, 700_000);
    let (kept, dropped) = {
        let store = Store::open(dir.path()).unwrap();
        let kept = store.add_bytes(&data, &ImportOptions::default()).unwrap();
        let dropped = store.add_bytes(b"temporary", &ImportOptions::default()).unwrap();
        (kept, dropped)
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(cat_all(&store, &kept.cid), data);
    assert!(store.unpin(&dropped.cid).unwrap());
    let stats = store.gc().unwrap();
    assert_eq!(stats.blocks, 1);
    assert!(!store.has(&dropped.cid).unwrap());
    assert_eq!(cat_all(&store, &kept.cid), data);
    assert!(store.unpin(&kept.cid).unwrap());
    assert_eq!(store.gc().unwrap().blocks, 4, "3 leaves + root");
    assert_eq!(store.stats().unwrap(), (0, 0));
}

#[test]
fn import_car_stores_nothing_from_a_bad_car() {
    let src = Store::memory();
    let added = src.add_bytes(&random_bytes(4, 600_000), &ImportOptions::default()).unwrap();
    let mut car = Vec::new();
    src.export_car(&added.cid, &mut car).unwrap();
    // Corrupt the last block's final byte, then truncate a copy.
    let mut corrupt = car.clone();
    *corrupt.last_mut().unwrap() ^= 0xff;
    let truncated = &car[..car.len() - 10];
    for bad in [corrupt.as_slice(), truncated] {
        let store = Store::memory();
        assert!(store.import_car(bad).is_err());
        assert_eq!(store.stats().unwrap(), (0, 0), "nothing stored from a bad CAR");
    }
}

#[test]
fn get_refuses_names_that_escape() {
    use ocean_store::cid::{Cid, DAG_PB, Version};
    use ocean_store::dagpb::{Link, Node};
    use ocean_store::unixfs::{Data, Kind};
    let store = Store::memory();
    let file = store.add_bytes(b"evil", &ImportOptions::default()).unwrap();
    let node = Node {
        links: vec![Link { cid: file.cid, name: Some("../escape".into()), tsize: Some(4) }],
        data: Some(Data::new(Kind::Directory).encode()),
    };
    let block = node.encode();
    let cid = Cid::hash_block(Version::V1, DAG_PB, &block);
    store.put_blocks(&[(cid, block)]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = store.get(&cid, dir.path().join("out")).unwrap_err();
    assert!(
        matches!(&err, ocean_store::Error::UnsafeName { dir, name, problem: ocean_store::NameProblem::Slash }
            if *dir == cid && name == "../escape"),
        "{err}"
    );
    assert!(!dir.path().join("escape").exists());
}
