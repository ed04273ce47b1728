//! The circuit exported for snarkjs: `snarkjs r1cs info` reads the `.r1cs` with our counts, and `snarkjs wtns
//! check` accepts a real proof's assignment against it and refuses a tampered one. This is what lets an existing
//! ceremony tool (snarkjs' Groth16 phase 2) make production keys for the very constraints ocean-zk proves.

use std::{path::PathBuf, process::Command};

use ocean_zk::r1cs_file::{write_r1cs, write_wtns};

use crate::common::{digit, model};

fn snarkjs() -> PathBuf {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ceremony/node_modules/.bin/snarkjs");
    assert!(bin.exists(), "snarkjs is not installed at {} (run `make deps`)", bin.display());
    bin
}

#[test]
fn snarkjs_reads_the_circuit_and_checks_a_real_witness() {
    let dir = tempfile::tempdir().unwrap();
    let r1cs = dir.path().join("circuit.r1cs");
    let info = write_r1cs(&mut std::fs::File::create(&r1cs).unwrap()).unwrap();
    let (constraints, instance, witness) = ocean_zk::groth16::circuit_size().unwrap();
    assert_eq!(
        (info.constraints, info.public_inputs, info.wires),
        (constraints, instance - 1, instance + witness)
    );

    let out = Command::new(snarkjs()).args(["r1cs", "info"]).arg(&r1cs).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("# of Constraints: {constraints}")), "{text}");
    assert!(text.contains("# of Public Inputs: 3"), "{text}");
    assert!(text.contains(&format!("# of Wires: {}", info.wires)), "{text}");
    assert!(text.contains("bn-128"), "{text}");

    let wtns = dir.path().join("witness.wtns");
    write_wtns(&model(), &digit(3), [7u8; 32], &mut std::fs::File::create(&wtns).unwrap()).unwrap();
    let check = |w: &std::path::Path| {
        let out = Command::new(snarkjs()).args(["wtns", "check"]).arg(&r1cs).arg(w).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, text) = check(&wtns);
    assert!(ok && text.contains("WITNESS IS CORRECT"), "{text}");

    // One wire changed (a witness value deep in the file): snarkjs finds the broken constraint.
    let mut bytes = std::fs::read(&wtns).unwrap();
    let last = bytes.len() - 40;
    bytes[last] ^= 1;
    let tampered = dir.path().join("tampered.wtns");
    std::fs::write(&tampered, bytes).unwrap();
    let (ok, text) = check(&tampered);
    assert!(!ok || !text.contains("WITNESS IS CORRECT"), "a tampered witness must not pass: {text}");
}
