//! `ocean`: the one command-line tool of Ocean AI.
//!
//! The binary is thin: it parses flags ([`clap`]), resolves the layered [`config::Config`] (defaults <
//! `ocean.toml` < `OCEAN_*` environment < flags), sets up `tracing` on stderr, and hands each subcommand to its
//! module under `cmd/`, which calls into the library crates. Everything a script reads goes to stdout;
//! logs, progress bars and errors go to stderr.
//!
//! Exit codes (also in `ocean --help`): see [`exit`].

mod cmd;
mod config;
mod exit;
mod session;

use clap::{Parser, Subcommand};

/// Ocean AI: a decentralized compute network paid in OCAT.
#[derive(Debug, Parser)]
#[command(name = "ocean", version, about, long_about = None, after_long_help = exit::HELP)]
struct Cli {
    #[command(flatten)]
    global: config::Flags,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the resolved configuration (defaults < ocean.toml < OCEAN_* env < flags).
    Config(cmd::config::Args),
    /// Run a job (job.toml) locally in the sandbox and print its result CID; no chain involved.
    Exec(cmd::exec::Args),
    /// Simulate the scheduler against baselines and the speed-oracle on a hidden cluster.
    Sim(cmd::sim::Args),
    /// Content-addressed store: add/cat/get files, CAR import/export, pins, gateway, verified fetch.
    Store(cmd::store::Args),
    /// Run a provider node: stake, run jobs in the sandbox, earn OCAT.
    Node(cmd::node::Args),
    /// Submit jobs, follow them, fetch their verified results.
    Job(cmd::job::Args),
    /// What the scheduler has learned about the providers (speed, reliability, latency, price).
    Sched(cmd::sched::Args),
    /// A local network (Anvil + contracts + provider nodes) for development and demos.
    Devnet(cmd::devnet::Args),
    /// Deploy the protocol to the configured chain and write the deployment file.
    Deploy(cmd::deploy::Args),
    /// Keys (Ethereum keystores `cast wallet` reads): new, import, list, balance.
    Wallet(cmd::wallet::Args),
    /// Homomorphic jobs: keygen, encrypt (data owners), decrypt (requester), check a program.
    Fhe(cmd::fhe::Args),
    /// Verifiable inference: Groth16 proofs that a committed model produced an output.
    Zk(cmd::zk::Args),
    /// The executor process a provider node starts for each task (reads one task on stdin).
    #[command(hide = true)]
    Executor,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    exit::install_panic_hook();
    init_tracing(cli.global.verbose);
    if let Command::Executor = cli.command {
        // Before any thread exists (it enters namespaces), and without the node's configuration.
        return ocean_executor::child::main();
    }
    let config = match config::Config::resolve(&cli.global) {
        Ok(c) => c,
        Err(err) => return exit::report(&err),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => return exit::report(&eyre::Report::new(err).wrap_err("starting the async runtime")),
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Config(args) => cmd::config::run(args, &config).await,
            Command::Exec(args) => cmd::exec::run(args, &config).await,
            Command::Sim(args) => cmd::sim::run(args, &config).await,
            Command::Store(args) => cmd::store::run(args, &config).await,
            Command::Node(args) => cmd::node::run(args, &config).await,
            Command::Job(args) => cmd::job::run(args, &config).await,
            Command::Sched(args) => cmd::sched::run(args, &config).await,
            Command::Devnet(args) => cmd::devnet::run(args, &config).await,
            Command::Deploy(args) => cmd::deploy::run(args, &config).await,
            Command::Wallet(args) => cmd::wallet::run(args, &config).await,
            Command::Fhe(args) => cmd::fhe::run(args, &config).await,
            Command::Zk(args) => cmd::zk::run(args, &config).await,
            // Served above, before the async runtime existed.
            Command::Executor => Ok(()),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => exit::report(&err),
    }
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn,ocean=info",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let asked = std::env::var("OCEAN_LOG").ok();
    let mut filter = EnvFilter::try_from_env("OCEAN_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    if !asked.is_some_and(|a| a.contains("r1cs")) {
        // arkworks' circuit gadgets open a span per field operation whose fields print the whole constraint
        // system: at `info` a single proof would take many minutes and gigabytes. Opt in with OCEAN_LOG=r1cs=….
        if let Ok(off) = "r1cs=off".parse() {
            filter = filter.add_directive(off);
        }
    }
    // Colour only for a person at a terminal: a log file (a node's node.log, CI output) gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .init();
}
