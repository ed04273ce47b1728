//! The wall-clock deadline is the parent's: it covers compiling as well as running.

use std::time::{Duration, Instant};

use ocean_executor::{Error, Response};
use ocean_runtime::Limit;

use crate::{Work, executor, small_limits, wat};

/// LEB128 of `n`.
fn leb(mut n: u32, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(body.len() as u32, out);
    out.extend_from_slice(body);
}

/// A valid module of `funcs` functions of `adds` additions each: megabytes that take Cranelift seconds.
fn slow_to_compile(funcs: u32, adds: u32) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 1, 0x7f], &mut m); // one type: () -> i32
    let mut f = Vec::new();
    leb(funcs, &mut f);
    f.extend(std::iter::repeat_n(0u8, funcs as usize));
    section(3, &f, &mut m);
    let mut body = vec![1, 1, 0x7f]; // one i32 local
    for _ in 0..adds {
        body.extend_from_slice(&[0x20, 0, 0x41, 1, 0x6a, 0x21, 0]); // local = local + 1
    }
    body.extend_from_slice(&[0x20, 0, 0x0b]);
    let mut code = Vec::new();
    leb(funcs, &mut code);
    for _ in 0..funcs {
        leb(body.len() as u32, &mut code);
        code.extend_from_slice(&body);
    }
    section(10, &code, &mut m);
    m
}

#[tokio::test]
async fn compiling_a_huge_module_is_cut_by_the_deadline() {
    let work = Work::create();
    let module = work.path("huge.wasm");
    std::fs::write(&module, slow_to_compile(2_000, 1_000)).unwrap();
    let limits = ocean_types::manifest::Limits { timeout_secs: 1, ..small_limits() };
    let started = Instant::now();
    let err =
        executor().run(&work.request("huge", module, limits), Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "killed while compiling: {err:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "promptly: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_guest_that_runs_past_the_deadline_fails() {
    let work = Work::create();
    let limits = ocean_types::manifest::Limits { fuel: u64::MAX, timeout_secs: 1, ..small_limits() };
    // The guest's own deadline inside and the parent's kill race; either way the task fails with a timeout.
    match executor().run(&work.request("loop", wat("loop"), limits), Duration::from_secs(1)).await {
        Err(Error::Timeout(_)) => {}
        // The child's own deadline: a limit, but not one that is a result (the worker fails the task).
        Ok(Response::Limit { limit: Limit::Timeout, .. }) => assert_eq!(Limit::Timeout.exceeded(), None),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_parents_deadline_is_an_error_never_a_limit_result() {
    let work = Work::create();
    // The guest's own deadline is far off: only the parent's kill can end it, and that is always an error.
    let limits = ocean_types::manifest::Limits { fuel: u64::MAX, timeout_secs: 60, ..small_limits() };
    let started = Instant::now();
    let answer = executor().run(&work.request("loop", wat("loop"), limits), Duration::from_secs(1)).await;
    assert!(matches!(answer, Err(Error::Timeout(d)) if d == Duration::from_secs(1)), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "promptly: {:?}", started.elapsed());
}
