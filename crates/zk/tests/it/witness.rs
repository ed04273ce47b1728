//! The circuit computes exactly the quantized model, on every image of the held-out set.

use ark_bn254::Fr;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystem, SynthesisMode};
use ocean_zk::{Input, Output, circuit::InferenceCircuit, input_commitment, model_commitment, spec};

use crate::common::{model, test_set};

/// Every image's witness is computed as the prover computes it (no constraint matrices); every 15th image's
/// constraint system is also checked for satisfaction (30 images: a full check costs ~0.3 s per image in debug).
#[test]
fn circuit_output_equals_the_quantized_model_on_the_whole_test_set() {
    let model = model();
    let set = test_set();
    assert_eq!(set.pixels.len(), 450);
    let m = model_commitment(&model);
    let (mut correct, mut agree_float) = (0, 0);
    for (i, pixels) in set.pixels.iter().enumerate() {
        let input = Input { pixels: pixels.clone() };
        let cs = ConstraintSystem::<Fr>::new_ref();
        let full = i % 15 == 0;
        if !full {
            cs.set_mode(SynthesisMode::Prove { construct_matrices: false });
        }
        InferenceCircuit { job: Fr::from(i as u64), model: model.clone(), input: input.clone() }
            .generate_constraints(cs.clone())
            .unwrap();
        if full {
            assert!(cs.is_satisfied().unwrap(), "image {i}: {:?}", cs.which_is_unsatisfied().unwrap());
        }
        // Instance: [1, job, spec, out].
        let instance = cs.borrow().unwrap().instance_assignment.clone();
        assert_eq!(instance[1], Fr::from(i as u64));
        assert_eq!(instance[2], spec(m, input_commitment(&input)));
        let out_bytes = ocean_zk::model::fr_to_bytes(&instance[3]);
        let circuit_out = Output::from_bytes(&out_bytes).unwrap();
        // Equal to numpy's quantized model (examples/zk/quantize_digits.py) and to Model::infer.
        assert_eq!(circuit_out.0.to_vec(), set.quantized_logits[i], "image {i}");
        assert_eq!(circuit_out, model.infer(&input).unwrap(), "image {i}");
        correct += usize::from(circuit_out.class() == set.labels[i]);
        agree_float += usize::from(circuit_out.class() == set.float_predictions[i]);
    }
    // The accuracy documented in docs/benchmarks.md: 438 of 450 (0.9733), like the float model.
    assert_eq!(correct, 438);
    assert_eq!(agree_float, 450);
}

#[test]
fn a_wrong_witness_does_not_satisfy_the_circuit() {
    // An input whose pre-activation leaves the circuit's range cannot be proved (it would wrap the ReLU's sign).
    let mut model = model();
    for row in model.w1.iter_mut() {
        row[0] = 127;
    }
    model.b1[0] = 32767;
    let input = Input { pixels: vec![31; 64] };
    assert!(model.infer(&input).is_err());
    let cs = ConstraintSystem::<Fr>::new_ref();
    let r = InferenceCircuit { job: Fr::from(0u64), model, input }.generate_constraints(cs.clone());
    assert!(r.is_err() || !cs.is_satisfied().unwrap());
}

#[test]
fn constraint_count_is_reported() {
    let (constraints, instance, witness) = ocean_zk::groth16::circuit_size().unwrap();
    // 1 + job + spec + out.
    assert_eq!(instance, 4);
    assert!(witness > 20_000);
    // The number docs/benchmarks.md reports; a change of the circuit must update it there.
    assert!(constraints < 40_000, "{constraints} constraints");
}
