//! Setup, proving and verification (Groth16 over BN254), and the EVM encoding of proofs.

use std::time::Instant;

use ark_bn254::{Bn254, Fq, Fr, G1Affine, G2Affine};
use ark_ff::{BigInteger, PrimeField};
use ark_groth16::{Groth16, Proof, ProvingKey, VerifyingKey};
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_snark::SNARK;
use ark_std::rand::{
    CryptoRng, RngCore, SeedableRng,
    rngs::{OsRng, StdRng},
};

use crate::Error;
use crate::circuit::InferenceCircuit;
use crate::commit::{input_commitment, model_commitment, spec};
use crate::model::{Input, Model, Output, fr_from_bytes_mod_order};

/// Proof size on the wire and in calldata: A (G1), B (G2), C (G1), uncompressed, 32-byte big-endian words.
pub const PROOF_BYTES: usize = 256;

/// The seed of the development parameters: public, so anyone can forge proofs under them. They exist so that
/// the contracts deployed by `ocean deploy`/`ocean devnet` and the tests agree with a prover without shipping a
/// multi-megabyte proving key; `ocean zk setup` makes real parameters from OS randomness.
pub const DEV_SEED: u64 = 0x6f63_6561_6e7a_6b00;

/// Proving and verifying key of the inference circuit.
#[derive(Clone, Debug)]
pub struct Params {
    /// The prover's key.
    pub pk: ProvingKey<Bn254>,
    /// How the key's H query was made, hence how to prove with it.
    pub reduction: Reduction,
}

/// The R1CS-to-QAP reduction a proving key was made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// arkworks' own setup (`Params::setup`, the development parameters).
    Libsnark,
    /// A snarkjs ceremony's `.zkey` ([`crate::zkey`]).
    Coset,
}

/// What a proof claims: this job, this spec, this output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The job id as the chain stores it.
    pub job_id: [u8; 32],
    /// `spec(model commitment, input commitment)`, as the requester put it on chain.
    pub spec: Fr,
    /// The claimed logits.
    pub output: Output,
}

impl Statement {
    /// The circuit's public inputs, computed exactly as the Solidity adapter computes them.
    pub fn public_inputs(&self) -> [Fr; 3] {
        InferenceCircuit::public_inputs(
            fr_from_bytes_mod_order(&self.job_id),
            self.spec,
            self.output.packed(),
        )
    }
}

/// A proof and the statement it proves.
#[derive(Clone, Debug)]
pub struct Proven {
    /// The statement.
    pub statement: Statement,
    /// The proof, EVM-encoded.
    pub proof: [u8; PROOF_BYTES],
}

/// How many constraints the circuit has (and its variable counts), by synthesizing it once.
pub fn circuit_size() -> Result<(usize, usize, usize), Error> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    placeholder().generate_constraints(cs.clone())?;
    cs.finalize();
    Ok((cs.num_constraints(), cs.num_instance_variables(), cs.num_witness_variables()))
}

pub(crate) fn placeholder() -> InferenceCircuit {
    InferenceCircuit {
        job: Fr::from(0u64),
        model: Model::zeros(),
        input: Input { pixels: vec![0; crate::model::INPUTS] },
    }
}

impl Params {
    /// A fresh setup. The randomness is the toxic waste: whoever knows it can forge proofs. It lives only inside
    /// this call.
    pub fn setup<R: RngCore + CryptoRng>(rng: &mut R) -> Result<Self, Error> {
        let start = Instant::now();
        let (pk, _vk) = Groth16::<Bn254>::circuit_specific_setup(placeholder(), rng)?;
        tracing::info!(elapsed = ?start.elapsed(), "groth16 setup");
        Ok(Self { pk, reduction: Reduction::Libsnark })
    }

    /// [`Params::setup`] with the operating system's randomness. Not generic, so the generic arkworks code behind
    /// it is instantiated here, under ocean-zk's optimization settings (opt-level 3 even in debug builds),
    /// rather than in the calling crate's (a debug build of the CLI or the node).
    pub fn setup_os() -> Result<Self, Error> {
        Self::setup(&mut OsRng)
    }

    /// The deterministic, insecure development parameters (see [`DEV_SEED`]).
    pub fn dev() -> Result<Self, Error> {
        Self::setup(&mut StdRng::seed_from_u64(DEV_SEED))
    }

    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<Bn254> {
        &self.pk.vk
    }

