//! One module per subcommand: each has an `Args` (clap) and an async `run`.

pub(crate) mod config;
pub(crate) mod sim;
pub(crate) mod store;
pub(crate) mod wallet;
