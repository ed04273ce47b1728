//! `ocean wallet`: the keys of providers and requesters, as Ethereum JSON keystores in `<repo>/keys/`
//! (readable by `cast wallet`), and the balances of an account. The work is done by `ocean-wallet`.

use std::{io::Read, path::PathBuf};

use eyre::WrapErr;
use ocean_wallet::{Wallet, Zeroizing, password};

use crate::config::Config;

const HELP: &str = "\
Keys live in <repo>/keys/<name>.json (Ethereum V3 keystores; `cast wallet address --keystore FILE` reads them).
The password comes from --password-file FILE (or OCEAN_PASSWORD_FILE), else OCEAN_PASSWORD, else a prompt on the
terminal; with none of these and no terminal, the command fails rather than wait.

Exit codes:
  0  success
  1  error: wrong password, missing or duplicate key, malformed keystore or private key, RPC failure
  2  command-line usage error";

/// Arguments of `ocean wallet`.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create a new random key and print its address.
    #[command(after_help = HELP)]
    New {
        /// Name of the key (its file is <repo>/keys/NAME.json).
        #[arg(long, default_value = ocean_wallet::DEFAULT_NAME)]
        name: String,
    },
    /// Import a private key (from a file or stdin, never an argument) or an existing keystore.
    #[command(after_help = HELP)]
    Import(Import),
    /// List the keys: name and address, one per line.
    #[command(after_help = HELP)]
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show an account's ETH, its OCAT, and the OCAT the JobMarket owes it.
    #[command(after_help = HELP)]
    Balance {
        /// A key name or any 0x address [default: --account, else the only key or `default`].
        #[arg(value_name = "NAME|ADDRESS")]
        account: Option<String>,
        /// Print JSON (amounts in wei, as strings).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["private_key_file", "private_key_stdin", "keystore"])))]
struct Import {
    /// Name of the key (its file is <repo>/keys/NAME.json).
    #[arg(long, default_value = ocean_wallet::DEFAULT_NAME)]
    name: String,
    /// A file holding the private key as hex (64 digits, optional 0x). It is encrypted with a new password.
    #[arg(long, value_name = "FILE")]
    private_key_file: Option<PathBuf>,
    /// Read the private key as hex from stdin. The password must then come from a file or OCEAN_PASSWORD.
    #[arg(long)]
    private_key_stdin: bool,
    /// An existing keystore (e.g. from `cast wallet new`); it keeps its password, which is checked.
    #[arg(long, value_name = "FILE")]
    keystore: Option<PathBuf>,
}

/// Runs `ocean wallet`.
pub(crate) async fn run(args: Args, config: &Config) -> eyre::Result<()> {
    let wallet = Wallet::open(config.keys_dir());
    let password_file = config.password_file.as_deref();
    match args.command {
        Command::New { name } => {
            wallet.check_new(&name)?;
            let password = password::resolve(password_file, &format!("new key `{name}`"), true)?;
            let key = wallet.create(&name, &password)?;
            print_new(&key);
        }
        Command::Import(import) => {
            let name = import.name;
            wallet.check_new(&name)?;
            let key = if let Some(path) = import.keystore {
                let password =
                    password::resolve(password_file, &format!("keystore {}", path.display()), false)?;
                wallet.import_keystore(&name, &path, &password)?
            } else {
                let hex = read_private_key(import.private_key_file)?;
                let password = password::resolve(password_file, &format!("new key `{name}`"), true)?;
                wallet.import_private_key(&name, &hex, &password)?
            };
            print_new(&key);
        }
        Command::List { json } => list(&wallet, json)?,
        Command::Balance { account, json } => {
            let selector = account.or_else(|| config.account.clone());
            let address = wallet.address_of(selector.as_deref())?;
            let path = config.deployment_path();
            let deployment = ocean_wallet::Deployment::load(&path).wrap_err(
                "reading the deployment (start a devnet with `ocean devnet up`, or pass --deployment)",
            )?;
            let b = ocean_wallet::balance(&config.rpc_url, deployment, address)
                .await
                .wrap_err_with(|| format!("reading balances from {}", config.rpc_url))?;
            let text = if json {
                serde_json::to_string_pretty(&serde_json::json!({
                    "address": b.address.to_string(),
                    "eth_wei": b.eth.to_string(),
                    "ocat_wei": b.ocat.to_string(),
                    "owed_wei": b.owed.to_string(),
                }))?
            } else {
                let units = |v: u128| ocean_wallet::format_units(v.try_into().unwrap_or_default());
                format!(
                    "address  {}\nETH      {}\nOCAT     {}\nowed     {} OCAT (JobMarket; withdrawable)",
                    b.address,
                    ocean_wallet::format_units(b.eth),
                    units(b.ocat),
                    units(b.owed),
                )
            };
            #[allow(clippy::print_stdout)]
            {
                println!("{text}");
            }
        }
    }
    Ok(())
}

/// The address on stdout (for scripts), where the file is on stderr.
fn print_new(key: &ocean_wallet::KeyInfo) {
    tracing::info!("key `{}` stored in {}", key.name, key.path.display());
    if let Some(address) = key.address {
        #[allow(clippy::print_stdout)]
        {
            println!("{address}");
        }
    }
}

fn list(wallet: &Wallet, json: bool) -> eyre::Result<()> {
    let keys = wallet.list()?;
    if keys.is_empty() && !json {
        tracing::info!("no keys in {}; create one with `ocean wallet new`", wallet.dir().display());
        return Ok(());
    }
    let text = if json {
        let rows: Vec<_> = keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "name": k.name,
                    "address": k.address.map(|a| a.to_string()),
                    "path": k.path,
                })
            })
            .collect();
        serde_json::to_string_pretty(&rows)?
    } else {
        let width = keys.iter().map(|k| k.name.len()).max().unwrap_or(0);
        keys.iter()
            .map(|k| {
                let address = k.address.map_or_else(|| "(no address recorded)".to_owned(), |a| a.to_string());
                format!("{:width$}  {address}", k.name)
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    #[allow(clippy::print_stdout)]
    {
        println!("{text}");
    }
    Ok(())
}

/// Reads a hex private key from a file or stdin into a buffer wiped on drop.
fn read_private_key(file: Option<PathBuf>) -> eyre::Result<Zeroizing<String>> {
    let mut text = Zeroizing::new(String::new());
    match file {
        Some(path) => {
            std::fs::File::open(&path)
                .and_then(|mut f| f.read_to_string(&mut text))
                .wrap_err_with(|| format!("reading the private key file {}", path.display()))?;
        }
        None => {
            std::io::stdin().read_to_string(&mut text).wrap_err("reading the private key from stdin")?;
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: super::Command,
    }

    #[test]
    fn import_needs_exactly_one_source() {
        assert!(Cli::try_parse_from(["t", "import"]).is_err());
        assert!(Cli::try_parse_from(["t", "import", "--keystore", "a", "--private-key-stdin"]).is_err());
        assert!(Cli::try_parse_from(["t", "import", "--private-key-file", "k", "--name", "x"]).is_ok());
        // A private key is never accepted as an argument.
        assert!(Cli::try_parse_from(["t", "import", "--private-key", "0xabc"]).is_err());
    }

    #[test]
    fn balance_takes_an_optional_selector() {
        assert!(Cli::try_parse_from(["t", "balance"]).is_ok());
        assert!(Cli::try_parse_from(["t", "balance", "alice", "--json"]).is_ok());
    }
}
