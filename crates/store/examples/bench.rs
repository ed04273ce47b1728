//! Throughput of the store on one file, for docs/benchmarks.md (run with `--release`):
//!
//! ```text
//! cargo run --release -p ocean-store --example bench -- hash FILE        # --only-hash
//! cargo run --release -p ocean-store --example bench -- add FILE DIR     # persisted in DIR (redb)
//! cargo run --release -p ocean-store --example bench -- cat CID DIR      # read back to /dev/null
//! ```
//! Prints one line: what, bytes, seconds, GB/s. Wrap in `/usr/bin/time -v` for peak memory.
#![allow(clippy::print_stdout, missing_docs)]

use std::time::Instant;

use ocean_store::{ImportOptions, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, target) = match args.as_slice() {
        [m, t, ..] => (m.as_str(), t.as_str()),
        _ => return Err("usage: bench hash|add|cat FILE|CID [DIR]".into()),
    };
    let dir = args.get(2).cloned().unwrap_or_else(|| "bench-store".into());
    let opts = match std::env::var("PROFILE").as_deref() {
        Ok("unixfs-v1-2025") => ImportOptions::profile(ocean_store::Profile::UnixfsV1_2025),
        _ => ImportOptions::default(),
    };
    let start = Instant::now();
    let (what, bytes, cid) = match mode {
        "hash" => {
            let a = Store::hash_path(target, &opts, &mut |_| {})?;
            ("only-hash", a.size, a.cid)
        }
        "add" => {
            let store = Store::open(&dir)?;
            let a = store.add_file(target, &opts)?;
            ("add (redb)", a.size, a.cid)
        }
        "cat" => {
            let store = Store::open(&dir)?;
            let cid = target.parse()?;
            let mut r = store.cat(&cid)?;
            let n = std::io::copy(&mut r, &mut std::io::sink())?;
            ("cat", n, cid)
        }
        other => return Err(format!("unknown mode {other}").into()),
    };
    let secs = start.elapsed().as_secs_f64();
    println!("{what}: {cid} {bytes} bytes in {secs:.3} s = {:.2} GB/s", bytes as f64 / secs / 1e9);
    Ok(())
}
