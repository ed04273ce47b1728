//! A `fhe` task's untrusted files (a stranger's program, server key and ciphertexts) are parsed in the executor
//! process: a malformed one is that task's refusal, never the node's failure. The honest path (three providers
//! evaluate and agree) is `ocean`'s `fhe_net` end-to-end test, which runs every fhe job through this process.

use std::time::Duration;

use ocean_executor::{Refusal, Request, Response};
use ocean_runtime::job::FheStaged;

use crate::{Work, executor, small_limits};

const SUM: &str = include_str!("../../../../examples/fhe/sum.toml");

fn staged(work: &Work, program: &[u8], server_key: &[u8]) -> Request {
    std::fs::write(work.path("program"), program).unwrap();
    std::fs::write(work.path("server_key"), server_key).unwrap();
    Request::Fhe(FheStaged {
        manifest: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".parse().unwrap(),
        key_id: String::new(),
        program: work.path("program"),
        server_key: work.path("server_key"),
        inputs: Vec::new(),
        outputs: work.path("outputs"),
        limits: small_limits(),
    })
}

#[tokio::test]
async fn a_malformed_server_key_or_program_is_the_tasks_refusal() {
    for (program, key, expect) in [
        (SUM.as_bytes(), &b"not a tfhe server key"[..], "server key"),
        (&b"\xff\xfe not utf-8"[..], &b""[..], "UTF-8"),
    ] {
        let work = Work::create();
        let answer = executor().run(&staged(&work, program, key), Duration::from_secs(60)).await.unwrap();
        let Response::Refused { reason, message } = answer else { panic!("{answer:?}") };
        assert_eq!(reason, Refusal::Job, "{message}");
        assert!(message.contains(expect), "{message}");
        assert!(!work.path("outputs/result.fhe").exists());
    }
}

#[tokio::test]
async fn a_staged_file_over_the_jobs_input_cap_is_refused_unread() {
    let work = Work::create();
    let mut request = staged(&work, SUM.as_bytes(), &vec![0u8; (1 << 20) + 1]);
    let Request::Fhe(task) = &mut request else { unreachable!() };
    task.limits.input_mib = 1;
    let answer = executor().run(&request, Duration::from_secs(60)).await.unwrap();
    let Response::Refused { message, .. } = answer else { panic!("{answer:?}") };
    assert!(message.contains("over 1048576 bytes"), "{message}");
}
