//! Private jobs (`[privacy] encrypt = true`) end to end: inputs age-encrypted to the assigned providers,
//! results age-encrypted to the requester, quorum on the plaintext result's CID, and no plaintext input in
//! any store.

use std::path::{Path, PathBuf};

use alloy::providers::Provider;
use ocean_chain::{B256, bindings::NodeRegistry};

use crate::harness::{Net, stderr, stdout};

/// A line no result of wordcount can contain (it reports single words).
const SECRET_LINE: &str = "patient 7431 tested positive for zanzibarite on tuesday, do not disclose";

fn private_job(net: &Net, name: &str, input: &Path, replicas: u8, quorum: u8) -> PathBuf {
    let base = net.job(name, "wordcount", &["--top", "5"], replicas, quorum, 600);
    let text = std::fs::read_to_string(&base).unwrap();
    let corpus = crate::harness::repo_root().join("examples/data/corpus.txt");
    let text = text.replace(&format!("{corpus:?}"), &format!("{input:?}")) + "[privacy]\nencrypt = true\n";
    std::fs::write(&base, text).unwrap();
    base
}

/// Runs `ocean ARGS` with `repo` as its repo (the harness's `requester` always uses the requester's).
fn ocean_in(net: &Net, repo: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(crate::harness::ocean());
    cmd.args(args).arg("--repo").arg(repo).current_dir(net.dir.path());
    net.env(&mut cmd);
    cmd.stdin(std::process::Stdio::null()).output().unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Files under `dir` that contain `needle`.
fn holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn private_job_finalizes_and_no_store_holds_the_plaintext() {
    let net = Net::start(&[false, false, false], 30).await;
    let input = net.dir.path().join("secret.txt");
    let mut text = String::new();
    for i in 0..200 {
        text.push_str(&format!("{SECRET_LINE} (record {i})\nalpha beta gamma alpha beta alpha\n"));
    }
    std::fs::write(&input, &text).unwrap();
    let job = private_job(&net, "private", &input, 3, 2);

    let out_dir = net.dir.path().join("out");
    let started = std::time::Instant::now();
    let o = net.requester(&["job", "submit", job.to_str().unwrap(), "-o", out_dir.to_str().unwrap()]);
    let elapsed = started.elapsed();
    assert!(o.status.success(), "submit failed: {}\n{}", stderr(&o), net.logs());
    eprintln!("submit to finalized (private wordcount, 3 replicas, debug build): {elapsed:?}");
    let line = stdout(&o).lines().last().unwrap_or_default().to_owned();
    assert!(line.contains(" finalized: result bafy") && line.ends_with("to 3 providers"), "{line}");

    // The decrypted result is the one a plain local run gives.
    let plain_job = net.dir.path().join("plain.toml");
    let plain_text = std::fs::read_to_string(&job).unwrap().replace("[privacy]\nencrypt = true\n", "");
    std::fs::write(&plain_job, plain_text).unwrap();
    let expected = net.dir.path().join("expected");
    let scratch = net.dir.path().join("scratch-repo");
    let o =
        ocean_in(&net, &scratch, &["exec", plain_job.to_str().unwrap(), "-o", expected.to_str().unwrap()]);
    assert!(o.status.success(), "exec failed: {}", stderr(&o));
    for f in ["stdout", "stderr"] {
        assert_eq!(std::fs::read(out_dir.join(f)).unwrap(), std::fs::read(expected.join(f)).unwrap(), "{f}");
    }
    let outputs = std::fs::read(out_dir.join("stdout")).unwrap();
    assert!(String::from_utf8_lossy(&outputs).contains("alpha"), "wordcount ran on the decrypted input");

    // No store, database, cache or log of any provider or of the requester holds the plaintext input.
    let needle = SECRET_LINE.as_bytes();
    for n in &net.nodes {
        assert!(!files_under(&n.repo).is_empty());
        assert_eq!(holding(&n.repo, needle), Vec::<PathBuf>::new(), "plaintext on provider {}", n.address);
        assert!(!n.repo.join("work").read_dir().is_ok_and(|mut d| d.next().is_some()), "work dirs removed");
    }
    assert_eq!(holding(&net.requester, needle), Vec::<PathBuf>::new(), "plaintext in the requester's repo");
    // The scan finds plaintext where it is: the job's own input file.
    let hits = holding(net.dir.path(), needle);
    assert!(hits.contains(&input), "{hits:?}");
    assert!(
        hits.iter().all(|h| *h == input || h.starts_with(&scratch)),
        "only the input and the public run: {hits:?}"
    );

    // Another account cannot open the result: a clear error, nothing written.
    let other = net.dir.path().join("other-requester");
    std::fs::create_dir_all(&other).unwrap();
    ocean_wallet::Wallet::open(other.join("keys"))
        .import_private_key(
            "default",
            &format!("{:#x}", net.client_for(10).to_bytes()),
            crate::harness::PASSWORD,
        )
        .unwrap();
    let id = line.split_whitespace().nth(1).unwrap().to_owned();
    let stolen = net.dir.path().join("stolen");
    let o = ocean_in(&net, &other, &["job", "results", &id, "-o", stolen.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("not encrypted to this key"), "{}", stderr(&o));
    assert!(!stolen.exists(), "nothing written");
    // The owner can fetch it again, verified against the chain.
    let again = net.dir.path().join("again");
    let o = net.requester(&["job", "results", &id, "-o", again.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(again.join("stdout")).unwrap(), outputs);
}

#[tokio::test(flavor = "multi_thread")]
async fn private_jobs_refuse_bad_input_before_escrow() {
    let net = Net::start(&[false, false, false], 30).await;
    let input = net.dir.path().join("secret.txt");
    std::fs::write(&input, format!("{SECRET_LINE}\n")).unwrap();
    let requester = net.requester_address;
    let jobs = || async { net.deployer.jobs_of(requester).await.unwrap().len() };

    // An input given as a CID is already in a store in plaintext.
    let cid_job = private_job(&net, "cid", &input, 3, 2);
    let text = std::fs::read_to_string(&cid_job)
        .unwrap()
        .replace(&format!("{input:?}"), "\"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku\"");
    std::fs::write(&cid_job, text).unwrap();
    let o = net.requester(&["job", "submit", cid_job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("takes its inputs from local files"), "{}", stderr(&o));

    // A provider whose registered key was cleared cannot be given a private job; with 3 replicas and only
    // 2 keyed providers the requester refuses before anything is on chain.
    let signer = net.client_for(4);
    let wallet = alloy::network::EthereumWallet::from(signer);
    let provider =
        alloy::providers::ProviderBuilder::new().wallet(wallet).connect_http(net.anvil.endpoint_url());
    let node =
        net.deployer.nodes().await.unwrap().into_iter().find(|n| n.address == net.nodes[2].address).unwrap();
    assert_ne!(node.encryption_key, B256::ZERO, "`ocean node start` registered the node's key");
    let caps = NodeRegistry::Capabilities {
        cores: node.cores,
        memoryMiB: node.memory_mib,
        gpuVramMiB: 0,
        benchmarkScore: node.benchmark_score,
        gpuModel: String::new(),
    };
    NodeRegistry::new(net.deployment.registry, &provider)
        .update(caps, B256::ZERO, node.endpoint.clone())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let _ = provider.get_block_number().await.unwrap();
    let job = private_job(&net, "keyless", &input, 3, 2);
    let o = net.requester(&["job", "submit", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("registered encryption key; 2 of the 3"), "{}", stderr(&o));
    assert_eq!(jobs().await, 0, "nothing escrowed");
    // Two keyed providers are enough for a 2-of-2 private job... of which 1 replica must be a majority:
    // use replicas = 1 (mode none) so the keyless provider is simply not chosen.
    let one = private_job(&net, "one", &input, 1, 1);
    let o = net.requester(&["job", "submit", one.to_str().unwrap()]);
    assert!(o.status.success(), "{}\n{}", stderr(&o), net.logs());
    assert_eq!(jobs().await, 1);
    assert_eq!(holding(&net.requester, SECRET_LINE.as_bytes()), Vec::<PathBuf>::new());
}
