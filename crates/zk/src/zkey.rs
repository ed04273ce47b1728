//! A Groth16 proving key made by snarkjs (a `.zkey` from its phase-2 ceremony), read into arkworks, and the
//! reduction from R1CS to QAP that matches how snarkjs built it, so ocean-zk proves with a ceremony's key.
//!
//! ```text
//! circuit.r1cs (r1cs_file) ─► snarkjs groth16 setup + zkey contribute … ─► final.zkey
//! final.zkey ─► read_zkey ─► arkworks ProvingKey (its H query is snarkjs')
//! prove: Groth16::<Bn254, CosetReduction>::prove(pk, circuit)   ─► a proof any Groth16 verifier accepts
//! ```
//!
//! Two things differ from arkworks' own setup and are handled here:
//! - **Encoding.** snarkjs stores field elements little-endian in Montgomery form with R = 2^256, which is
//!   arkworks' internal form for BN254: they are taken as they are (`new_unchecked`), then every point is
//!   checked to be on its curve and in its subgroup.
//! - **The H query.** arkworks' key holds `τ^i·Z(τ)/δ` and its prover the coefficients of h = (AB − C)/Z;
//!   snarkjs' key holds the Lagrange basis of the 2n-th roots at the odd points, `L_{2i+1}(τ)/δ`, and its prover
//!   the values of AB − C there (where Z = x^n − 1 is −2, never 0). [`CosetReduction`] computes exactly those.

use std::io::Read;

use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, BigInteger, PrimeField, Zero};
use ark_groth16::{ProvingKey, VerifyingKey, r1cs_to_qap::R1CSToQAP};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::r1cs::{ConstraintMatrices, ConstraintSystemRef, SynthesisError};

use crate::Error;

const GROTH16: u32 = 1;

/// Reads a snarkjs Groth16 `.zkey` into an arkworks proving key (whose H query is snarkjs': prove with
/// [`CosetReduction`]). Refuses another protocol or curve, and any point off its curve or subgroup.
pub fn read_zkey(mut input: impl Read) -> Result<ProvingKey<Bn254>, Error> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(|source| Error::Io { path: "<zkey>".into(), source })?;
    let sections = sections(&bytes)?;
    let section = |id: u32| -> Result<&[u8], Error> {
        sections
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, b)| *b)
            .ok_or_else(|| Error::Shape(format!("zkey: section {id} is missing")))
    };
    let mut r = Reader(section(1)?);
    if r.u32()? != GROTH16 {
        return Err(Error::Shape("zkey: not a Groth16 key".into()));
    }
    let mut h = Reader(section(2)?);
    let n8q = h.u32()?;
    let q = h.take(n8q as usize)?;
    let n8r = h.u32()?;
    let rr = h.take(n8r as usize)?;
    if n8q != 32
        || n8r != 32
        || q != Fq::MODULUS.to_bytes_le().as_slice()
        || rr != Fr::MODULUS.to_bytes_le().as_slice()
    {
        return Err(Error::Shape("zkey: not a BN254 key".into()));
    }
    let n_vars = h.u32()? as usize;
    let n_public = h.u32()? as usize;
    let domain_size = h.u32()? as usize;
    let alpha_g1 = h.g1()?;
    let beta_g1 = h.g1()?;
    let beta_g2 = h.g2()?;
    let gamma_g2 = h.g2()?;
    let delta_g1 = h.g1()?;
    let delta_g2 = h.g2()?;

    let g1s = |id: u32, n: usize| -> Result<Vec<G1Affine>, Error> {
        let mut r = Reader(section(id)?);
        (0..n).map(|_| r.g1()).collect()
    };
    let ic = g1s(3, n_public + 1)?;
    let a_query = g1s(5, n_vars)?;
    let b_g1_query = g1s(6, n_vars)?;
    let b_g2_query = {
        let mut r = Reader(section(7)?);
        (0..n_vars).map(|_| r.g2()).collect::<Result<Vec<_>, _>>()?
    };
    // The file says how many of each there are: a count that does not add up is refused, never wrapped.
    let private = n_vars
        .checked_sub(n_public + 1)
        .ok_or_else(|| Error::Shape(format!("zkey: {n_public} public inputs but {n_vars} variables")))?;
    let l_query = g1s(8, private)?;
    let h_query = g1s(9, domain_size)?;
    let vk = VerifyingKey { alpha_g1, beta_g2, gamma_g2, delta_g2, gamma_abc_g1: ic };
    Ok(ProvingKey { vk, beta_g1, delta_g1, a_query, b_g1_query, b_g2_query, h_query, l_query })
}

