//! Ocean AI's shared vocabulary.
//!
//! Every other crate speaks in these types: [`Amount`] for OCAT token quantities (18 decimals, parsed from
//! user text such as `"10 OCAT"` or `"0.5"`), and — as the runtime lands — the job manifest and its canonical
//! encoding, and the [`limit`] result a job gives when it runs out of a deterministic limit. This crate has
//! no I/O and no async: it only parses, validates and formats, so that the chain
//! client, the store, the runtime and the CLI agree on what a value means.

mod amount;
pub mod limit;
pub mod manifest;

pub use amount::{Amount, AmountError, DECIMALS};
pub use manifest::{Manifest, ManifestError};
