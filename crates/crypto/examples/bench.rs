//! Envelope throughput: `cargo run --release -p ocean-crypto --example bench -- [MIB] [RECIPIENTS]`.
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use ocean_crypto::{Identity, decrypt, encrypt};

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(256);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let ids: Vec<Identity> = (0..n).map(|_| Identity::generate()).collect();
    let recipients: Vec<_> = ids.iter().map(Identity::recipient).collect();
    let data: Vec<u8> =
        (0..mib << 20).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3]).collect();
    let mb = data.len() as f64 / 1e6;
    let best = |f: &mut dyn FnMut()| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let mut env = Vec::new();
    let enc = best(&mut || env = encrypt(&recipients, &data).unwrap());
    let dec = best(&mut || assert_eq!(decrypt(&ids[n - 1], &env).unwrap().len(), data.len()));
    let small = best(&mut || {
        for _ in 0..1000 {
            std::hint::black_box(encrypt(&recipients, b"x").unwrap());
        }
    });
    println!("{mib} MiB to {n} recipients: encrypt {:.0} MB/s, decrypt {:.0} MB/s", mb / enc, mb / dec);
    println!(
        "overhead: {} bytes ({:.3}%)",
        env.len() - data.len(),
        100.0 * (env.len() - data.len()) as f64 / data.len() as f64
    );
    println!("per-envelope fixed cost (1-byte payload, {n} recipients): {:.0} us", small * 1000.0);
}
