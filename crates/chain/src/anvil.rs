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

/// A fresh Anvil with the protocol deployed with the devnet parameters (treasury `0x7e…7e`), and a client for
/// its deployer, the first funded account, which holds the whole OCAT supply. For tests.
#[cfg(feature = "test-utils")]
pub async fn spawn_deployed() -> Result<(AnvilInstance, crate::Client)> {
    use alloy::{
        network::EthereumWallet,
        primitives::Address,
        providers::{Provider, ProviderBuilder},
        signers::local::PrivateKeySigner,
    };
    let anvil = spawn()?;
    let key: PrivateKeySigner = anvil.keys()[0].clone().into();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key.clone()))
        .connect_http(anvil.endpoint_url())
        .erased();
    let params = crate::Params::devnet(Address::repeat_byte(0x7e));
    let deployment = crate::deploy::deploy(&provider, key.address(), &params).await?;
    let deployer = crate::Client::connect(&anvil.endpoint(), key, deployment).await?;
    Ok((anvil, deployer))
}
