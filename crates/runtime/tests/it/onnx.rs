//! The ONNX kind: tract inside the sandbox classifies the project's digits samples, bit-exactly every time.

use std::path::Path;

use ocean_runtime::job;
use ocean_store::Store;
use ocean_types::Manifest;

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/onnx")
}

#[tokio::test]
async fn the_digits_model_classifies_every_sample() {
    let rt = crate::runtime();
    let program = crate::prepare(&rt, crate::guest("onnx"));
    let limits = ocean_types::manifest::Limits { fuel: 10_000_000_000, ..crate::small_limits() };
    for k in 0..10 {
        let scratch = crate::Scratch::default();
        std::fs::copy(examples().join("digits.onnx"), scratch.inputs().join("model.onnx")).unwrap();
        std::fs::copy(examples().join(format!("digit-{k}.f32")), scratch.inputs().join("input")).unwrap();
        let out = rt.run(&program, &scratch.invocation(&["--shape", "1,64"], limits)).await.unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        // expected.txt: what scikit-learn itself predicts for each sample.
        let expected = std::fs::read_to_string(examples().join("expected.txt")).unwrap();
        let sklearn = expected.lines().nth(k).unwrap().rsplit(' ').next().unwrap();
        assert_eq!(stdout.lines().last().unwrap(), format!("class {sklearn}"), "{stdout}");
        let probs = std::fs::read(scratch.outputs().join("output.f32")).unwrap();
        let sum: f32 = probs.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).sum();
        assert!((sum - 1.0).abs() < 1e-4, "softmax sums to {sum}");
    }
}

#[tokio::test]
async fn an_onnx_job_has_one_result_cid() {
    crate::guest("onnx");
    let toml = format!(
        "[program]\nkind='onnx'\nmodule='{}'\nmodel='digits.onnx'\nargs=['--shape','1,64']\n\
         [inputs]\ninput='digit-3.f32'\n[limits]\nfuel=10_000_000_000\n",
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guests/wasm/onnx.wasm").display()
    );
    let rt = crate::runtime();
    let mut results = Vec::new();
    for _ in 0..2 {
        let store = Store::memory();
        let manifest = ocean_job::resolve(&store, Manifest::from_toml(&toml).unwrap(), &examples()).unwrap();
        let work = tempfile::tempdir().unwrap();
        results.push(job::execute(&rt, &store, &manifest, work.path()).await.unwrap());
    }
    assert_eq!(results[0].result, results[1].result);
    assert!(results[0].outcome().unwrap().status.success());
    assert!(String::from_utf8_lossy(&results[0].outcome().unwrap().stdout).ends_with("class 3\n"));
}
