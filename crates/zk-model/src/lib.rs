//! What both sides of a zk job hold: the quantized model, its input, its output, and the commitments to them.
//!
//! ```text
//! model.json ──► model::Model ──► commit::model_commitment ─┐
//! input.json ──► model::Input ──► commit::input_commitment ─┴► commit::spec  (the requester puts it on chain)
//!                     │
//!                     └─ Model::infer ─► Output (10 logits) ─► packed into one field element = the job result
//! ```
//!
//! The requester computes the spec a job is created with and decodes the result the chain records; the
//! provider proves the inference with ocean-zk, which builds its circuit on these same definitions. Keeping
//! them apart from the prover lets the requester side check and pay proof jobs without linking Groth16.

pub mod commit;
pub mod model;

use std::path::PathBuf;

pub use commit::{input_commitment, model_commitment, spec};
pub use model::{Input, Model, Output};

/// What can go wrong reading a model, an input or a result.
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
}
