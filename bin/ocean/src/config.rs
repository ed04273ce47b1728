//! Layered configuration: defaults < `ocean.toml` < `OCEAN_*` environment < command-line flags.
//!
//! Flags are parsed by clap into [`Flags`]; [`Config::resolve`] merges the layers with `figment` (as Foundry's
//! config does) and validates once, so subcommands read a single typed [`Config`].

use std::path::PathBuf;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Flags shared by every subcommand. Each one overrides the file and the environment.
#[derive(Debug, Default, clap::Args, Serialize)]
pub(crate) struct Flags {
    /// Configuration file [default: ./ocean.toml if present].
    #[arg(long, global = true, value_name = "FILE", env = "OCEAN_CONFIG")]
    #[serde(skip)]
    pub(crate) config: Option<PathBuf>,

    /// Data directory (store, keys, node state) [env: OCEAN_REPO] [default: ~/.ocean].
    #[arg(long, global = true, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) repo: Option<PathBuf>,

    /// JSON-RPC URL of the EVM chain; several, separated by commas, are tried in turn when one fails (every
    /// request is retried on rate limits, 503s and timeouts) [env: OCEAN_RPC_URL] [default:
    /// http://127.0.0.1:8545].
    #[arg(long, global = true, value_name = "URL[,URL...]")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rpc_url: Option<String>,

    /// Deployment file: the protocol's contract addresses on this chain [env: OCEAN_DEPLOYMENT]
    /// [default: <repo>/deployment.json].
    #[arg(long, global = true, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deployment: Option<PathBuf>,

    /// Account to act as: a wallet name or address in <repo>/keys [env: OCEAN_ACCOUNT] [default: the only
    /// one, or `default`].
    #[arg(long, global = true, value_name = "NAME|ADDRESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) account: Option<String>,

    /// File holding the keystore password [env: OCEAN_PASSWORD_FILE]; OCEAN_PASSWORD holds it directly;
    /// otherwise it is asked on the terminal.
    #[arg(long, global = true, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) password_file: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    #[serde(skip)]
    pub(crate) verbose: u8,
}

/// The resolved configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Config {
    /// Data directory.
    pub(crate) repo: PathBuf,
    /// JSON-RPC URL of the chain.
    pub(crate) rpc_url: String,
    /// Deployment file; `None` means `<repo>/deployment.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) deployment: Option<PathBuf>,
    /// Account name or address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) account: Option<String>,
    /// Password file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) password_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        Self {
            repo: home.join(".ocean"),
            rpc_url: "http://127.0.0.1:8545".to_owned(),
            deployment: None,
            account: None,
            password_file: None,
        }
    }
}

impl Config {
    /// The deployment file to read.
    pub(crate) fn deployment_path(&self) -> PathBuf {
        self.deployment.clone().unwrap_or_else(|| self.repo.join("deployment.json"))
    }

    /// Where keystores live.
    pub(crate) fn keys_dir(&self) -> PathBuf {
        self.repo.join("keys")
    }

    /// Merges defaults, the config file, `OCEAN_*` variables and `flags`, in that order.
    pub(crate) fn resolve(flags: &Flags) -> eyre::Result<Self> {
        Self::figment(flags).extract().map_err(|e| eyre::eyre!("invalid configuration: {e}"))
    }

    fn figment(flags: &Flags) -> Figment {
        let file = match &flags.config {
            Some(path) => Toml::file_exact(path),
            None => Toml::file("ocean.toml"),
        };
        Figment::from(Serialized::defaults(Config::default()))
            .merge(file)
            .merge(Env::prefixed("OCEAN_").only(&[
                "repo",
                "rpc_url",
                "deployment",
                "account",
                "password_file",
            ]))
            .merge(Serialized::defaults(flags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail error type, test only
    fn layers_override_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("ocean.toml", "repo = \"/from/file\"\nrpc_url = \"http://file:1\"")?;
            let c = Config::resolve(&Flags::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.repo, PathBuf::from("/from/file"));
            assert_eq!(c.rpc_url, "http://file:1");

            jail.set_env("OCEAN_RPC_URL", "http://env:2");
            let c = Config::resolve(&Flags::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.rpc_url, "http://env:2");
            assert_eq!(c.repo, PathBuf::from("/from/file"));

            let flags = Flags { rpc_url: Some("http://flag:3".into()), ..Flags::default() };
            let c = Config::resolve(&flags).map_err(|e| e.to_string())?;
            assert_eq!(c.rpc_url, "http://flag:3");
            Ok(())
        });
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let flags = Flags { config: Some("/nonexistent/ocean.toml".into()), ..Flags::default() };
        assert!(Config::resolve(&flags).is_err());
    }
}
