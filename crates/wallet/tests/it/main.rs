//! Integration tests of ocean-wallet: keystores exchanged with the real Foundry `cast`, balances on a real Anvil.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod balance;
mod cast;