    /// The verifying key, serialized (compressed) for `ocean zk verify`.
    pub fn vk_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.pk.vk.serialize_compressed(&mut out)?;
        Ok(out)
    }

    /// Serializes the proving key (which contains the verifying key), compressed.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.pk.serialize_compressed(&mut out)?;
        Ok(out)
    }

    /// Reads a proving key written by [`Params::to_bytes`], checking every point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Ok(Self { pk: ProvingKey::deserialize_compressed(bytes)?, reduction: Reduction::Libsnark })
    }

    /// Reads a proving key from a snarkjs ceremony's final `.zkey` (see [`crate::zkey`]).
    pub fn from_zkey(bytes: &[u8]) -> Result<Self, Error> {
        Ok(Self { pk: crate::zkey::read_zkey(bytes)?, reduction: Reduction::Coset })
    }

    /// Reads either kind of key file: a snarkjs `.zkey` (it starts with `zkey`) or [`Params::to_bytes`]' form.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.starts_with(b"zkey") { Self::from_zkey(bytes) } else { Self::from_bytes(bytes) }
    }

    /// The verifying key as the 22 words `ZkKeyVerifier`'s constructor takes: alpha, beta, gamma, delta (G2 in
    /// the EIP-197 order), IC0..IC3.
    pub fn evm_key_words(&self) -> Vec<[u8; 32]> {
        let vk = &self.pk.vk;
        let mut words: Vec<[u8; 32]> = g1_words(&vk.alpha_g1).to_vec();
        for g2 in [&vk.beta_g2, &vk.gamma_g2, &vk.delta_g2] {
            words.extend(g2_words(g2));
        }
        for ic in &vk.gamma_abc_g1 {
            words.extend(g1_words(ic));
        }
        words
    }

    /// [`Params::prove`] with the operating system's randomness; not generic, for the reason given at
    /// [`Params::setup_os`].
    pub fn prove_os(&self, model: &Model, input: &Input, job_id: [u8; 32]) -> Result<Proven, Error> {
        self.prove(model, input, job_id, &mut OsRng)
    }

    /// Runs the model on the input and proves it, for the job `job_id`.
    pub fn prove<R: RngCore + CryptoRng>(
        &self,
        model: &Model,
        input: &Input,
        job_id: [u8; 32],
        rng: &mut R,
    ) -> Result<Proven, Error> {
        let output = model.infer(input)?;
        let statement =
            Statement { job_id, spec: spec(model_commitment(model), input_commitment(input)), output };
        let circuit = InferenceCircuit {
            job: fr_from_bytes_mod_order(&job_id),
            model: model.clone(),
            input: input.clone(),
        };
        let start = Instant::now();
        let proof = match self.reduction {
            Reduction::Libsnark => Groth16::<Bn254>::prove(&self.pk, circuit, rng)?,
            Reduction::Coset => Groth16::<Bn254, crate::zkey::CosetReduction>::prove(&self.pk, circuit, rng)?,
        };
        tracing::info!(elapsed = ?start.elapsed(), "groth16 prove");
        Ok(Proven { statement, proof: encode_proof(&proof) })
    }
}

/// Reads a verifying key written by [`Params::vk_bytes`], checking every point.
pub fn vk_from_bytes(bytes: &[u8]) -> Result<VerifyingKey<Bn254>, Error> {
    Ok(VerifyingKey::deserialize_compressed(bytes)?)
}

/// Checks a proof against a verifying key (what the Solidity verifier checks, natively).
pub fn verify(vk: &VerifyingKey<Bn254>, statement: &Statement, proof: &[u8]) -> Result<bool, Error> {
    let Ok(proof) = decode_proof(proof) else { return Ok(false) };
    let pvk = ark_groth16::prepare_verifying_key(vk);
    Ok(Groth16::<Bn254>::verify_with_processed_vk(&pvk, &statement.public_inputs(), &proof)?)
}

fn word(f: &Fq) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&f.into_bigint().to_bytes_be());
    out
}

/// G1 point as two words (x, y).
pub fn g1_words(p: &G1Affine) -> [[u8; 32]; 2] {
    [word(&p.x), word(&p.y)]
}

/// G2 point as four words in the EIP-197 order (x.c1, x.c0, y.c1, y.c0).
pub fn g2_words(p: &G2Affine) -> [[u8; 32]; 4] {
    [word(&p.x.c1), word(&p.x.c0), word(&p.y.c1), word(&p.y.c0)]
}

/// A proof as the EVM's pairing precompile wants it: A.x A.y B.x1 B.x0 B.y1 B.y0 C.x C.y.
pub fn encode_proof(proof: &Proof<Bn254>) -> [u8; PROOF_BYTES] {
    let words = g1_words(&proof.a).into_iter().chain(g2_words(&proof.b)).chain(g1_words(&proof.c));
    let mut out = [0u8; PROOF_BYTES];
    for (chunk, w) in out.chunks_mut(32).zip(words) {
        chunk.copy_from_slice(&w);
    }
    out
}

fn fq(bytes: &[u8]) -> Result<Fq, Error> {
    let f = Fq::from_be_bytes_mod_order(bytes);
    if f.into_bigint().to_bytes_be() != bytes {
        return Err(Error::BadProof);
    }
    Ok(f)
}

/// Decodes an EVM-encoded proof, checking that every point is on its curve and in the right subgroup.
pub fn decode_proof(bytes: &[u8]) -> Result<Proof<Bn254>, Error> {
    if bytes.len() != PROOF_BYTES {
        return Err(Error::BadProof);
    }
    let w: Vec<Fq> = bytes.chunks(32).map(fq).collect::<Result<_, _>>()?;
    let g1 = |x: Fq, y: Fq| {
        let p = G1Affine::new_unchecked(x, y);
        (p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve()).then_some(p).ok_or(Error::BadProof)
    };
    let b = G2Affine::new_unchecked(ark_bn254::Fq2::new(w[3], w[2]), ark_bn254::Fq2::new(w[5], w[4]));
    if !(b.is_on_curve() && b.is_in_correct_subgroup_assuming_on_curve()) {
        return Err(Error::BadProof);
    }
    Ok(Proof { a: g1(w[0], w[1])?, b, c: g1(w[6], w[7])? })
}
