//! Verifiable inference: a Groth16 proof (BN254) that a committed, quantized neural network produced an output.
//!
//! `ocean-zk` owns the `zk` verification mode's cryptography, from the model file to the on-chain verifier:
//!
//! ```text
//! model.json ──► model::Model ──► commit::model_commitment ─┐
//! input.json ──► model::Input ──► commit::input_commitment ─┴► commit::spec  (the requester puts it on chain)
//!                     │
//!                     └─ Model::infer ─► Output (10 logits) ─► packed into one field element = the job result
//! Params::prove(model, input, job id) ─► circuit::InferenceCircuit ─► 256-byte proof
//! groth16::verify (Rust)  ≡  solidity::verifier_source (the generated Solidity verifier, on chain)
//!
//! production keys, from an existing ceremony tool:
//! circuit ─► r1cs_file::write_r1cs ─► snarkjs phase 2 (contributions) ─► .zkey ─► zkey::read_zkey
//!        ─► proofs with zkey::CosetReduction (snarkjs' QAP reduction)
//! ```
//!
//! The circuit's three public inputs are the job id (mod r), the spec and the packed output: all three are what
//! the chain already holds (`jobId`, `proofSpecs[jobId]`, the submitted result), so the Solidity adapter checks a
//! proof with no hashing of its own, and a proof for one job cannot be replayed for another.
//!
//! A program that installs a `tracing` subscriber must turn off the target `r1cs`: arkworks' gadgets open a span
//! per field operation whose fields print the whole constraint system, which makes one proof take minutes and
//! gigabytes (the `ocean` binary's filter does this).

pub mod circuit;
pub mod groth16;
pub mod r1cs_file;
pub mod solidity;
pub mod zkey;

use std::path::PathBuf;

// The model, its input and output and their commitments live apart from the prover (the requester side uses
// them without linking Groth16); they are re-exported here so the prover's users see one crate.
pub use groth16::{Params, Proven, Reduction, Statement, verify};
pub use ocean_zk_model::{Input, Model, Output};
pub use ocean_zk_model::{commit, input_commitment, model, model_commitment, spec};

/// The operating system's randomness, for setups and proofs.
pub use ark_std::rand::rngs::OsRng;

/// What can go wrong in `ocean-zk`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A model, input or result has the wrong shape.
    #[error("wrong shape: {0}")]
    Shape(String),
    /// A model, an input or a result (ocean-zk-model).
    #[error(transparent)]
    Model(#[from] ocean_zk_model::Error),
    /// A proof is not 256 bytes of valid curve points.
    #[error("malformed proof")]
    BadProof,
    /// The circuit or the prover failed.
    #[error("groth16: {0}")]
    Synthesis(#[from] ark_relations::r1cs::SynthesisError),
    /// Keys could not be (de)serialized.
    #[error("key serialization: {0}")]
    Serialization(#[from] ark_serialize::SerializationError),
}
