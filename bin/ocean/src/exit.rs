//! Exit codes and error reporting.
//!
//! Scripts rely on these numbers; they never change meaning. A subcommand signals a specific code by returning
//! an error that wraps [`Failure`]; any other error exits with [`GENERAL`].

use std::process::ExitCode;

/// Any error not listed below (bad input, I/O, RPC, ...).
pub(crate) const GENERAL: u8 = 1;
/// Command-line usage error (clap's own code).
#[allow(dead_code)]
pub(crate) const USAGE: u8 = 2;

/// The text appended to `ocean --help`.
pub(crate) const HELP: &str = "\
Exit codes:
  0    success
  1    error (bad input, I/O, RPC or chain failure); the message on stderr says which
  2    command-line usage error
  3-7  ocean job: 3 cannot be placed, 4 insufficient funds, 5 failed or expired, 6 timed out waiting,
       7 a private job's keys or envelopes are wrong
  20   ocean exec: the guest failed (non-zero exit or trap)
  21-25 a limit was hit (21 fuel, 22 memory, 23 deadline, 24 output size, 25 stack). 21, 22 and 24 are
       results, the same on every replica: ocean exec prints the limit result's CID, ocean job writes it
       (ocean-limit.json) and its providers were paid. 23 and 25 (ocean exec only) are no result: on the
       network such a job fails unpaid
  30-33 ocean fhe: 30 key mismatch, 31 wrong password, 32 program type error, 33 input type/width
  40   ocean zk verify: the proof does not verify
  41   ocean zk ceremony verify|finalize: a contribution does not verify
  101  internal bug (a panic); please report it

Logs go to stderr; set OCEAN_LOG (e.g. OCEAN_LOG=debug) or pass -v to see more.";

/// An error that chooses the process's exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct Failure {
    /// The exit code.
    pub(crate) code: u8,
    /// What went wrong, for the user.
    pub(crate) message: String,
}

/// Prints one line of a command's result on stdout (what scripts read; logs go to stderr).
pub(crate) fn out(line: &str) {
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
}

/// Prints an error chain on stderr and returns its exit code.
pub(crate) fn report(err: &eyre::Report) -> ExitCode {
    let code = err.chain().find_map(|e| e.downcast_ref::<Failure>()).map_or(GENERAL, |f| f.code);
    let mut text = format!("error: {err}");
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{text}");
    }
    ExitCode::from(code)
}

/// Turns panics into a clear "this is a bug" message (exit code 101, Rust's default for panics).
pub(crate) fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("ocean hit an internal bug (a panic); please report it with the message below.");
        }
        default(info);
    }));
}
