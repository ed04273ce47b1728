//! `ocean deploy`: deploy the protocol to any EVM chain and write its deployment file.

use std::path::PathBuf;

use eyre::WrapErr;
use ocean_chain::{Address, Params, Profile, deploy};

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
    /// Governance and safety settings: `devnet` (one-block voting delay, 60-second windows; only for a local
    /// chain) or `production` (a day of voting delay, three days of voting, a proposal threshold, a guardian,
    /// a two-day timelock and windows of hours). The bounds every parameter keeps for good come with it.
    #[arg(long, value_enum, default_value = "devnet")]
    profile: ProfileArg,
    /// May cancel a queued governance proposal during the timelock delay (required with `--profile production`).
    #[arg(long)]
    guardian: Option<Address>,
    /// Protocol parameters as JSON (the fields of `ocean_chain::Params`) [default: those of the profile].
    #[arg(long, value_name = "FILE")]
    params: Option<PathBuf>,
    /// The zk proving key from a key ceremony (snarkjs' final `.zkey`, or `ocean zk setup`'s parameters): its
    /// verifying key goes into the market's proof verifier as constructor arguments. Without it, zk jobs are
    /// off everywhere but on a local devnet, whose verifier uses the public development key.
    #[arg(long, value_name = "FILE")]
    zk_key: Option<PathBuf>,
    /// Where to write the deployment [default: the configured deployment file].
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ProfileArg {
    Devnet,
    Production,
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
        None => {
            let treasury = args.treasury.unwrap_or(deployer);
            match args.profile {
                ProfileArg::Devnet => Params { guardian: args.guardian, ..Params::devnet(treasury) },
                ProfileArg::Production => {
                    let Some(guardian) = args.guardian else {
                        eyre::bail!(
                            "--profile production needs --guardian ADDRESS: the account (a multisig, say) that \
                             can cancel a queued governance proposal during the timelock delay"
                        );
                    };
                    Params::production(treasury, guardian)
                }
            }
        }
    };
    params.check().wrap_err("the deployment parameters")?;
    if params.profile == Profile::Devnet {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "note: deploying with the devnet profile (one-block voting delay, no proposal threshold, \
                 60-second floors on every window): for a local network only; use --profile production on a \
                 chain that holds value"
            );
        }
    }
    let url = config.rpc_url.parse().wrap_err_with(|| format!("RPC URL {}", config.rpc_url))?;
    let provider = alloy::providers::Provider::erased(
        alloy::providers::ProviderBuilder::new()
            .wallet(alloy::network::EthereumWallet::from(signer))
            .connect_http(url),
    );
    let zk_key = match &args.zk_key {
        Some(path) => {
            let bytes = std::fs::read(path).wrap_err_with(|| format!("reading {}", path.display()))?;
            let key = ocean_zk::Params::from_file_bytes(&bytes)
                .wrap_err_with(|| format!("{} is not a zk proving key", path.display()))?
                .evm_key_words();
            let dev = ocean_zk::Params::dev()?.evm_key_words();
            let chain_id = alloy::providers::Provider::get_chain_id(&provider).await?;
            if key == dev && !deploy::is_local_devnet(&provider, chain_id, params.profile) {
                eyre::bail!(
                    "{} holds the public development key: anyone can forge a proof with it, so it is refused on \
                     chain {chain_id} (only a local devnet may use it); run a key ceremony (snarkjs phase 2)",
                    path.display()
                );
            }
            Some(key.into_iter().map(ocean_chain::B256::from).collect::<Vec<_>>())
        }
        None => None,
    };
    let deployment = deploy::deploy_with_zk_key(&provider, deployer, &params, zk_key.as_deref())
        .await
        .wrap_err_with(|| format!("deploying to {}", config.rpc_url))?;
    if deployment.zk_verifier == Address::ZERO {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "note: zk (proof-verified) jobs are disabled on this deployment: the only verifying key Ocean AI \
                 ships is the public development key, with which anyone can forge a proof, and it is installed on \
                 a local devnet (chain 31337 on this machine, devnet profile) only"
            );
        }
    }
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
