//! The 1,000-value private sum, end to end in one process, for its wall time and peak memory:
//!
//! ```text
//! cargo build --release -p ocean-fhe --example private_sum
//! /usr/bin/time -v $CARGO_TARGET_DIR/release/examples/private_sum
//! ```
//!
//! Four data owners encrypt 250 scores (0..=100) each with the public key; the provider's path (`job::evaluate`:
//! checks, server key decompression, input expansion, the program of examples/fhe/sum.toml) computes the sum
//! and the mean; the requester decrypts. Prints the time of each phase.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{collections::BTreeMap, time::Instant};

use ocean_fhe::{
    data, job,
    keys::{self, Cost, KeySet},
};

const PROGRAM: &str = include_str!("../../../examples/fhe/sum.toml");

fn main() {
    let t = Instant::now();
    let set = KeySet::generate();
    let (client, server, public) =
        (set.client_file(b"x", Cost::FAST).unwrap(), set.server_file(), set.public_file());
    drop(set);
    println!("keygen: {:.2} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let public = keys::read_public(&public).unwrap();
    let values: Vec<u64> = (0..1000u64).map(|i| (i * 7919) % 101).collect();
    let mut inputs = BTreeMap::new();
    for (i, chunk) in values.chunks(250).enumerate() {
        let ct = data::encrypt(&public, "u8[250]".parse().unwrap(), chunk).unwrap();
        inputs.insert(format!("owner{}", i + 1), ct);
    }
    println!("4 owners encrypt 250 values each: {:.2} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let budget =
        job::Budget { work: u64::MAX, memory_bytes: u64::MAX, output_bytes: u64::MAX, deadline: None };
    let done = job::evaluate(PROGRAM.as_bytes(), &server, &inputs, &budget).unwrap();
    println!(
        "evaluate (decompress key, expand 1,000 inputs, cast, sum, mean): {:.2} s, {} work units, estimate {} MiB",
        t.elapsed().as_secs_f64(),
        done.work,
        done.memory_estimate >> 20
    );

    let t = Instant::now();
    let client = keys::open_client(&client, b"x").unwrap();
    let plain = data::decrypt(&client, &done.outputs).unwrap();
    println!("decrypt: {:.2} s", t.elapsed().as_secs_f64());
    let sum: u64 = values.iter().sum();
    for p in &plain {
        println!("{p}");
    }
    assert_eq!(plain[0].values, [sum], "the decrypted sum equals the clear sum");
    assert_eq!(plain[1].values, [sum / 1000]);
}
