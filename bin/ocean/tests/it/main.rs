//! End-to-end tests of the `ocean` binary: a real Anvil chain, real provider processes on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, missing_docs, unreachable_pub)]

mod e2e;
mod fhe;
mod fhe_net;
mod harness;
mod limits;
mod private;
mod zk;
