//! `kind = "fhe"` jobs over the network: submitted with `ocean job submit`, evaluated by three providers
//! whose ciphertext results must be byte-identical for the quorum to pay, then decrypted by the requester;
//! and the same job private (`[privacy] encrypt = true`: the ciphertext inputs also travel age-encrypted).

use crate::harness::{Net, stderr, stdout};

fn ok(o: std::process::Output) -> String {
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    stdout(&o)
}

#[tokio::test(flavor = "multi_thread")]
async fn fhe_job_is_evaluated_by_three_providers_that_agree_and_paid() {
    let net = Net::start(&[false, false, false], 30).await;
    let d = net.dir.path();
    let keys = ok(net.requester(&["fhe", "keygen", "--dir", "keys"]));
    let public = keys
        .lines()
        .find_map(|l| l.strip_prefix("public key"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    ok(net.requester(&[
        "fhe",
        "encrypt",
        "--pubkey",
        &public,
        "--type",
        "u16[4]",
        "--values",
        "7,300,41,9",
        "-o",
        "x.ct",
    ]));
    std::fs::write(
        d.join("program.toml"),
        "outputs = [\"total\", \"max\"]\n[inputs]\nx = \"u16[4]\"\n\
         [[let]]\nname = \"total\"\nop = \"sum\"\nargs = [\"x\"]\n\
         [[let]]\nname = \"max\"\nop = \"max\"\nargs = [\"x\"]\n",
    )
    .unwrap();
    let job = |name: &str, verification: &str, privacy: &str| {
        let path = d.join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "[program]\nkind = \"fhe\"\nmodule = \"program.toml\"\nserver_key = \"keys/server.key\"\n\
                 [inputs]\nx = \"x.ct\"\n[limits]\nmemory_mib = 2048\ntimeout_secs = 300\n\
                 [verification]\n{verification}\n[payment]\nmax_price = \"9 OCAT\"\ndeadline_secs = 900\n{privacy}"
            ),
        )
        .unwrap();
        path
    };

    let decrypt = |out: &std::path::Path| {
        let file = out.join("outputs/result.fhe");
        ok(net.requester(&["fhe", "decrypt", file.to_str().unwrap(), "--key", "keys/client.key"]))
    };

    let quorum = job("quorum", "mode = \"quorum\"\nreplicas = 3\nquorum = 2", "");
    let out = d.join("out");
    let started = std::time::Instant::now();
    let text = ok(net.requester(&["job", "submit", quorum.to_str().unwrap(), "-o", out.to_str().unwrap()]));
    eprintln!("fhe job, 3 replicas, submit to finalized (debug build): {:?}", started.elapsed());
    let last = text.lines().last().unwrap();
    assert!(last.ends_with("to 3 providers"), "all three results must match: {text}\n{}", net.logs());
    assert!(!text.contains("slashed"), "{text}");
    let plain = decrypt(&out);
    assert!(plain.contains("total = 357"), "{plain}");
    assert!(plain.contains("max = 300"), "{plain}");

    // Private: the ciphertext inputs travel age-encrypted to the one provider (the server key is public).
    let private = job("private", "mode = \"none\"\nreplicas = 1\nquorum = 1", "[privacy]\nencrypt = true\n");
    let out = d.join("out-private");
    let text = ok(net.requester(&["job", "submit", private.to_str().unwrap(), "-o", out.to_str().unwrap()]));
    assert!(text.lines().last().unwrap().ends_with("to 1 providers"), "{text}");
    let plain = decrypt(&out);
    assert!(plain.contains("total = 357"), "{plain}");
}
