//! Integration tests of ocean-zk: the circuit against the quantized model on the whole test set, proofs in Rust,
//! the generated Solidity against its committed copy, and proofs through JobMarket on Anvil.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, missing_docs)]

mod ceremony;
mod chain;
mod common;
mod prove;
mod r1cs;
mod solidity;
mod witness;
