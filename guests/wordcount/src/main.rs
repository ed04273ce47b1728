//! `wordcount [--top N] [FILE...]`: counts words in FILEs (default: every file under /inputs, in name order),
//! prints the N (default 10) most frequent as `count word` lines and writes all counts to
//! /outputs/counts.tsv when /outputs exists.

use std::{collections::HashMap, io::Write, path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wordcount: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut top = 10usize;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--top" => top = args.next().and_then(|n| n.parse().ok()).ok_or("--top needs a number")?,
            _ => files.push(PathBuf::from(a)),
        }
    }
    if files.is_empty() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir("/inputs")
            .map_err(|e| format!("listing /inputs: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        // Directory order is the host file system's; sort so every replica reads in the same order.
        entries.sort();
        files = entries;
    }
    let mut counts = HashMap::new();
    for f in &files {
        let text = std::fs::read(f).map_err(|e| format!("reading {}: {e}", f.display()))?;
        wordcount::count(&String::from_utf8_lossy(&text), &mut counts);
    }
    let mut out = std::io::stdout().lock();
    for (word, n) in wordcount::top(&counts, top) {
        writeln!(out, "{n} {word}").map_err(|e| e.to_string())?;
    }
    if std::path::Path::new("/outputs").is_dir() {
        let all = wordcount::top(&counts, usize::MAX);
        let mut tsv = String::new();
        for (word, n) in all {
            tsv.push_str(&format!("{word}\t{n}\n"));
        }
        std::fs::write("/outputs/counts.tsv", tsv)
            .map_err(|e| format!("writing /outputs/counts.tsv: {e}"))?;
    }
    Ok(())
}
