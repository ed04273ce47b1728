//! Starting a local Anvil chain.
//!
//! The `anvil` binary is looked up in `$OCEAN_FOUNDRY_BIN` (set by the Makefile to the npm-installed Foundry),
//! then on `PATH`. The child process is killed when the returned handle is dropped.

use std::path::PathBuf;

use alloy::node_bindings::{Anvil, AnvilInstance};

use crate::{Error, Result};

/// Where the `anvil` binary is.
pub fn binary() -> PathBuf {
    if let Some(dir) = std::env::var_os("OCEAN_FOUNDRY_BIN") {
        let p = PathBuf::from(dir).join("anvil");
        if p.exists() {
            return p;
        }
    }
    // Running from a checkout without the Makefile: the npm-installed Foundry next to the contracts.
    let in_repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts/node_modules/.bin/anvil");
    if in_repo.exists() {
        return in_repo;
    }
    PathBuf::from("anvil")
}

/// Starts Anvil on a free port of 127.0.0.1 with automining and the default funded dev accounts.
pub fn spawn() -> Result<AnvilInstance> {
    spawn_with(Vec::new())
}

/// Starts Anvil with extra command-line arguments (e.g. `["--block-time", "1"]`).
pub fn spawn_with(args: Vec<String>) -> Result<AnvilInstance> {
    Anvil::at(binary()).args(args).try_spawn().map_err(|e| {
        Error::Anvil(format!("{e} (anvil at {}; run `make deps` to install Foundry)", binary().display()))
    })
}
