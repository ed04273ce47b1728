//! Integration tests of ocean-scheduler: the public API as the node will call it, and the simulator.
#![allow(clippy::unwrap_used)]

mod placement;
mod sim;
