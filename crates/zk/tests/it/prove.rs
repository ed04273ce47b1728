//! Proofs made and checked in Rust: a sample of the test set verifies; every tampering is rejected.

use ark_std::rand::{SeedableRng, rngs::StdRng};
use ocean_zk::{Output, Statement, input_commitment, model_commitment, spec, verify};

use crate::common::{dev_params, digit, model, test_set};

#[test]
fn proofs_for_a_sample_verify_and_tampering_is_rejected() {
    let params = dev_params();
    let vk = params.vk().clone();
    let model = model();
    let set = test_set();
    let mut rng = StdRng::seed_from_u64(1);
    // A sample of the held-out set: the first image of three classes.
    for k in [0usize, 3, 7] {
        let input = digit(k);
        let job_id = [k as u8 + 1; 32];
        let proven = params.prove(&model, &input, job_id, &mut rng).unwrap();
        assert_eq!(proven.statement.output.class(), k);
        assert!(verify(&vk, &proven.statement, &proven.proof).unwrap(), "digit {k}");
        assert_eq!(proven.proof.len(), 256);

        // Tampered output: another class wins.
        let mut logits = proven.statement.output.0;
        logits[(k + 1) % 10] += 1_000_000;
        let forged = Statement { output: Output(logits), ..proven.statement };
        assert!(!verify(&vk, &forged, &proven.proof).unwrap());

        // Tampered proof: a flipped bit breaks a point (malformed) or the pairing.
        for byte in [5usize, 100, 200] {
            let mut proof = proven.proof;
            proof[byte] ^= 1;
            assert!(!verify(&vk, &proven.statement, &proof).unwrap());
        }

        // Replayed for another job.
        let other_job = Statement { job_id: [0xee; 32], ..proven.statement };
        assert!(!verify(&vk, &other_job, &proven.proof).unwrap());

        // A spec naming another model (one weight changed) on the same input.
        let mut other = model.clone();
        other.w1[0][0] += 1;
        let other_spec = spec(model_commitment(&other), input_commitment(&input));
        assert_ne!(other_spec, proven.statement.spec);
        let wrong_model = Statement { spec: other_spec, ..proven.statement };
        assert!(!verify(&vk, &wrong_model, &proven.proof).unwrap());
    }
    assert_eq!(set.labels.len(), 450);
}

#[test]
fn params_round_trip_through_bytes() {
    let params = dev_params();
    let bytes = params.to_bytes().unwrap();
    let again = ocean_zk::Params::from_bytes(&bytes).unwrap();
    assert_eq!(again.vk(), params.vk());
}
