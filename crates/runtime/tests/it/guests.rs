//! The example guests give the expected answers, deterministically.

use ocean_runtime::Status;

use crate::{guest, run, runtime};

fn limits() -> ocean_types::manifest::Limits {
    ocean_types::manifest::Limits {
        memory_mib: 128,
        fuel: 20_000_000_000,
        timeout_secs: 60,
        output_mib: 16,
        ..Default::default()
    }
}

#[tokio::test]
async fn wordcount_counts_words() {
    let rt = runtime();
    let scratch = crate::Scratch::default();
    std::fs::write(scratch.inputs().join("a.txt"), "the cat and the hat\nThe end").unwrap();
    std::fs::write(scratch.inputs().join("b.txt"), "a cat").unwrap();
    let program = crate::prepare(&rt, guest("wordcount"));
    let out = rt.run(&program, &scratch.invocation(&["--top", "2"], limits())).await.unwrap();
    assert_eq!(out.status, Status::Exited { code: 0 }, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "3 the\n2 cat\n");
    let tsv = std::fs::read_to_string(scratch.outputs().join("counts.tsv")).unwrap();
    assert!(tsv.starts_with("the\t3\ncat\t2\n"), "{tsv}");
}

#[tokio::test]
async fn wordcount_cannot_read_host_files() {
    let rt = runtime();
    let (r, _) = run(&rt, "wordcount", guest("wordcount"), &["/etc/passwd"], limits()).await;
    let out = r.unwrap();
    assert_eq!(out.status, Status::Exited { code: 1 });
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("reading /etc/passwd"), "{err}");
}

#[tokio::test]
async fn sha256sum_matches_known_digests() {
    let rt = runtime();
    let scratch = crate::Scratch::default();
    std::fs::write(scratch.inputs().join("abc"), "abc").unwrap();
    std::fs::write(scratch.inputs().join("empty"), "").unwrap();
    let program = crate::prepare(&rt, guest("sha256sum"));
    let out = rt.run(&program, &scratch.invocation(&[], limits())).await.unwrap();
    let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  abc\n\
                    e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  empty\n";
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    assert_eq!(std::fs::read_to_string(scratch.outputs().join("SHA256SUMS")).unwrap(), expected);
}

#[tokio::test]
async fn pi_is_seeded_by_the_job() {
    let rt = runtime();
    let args = ["--samples", "200000"];
    let (a, _) = run(&rt, "pi", guest("pi"), &args, limits()).await;
    let (b, _) = run(&rt, "pi", guest("pi"), &args, limits()).await;
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b, "same seed, same estimate, same fuel");
    let text = String::from_utf8(a.stdout).unwrap();
    let pi: f64 = text.lines().find_map(|l| l.strip_prefix("pi ")).unwrap().parse().unwrap();
    assert!((pi - std::f64::consts::PI).abs() < 0.02, "{text}");

    let scratch = crate::Scratch::default();
    let program = crate::prepare(&rt, guest("pi"));
    let mut other_seed = scratch.invocation(&args, limits());
    other_seed.seed = 7;
    let c = rt.run(&program, &other_seed).await.unwrap();
    assert_ne!(String::from_utf8(c.stdout).unwrap(), text, "another job seed draws other points");
}

#[tokio::test]
async fn matmul_product_is_bit_exact_with_native() {
    let rt = runtime();
    let (r, scratch) = run(&rt, "matmul", guest("matmul"), &["--n", "64", "--seed", "5"], limits()).await;
    let out = r.unwrap();
    assert!(out.status.success());
    // The same kernel natively, in this test process: IEEE arithmetic without fused multiply-add is exact,
    // so the bits must agree with what the guest computed inside the sandbox.
    let c = matmul::multiply(&matmul::matrix(64, 5), &matmul::matrix(64, 6), 64);
    let bytes: Vec<u8> = c.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(std::fs::read(scratch.outputs().join("product.f64")).unwrap(), bytes);
}
