//! ocean-node's integration tests: the provider's HTTP API in process (`Router` + `oneshot`) against a real
//! Anvil chain with the protocol deployed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

mod auth;
