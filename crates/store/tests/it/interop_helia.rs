//! `@helia/verified-fetch` (a real IPFS client that verifies every block) retrieves files from our gateway.

use ocean_store::{Entry, ImportOptions, Store, gateway};
use sha2::Digest;

use crate::common::{node, random_bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helia_verified_fetch_reads_from_ocean_gateway() {
    let store = Store::memory();
    let opts = ImportOptions::default();
    let data = random_bytes(77, 3 * 1024 * 1024 + 11);
    let file = store.add_bytes(&data, &opts).unwrap();
    let dir = store.put_dir(&[Entry::from_added("data.bin", &file)], &opts).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, gateway::router(store)).await.unwrap() });

    for target in [file.cid.to_string(), format!("{}/data.bin", dir.cid)] {
        let url = url.clone();
        let out =
            tokio::task::spawn_blocking(move || node("verified-fetch.mjs", &[&url, &target])).await.unwrap();
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["status"], 200, "{out}");
        assert_eq!(v["bytes"], data.len());
        assert_eq!(v["sha256"], hex::encode(sha2::Sha256::digest(&data)));
    }
}
