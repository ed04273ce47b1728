//! Integration tests of `ocean-store`: against the real IPFS implementations from npm (see `interop/`),
//! the store's own round trips, the gateway in-process, and fuzzing of the decoders.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

mod common;
mod fuzz;
mod gateway;
mod hostile_trees;
mod interop_car;
mod interop_helia;
mod interop_importer;
mod interop_kubo;
mod ipip499;
mod roundtrip;
