//! zk jobs end to end: `ocean job submit` of a `verification.mode = "zk"` job, proven by the provider
//! automatically, checked by the verifier contract on chain before the provider is paid.

use std::path::{Path, PathBuf};

use crate::harness::{Net, repo_root, stderr, stdout};

fn zk_job(net: &Net, name: &str, inputs: &[(&str, PathBuf)], privacy: bool) -> PathBuf {
    let model = repo_root().join("examples/zk/digits-q.json");
    let mut text = format!("[program]\nkind = \"onnx\"\nmodel = {model:?}\n[inputs]\n");
    for (name, path) in inputs {
        text.push_str(&format!("{name} = {path:?}\n"));
    }
    text.push_str(
        "[verification]\nmode = \"zk\"\nreplicas = 1\nquorum = 1\n\
         [payment]\nmax_price = \"1 OCAT\"\ndeadline_secs = 600\n",
    );
    if privacy {
        text.push_str("[privacy]\nencrypt = true\n");
    }
    let path = net.dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn expected_class(image: &Path) -> usize {
    let model = ocean_zk::Model::load(&repo_root().join("examples/zk/digits-q.json")).unwrap();
    model.infer(&ocean_zk::Input::load(image).unwrap()).unwrap().class()
}

#[tokio::test(flavor = "multi_thread")]
async fn zk_job_is_proven_by_the_provider_and_paid_when_the_chain_verifies_it() {
    let net = Net::start(&[false], 30).await;
    let node = net.nodes[0].address;
    let image = repo_root().join("examples/zk/digit-7.json");

    // Refused before anything is on chain: two inputs, or a private zk job.
    let two = zk_job(&net, "two", &[("a", image.clone()), ("b", image.clone())], false);
    let o = net.requester(&["job", "submit", two.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("exactly one input"), "{}", stderr(&o));
    let private = zk_job(&net, "private", &[("image", image.clone())], true);
    let o = net.requester(&["job", "submit", private.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not supported"), "{}", stderr(&o));
    let o = net.requester(&["job", "list"]);
    assert!(stdout(&o).trim().is_empty(), "no job may have been created: {}", stdout(&o));

    let job = zk_job(&net, "digit", &[("image", image.clone())], false);
    let out_dir = net.dir.path().join("out");
    let started = std::time::Instant::now();
    let o = net.requester(&["job", "submit", job.to_str().unwrap(), "-o", out_dir.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    eprintln!(
        "zk job, submit to finalized (debug build, first proof includes the key): {:?}",
        started.elapsed()
    );
    let text = stdout(&o);
    let class = expected_class(&image);
    assert!(text.contains(&format!("proven inference: class {class} ")), "{text}");
    assert!(text.lines().last().unwrap().ends_with("to 1 providers"), "{text}");

    // `ocean exec` of the job (no chain) gives the CID the network finalized.
    let local = stdout(&net.requester(&["exec", job.to_str().unwrap()]));
    assert!(text.contains(&format!("finalized: result {},", local.trim())), "{local} vs {text}");

    // The result directory holds what the chain recorded, decoded.
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("result.json")).unwrap()).unwrap();
    assert_eq!(result["class"], class);
    let id = text.lines().last().unwrap().split_whitespace().nth(1).unwrap().to_owned();
    let status = stdout(&net.requester(&["job", "status", &id]));
    assert!(status.contains("mode      proof"), "{status}");
    assert!(status.contains(&format!("(proven logits: class {class})")), "{status}");
    assert!(status.contains(result["onchain_result"].as_str().unwrap()), "{status}");

    // The provider was paid by the market (price minus the protocol fee) for this one job.
    let owed = net.deployer.owed(node).await.unwrap();
    assert!(owed > 0, "the provider was not paid");
    // The node records the settlement at its next look at the chain.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let task = net.nodes[0].task(&id).await.unwrap_or_default();
        if task["state"] == "settled" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "task not settled: {task}\n{}", net.logs());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // `ocean job results` gives the same directory again from the chain alone.
    let again = net.dir.path().join("again");
    let o = net.requester(&["job", "results", &id, "-o", again.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(again.join("result.json")).unwrap(),
        std::fs::read(out_dir.join("result.json")).unwrap()
    );
}

/// `ocean zk ceremony`: init from a phase-1 file, two contributions, verify, finalize to a key that
/// `ocean deploy --zk-key` and the node read; a tampered key fails verification with exit 41, and a key nobody
/// contributed to is refused. (A small circuit through the hidden `--r1cs`: the digits circuit needs a 2^15
/// phase 1, which snarkjs takes many minutes to prepare.)
#[test]
fn a_two_party_ceremony_verifies_and_finalizes_and_a_tampered_key_does_not() {
    let snarkjs = repo_root().join("crates/zk/ceremony/node_modules/.bin/snarkjs");
    assert!(snarkjs.exists(), "snarkjs is not installed (run `make deps`)");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run_snarkjs = |args: &[&str]| {
        let o = std::process::Command::new(&snarkjs).args(args).current_dir(d).output().unwrap();
        assert!(o.status.success(), "snarkjs {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    run_snarkjs(&["powersoftau", "new", "bn128", "6", "pot0.ptau"]);
    run_snarkjs(&["powersoftau", "contribute", "pot0.ptau", "pot1.ptau", "--name=p1", "-e=phase one"]);
    run_snarkjs(&["powersoftau", "prepare", "phase2", "pot1.ptau", "phase1.ptau"]);
    ocean_zk::r1cs_file::write_toy_r1cs(&mut std::fs::File::create(d.join("toy.r1cs")).unwrap()).unwrap();

    let ocean = |args: &[&str]| {
        std::process::Command::new(crate::harness::ocean())
            .args(["zk", "ceremony"])
            .args(args)
            .env("OCEAN_SNARKJS", &snarkjs)
            .current_dir(d)
            .output()
            .unwrap()
    };
    let o = ocean(&["init", "--ptau", "phase1.ptau", "--r1cs", "toy.r1cs", "--dir", "c"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The initial key alone is no result: its randomness is public.
    let o = ocean(&["finalize", "--dir", "c", "--out", "early.zkey"]);
    assert!(!o.status.success() && stderr(&o).contains("nobody has contributed"), "{}", stderr(&o));
    for name in ["alice", "bob"] {
        let o = ocean(&["contribute", "--dir", "c", "--name", name, "--entropy", "dice rolls"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains(&format!("by {name}:")), "{}", stdout(&o));
    }
    let o = ocean(&["verify", "--dir", "c"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = ocean(&["finalize", "--dir", "c", "--out", "final.zkey"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("2 contributions"), "{}", stdout(&o));
    let key = ocean_zk::Params::from_file_bytes(&std::fs::read(d.join("final.zkey")).unwrap()).unwrap();
    assert_eq!(key.reduction, ocean_zk::Reduction::Coset);

    // Bob's key with one byte of its delta changed: the transcript no longer verifies.
    let bob = d.join("c/0002.zkey");
    let mut bytes = std::fs::read(&bob).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&bob, bytes).unwrap();
    let o = ocean(&["verify", "--dir", "c"]);
    assert_eq!(o.status.code(), Some(41), "{}", stderr(&o));
}

/// Issue 15, done when: a zk job on the devnet is verified with a key from a ceremony run by the test, with two
/// contributors. The digits circuit needs a 2^15 phase-1 file prepared for phase 2, which snarkjs takes many
/// minutes to make, so this runs in `make test-ceremony` (which caches that file outside the clone) and the
/// short form above runs in `make test`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the cached 2^15 phase-1 file: make test-ceremony"]
async fn a_zk_job_is_paid_under_a_key_from_a_two_party_ceremony() {
    let ptau = std::env::var_os("OCEAN_CEREMONY_PTAU").map(PathBuf::from).expect("OCEAN_CEREMONY_PTAU");
    let snarkjs = repo_root().join("crates/zk/ceremony/node_modules/.bin/snarkjs");
    let dir = tempfile::tempdir().unwrap();
    let ocean = |args: &[&str]| {
        let o = std::process::Command::new(crate::harness::ocean())
            .args(["zk", "ceremony"])
            .args(args)
            .env("OCEAN_SNARKJS", &snarkjs)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "ocean zk ceremony {args:?}: {}", stderr(&o));
        stdout(&o)
    };
    let started = std::time::Instant::now();
    ocean(&["init", "--ptau", ptau.to_str().unwrap(), "--dir", "c"]);
    ocean(&["contribute", "--dir", "c", "--name", "alice"]);
    ocean(&["contribute", "--dir", "c", "--name", "bob"]);
    ocean(&["finalize", "--dir", "c", "--out", "final.zkey"]);
    eprintln!("ceremony (init, 2 contributions, verify): {:?}", started.elapsed());

    let net = Net::start_with_zk_key(&[false], 30, Some(dir.path().join("final.zkey"))).await;
    let image = repo_root().join("examples/zk/digit-7.json");
    let job = zk_job(&net, "digit", &[("image", image.clone())], false);
    let o = net.requester(&["job", "submit", job.to_str().unwrap()]);
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    assert!(
        stdout(&o).contains(&format!("proven inference: class {} ", expected_class(&image))),
        "{}",
        stdout(&o)
    );
    // The market's verifier is the one built from the ceremony's key, not the development one.
    let dev = ocean_zk::Params::dev().unwrap().evm_key_words();
    let ceremony = ocean_zk::Params::from_file_bytes(&std::fs::read(dir.path().join("final.zkey")).unwrap())
        .unwrap()
        .evm_key_words();
    assert_ne!(dev, ceremony);
}