/// `(type, bytes)` of each section of an iden3 binary file (magic `zkey`).
fn sections(bytes: &[u8]) -> Result<Vec<(u32, &[u8])>, Error> {
    let mut r = Reader(bytes);
    if r.take(4)? != b"zkey" {
        return Err(Error::Shape("not a zkey file".into()));
    }
    let _version = r.u32()?;
    let n = r.u32()?;
    let mut out = Vec::new();
    for _ in 0..n {
        let kind = r.u32()?;
        let len = usize::try_from(r.u64()?).map_err(|_| Error::Shape("zkey: section too large".into()))?;
        out.push((kind, r.take(len)?));
    }
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(Error::Shape("zkey: truncated".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| Error::Shape("zkey: u32".into()))?))
    }

    fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| Error::Shape("zkey: u64".into()))?))
    }

    /// A base-field element in snarkjs' little-endian Montgomery form (arkworks' own internal form).
    fn fq(&mut self) -> Result<Fq, Error> {
        let bytes = self.take(32)?;
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            *limb = u64::from_le_bytes(
                bytes[i * 8..i * 8 + 8].try_into().map_err(|_| Error::Shape("zkey".into()))?,
            );
        }
        let raw = BigInt::new(limbs);
        if raw >= Fq::MODULUS {
            return Err(Error::Shape("zkey: a coordinate is not reduced".into()));
        }
        Ok(Fq::new_unchecked(raw))
    }

    fn g1(&mut self) -> Result<G1Affine, Error> {
        let (x, y) = (self.fq()?, self.fq()?);
        if x.is_zero() && y.is_zero() {
            return Ok(G1Affine::zero());
        }
        let p = G1Affine::new_unchecked(x, y);
        if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
            return Err(Error::Shape("zkey: a G1 point is not on the curve".into()));
        }
        Ok(p)
    }

    fn g2(&mut self) -> Result<G2Affine, Error> {
        let x = Fq2::new(self.fq()?, self.fq()?);
        let y = Fq2::new(self.fq()?, self.fq()?);
        if x.is_zero() && y.is_zero() {
            return Ok(G2Affine::zero());
        }
        let p = G2Affine::new_unchecked(x, y);
        if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
            return Err(Error::Shape("zkey: a G2 point is not on the curve".into()));
        }
        Ok(p)
    }
}

/// The R1CS-to-QAP reduction of snarkjs: the prover's h-vector is AB − C evaluated at the odd 2n-th roots of
/// unity (the points where `Z = x^n − 1` is −2), to be paired with a zkey's H query. Only proving is supported:
/// a key comes from a ceremony, never from this reduction.
pub struct CosetReduction;

impl R1CSToQAP for CosetReduction {
    fn instance_map_with_evaluation<F: PrimeField, D: EvaluationDomain<F>>(
        _cs: ConstraintSystemRef<F>,
        _t: &F,
    ) -> Result<(Vec<F>, Vec<F>, Vec<F>, F, usize, usize), SynthesisError> {
        // Keys come from snarkjs' ceremony; an arkworks setup with this reduction would make an H query the
        // prover's values do not fit.
        Err(SynthesisError::Unsatisfiable)
    }

    fn witness_map_from_matrices<F: PrimeField, D: EvaluationDomain<F>>(
        matrices: &ConstraintMatrices<F>,
        num_inputs: usize,
        num_constraints: usize,
        full_assignment: &[F],
    ) -> Result<Vec<F>, SynthesisError> {
        let domain = D::new(num_constraints + num_inputs).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let n = domain.size();
        let eval = |m: &[Vec<(F, usize)>]| -> Vec<F> {
            let mut v = vec![F::zero(); n];
            for (i, row) in m.iter().enumerate() {
                v[i] = row.iter().map(|(c, w)| *c * full_assignment[*w]).sum();
            }
            v
        };
        let mut a = eval(&matrices.a);
        // The constraints every Groth16 setup adds so that the public inputs' polynomials are independent.
        a[num_constraints..num_constraints + num_inputs].copy_from_slice(&full_assignment[..num_inputs]);
        let mut b = eval(&matrices.b);
        let mut c = eval(&matrices.c);
        // Values on the domain ─► coefficients ─► values on the coset ω_{2n}·H (the odd 2n-th roots).
        let shift = F::get_root_of_unity(2 * n as u64).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let coset = GeneralEvaluationDomain::<F>::new(n)
            .and_then(|d| d.get_coset(shift))
            .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        for v in [&mut a, &mut b, &mut c] {
            domain.ifft_in_place(v);
            coset.fft_in_place(v);
        }
        Ok(a.iter().zip(&b).zip(&c).map(|((a, b), c)| *a * b - c).collect())
    }

