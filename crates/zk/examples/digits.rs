//! Measures the digits circuit: constraint count, setup, prove and verify times, proof size.
//!
//! ```text
//! cargo run --release -p ocean-zk --example digits -- setup /tmp/zk-params.bin     # OS randomness
//! /usr/bin/time -v target/release/examples/digits prove /tmp/zk-params.bin 10      # prove 10 digits
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{path::Path, time::Instant};

use ocean_zk::{Input, Model, OsRng, Params, verify};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/zk");
    let model = Model::load(&examples.join("digits-q.json")).expect("model");
    let (constraints, instance, witness) = ocean_zk::groth16::circuit_size().expect("synthesis");
    println!("constraints {constraints}, public inputs {}, witness variables {witness}", instance - 1);
    match args.get(1).map(String::as_str) {
        Some("setup") => {
            let t = Instant::now();
            let params = Params::setup(&mut OsRng).expect("setup");
            println!("setup {:.2} s", t.elapsed().as_secs_f64());
            let bytes = params.to_bytes().expect("serialize");
            println!(
                "proving key {} bytes (compressed), verifying key {} bytes",
                bytes.len(),
                params.vk_bytes().unwrap().len()
            );
            std::fs::write(&args[2], bytes).expect("write");
        }
        Some("prove") => {
            let t = Instant::now();
            let params = Params::from_bytes(&std::fs::read(&args[2]).expect("read")).expect("params");
            println!("load proving key {:.2} s", t.elapsed().as_secs_f64());
            let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
            let mut times = Vec::new();
            for k in 0..n {
                let input = Input::load(&examples.join(format!("digit-{}.json", k % 10))).expect("input");
                let t = Instant::now();
                let proven = params.prove(&model, &input, [k as u8; 32], &mut OsRng).expect("prove");
                times.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                assert!(verify(params.vk(), &proven.statement, &proven.proof).unwrap());
                let v = t.elapsed().as_secs_f64();
                println!(
                    "digit {}: class {}, prove {:.3} s, verify {:.1} ms, proof {} bytes",
                    k % 10,
                    proven.statement.output.class(),
                    times[k],
                    v * 1e3,
                    proven.proof.len()
                );
            }
            times.sort_by(f64::total_cmp);
            println!("prove median {:.3} s, min {:.3} s, max {:.3} s", times[n / 2], times[0], times[n - 1]);
        }
        _ => eprintln!("usage: digits setup FILE | digits prove FILE [N]"),
    }
}
