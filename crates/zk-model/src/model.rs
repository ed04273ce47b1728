//! The quantized digits MLP: its file format, its integer inference, and the packing of its output.
//!
//! Everything here is plain integer arithmetic, the reference the circuit must reproduce bit for bit
//! (`examples/zk/quantize_digits.py` computes the same numbers in numpy).

use std::path::Path;

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Pixels per image (8×8 digits).
pub const INPUTS: usize = 64;
/// Hidden ReLU units.
pub const HIDDEN: usize = 32;
/// Output logits, one per digit class.
pub const OUTPUTS: usize = 10;
/// Hidden activations are `max(acc, 0) >> SHIFT`; fixed by the circuit.
pub const SHIFT: u32 = 6;
/// Bits of a weight (signed, two's-complement range `[-128, 127]`).
pub const WEIGHT_BITS: u32 = 8;
/// Bits of a bias (signed, `[-2^15, 2^15)`).
pub const BIAS_BITS: u32 = 16;
/// Bits of a pixel (unsigned, `[0, 32)`; digits use 0..=16).
pub const PIXEL_BITS: u32 = 5;
/// The hidden pre-activation must lie in `[-2^ACC_BITS, 2^ACC_BITS)`: the circuit decomposes `acc + 2^ACC_BITS`
/// into `ACC_BITS + 1` bits, whose top bit is the ReLU's sign test.
pub const ACC_BITS: u32 = 17;
/// Each output logit occupies this many bits of the packed output, offset by `2^(OUT_BITS - 1)`.
/// With `ACC_BITS = 17` and `SHIFT = 6` an activation is below 2^11, so `|logit| <= 32 * 128 * 2^11 + 2^15 <
/// 2^24`: every logit the circuit can produce fits, and 10 × 25 = 250 bits fit one BN254 scalar.
pub const OUT_BITS: u32 = 25;

/// A quantized model, as `examples/zk/digits-q.json` stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    /// A human name; not part of the commitment.
    pub name: String,
    /// Must equal [`SHIFT`].
    pub shift: u32,
    /// First layer weights, `w1[i][j]` for pixel `i` and hidden unit `j`.
    pub w1: Vec<Vec<i64>>,
    /// First layer biases.
    pub b1: Vec<i64>,
    /// Second layer weights, `w2[j][k]` for hidden unit `j` and class `k`.
    pub w2: Vec<Vec<i64>>,
    /// Second layer biases.
    pub b2: Vec<i64>,
}

/// One image: 64 raw pixels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// Row-major pixels, each in `[0, 32)`.
    pub pixels: Vec<u8>,
}

/// The logits of one inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output(pub [i64; OUTPUTS]);

fn check_range(what: &'static str, v: i64, lo: i64, hi: i64) -> Result<(), Error> {
    if v < lo || v >= hi {
        return Err(Error::OutOfRange { what, value: v });
    }
    Ok(())
}

impl Model {
    /// Reads and validates a model file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        Self::from_json(&bytes, path)
    }

    /// Parses and validates a model file's bytes (from a store); `origin` names them in errors.
    pub fn from_json(bytes: &[u8], origin: &Path) -> Result<Self, Error> {
        let model: Self = serde_json::from_slice(bytes)
            .map_err(|source| Error::Json { path: origin.to_owned(), source })?;
        model.validate()?;
        Ok(model)
    }

    /// Checks shapes and that every number fits the slot the circuit gives it.
    pub fn validate(&self) -> Result<(), Error> {
        if self.shift != SHIFT {
            return Err(Error::Shape(format!("shift {} (the circuit's is {SHIFT})", self.shift)));
        }
        let shape_ok = self.w1.len() == INPUTS
            && self.w1.iter().all(|r| r.len() == HIDDEN)
            && self.b1.len() == HIDDEN
            && self.w2.len() == HIDDEN
            && self.w2.iter().all(|r| r.len() == OUTPUTS)
            && self.b2.len() == OUTPUTS;
        if !shape_ok {
            return Err(Error::Shape(format!("expected {INPUTS}x{HIDDEN}x{OUTPUTS}")));
        }
        let (wlo, whi) = (-(1 << (WEIGHT_BITS - 1)), 1 << (WEIGHT_BITS - 1));
        let (blo, bhi) = (-(1 << (BIAS_BITS - 1)), 1 << (BIAS_BITS - 1));
        for &w in self.w1.iter().chain(&self.w2).flatten() {
            check_range("weight", w, wlo, whi)?;
        }
        for &b in self.b1.iter().chain(&self.b2) {
            check_range("bias", b, blo, bhi)?;
        }
        Ok(())
    }

    /// A model of the circuit's shape with every parameter zero: the placeholder witness for setup.
    pub fn zeros() -> Self {
        Self {
            name: "zeros".into(),
            shift: SHIFT,
            w1: vec![vec![0; HIDDEN]; INPUTS],
            b1: vec![0; HIDDEN],
            w2: vec![vec![0; OUTPUTS]; HIDDEN],
            b2: vec![0; OUTPUTS],
        }
    }

    /// Weights in commitment order (w1 row-major, then w2 row-major).
    pub fn weights(&self) -> impl Iterator<Item = i64> + '_ {
        self.w1.iter().flatten().chain(self.w2.iter().flatten()).copied()
    }

    /// Biases in commitment order (b1, then b2).
    pub fn biases(&self) -> impl Iterator<Item = i64> + '_ {
        self.b1.iter().chain(&self.b2).copied()
    }

    /// The hidden pre-activations for an input (no range check).
    pub fn hidden_acc(&self, input: &Input) -> [i64; HIDDEN] {
        std::array::from_fn(|j| {
            let dot: i64 = (0..INPUTS).map(|i| self.w1[i][j] * i64::from(input.pixels[i])).sum();
            dot + self.b1[j]
        })
    }

    /// Integer inference, exactly as the circuit computes it; fails if a pre-activation leaves the circuit's range.
    pub fn infer(&self, input: &Input) -> Result<Output, Error> {
        input.validate()?;
        let acc = self.hidden_acc(input);
        let mut act = [0i64; HIDDEN];
        for (a, &h) in act.iter_mut().zip(&acc) {
            check_range("hidden pre-activation", h, -(1 << ACC_BITS), 1 << ACC_BITS)?;
            *a = h.max(0) >> SHIFT;
        }
        Ok(Output(std::array::from_fn(|k| {
            (0..HIDDEN).map(|j| self.w2[j][k] * act[j]).sum::<i64>() + self.b2[k]
        })))
    }
}

