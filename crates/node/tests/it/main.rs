//! Integration tests of the provider node against hostile clients: a real node (on a fresh Anvil devnet)
//! serving on 127.0.0.1, and its router driven in-process.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

mod hostile;
mod node;
