//! The executor process on its own (the `ocean` binary serves the same as its hidden `executor` subcommand):
//! reads one task on stdin, runs it, writes the outcome on stdout.

fn main() -> std::process::ExitCode {
    ocean_executor::child::main()
}