impl Input {
    /// Reads `{"pixels": [...]}`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        Self::from_json(&bytes, path)
    }

    /// Parses and validates an input file's bytes (from a store); `origin` names them in errors.
    pub fn from_json(bytes: &[u8], origin: &Path) -> Result<Self, Error> {
        let input: Self = serde_json::from_slice(bytes)
            .map_err(|source| Error::Json { path: origin.to_owned(), source })?;
        input.validate()?;
        Ok(input)
    }

    /// Checks the length and the pixel range.
    pub fn validate(&self) -> Result<(), Error> {
        if self.pixels.len() != INPUTS {
            return Err(Error::Shape(format!("{} pixels, expected {INPUTS}", self.pixels.len())));
        }
        for &p in &self.pixels {
            check_range("pixel", i64::from(p), 0, 1 << PIXEL_BITS)?;
        }
        Ok(())
    }
}

impl Output {
    /// The predicted class: the first index of the largest logit.
    pub fn class(&self) -> usize {
        let mut best = 0;
        for k in 1..OUTPUTS {
            if self.0[k] > self.0[best] {
                best = k;
            }
        }
        best
    }

    /// The single field element the chain sees: `sum_k (logit_k + 2^24) * 2^(25 k)`.
    pub fn packed(&self) -> Fr {
        let offset = 1i64 << (OUT_BITS - 1);
        let mut acc = Fr::from(0u64);
        let mut base = Fr::from(1u64);
        let step = Fr::from(1u64 << OUT_BITS);
        for &l in &self.0 {
            acc += base * Fr::from((l + offset) as u64);
            base *= step;
        }
        acc
    }

    /// The 32-byte job result: the packed output, big-endian.
    pub fn to_bytes(&self) -> [u8; 32] {
        fr_to_bytes(&self.packed())
    }

    /// Decodes a job result; fails unless it is exactly 32 bytes holding 10 packed logits.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::Shape(format!("result of {} bytes, expected 32", bytes.len())))?;
        // Little-endian u64 limbs of the 256-bit big-endian value.
        let limbs: [u64; 4] = std::array::from_fn(|i| {
            let chunk: [u8; 8] = bytes[24 - 8 * i..32 - 8 * i].try_into().expect("8-byte chunk");
            u64::from_be_bytes(chunk)
        });
        let bit = |n: u32| (limbs[(n / 64) as usize] >> (n % 64)) & 1;
        if (OUT_BITS * OUTPUTS as u32..256).any(|n| bit(n) != 0) {
            return Err(Error::Shape("packed output has bits above the last logit".into()));
        }
        let offset = 1i64 << (OUT_BITS - 1);
        Ok(Self(std::array::from_fn(|k| {
            let v = (0..OUT_BITS).fold(0i64, |acc, b| acc | ((bit(k as u32 * OUT_BITS + b) as i64) << b));
            v - offset
        })))
    }
}

/// A scalar as 32 big-endian bytes (the EVM's `uint256`).
pub fn fr_to_bytes(f: &Fr) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&f.into_bigint().to_bytes_be());
    out
}

/// A `bytes32` as a scalar, reduced mod r (how the adapter turns a job id into a public input).
pub fn fr_from_bytes_mod_order(bytes: &[u8; 32]) -> Fr {
    Fr::from_be_bytes_mod_order(bytes)
}

/// A `bytes32` as a scalar, failing unless it is already below r (specs and results must be canonical).
pub fn fr_from_bytes_canonical(bytes: &[u8; 32]) -> Result<Fr, Error> {
    let f = Fr::from_be_bytes_mod_order(bytes);
    if fr_to_bytes(&f) != *bytes {
        return Err(Error::NotCanonical);
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_bytes_round_trip_at_the_extremes() {
        let lim = (1i64 << (OUT_BITS - 1)) - 1;
        let out = Output([lim, -lim - 1, 0, 1, -1, 12345, -54321, lim, 7, -8]);
        assert_eq!(Output::from_bytes(&out.to_bytes()).expect("decodes"), out);
        assert_eq!(out.class(), 0);
    }

    #[test]
    fn a_result_with_high_bits_is_rejected() {
        let mut bytes = Output([0; OUTPUTS]).to_bytes();
        bytes[0] |= 0x10;
        assert!(Output::from_bytes(&bytes).is_err());
        assert!(Output::from_bytes(&bytes[..31]).is_err());
    }
}
