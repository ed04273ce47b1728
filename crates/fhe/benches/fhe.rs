//! FHE numbers for docs/benchmarks.md, side by side in one run (release):
//!
//! ```text
//! cargo bench -p ocean-fhe --bench fhe
//! ```
//!
//! - per-operation latency of our evaluator path (`eval::run` on a one-step program) against the same
//!   operation called directly on tfhe-rs, same key, same ciphertexts, interleaved; add, mul and compare on
//!   FheUint8 and FheUint32;
//! - sizes of the key files and of one ciphertext.
//!
//! The 1,000-value private sum (wall time and peak memory) is `examples/private_sum.rs`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use ocean_fhe::{
    data,
    eval::{self, Ct},
    keys::{Cost, KeySet},
    program::Program,
};
use tfhe::{
    FheUint8, FheUint32,
    prelude::{FheEncrypt, FheOrd},
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn program(ty: &str, op: &str) -> Program {
    Program::parse(&format!(
        "outputs = [\"r\"]\n[inputs]\na = \"{ty}\"\nb = \"{ty}\"\n[[let]]\nname = \"r\"\nop = \"{op}\"\nargs = [\"a\", \"b\"]\n"
    ))
    .unwrap()
}

/// Times `raw` and `ours` alternately, `n` times each after one warm-up, and prints the medians.
fn compare(label: &str, n: usize, mut raw: impl FnMut(), mut ours: impl FnMut()) {
    raw();
    ours();
    let (mut r, mut o) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        raw();
        r.push(t.elapsed());
        let t = Instant::now();
        ours();
        o.push(t.elapsed());
    }
    let (r, o) = (median(r), median(o));
    println!(
        "| {label} | {:.2} | {:.2} | {:.3}x |",
        r.as_secs_f64() * 1e3,
        o.as_secs_f64() * 1e3,
        o.as_secs_f64() / r.as_secs_f64()
    );
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("ocean-fhe benchmark: {threads} hardware threads, tfhe-rs default parameters");
    let t = Instant::now();
    let set = KeySet::generate();
    println!("keygen (client + compressed server + compact public): {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let sealed = set.client_file(b"bench", Cost::STANDARD).unwrap();
    println!("sealing the client key (scrypt 2^17): {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    tfhe::set_server_key(set.server.decompress());
    println!("server key decompression: {:.2} s", t.elapsed().as_secs_f64());

    let public = ocean_fhe::keys::read_public(&set.public_file()).unwrap();
    println!();
    println!("| file | bytes |");
    println!("|---|---:|");
    println!("| client key (sealed) | {} |", sealed.len());
    println!("| compressed server key | {} |", set.server_file().len());
    println!("| compact public key | {} |", set.public_file().len());
    for (ty, n) in [("u8", 1u64), ("u32", 1), ("u8[1000]", 1000), ("u32[1000]", 1000)] {
        let ct = data::encrypt(&public, ty.parse().unwrap(), &vec![1; n as usize]).unwrap();
        println!("| input ciphertext {ty} (compact list) | {} |", ct.len());
    }
    let out8 = data::write_outputs(
        set.key_id,
        &[("r".into(), "u8".parse().unwrap())],
        &[vec![Ct::U8(FheUint8::encrypt(7u8, &set.client))]],
    )
    .unwrap();
    let out32 = data::write_outputs(
        set.key_id,
        &[("r".into(), "u32".parse().unwrap())],
        &[vec![Ct::U32(FheUint32::encrypt(7u32, &set.client))]],
    )
    .unwrap();
    println!("| output ciphertext u8 (outputs file with one value) | {} |", out8.len());
    println!("| output ciphertext u32 (outputs file with one value) | {} |", out32.len());

    println!();
    println!("| operation | raw tfhe-rs (ms, median) | ocean-fhe evaluator (ms, median) | ratio |");
    println!("|---|---:|---:|---:|");
    let (a8, b8) = (FheUint8::encrypt(200u8, &set.client), FheUint8::encrypt(77u8, &set.client));
    let (a32, b32) =
        (FheUint32::encrypt(3_000_000_000u32, &set.client), FheUint32::encrypt(12_345u32, &set.client));
    let n = 15;
    macro_rules! pair {
        ($label:expr, $ty:expr, $op:expr, $v:ident, $a:expr, $b:expr, |$x:ident, $y:ident| $raw:expr, $n:expr) => {{
            let p = program($ty, $op);
            compare(
                $label,
                $n,
                || {
                    let ($x, $y) = (&$a, &$b);
                    black_box($raw);
                },
                || {
                    let out = eval::run(&p, vec![vec![Ct::$v($a.clone())], vec![Ct::$v($b.clone())]], None)
                        .unwrap();
                    black_box(out);
                },
            );
        }};
    }
    pair!("add FheUint8", "u8", "add", U8, a8, b8, |x, y| x + y, n);
    pair!("mul FheUint8", "u8", "mul", U8, a8, b8, |x, y| x * y, n);
    pair!("lt FheUint8", "u8", "lt", U8, a8, b8, |x, y| x.lt(y), n);
    pair!("add FheUint32", "u32", "add", U32, a32, b32, |x, y| x + y, n);
    pair!("mul FheUint32", "u32", "mul", U32, a32, b32, |x, y| x * y, 7);
    pair!("lt FheUint32", "u32", "lt", U32, a32, b32, |x, y| x.lt(y), n);
}
