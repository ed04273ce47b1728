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
pub mod commit;
pub mod groth16;
pub mod model;
pub mod r1cs_file;
pub mod solidity;
pub mod zkey;

use std::path::PathBuf;

pub use commit::{input_commitment, model_commitment, spec};
pub use groth16::{Params, Proven, Reduction, Statement, verify};
pub use model::{Input, Model, Output};

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
    /// A file is not the expected JSON.
    #[error("parsing {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A model, input or result has the wrong shape.
    #[error("wrong shape: {0}")]
    Shape(String),
    /// A number does not fit the slot the circuit gives it.
    #[error("{what} {value} is out of the circuit's range")]
    OutOfRange {
        /// Which number.
        what: &'static str,
        /// Its value.
        value: i64,
    },
    /// A 32-byte value is not below the scalar field's modulus.
    #[error("value is not a canonical BN254 scalar")]
    NotCanonical,
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
