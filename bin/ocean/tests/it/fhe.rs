//! `ocean fhe` and `kind = "fhe"` through the binary: keygen, two data owners encrypting with the public key
//! alone, the job run on two "replicas" (separate repos) giving one result CID, decryption, and the bad-key
//! exit codes. Uses the examples' linear-scoring program on a short input to stay fast in debug builds.

use std::{path::Path, process::Command};

use crate::harness::{ocean, repo_root, stdout};

fn run(repo: &Path, cwd: &Path, args: &[&str], password: &str) -> std::process::Output {
    Command::new(ocean())
        .args(args)
        .arg("--repo")
        .arg(repo)
        .current_dir(cwd)
        .env("OCEAN_PASSWORD", password)
        .env_remove("OCEAN_PASSWORD_FILE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn ok(o: std::process::Output) -> String {
    assert!(o.status.success(), "{}\n{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
    stdout(&o)
}

fn cid_after(text: &str, label: &str) -> String {
    text.lines().find_map(|l| l.strip_prefix(label)).unwrap().split_whitespace().next().unwrap().to_owned()
}

#[test]
fn fhe_job_runs_through_exec_replicas_agree_and_only_the_right_key_decrypts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (requester, replica2) = (d.join("requester"), d.join("replica2"));
    let keys = ok(run(&requester, d, &["fhe", "keygen", "--dir", "keys"], "pw"));
    let public = cid_after(&keys, "public key");
    // Two owners; each encrypts with the public key CID (the requester's store serves it here).
    ok(run(
        &requester,
        d,
        &["fhe", "encrypt", "--pubkey", &public, "--type", "u16[]", "--values", "41,12,3", "-o", "a.ct"],
        "",
    ));
    ok(run(
        &requester,
        d,
        &["fhe", "encrypt", "--pubkey", &public, "--type", "u16[3]", "--values", "27 60 9", "-o", "b.ct"],
        "",
    ));
    std::fs::write(
        d.join("program.toml"),
        "outputs = [\"score\", \"big\"]\n[inputs]\na = \"u16[3]\"\nb = \"u16[3]\"\n\
         [[let]]\nname = \"x\"\nop = \"concat\"\nargs = [\"a\", \"b\"]\n\
         [[let]]\nname = \"score\"\nop = \"dot\"\nargs = [\"x\", [12, -7, 30, 5, -3, 18]]\n\
         [[let]]\nname = \"big\"\nop = \"gt\"\nargs = [\"x\", 40]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("job.toml"),
        "[program]\nkind = \"fhe\"\nmodule = \"program.toml\"\nserver_key = \"keys/server.key\"\n\
         [inputs]\na = \"a.ct\"\nb = \"b.ct\"\n[limits]\nmemory_mib = 1024\ntimeout_secs = 600\n\
         [payment]\ndeadline_secs = 600\n",
    )
    .unwrap();
    let first = ok(run(&requester, d, &["exec", "job.toml"], "")).trim().to_owned();
    let second = ok(run(&replica2, d, &["exec", "job.toml"], "")).trim().to_owned();
    assert_eq!(first, second, "two replicas give the same result CID");

    let plain =
        ok(run(&requester, d, &["fhe", "decrypt", &first, "--key", "keys/client.key", "--signed"], "pw"));
    let x = [41i64, 12, 3, 27, 60, 9];
    let score: i64 = x.iter().zip([12i64, -7, 30, 5, -3, 18]).map(|(a, w)| a * w).sum();
    assert!(plain.contains(&format!("score = {score}")), "{plain}");
    assert!(plain.contains("big = [true, false, false, false, true, false]"), "{plain}");

    // Wrong password: 31. Another key set's client key: 30. A program that does not type-check: 32.
    let o = run(&requester, d, &["fhe", "decrypt", &first, "--key", "keys/client.key"], "nope");
    assert_eq!(o.status.code(), Some(31), "{}", String::from_utf8_lossy(&o.stderr));
    ok(run(&requester, d, &["fhe", "keygen", "--dir", "other"], "pw"));
    let o = run(&requester, d, &["fhe", "decrypt", &first, "--key", "other/client.key"], "pw");
    assert_eq!(o.status.code(), Some(30), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(
        d.join("bad.toml"),
        "outputs = [\"y\"]\n[inputs]\na = \"u8\"\n[[let]]\nname = \"y\"\nop = \"sum\"\nargs = [\"a\"]\n",
    )
    .unwrap();
    let o = run(&requester, d, &["fhe", "check", "bad.toml"], "");
    assert_eq!(o.status.code(), Some(32), "{}", String::from_utf8_lossy(&o.stderr));

    // The examples type-check.
    for p in ["sum", "histogram", "linear"] {
        let path = repo_root().join(format!("examples/fhe/{p}.toml"));
        ok(run(&requester, d, &["fhe", "check", path.to_str().unwrap()], ""));
    }
}
