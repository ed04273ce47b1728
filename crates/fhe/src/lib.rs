//! Homomorphic jobs (`kind = "fhe"`): computing on data nobody but the requester can read, with tfhe-rs.
//!
//! Who holds what, and how data flows:
//!
//! 1. The requester runs [`keys::KeySet::generate`] (`ocean fhe keygen`): the client key stays on their
//!    machine, sealed with a passphrase; the compressed server key and the compact public key go to the store.
//! 2. Data owners encrypt with the public key alone ([`data::encrypt`], `ocean fhe encrypt --pubkey CID`) and
//!    hand over ciphertext files (one typed value each, a scalar or an array).
//! 3. A job names a [`program::Program`] (a typed expression graph in TOML), the server key and the inputs by
//!    CID. A provider's runtime calls [`job::evaluate`]: everything is checked first (types, key ids, limits),
//!    then [`eval::run`] computes on ciphertexts and the outputs file goes to the store. Evaluation is
//!    deterministic, so replicas agree byte for byte and quorum verification works unchanged.
//! 4. The requester decrypts the outputs ([`data::decrypt`], `ocean fhe decrypt`).
//!
//! Every file is a small container ([`format`]) whose header carries the format version, the tfhe-rs
//! parameter set and the key id, so mismatched keys and ciphertexts are refused with clear errors.

mod error;

pub mod data;
pub mod eval;
pub mod format;
pub mod job;
pub mod keys;
pub mod program;

pub use error::{Error, Limit, Result};
pub use tfhe;