    fn h_query_scalars<F: PrimeField, D: EvaluationDomain<F>>(
        _max_power: usize,
        _t: F,
        _zt: F,
        _delta_inverse: F,
    ) -> Result<Vec<F>, SynthesisError> {
        Err(SynthesisError::Unsatisfiable)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use ark_ff::{One, PrimeField};

    use super::*;

    /// A field element as a zkey stores it: little-endian Montgomery form (arkworks' internal one).
    fn lem(f: Fq) -> Vec<u8> {
        f.0.0.iter().flat_map(|l| l.to_le_bytes()).collect()
    }

    /// A zkey with one variable, no public input and a domain of one; every point the identity but alpha.
    fn zkey(alpha: (Vec<u8>, Vec<u8>), n_vars: u32, n_public: u32) -> Vec<u8> {
        let zero_g1 = vec![0u8; 64];
        let zero_g2 = vec![0u8; 128];
        let mut header = Vec::new();
        header.extend(32u32.to_le_bytes());
        header.extend(Fq::MODULUS.to_bytes_le());
        header.extend(32u32.to_le_bytes());
        header.extend(Fr::MODULUS.to_bytes_le());
        header.extend(n_vars.to_le_bytes());
        header.extend(n_public.to_le_bytes());
        header.extend(1u32.to_le_bytes());
        header.extend(alpha.0);
        header.extend(alpha.1);
        header.extend(&zero_g1); // beta1
        header.extend(&zero_g2); // beta2
        header.extend(&zero_g2); // gamma2
        header.extend(&zero_g1); // delta1
        header.extend(&zero_g2); // delta2
        let sections: Vec<(u32, Vec<u8>)> = vec![
            (1, GROTH16.to_le_bytes().to_vec()),
            (2, header),
            (3, zero_g1.repeat(n_public as usize + 1)),
            (5, zero_g1.repeat(n_vars as usize)),
            (6, zero_g1.repeat(n_vars as usize)),
            (7, zero_g2.repeat(n_vars as usize)),
            (8, zero_g1.repeat((n_vars as usize).saturating_sub(n_public as usize + 1))),
            (9, zero_g1.clone()),
        ];
        let mut out = b"zkey".to_vec();
        out.extend(1u32.to_le_bytes());
        out.extend((sections.len() as u32).to_le_bytes());
        for (kind, bytes) in sections {
            out.extend(kind.to_le_bytes());
            out.extend((bytes.len() as u64).to_le_bytes());
            out.extend(bytes);
        }
        out
    }

    fn generator() -> (Vec<u8>, Vec<u8>) {
        (lem(Fq::one()), lem(Fq::from(2u64)))
    }

    #[test]
    fn a_well_formed_key_reads() {
        let pk = read_zkey(zkey(generator(), 1, 0).as_slice()).unwrap();
        assert_eq!(pk.vk.alpha_g1, G1Affine::new(Fq::one(), Fq::from(2u64)));
    }

    /// Whoever hands a node or `ocean deploy` a key file controls every byte of it.
    #[test]
    fn a_hostile_key_file_is_refused_not_trusted() {
        // A point off the curve: (1, 1) is not on y² = x³ + 3.
        let off = zkey((lem(Fq::one()), lem(Fq::one())), 1, 0);
        assert!(read_zkey(off.as_slice()).unwrap_err().to_string().contains("not on the curve"));
        // A coordinate that is not a field element.
        let big = zkey((Fq::MODULUS.to_bytes_le(), lem(Fq::from(2u64))), 1, 0);
        assert!(read_zkey(big.as_slice()).unwrap_err().to_string().contains("not reduced"));
        // More public inputs than variables: refused, not a wrapped count.
        let counts = zkey(generator(), 1, 5);
        assert!(read_zkey(counts.as_slice()).unwrap_err().to_string().contains("public inputs"));
        // Cut short anywhere, another magic, a section that claims more bytes than there are.
        let good = zkey(generator(), 1, 0);
        for cut in [3, 11, 40, good.len() / 2, good.len() - 1] {
            assert!(read_zkey(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut magic = good.clone();
        magic[0] = b'x';
        assert!(read_zkey(magic.as_slice()).is_err());
        let mut long = good;
        long[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read_zkey(long.as_slice()).is_err());
    }
}
