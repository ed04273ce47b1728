//! `pi [--samples N] [--seed S]`: estimates pi from N (default 10 million) random points. Without --seed the
//! seed comes from WASI `random_get`, which the sandbox derives from the job's seed, so replicas agree.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut samples: u64 = 10_000_000;
    let mut seed = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (a.as_str(), value) {
            ("--samples", Some(v)) => samples = v,
            ("--seed", Some(v)) => seed = Some(v),
            _ => {
                eprintln!("usage: pi [--samples N] [--seed S]");
                return ExitCode::from(2);
            }
        }
    }
    let seed = match seed {
        Some(s) => s,
        None => match getrandom::u64() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("pi: no randomness: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let inside = pi::hits(seed, samples);
    let estimate = 4.0 * inside as f64 / samples as f64;
    println!("seed {seed}\nsamples {samples}\ninside {inside}\npi {estimate:.10}");
    ExitCode::SUCCESS
}
