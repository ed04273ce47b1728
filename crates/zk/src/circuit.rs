//! The R1CS circuit of one inference.
//!
//! Public inputs (in this order): `job` (the job id mod r), `spec` (= Poseidon(model commitment, input
//! commitment)) and `out` (the packed logits). Private: the weights, biases and pixels, as bits.
//!
//! Constraints, per part:
//! - every weight, bias and pixel is allocated as bits (one booleanity constraint each), so its value and its
//!   packed slot are linear combinations of the same bits: range check and packing cost nothing more;
//! - layer 1: one product per weight (`w * x`), then `acc + 2^17` is decomposed into 18 bits; the top bit is the
//!   sign, so `relu(acc) >> 6 = top * (bits 6..=16)`: one product per hidden unit;
//! - layer 2: one product per weight; the packed output is one linear equation;
//! - Poseidon over the packed model (80 elements), over the packed pixels (2), and over both commitments.
//!
//! The job id needs no constraint of its own: Groth16 (arkworks' QAP reduction) binds every public input, so a
//! proof made for one job id does not verify for another.

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::constraints::CryptographicSpongeVar;
use ark_crypto_primitives::sponge::poseidon::constraints::PoseidonSpongeVar;
use ark_ff::{AdditiveGroup, Zero};
use ark_r1cs_std::{
    R1CSVar,
    alloc::AllocVar,
    eq::EqGadget,
    fields::fp::{AllocatedFp, FpVar},
};
use ark_relations::{
    lc,
    r1cs::{ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable},
};

use crate::commit::{PACK_BITS, TAG_INPUT, TAG_MODEL, TAG_SPEC, poseidon_config};
use crate::model::{
    ACC_BITS, BIAS_BITS, HIDDEN, INPUTS, Input, Model, OUT_BITS, OUTPUTS, PIXEL_BITS, SHIFT, WEIGHT_BITS,
};

/// One inference's statement and witness.
#[derive(Clone, Debug)]
pub struct InferenceCircuit {
    /// The job id, reduced mod r.
    pub job: Fr,
    /// The model (private).
    pub model: Model,
    /// The image (private).
    pub input: Input,
}

/// A number allocated as bits: its value and the linear combination `sum bits * 2^i - offset`.
struct Bits {
    bits: Vec<(Variable, bool)>,
    offset: i64,
}

impl Bits {
    fn alloc(
        cs: &ConstraintSystemRef<Fr>,
        value: i64,
        nbits: u32,
        offset: i64,
    ) -> Result<Self, SynthesisError> {
        let raw = (value + offset) as u64;
        let mut bits = Vec::with_capacity(nbits as usize);
        for i in 0..nbits {
            let b = (raw >> i) & 1 == 1;
            let v = cs.new_witness_variable(|| Ok(Fr::from(b)))?;
            // b * b = b  <=>  b ∈ {0, 1}
            cs.enforce_constraint(lc!() + v, lc!() + v, lc!() + v)?;
            bits.push((v, b));
        }
        Ok(Self { bits, offset })
    }

    /// `sum bits[i] * 2^i` over `range`, shifted down by `range.start`.
    fn raw_lc(&self, range: std::ops::Range<usize>) -> LinearCombination<Fr> {
        let start = range.start;
        // Distinct variables: built directly, without the per-term re-sorting of `lc + term`.
        LinearCombination(range.map(|i| (pow2(i - start), self.bits[i].0)).collect())
    }

    fn raw_value(&self, range: std::ops::Range<usize>) -> i64 {
        let start = range.start;
        range.map(|i| i64::from(self.bits[i].1) << (i - start)).sum()
    }

    /// The signed value as a linear combination.
    fn lc(&self) -> LinearCombination<Fr> {
        let mut lc = self.raw_lc(0..self.bits.len());
        if self.offset != 0 {
            lc.0.push((-fr_i64(self.offset), Variable::One));
        }
        lc
    }

    fn value(&self) -> i64 {
        self.raw_value(0..self.bits.len()) - self.offset
    }
}

/// `2^n` for `n < 256`, from a table (synthesis asks for hundreds of thousands of them).
fn pow2(n: usize) -> Fr {
    static TABLE: std::sync::OnceLock<Vec<Fr>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![Fr::from(1u64)];
        for i in 1..256 {
            let prev = t[i - 1];
            t.push(prev.double());
        }
        t
    })[n]
}

fn fr_i64(v: i64) -> Fr {
    if v >= 0 { Fr::from(v as u64) } else { -Fr::from(v.unsigned_abs()) }
}

/// Packs numbers (slot `bits` wide) into symbolic variables, `PACK_BITS / bits` per element, as `commit::pack`.
fn pack(cs: &ConstraintSystemRef<Fr>, numbers: &[Bits], bits: u32) -> Result<Vec<FpVar<Fr>>, SynthesisError> {
    let per = (PACK_BITS / bits) as usize;
    numbers
        .chunks(per)
        .map(|chunk| {
            let mut terms = Vec::with_capacity(chunk.len() * bits as usize);
            let mut value = Fr::zero();
            for (slot, n) in chunk.iter().enumerate() {
                let shift = slot * bits as usize;
                for (i, &(v, b)) in n.bits.iter().enumerate() {
                    terms.push((pow2(shift + i), v));
                    if b {
                        value += pow2(shift + i);
                    }
                }
            }
            let var = cs.new_lc(LinearCombination(terms))?;
            Ok(FpVar::Var(AllocatedFp::new(Some(value), var, cs.clone())))
        })
        .collect()
}

