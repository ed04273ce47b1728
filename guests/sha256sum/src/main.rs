//! `sha256sum [FILE...]`: prints `<hex>  <name>` for each FILE (default: every file under /inputs, in name
//! order) and writes the same lines to /outputs/SHA256SUMS when /outputs exists.

use std::{path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let mut files: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        match std::fs::read_dir("/inputs") {
            Ok(rd) => files = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect(),
            Err(e) => {
                eprintln!("sha256sum: listing /inputs: {e}");
                return ExitCode::FAILURE;
            }
        }
        // Directory order is the host file system's; sort so every replica prints the same lines.
        files.sort();
    }
    let mut lines = String::new();
    let mut failed = false;
    for f in &files {
        match std::fs::File::open(f).and_then(sha256sum::digest) {
            Ok(hex) => {
                let name = f.strip_prefix("/inputs").unwrap_or(f).display().to_string();
                lines.push_str(&format!("{hex}  {name}\n"));
            }
            Err(e) => {
                eprintln!("sha256sum: {}: {e}", f.display());
                failed = true;
            }
        }
    }
    print!("{lines}");
    if std::path::Path::new("/outputs").is_dir() {
        if let Err(e) = std::fs::write("/outputs/SHA256SUMS", &lines) {
            eprintln!("sha256sum: writing /outputs/SHA256SUMS: {e}");
            failed = true;
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
