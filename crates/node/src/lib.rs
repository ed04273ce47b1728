//! Ocean AI's node: the provider daemon and the requester client.
//!
//! - [`provider`]: `ocean node start`. A persisted state machine ([`db`], redb) per task: offered → assigned →
//!   running → done → (committing → committed) → settled | failed. An HTTP API ([`protocol`]) answers offer
//!   requests with EIP-712 signatures, accepts the job's blocks as a CAR (hash-checked), reports task status
//!   and signed commitments, and serves the node's store as a trustless gateway. A watcher scans the chain for
//!   assignments and drives settlement; a bounded queue feeds a fixed number of sandbox workers.
//! - [`requester`]: `ocean job submit`. Prepares the job in the local store, places it with the learned
//!   scheduler over the registry's providers and their telemetry, collects signed offers, pushes the bundle,
//!   creates the job with its escrow in one transaction, then settles it with the providers' signed
//!   commitments (one more transaction) and fetches the verified result.
//!
//! The two sides meet only through the chain and the provider's HTTP API, so a requester never trusts a
//! provider's word: results are compared by CID through commitments on chain, and every fetched block is
//! hash-checked.

pub mod db;
mod error;
pub mod proof;
pub mod protocol;
pub mod provider;
pub mod requester;

pub use error::{Error, Result};
