//! Connecting to the chain as the configured account: the deployment file, the keystore, the RPC URL.

use eyre::WrapErr;
use ocean_chain::{Client, Deployment};

use crate::config::Config;

/// Loads the deployment, unlocks the configured account and connects to the RPC.
pub(crate) async fn connect(config: &Config) -> eyre::Result<Client> {
    let deployment = load_deployment(config)?;
    let signer = ocean_wallet::unlock_account(
        &config.keys_dir(),
        config.account.as_deref(),
        config.password_file.as_deref(),
    )?;
    connect_as(config, signer, deployment).await
}

/// Connects as `signer` (for tools that already hold a key).
pub(crate) async fn connect_as(
    config: &Config,
    signer: ocean_chain::PrivateKeySigner,
    deployment: Deployment,
) -> eyre::Result<Client> {
    Client::connect(&config.rpc_url, signer, deployment)
        .await
        .wrap_err_with(|| format!("connecting to the chain at {}", config.rpc_url))
}

/// Reads the deployment file named by the configuration.
pub(crate) fn load_deployment(config: &Config) -> eyre::Result<Deployment> {
    let path = config.deployment_path();
    Deployment::load(&path).wrap_err_with(|| {
        format!(
            "reading the protocol deployment {} (start a local network with `ocean devnet up`, or pass \
             --deployment FILE / OCEAN_DEPLOYMENT)",
            path.display()
        )
    })
}
