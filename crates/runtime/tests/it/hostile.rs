//! Each hostile guest is stopped with its own error, and the runtime keeps working afterwards.

use std::time::{Duration, Instant};

use ocean_runtime::{Error, Limit, Status};

use crate::{run, runtime, small_limits, wat};

fn limit_of(r: &ocean_runtime::Result<ocean_runtime::Outcome>) -> Option<Limit> {
    r.as_ref().err().and_then(Error::limit)
}

#[tokio::test]
async fn infinite_loop_runs_out_of_fuel() {
    let rt = runtime();
    let (r, _) = run(&rt, "loop", wat("loop"), &[], small_limits()).await;
    match r {
        Err(Error::Limit { limit: Limit::Fuel, fuel_used }) => assert_eq!(fuel_used, small_limits().fuel),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn infinite_loop_with_plenty_of_fuel_hits_the_deadline() {
    let rt = runtime();
    let limits = ocean_types::manifest::Limits { fuel: u64::MAX, timeout_secs: 1, ..small_limits() };
    let started = Instant::now();
    let (r, _) = run(&rt, "loop", wat("loop"), &[], limits).await;
    assert_eq!(limit_of(&r), Some(Limit::Timeout), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "stopped promptly: {:?}", started.elapsed());
}

#[tokio::test]
async fn memory_bomb_hits_the_memory_limit() {
    let rt = runtime();
    let (r, _) = run(&rt, "membomb", wat("membomb"), &[], small_limits()).await;
    assert_eq!(limit_of(&r), Some(Limit::Memory), "{r:?}");
    let (r, _) = run(&rt, "bigmemory", wat("bigmemory"), &[], small_limits()).await;
    assert_eq!(limit_of(&r), Some(Limit::Memory), "initial memory over the cap: {r:?}");
}

#[tokio::test]
async fn unbounded_recursion_hits_the_stack_limit() {
    let rt = runtime();
    let limits = ocean_types::manifest::Limits { fuel: u64::MAX, ..small_limits() };
    let (r, _) = run(&rt, "recursion", wat("recursion"), &[], limits).await;
    assert_eq!(limit_of(&r), Some(Limit::Stack), "{r:?}");
}

#[tokio::test]
async fn output_floods_hit_the_output_limit() {
    let rt = runtime();
    let limits = ocean_types::manifest::Limits { fuel: u64::MAX, ..small_limits() };
    let (r, _) = run(&rt, "flood_stdout", wat("flood_stdout"), &[], limits).await;
    assert_eq!(limit_of(&r), Some(Limit::Output), "{r:?}");
    let (r, scratch) = run(&rt, "flood_file", wat("flood_file"), &[], limits).await;
    assert_eq!(limit_of(&r), Some(Limit::Output), "{r:?}");
    let size = std::fs::metadata(scratch.outputs().join("flood")).unwrap().len();
    // Stopped at the first host call past the cap: at most one 64 KiB write over.
    assert!(size <= (1 << 20) + (64 << 10), "flood file is {size} bytes");
}

#[tokio::test]
async fn escapes_from_the_preopens_fail() {
    let rt = runtime();
    let (r, scratch) = run(&rt, "escape", wat("escape"), &[], small_limits()).await;
    let out = r.unwrap();
    assert_eq!(out.status, Status::Exited { code: 0 });
    assert_eq!(out.stdout.len(), 7);
    for (attempt, errno) in out.stdout.iter().enumerate() {
        // Attempt 4 creates a symlink inside /outputs, which is allowed; following it out (5) is not.
        if attempt != 4 {
            assert_ne!(*errno, 0, "attempt {attempt} succeeded: {:?}", out.stdout);
        }
    }
    assert!(!scratch.inputs().join("planted").exists(), "/inputs is read-only");
}

#[tokio::test]
async fn reading_clock_and_random_in_a_loop_is_deterministic() {
    let rt = runtime();
    let (a, _) = run(&rt, "clockrand", wat("clockrand"), &[], small_limits()).await;
    let (b, _) = run(&rt, "clockrand", wat("clockrand"), &[], small_limits()).await;
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.stdout.len(), 24_000);
    assert_eq!(a, b, "two runs read the same clocks and random bytes and spent the same fuel");
    let wall = u64::from_le_bytes(a.stdout[..8].try_into().unwrap());
    assert_eq!(wall, 1_735_689_600 * 1_000_000_000, "the wall clock starts at the job's fixed epoch");
    let random: Vec<&[u8]> = a.stdout.chunks(24).map(|c| &c[16..]).collect();
    assert_ne!(random[0], random[1], "random bytes still vary within a run");
}

#[tokio::test]
async fn failing_guests_are_results_not_errors() {
    let rt = runtime();
    let (r, _) = run(&rt, "trap", wat("trap"), &[], small_limits()).await;
    let out = r.unwrap();
    assert!(matches!(out.status, Status::Trapped { .. }), "{:?}", out.status);
    assert_eq!(out.stderr, b"about to fail\n");
    let (r, _) = run(&rt, "exit3", wat("exit3"), &[], small_limits()).await;
    assert_eq!(r.unwrap().status, Status::Exited { code: 3 });
}

#[tokio::test]
async fn the_runtime_stays_healthy_after_hostile_guests() {
    let rt = runtime();
    let limits = ocean_types::manifest::Limits { timeout_secs: 2, ..small_limits() };
    for name in ["loop", "membomb", "recursion", "flood_stdout", "flood_file", "escape"] {
        let (r, _) = run(&rt, name, wat(name), &[], limits).await;
        assert!(r.as_ref().map_or(true, |o| o.status.success()), "{name}: {r:?}");
    }
    let (r, _) = run(&rt, "clockrand", wat("clockrand"), &[], limits).await;
    assert!(r.unwrap().status.success());
}

#[tokio::test]
async fn sleeping_in_the_host_is_cut_by_the_deadline() {
    let rt = runtime();
    let limits = ocean_types::manifest::Limits { timeout_secs: 1, ..small_limits() };
    let started = Instant::now();
    let (r, _) = run(&rt, "sleep", wat("sleep"), &[], limits).await;
    assert_eq!(limit_of(&r), Some(Limit::Timeout), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "stopped promptly: {:?}", started.elapsed());
}

#[tokio::test]
async fn many_small_writes_do_not_walk_the_outputs_per_write() {
    let rt = runtime();
    let limits = ocean_types::manifest::Limits { fuel: u64::MAX, output_mib: 4, ..small_limits() };
    let (r, scratch) = run(&rt, "print_lines", wat("print_lines"), &[], limits).await;
    let out = r.unwrap();
    assert_eq!(out.status, Status::Exited { code: 0 });
    assert_eq!(out.stdout.len(), 265_000 * 5);
    assert_eq!(std::fs::metadata(scratch.outputs().join("log")).unwrap().len(), 1_000 * 5);
    // Writes are counted as they happen: /outputs is measured only after the calls that can change it in
    // ways a write count cannot see (opening the file, the final check), not after each of the 266,000 writes.
    assert!(out.output_scans < 10, "{} walks of /outputs", out.output_scans);
}

#[tokio::test]
async fn a_sparse_write_far_past_the_cap_hits_the_output_limit() {
    let rt = runtime();
    let (r, _) = run(&rt, "sparse", wat("sparse"), &[], small_limits()).await;
    assert_eq!(limit_of(&r), Some(Limit::Output), "{r:?}");
}
