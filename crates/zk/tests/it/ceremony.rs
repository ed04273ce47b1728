//! A snarkjs ceremony end to end on a small circuit: our `.r1cs` ─► snarkjs phase 1 (a tiny one, made here)
//! ─► Groth16 setup ─► two contributions ─► `zkey verify` ─► [`read_zkey`] ─► an arkworks proof with
//! [`CosetReduction`] that verifies under the ceremony's key, and not for other public inputs.

use std::{path::Path, process::Command};

use ark_bn254::{Bn254, Fr};
use ark_groth16::Groth16;
use ark_relations::{
    lc,
    r1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError},
};
use ark_snark::SNARK;
use ark_std::rand::{SeedableRng, rngs::StdRng};
use ocean_zk::{
    r1cs_file::write_r1cs_of,
    zkey::{CosetReduction, read_zkey},
};

/// x · y = z and (x + y)^2 · x = w, with z and w public: a few constraints with both kinds of terms.
#[derive(Clone)]
struct Toy {
    x: Fr,
    y: Fr,
}

impl Toy {
    fn publics(&self) -> [Fr; 2] {
        let s = self.x + self.y;
        [self.x * self.y, s * s * self.x]
    }
}

impl ConstraintSynthesizer<Fr> for Toy {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let [z, w] = self.publics();
        let z = cs.new_input_variable(|| Ok(z))?;
        let w = cs.new_input_variable(|| Ok(w))?;
        let x = cs.new_witness_variable(|| Ok(self.x))?;
        let y = cs.new_witness_variable(|| Ok(self.y))?;
        let s2 = cs.new_witness_variable(|| Ok((self.x + self.y) * (self.x + self.y)))?;
        cs.enforce_constraint(lc!() + x, lc!() + y, lc!() + z)?;
        cs.enforce_constraint(lc!() + x + y, lc!() + x + y, lc!() + s2)?;
        cs.enforce_constraint(lc!() + s2, lc!() + x, lc!() + w)?;
        Ok(())
    }
}

fn run(dir: &Path, args: &[&str]) -> String {
    let snarkjs = Path::new(env!("CARGO_MANIFEST_DIR")).join("ceremony/node_modules/.bin/snarkjs");
    assert!(snarkjs.exists(), "snarkjs is not installed (run `make deps`)");
    let out = Command::new(&snarkjs).args(args).current_dir(dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "snarkjs {args:?}: {text}");
    text
}

#[test]
fn a_key_from_a_two_party_snarkjs_ceremony_proves_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let toy = Toy { x: Fr::from(3u64), y: Fr::from(11u64) };
    write_r1cs_of(toy.clone(), &mut std::fs::File::create(d.join("toy.r1cs")).unwrap()).unwrap();

    run(d, &["powersoftau", "new", "bn128", "6", "pot0.ptau"]);
    run(d, &["powersoftau", "contribute", "pot0.ptau", "pot1.ptau", "--name=phase1", "-e=phase one entropy"]);
    run(d, &["powersoftau", "prepare", "phase2", "pot1.ptau", "final.ptau"]);
    run(d, &["groth16", "setup", "toy.r1cs", "final.ptau", "c0.zkey"]);
    run(d, &["zkey", "contribute", "c0.zkey", "c1.zkey", "--name=alice", "-e=alice's entropy"]);
    run(d, &["zkey", "contribute", "c1.zkey", "c2.zkey", "--name=bob", "-e=bob's entropy"]);
    let verified = run(d, &["zkey", "verify", "toy.r1cs", "final.ptau", "c2.zkey"]);
    assert!(verified.contains("ZKey Ok!"), "{verified}");

    let pk = read_zkey(std::fs::File::open(d.join("c2.zkey")).unwrap()).unwrap();
    let publics = toy.publics();
    let proof = Groth16::<Bn254, CosetReduction>::prove(&pk, toy, &mut StdRng::seed_from_u64(1)).unwrap();
    let pvk = Groth16::<Bn254>::process_vk(&pk.vk).unwrap();
    assert!(
        Groth16::<Bn254>::verify_with_processed_vk(&pvk, &publics, &proof).unwrap(),
        "the ceremony's key"
    );
    let wrong = [publics[0] + Fr::from(1u64), publics[1]];
    assert!(
        !Groth16::<Bn254>::verify_with_processed_vk(&pvk, &wrong, &proof).unwrap(),
        "other public inputs"
    );
}
