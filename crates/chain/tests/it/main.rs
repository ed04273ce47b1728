//! Integration tests of ocean-chain against a real Anvil chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, missing_docs)]

mod faults;
mod lifecycle;
