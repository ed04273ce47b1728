//! `matmul [--n N] [--seed S]`: multiplies two N×N (default 256) pseudo-random matrices, prints the checksum
//! of the product (decimal and exact bits) and writes the product as little-endian f64 to
//! /outputs/product.f64 when /outputs exists.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut n: usize = 256;
    let mut seed: u64 = 1;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (a.as_str(), value) {
            ("--n", Some(v)) if (1..=4096).contains(&v) => n = v as usize,
            ("--seed", Some(v)) => seed = v,
            _ => {
                eprintln!("usage: matmul [--n 1..4096] [--seed S]");
                return ExitCode::from(2);
            }
        }
    }
    let a = matmul::matrix(n, seed);
    let b = matmul::matrix(n, seed.wrapping_add(1));
    let c = matmul::multiply(&a, &b, n);
    let sum = matmul::checksum(&c);
    println!("n {n}\nchecksum {sum:.12e}\nbits {:016x}", sum.to_bits());
    if std::path::Path::new("/outputs").is_dir() {
        let bytes: Vec<u8> = c.iter().flat_map(|v| v.to_le_bytes()).collect();
        if let Err(e) = std::fs::write("/outputs/product.f64", bytes) {
            eprintln!("matmul: writing /outputs/product.f64: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
