//! `ocean deploy`: deploy the protocol to any EVM chain and write its deployment file.

use std::path::PathBuf;

use eyre::WrapErr;
use ocean_chain::{Address, Params, deploy};

use crate::config::Config;

/// Deploy the protocol (deterministic CREATE2 addresses) to the configured RPC URL as the configured account.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The same account and parameters give the same addresses on every EVM chain that has the \
                        canonical CREATE2 factory (0x4e59b44847b379578588920cA78FbF26c0B4956C). Running it again \
                        resumes an interrupted deployment."
)]
pub(crate) struct Args {
    /// Receives protocol fees, slashed stake and the treasury's share of the supply [default: the deployer].
    #[arg(long)]
    treasury: Option<Address>,
    /// Protocol parameters as JSON (the fields of `ocean_chain::Params`) [default: the devnet parameters].
    #[arg(long, value_name = "FILE")]
    params: Option<PathBuf>,
    /// Where to write the deployment [default: the configured deployment file].
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Runs `ocean deploy`.
pub(crate) async fn run(args: Args, config: &Config) -> eyre::Result<()> {
    let signer = ocean_wallet::unlock_account(
        &config.keys_dir(),
        config.account.as_deref(),
        config.password_file.as_deref(),
    )?;
    let deployer = signer.address();
    let params = match &args.params {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).wrap_err_with(|| format!("reading {}", path.display()))?;
            serde_json::from_str::<Params>(&text)
                .wrap_err_with(|| format!("{} is not a Params JSON", path.display()))?
        }
        None => Params::devnet(args.treasury.unwrap_or(deployer)),
    };
    let url = config.rpc_url.parse().wrap_err_with(|| format!("RPC URL {}", config.rpc_url))?;
    let provider = alloy::providers::Provider::erased(
        alloy::providers::ProviderBuilder::new()
            .wallet(alloy::network::EthereumWallet::from(signer))
            .connect_http(url),
    );
    let deployment = deploy::deploy(&provider, deployer, &params)
        .await
        .wrap_err_with(|| format!("deploying to {}", config.rpc_url))?;
    let out = args.out.unwrap_or_else(|| config.deployment_path());
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    }
    deployment.save(&out)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(&deployment)?);
    }
    tracing::info!(target: "ocean::deploy", file = %out.display(), "deployment written");
    Ok(())
}
