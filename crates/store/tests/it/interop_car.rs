//! CARs written by ocean are read by `@ipld/car`, and CARs written by the JS side are imported by ocean.

use std::io::Read;

use ocean_store::{ImportOptions, Store};
use sha2::Digest;

use crate::common::{node, random_bytes};

#[test]
fn ocean_car_is_read_by_ipld_car() {
    let data = random_bytes(42, 3 * 256 * 1024 + 5);
    let store = Store::memory();
    let added = store.add_bytes(&data, &ImportOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let car = dir.path().join("out.car");
    store.export_car(&added.cid, std::fs::File::create(&car).unwrap()).unwrap();
    let out: serde_json::Value =
        serde_json::from_str(&node("car.mjs", &["read", car.to_str().unwrap()])).unwrap();
    assert_eq!(out["roots"][0], added.cid.to_string());
    assert_eq!(out["blocks"], 5, "4 leaves + 1 root");
    assert_eq!(out["files"][added.cid.to_string()], hex::encode(sha2::Sha256::digest(&data)));
}

#[test]
fn js_car_is_imported_by_ocean() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.bin");
    let data = random_bytes(43, 1_000_000);
    std::fs::write(&file, &data).unwrap();
    let car = dir.path().join("js.car");
    for profile in ["default", "unixfs-v0-2015"] {
        let out: serde_json::Value = serde_json::from_str(&node(
            "car.mjs",
            &["write", file.to_str().unwrap(), profile, car.to_str().unwrap()],
        ))
        .unwrap();
        let store = Store::memory();
        let roots = store.import_car(std::fs::File::open(&car).unwrap()).unwrap();
        assert_eq!(roots.len(), 1);
        assert_eq!(roots[0].to_string(), out["root"].as_str().unwrap());
        let mut back = Vec::new();
        store.cat(&roots[0]).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
        assert_eq!(store.pins().unwrap(), vec![roots[0].to_v1()]);
    }
}
