//! `ocean sched`: what the requester's scheduler has learned about the providers it can reach.

use clap::Subcommand;

use crate::{config::Config, exit::out};

/// Arguments of `ocean sched`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Each reachable provider's learned speed (Gfuel per second of your wait, from the verified results of
    /// your jobs), reliability, round trip and price, fastest first.
    Show {
        /// One JSON object per provider instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `ocean sched`.
pub(crate) async fn run(args: Args, config: &Config) -> eyre::Result<()> {
    match args.command {
        Command::Show { json } => {
            let mut requester = super::job::requester(config).await?;
            let learned = requester.learned().await?;
            if json {
                for l in &learned {
                    out(&serde_json::to_string(l)?);
                }
                return Ok(());
            }
            if learned.is_empty() {
                out("no registered provider answers its telemetry");
                return Ok(());
            }
            out(&format!(
                "{:<42}  {:>15}  {:>11}  {:>8}  {:>7}  {:>10}  {:>5}",
                "provider", "speed (Gfuel/s)", "reliability", "evidence", "rtt ms", "price OCAT", "queue"
            ));
            for l in &learned {
                out(&format!(
                    "{:<42}  {:>15.4}  {:>11.3}  {:>8.1}  {:>7.1}  {:>10.4}  {:>5}",
                    l.address.to_string(),
                    l.speed,
                    l.reliability,
                    l.evidence,
                    l.latency_s * 1000.0,
                    l.price_ocat,
                    l.queue
                ));
            }
            out(
                "evidence 0: a prior from the advertised benchmark only; speeds are learned from your finalized jobs",
            );
            Ok(())
        }
    }
}