fn hash_var(
    cs: &ConstraintSystemRef<Fr>,
    tag: u64,
    elements: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut sponge = PoseidonSpongeVar::new(cs.clone(), poseidon_config());
    sponge.absorb(&FpVar::Constant(Fr::from(tag)))?;
    sponge.absorb(&elements.to_vec())?;
    let mut out = sponge.squeeze_field_elements(1)?;
    out.pop().ok_or(SynthesisError::Unsatisfiable)
}

/// `a * b = c` with `c` a fresh witness of value `value`.
fn product(
    cs: &ConstraintSystemRef<Fr>,
    a: LinearCombination<Fr>,
    b: LinearCombination<Fr>,
    value: i64,
) -> Result<Variable, SynthesisError> {
    let c = cs.new_witness_variable(|| Ok(fr_i64(value)))?;
    cs.enforce_constraint(a, b, lc!() + c)?;
    Ok(c)
}

impl InferenceCircuit {
    /// The public inputs this circuit's proof is checked against, in order.
    pub fn public_inputs(job: Fr, spec: Fr, out: Fr) -> [Fr; 3] {
        [job, spec, out]
    }
}

impl ConstraintSynthesizer<Fr> for InferenceCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let model = &self.model;
        let pixels = &self.input.pixels;
        if model.validate().is_err() || self.input.validate().is_err() {
            return Err(SynthesisError::Unsatisfiable);
        }
        // Witness: every number as bits.
        let w_off = 1i64 << (WEIGHT_BITS - 1);
        let b_off = 1i64 << (BIAS_BITS - 1);
        let weights: Vec<Bits> =
            model.weights().map(|w| Bits::alloc(&cs, w, WEIGHT_BITS, w_off)).collect::<Result<_, _>>()?;
        let biases: Vec<Bits> =
            model.biases().map(|b| Bits::alloc(&cs, b, BIAS_BITS, b_off)).collect::<Result<_, _>>()?;
        let x: Vec<Bits> = pixels
            .iter()
            .map(|&p| Bits::alloc(&cs, i64::from(p), PIXEL_BITS, 0))
            .collect::<Result<_, _>>()?;
        let (w1, w2) = weights.split_at(INPUTS * HIDDEN);
        let (b1, b2) = biases.split_at(HIDDEN);

        // Layer 1 and ReLU with requantization.
        let mut act: Vec<(Variable, i64)> = Vec::with_capacity(HIDDEN);
        let acc_off = 1i64 << ACC_BITS;
        for j in 0..HIDDEN {
            let mut acc_lc = b1[j].lc();
            let mut acc = b1[j].value();
            for i in 0..INPUTS {
                let w = &w1[i * HIDDEN + j];
                let v = w.value() * x[i].value();
                acc += v;
                acc_lc.0.push((Fr::from(1u64), product(&cs, w.lc(), x[i].lc(), v)?));
            }
            if !(-acc_off..acc_off).contains(&acc) {
                return Err(SynthesisError::Unsatisfiable);
            }
            let y = Bits::alloc(&cs, acc, ACC_BITS + 1, acc_off)?;
            // The bits recompose to acc: (sum bits 2^i) * 1 = acc + 2^17.
            acc_lc.0.push((Fr::from(acc_off as u64), Variable::One));
            acc_lc.compactify();
            cs.enforce_constraint(y.raw_lc(0..ACC_BITS as usize + 1), lc!() + Variable::One, acc_lc)?;
            let sign = ACC_BITS as usize;
            let (top, positive) = y.bits[sign];
            let magnitude = y.raw_value(SHIFT as usize..sign);
            let a = if positive { magnitude } else { 0 };
            let av = product(&cs, lc!() + top, y.raw_lc(SHIFT as usize..sign), a)?;
            act.push((av, a));
        }

        // Layer 2 and the packed output.
        let out_off = 1i64 << (OUT_BITS - 1);
        let mut out_lc = lc!();
        let mut out_value = Fr::zero();
        for k in 0..OUTPUTS {
            let mut logit_lc = b2[k].lc();
            let mut logit = b2[k].value();
            for (j, &(av, a)) in act.iter().enumerate() {
                let w = &w2[j * OUTPUTS + k];
                let v = w.value() * a;
                logit += v;
                logit_lc.0.push((Fr::from(1u64), product(&cs, w.lc(), lc!() + av, v)?));
            }
            let scale = pow2(k * OUT_BITS as usize);
            logit_lc.0.push((Fr::from(out_off as u64), Variable::One));
            out_lc.0.extend(logit_lc.0.into_iter().map(|(c, v)| (c * scale, v)));
            out_value += scale * fr_i64(logit + out_off);
        }

        // Commitments.
        let mut model_elems = pack(&cs, &weights, WEIGHT_BITS)?;
        model_elems.extend(pack(&cs, &biases, BIAS_BITS)?);
        let model_commitment = hash_var(&cs, TAG_MODEL, &model_elems)?;
        let input_commitment = hash_var(&cs, TAG_INPUT, &pack(&cs, &x, PIXEL_BITS)?)?;
        let spec = hash_var(&cs, TAG_SPEC, &[model_commitment, input_commitment])?;

        // Public inputs.
        let job = self.job;
        cs.new_input_variable(|| Ok(job))?;
        let spec_input = FpVar::new_input(cs.clone(), || spec.value())?;
        spec.enforce_equal(&spec_input)?;
        let out = cs.new_input_variable(|| Ok(out_value))?;
        out_lc.compactify();
        cs.enforce_constraint(out_lc, lc!() + Variable::One, lc!() + out)?;
        Ok(())
    }
}
