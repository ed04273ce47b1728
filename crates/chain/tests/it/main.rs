//! Integration tests of ocean-chain against a real Anvil chain.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod lifecycle;
