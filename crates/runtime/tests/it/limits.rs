//! Limit hits as results: fuel, memory and output give the limit result (`ocean-limit.json`), byte for byte
//! the same on every run; a timeout and a stack overflow give no result.

use ocean_runtime::{
    Error, Limit, Status,
    job::{self, Ended},
};
use ocean_store::Store;
use ocean_types::{
    Manifest,
    limit::{Exceeded, LimitResult},
    manifest::Limits,
};

use crate::small_limits;

fn guests() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests")
}

fn manifest(store: &Store, guest: &str, limits: Limits) -> Manifest {
    let toml = format!(
        "[program]\nkind='wasm'\nmodule='{guest}.wat'\n[limits]\nmemory_mib={}\nfuel={}\ntimeout_secs={}\noutput_mib={}\n",
        limits.memory_mib, limits.fuel, limits.timeout_secs, limits.output_mib
    );
    ocean_job::resolve(store, Manifest::from_toml(&toml).unwrap(), &guests()).unwrap()
}

/// Runs `guest` as a whole job in a fresh store, runtime and work folder: nothing shared between two calls
/// but the job itself.
async fn execute(guest: &str, limits: Limits) -> (ocean_runtime::Result<job::Executed>, Store) {
    let store = Store::memory();
    let manifest = manifest(&store, guest, limits);
    let rt = ocean_runtime::Runtime::new(&ocean_runtime::Config::default()).unwrap();
    let work = tempfile::tempdir().unwrap();
    (job::execute(&rt, &store, &manifest, work.path()).await, store)
}

#[tokio::test]
async fn fuel_memory_and_output_limits_are_the_same_limit_result_on_every_run() {
    let unmetered = Limits { fuel: u64::MAX, ..small_limits() };
    let cases = [
        ("loop", small_limits(), Exceeded::Fuel),
        ("membomb", small_limits(), Exceeded::Memory),
        ("bigmemory", small_limits(), Exceeded::Memory),
        ("flood_stdout", unmetered, Exceeded::Output),
        ("flood_file", unmetered, Exceeded::Output),
    ];
    for (guest, limits, kind) in cases {
        let (first, store) = execute(guest, limits).await;
        let first = first.unwrap_or_else(|e| panic!("{guest}: a limit hit is a result, got {e}"));
        let (second, _) = execute(guest, limits).await;
        let second = second.unwrap();
        assert_eq!(first.result, second.result, "{guest}: two runs, one result CID");

        let expected = LimitResult::new(first.manifest.to_string(), kind, &limits);
        assert_eq!(first.limit(), Some(&expected), "{guest}");
        assert!(matches!(&first.ended, Ended::Limit { .. }), "{guest}");
        // Exactly the canonical directory: ocean-limit.json and nothing else (no partial outputs, no
        // streams), so nothing the host measured can reach the CID.
        assert_eq!(
            first.result,
            ocean_job::store_limit_result(&Store::memory(), &expected).unwrap(),
            "{guest}"
        );
        assert_eq!(ocean_job::read_limit_result(&store, &first.result).unwrap(), Some(expected.clone()));
        let out = tempfile::tempdir().unwrap();
        store.get(&first.result, out.path().join("r")).unwrap();
        let names: Vec<_> = std::fs::read_dir(out.path().join("r"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["ocean-limit.json"], "{guest}");
        let bytes = std::fs::read(out.path().join("r/ocean-limit.json")).unwrap();
        assert_eq!(bytes, expected.canonical_bytes(), "{guest}");
        assert_eq!(ocean_job::read_limit_dir(&out.path().join("r")).unwrap(), Some(expected), "{guest}");
    }
}

#[tokio::test]
async fn the_limit_result_names_the_manifest_value_so_another_limit_is_another_result() {
    let (low, _) = execute("loop", small_limits()).await;
    let higher = Limits { fuel: small_limits().fuel * 2, ..small_limits() };
    let (high, _) = execute("loop", higher).await;
    let (low, high) = (low.unwrap(), high.unwrap());
    assert_eq!(low.limit().map(|l| l.max), Some(small_limits().fuel));
    assert_eq!(high.limit().map(|l| l.max), Some(higher.fuel));
    assert_ne!(low.result, high.result);
}

#[tokio::test]
async fn a_timeout_and_a_stack_overflow_are_no_result() {
    let unmetered = Limits { fuel: u64::MAX, timeout_secs: 1, ..small_limits() };
    let (r, _) = execute("loop", unmetered).await;
    assert!(matches!(r, Err(Error::Limit { limit: Limit::Timeout, .. })), "{r:?}");
    let (r, _) = execute("recursion", Limits { fuel: u64::MAX, ..small_limits() }).await;
    assert!(matches!(r, Err(Error::Limit { limit: Limit::Stack, .. })), "{r:?}");
    assert_eq!(Limit::Timeout.exceeded(), None);
    assert_eq!(Limit::Stack.exceeded(), None);
}

#[tokio::test]
async fn growing_past_the_modules_own_maximum_is_minus_one_not_a_host_failure() {
    let (r, store) = execute("grow_past_max", small_limits()).await;
    let executed = r.unwrap_or_else(|e| panic!("a refusal by the module's own bound is a result: {e}"));
    let outcome = executed.outcome().expect("ran within its limits");
    assert!(
        matches!(&outcome.status, Status::Trapped { trap } if trap.contains("unreachable")),
        "{:?}",
        outcome.status
    );
    assert_eq!(ocean_job::read_limit_result(&store, &executed.result).unwrap(), None);
}

#[tokio::test]
async fn an_ordinary_result_is_not_a_limit_result() {
    let (r, store) = execute("hello", small_limits()).await;
    let executed = r.unwrap();
    assert_eq!(executed.limit(), None);
    assert_eq!(ocean_job::read_limit_result(&store, &executed.result).unwrap(), None);
}
