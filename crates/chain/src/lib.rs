//! Ocean AI's on-chain side.
//!
//! This crate owns everything that talks to the EVM chain:
//!
//! - [`bindings`]: alloy `sol!` bindings generated from the Foundry artifacts (copied to `artifacts/` by
//!   `make artifacts`, so building needs neither Node nor forge).
//! - [`deploy`]: the deterministic deployer. Every contract is created through the canonical CREATE2 factory
//!   with fixed salts, so the same deployer and parameters give the same addresses on any EVM chain. The result
//!   is a [`Deployment`] (a JSON file the rest of the system reads).
//! - [`Client`]: a typed client for one account: register a node, create a job with signed offers, commit,
//!   reveal with signed commitments, withdraw; every call returns its receipt so callers can account for gas.
//! - [`eip712`]: the off-chain signatures the protocol accepts in place of transactions (offers, commitments).
//! - [`anvil`]: starting a local Anvil chain (for `ocean devnet` and tests).
//!
//! Data flow: a requester's [`Client::create_job`] escrows the budget and assigns providers from their
//! [`eip712::sign_offer`] signatures; providers run the job off chain and hand back [`eip712::sign_commit`]
//! commitments (or call [`Client::commit`]); [`Client::reveal`] settles; everyone [`Client::withdraw`]s.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ocean_chain::Error> {
//! use ocean_chain::{Client, Deployment};
//! let deployment = Deployment::load("deployment.json".as_ref())?;
//! let key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d".parse()?;
//! let client = Client::connect("http://127.0.0.1:8545", key, deployment).await?;
//! let balance = client.ocat_balance(client.address()).await?;
//! # let _ = balance; Ok(()) }
//! ```

pub mod anvil;
pub mod bindings;
mod client;
pub mod deploy;
pub mod eip712;
mod error;
mod nonce;
#[cfg(feature = "test-utils")]
pub mod rpc_proxy;

pub use alloy::primitives::{Address, B256, Bytes, U256};
pub use alloy::signers::local::PrivateKeySigner;
pub use client::{
    Assigned, Client, EventWatch, JobRequest, JobView, Mode, NodeInfo, Receipt, RpcOptions, State, Verdict,
};
pub use deploy::{Bounds, Deployment, Params, Profile};
pub use error::Error;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
