//! Poseidon commitments: the model's identity, the input's, and the job spec that joins them.
//!
//! Small fixed-point numbers are packed many to a field element before hashing (31 weights, 15 biases or 50
//! pixels per element), so the model's 2,410 parameters cost 80 absorbed elements, not 2,410. Each number is
//! offset to be non-negative and occupies a fixed bit slot, so packing is injective; the circuit range-checks
//! every slot, so a prover cannot find other numbers that pack to the same elements.
//!
//! The sponge is arkworks' Poseidon over BN254's scalar field: width 5 (rate 4, capacity 1), x^5 S-box, 8 full
//! and 60 partial rounds, round constants and MDS matrix from the reference Grain LFSR. Every hash starts by
//! absorbing a domain tag, so a model commitment can never be mistaken for an input commitment or a spec.

use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::FieldBasedCryptographicSponge;
use ark_crypto_primitives::sponge::{
    CryptographicSponge,
    poseidon::{PoseidonConfig, PoseidonSponge, find_poseidon_ark_and_mds},
};
use ark_ff::{Field, PrimeField};

use crate::model::{BIAS_BITS, Input, Model, PIXEL_BITS, WEIGHT_BITS};

/// Domain tag of a model commitment.
pub const TAG_MODEL: u64 = 0x6f63_6561_6e01; // "ocean" 01
/// Domain tag of an input commitment.
pub const TAG_INPUT: u64 = 0x6f63_6561_6e02;
/// Domain tag of a job spec.
pub const TAG_SPEC: u64 = 0x6f63_6561_6e03;

/// Bits of a field element used by packing (BN254's r has 254 bits; 250 keeps every packed value below r).
pub const PACK_BITS: u32 = 250;

/// The Poseidon parameters shared by the native hash and the circuit.
pub fn poseidon_config() -> &'static PoseidonConfig<Fr> {
    static CONFIG: OnceLock<PoseidonConfig<Fr>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let (full, partial, rate) = (8, 60, 4);
        let (ark, mds) = find_poseidon_ark_and_mds::<Fr>(Fr::MODULUS_BIT_SIZE as u64, rate, full, partial, 0);
        PoseidonConfig::new(full as usize, partial as usize, 5, mds, ark, rate, 1)
    })
}

/// Packs unsigned values of `bits` bits each, `PACK_BITS / bits` to an element, lowest slot first.
pub fn pack(values: impl IntoIterator<Item = u64>, bits: u32) -> Vec<Fr> {
    let per = (PACK_BITS / bits) as usize;
    let values: Vec<u64> = values.into_iter().collect();
    values
        .chunks(per)
        .map(|chunk| {
            let step = Fr::from(2u64).pow([u64::from(bits)]);
            let mut base = Fr::from(1u64);
            let mut acc = Fr::from(0u64);
            for &v in chunk {
                acc += base * Fr::from(v);
                base *= step;
            }
            acc
        })
        .collect()
}

/// A signed value moved into `[0, 2^bits)` by adding `2^(bits-1)`.
pub fn offset(v: i64, bits: u32) -> u64 {
    (v + (1i64 << (bits - 1))) as u64
}

/// Poseidon of a domain tag followed by `elements`, squeezed to one element.
pub fn hash(tag: u64, elements: &[Fr]) -> Fr {
    let mut sponge = PoseidonSponge::new(poseidon_config());
    sponge.absorb(&Fr::from(tag));
    sponge.absorb(&elements.to_vec());
    sponge.squeeze_native_field_elements(1)[0]
}

/// The elements a model commitment absorbs: packed weights, then packed biases.
pub fn model_elements(model: &Model) -> Vec<Fr> {
    let mut elements = pack(model.weights().map(|w| offset(w, WEIGHT_BITS)), WEIGHT_BITS);
    elements.extend(pack(model.biases().map(|b| offset(b, BIAS_BITS)), BIAS_BITS));
    elements
}

/// The model's identity: what a requester names in a zk job and what the proof binds the weights to.
pub fn model_commitment(model: &Model) -> Fr {
    hash(TAG_MODEL, &model_elements(model))
}

/// The elements an input commitment absorbs: the packed pixels.
pub fn input_elements(input: &Input) -> Vec<Fr> {
    pack(input.pixels.iter().map(|&p| u64::from(p)), PIXEL_BITS)
}

/// The input's commitment (binding, not hiding: the input is no secret from the provider who runs it).
pub fn input_commitment(input: &Input) -> Fr {
    hash(TAG_INPUT, &input_elements(input))
}

/// The job spec a requester fixes on chain at creation: this model on this input.
pub fn spec(model_commitment: Fr, input_commitment: Fr) -> Fr {
    hash(TAG_SPEC, &[model_commitment, input_commitment])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_is_slotwise() {
        let packed = pack([1, 2, 3], 8);
        assert_eq!(packed, vec![Fr::from(1u64 + (2 << 8) + (3 << 16))]);
        assert_eq!(pack(0..100u64, 8).len(), 4); // 31 per element
    }

    #[test]
    fn domain_tags_separate_hashes() {
        let e = [Fr::from(7u64)];
        assert_ne!(hash(TAG_MODEL, &e), hash(TAG_INPUT, &e));
        assert_eq!(hash(TAG_MODEL, &e), hash(TAG_MODEL, &e));
    }
}
