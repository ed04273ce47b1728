//! ocean-provider's integration tests: the provider's HTTP API in process (`Router` + `oneshot`) and on a real
//! 127.0.0.1 listener against hostile clients, with a real Anvil chain with the protocol deployed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

mod auth;
mod hostile;
mod node;
