//! Guests run in the executor process give the answers they give in process; crashes fail only their task.

use std::time::Duration;

use ocean_executor::{Config, Error, Executor, Response};
use ocean_runtime::{Limit, Status};

use crate::{Work, executor, small_limits, wat};

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_guest_runs_and_its_streams_and_outputs_are_in_the_work_folder() {
    let work = Work::create();
    let answer =
        executor().run(&work.request("hello", wat("hello"), small_limits()), DEADLINE).await.unwrap();
    assert!(matches!(answer, Response::Ran { status: Status::Exited { code: 0 }, .. }), "{answer:?}");
    assert_eq!(std::fs::read(work.path("stdout")).unwrap(), b"hello\n");
    assert_eq!(std::fs::read(work.path("stderr")).unwrap(), b"");
    assert_eq!(std::fs::read(work.path("outputs/greeting")).unwrap(), b"hello\n");
}

#[tokio::test]
async fn many_small_writes_are_counted_not_walked() {
    let work = Work::create();
    let limits = ocean_types::manifest::Limits { fuel: u64::MAX, output_mib: 4, ..small_limits() };
    let answer = executor().run(&work.request("lines", wat("print_lines"), limits), DEADLINE).await.unwrap();
    let Response::Ran { status, output_scans, .. } = answer else { panic!("{answer:?}") };
    assert_eq!(status, Status::Exited { code: 0 });
    assert!(output_scans < 10, "{output_scans} walks of /outputs");
    assert_eq!(std::fs::metadata(work.path("stdout")).unwrap().len(), 265_000 * 5);
}

#[tokio::test]
async fn limits_are_the_same_answers_as_in_process() {
    let limits = ocean_types::manifest::Limits { fuel: u64::MAX, ..small_limits() };
    for (guest, limit) in [
        ("flood_file", Limit::Output),
        ("flood_stdout", Limit::Output),
        // Past the file-size rlimit the host answers EFBIG, which is the output limit too.
        ("sparse", Limit::Output),
        ("membomb", Limit::Memory),
        ("recursion", Limit::Stack),
    ] {
        let work = Work::create();
        let answer = executor().run(&work.request(guest, wat(guest), limits), DEADLINE).await.unwrap();
        assert!(matches!(answer, Response::Limit { limit: l, .. } if l == limit), "{guest}: {answer:?}");
    }
    let work = Work::create();
    let answer = executor().run(&work.request("loop", wat("loop"), small_limits()), DEADLINE).await.unwrap();
    assert_eq!(answer, Response::Limit { limit: Limit::Fuel, fuel_used: small_limits().fuel });
}

#[tokio::test]
async fn a_module_that_does_not_compile_is_refused() {
    let work = Work::create();
    let junk = work.path("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0garbage").unwrap();
    let answer = executor().run(&work.request("junk", junk, small_limits()), DEADLINE).await.unwrap();
    assert!(
        matches!(answer, Response::Refused { reason: ocean_executor::Refusal::Compile, .. }),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_process_killed_by_a_signal_is_a_crash_with_its_signal() {
    let work = Work::create();
    let crashing =
        Executor::new(Config { program: "/bin/sh".into(), args: vec!["-c".into(), "kill -SEGV $$".into()] });
    let err = crashing.run(&work.request("hello", wat("hello"), small_limits()), DEADLINE).await.unwrap_err();
    match err {
        Error::Crashed { exit } => assert_eq!(exit.signal, Some(11), "{exit}"),
        other => panic!("{other:?}"),
    }
    // The next task is unaffected.
    let answer =
        executor().run(&work.request("hello", wat("hello"), small_limits()), DEADLINE).await.unwrap();
    assert!(matches!(answer, Response::Ran { .. }), "{answer:?}");
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error() {
    let work = Work::create();
    let missing = Executor::new(Config::program("/nonexistent/ocean-executor"));
    let err = missing.run(&work.request("hello", wat("hello"), small_limits()), DEADLINE).await.unwrap_err();
    assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
}

#[cfg(feature = "fault-injection")]
#[tokio::test]
async fn a_guest_that_panics_the_host_layer_crashes_only_its_own_process() {
    let work = Work::create();
    let err = executor()
        .run(&work.request("panic", wat("panic_host"), small_limits()), DEADLINE)
        .await
        .unwrap_err();
    match err {
        Error::Crashed { exit } => assert_eq!(exit.code, Some(101), "a panic: {exit}"),
        other => panic!("{other:?}"),
    }
    let answer =
        executor().run(&work.request("hello", wat("hello"), small_limits()), DEADLINE).await.unwrap();
    assert!(matches!(answer, Response::Ran { .. }), "{answer:?}");
}
