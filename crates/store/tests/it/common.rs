//! Helpers: deterministic data, and running the npm tools in `crates/store/interop`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder with `package.json` and the scripts.
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Runs `node SCRIPT ARGS...` in the interop folder and returns stdout. Fails loudly, never skips, when Node
/// or the npm packages are missing: `make test` installs them (`make deps-store`).
pub fn node(script: &str, args: &[&str]) -> String {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/ipfs-unixfs-importer").is_dir(),
        "the npm packages of {} are missing: run `make deps-store` (npm ci there)",
        dir.display()
    );
    let out =
        Command::new("node").arg(dir.join(script)).args(args).current_dir(&dir).output().unwrap_or_else(
            |e| panic!("cannot run `node` (Node.js 20+ is needed for the IPFS interop tests): {e}"),
        );
    assert!(
        out.status.success(),
        "node {script} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("node prints UTF-8")
}

/// Deterministic pseudo-random bytes (xorshift64*), the same on every run.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        out.extend_from_slice(&s.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Parses the JSON lines of `import.mjs` / `kubo_cids.py` into (path, cid) pairs (other lines are logs).
pub fn cids(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            (v["path"].as_str().expect("path").to_owned(), v["cid"].as_str().expect("cid").to_owned())
        })
        .collect()
}
