//! Whole jobs against the store: one result CID, the same on every run.

use std::io::Read;

use ocean_runtime::job;
use ocean_store::Store;
use ocean_types::Manifest;

fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn execute(store: &Store, toml: &str, base: &std::path::Path) -> job::Executed {
    let manifest = ocean_job::resolve(store, Manifest::from_toml(toml).unwrap(), base).unwrap();
    let rt = crate::runtime();
    let work = tempfile::tempdir().unwrap();
    job::execute(&rt, store, &manifest, work.path()).await.unwrap()
}

fn cat(store: &Store, root: &ocean_store::Cid, path: &str) -> String {
    let cid = store.resolve(root, path).unwrap();
    let mut s = String::new();
    store.cat(&cid).unwrap().read_to_string(&mut s).unwrap();
    s
}

#[tokio::test]
async fn same_manifest_same_result_cid() {
    crate::guest("wordcount");
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("corpus.txt"), "to be or not to be\n").unwrap();
    let toml = format!(
        "[program]\nkind='wasm'\nmodule='{}'\nargs=['--top','2']\n[inputs]\ncorpus='corpus.txt'\n",
        workspace().join("guests/wasm/wordcount.wasm").display()
    );
    let a = Store::memory();
    let first = execute(&a, &toml, data.path()).await;
    // A second store and a second runtime: nothing shared but the job.
    let b = Store::memory();
    let second = execute(&b, &toml, data.path()).await;
    assert_eq!(first.result, second.result);
    assert_eq!(first.manifest, second.manifest);

    assert_eq!(cat(&a, &first.result, "stdout"), "2 be\n2 to\n");
    assert_eq!(cat(&a, &first.result, "stderr"), "");
    assert_eq!(cat(&a, &first.result, "outputs/counts.tsv"), "be\t2\nto\t2\nnot\t1\nor\t1\n");
    let result: serde_json::Value = serde_json::from_str(&cat(&a, &first.result, "result.json")).unwrap();
    assert_eq!(result["status"], "exited");
    assert_eq!(result["code"], 0);
    assert_eq!(result["manifest"], first.manifest.to_string());
    assert_eq!(result["fuel_used"], first.outcome().unwrap().fuel_used);
    assert!(first.outcome().unwrap().fuel_used > 0);
}

#[tokio::test]
async fn a_different_seed_gives_a_different_result() {
    crate::guest("pi");
    let base = workspace();
    let job = |seed: u64| {
        format!(
            "[program]\nkind='wasm'\nmodule='guests/wasm/pi.wasm'\nargs=['--samples','1000']\nseed={seed}\n"
        )
    };
    let store = Store::memory();
    let a = execute(&store, &job(1), &base).await;
    let b = execute(&store, &job(1), &base).await;
    let c = execute(&store, &job(2), &base).await;
    assert_eq!(a.result, b.result);
    assert_ne!(a.result, c.result);
}
