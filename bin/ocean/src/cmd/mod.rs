//! One module per subcommand: each has an `Args` (clap) and an async `run`.

pub(crate) mod config;
pub(crate) mod deploy;
pub(crate) mod devnet;
pub(crate) mod exec;
pub(crate) mod fhe;
pub(crate) mod job;
pub(crate) mod node;
pub(crate) mod sched;
pub(crate) mod sim;
pub(crate) mod store;
pub(crate) mod wallet;
pub(crate) mod zk;
