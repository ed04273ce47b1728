//! `ocean config`: prints the resolved configuration, so users can see which layer won.

use crate::config::Config;

/// Arguments of `ocean config`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print JSON instead of TOML.
    #[arg(long)]
    json: bool,
}

/// Prints `config` on stdout.
pub(crate) async fn run(args: Args, config: &Config) -> eyre::Result<()> {
    let text = if args.json { serde_json::to_string_pretty(config)? } else { toml_text(config)? };
    #[allow(clippy::print_stdout)]
    {
        println!("{text}");
    }
    Ok(())
}

fn toml_text(config: &Config) -> eyre::Result<String> {
    Ok(toml::to_string(config)?)
}
