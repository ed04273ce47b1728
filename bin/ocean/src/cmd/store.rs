//! `ocean store`: the content-addressed store (UnixFS, CAR, pins, gateway, verified fetch).
//!
//! The store lives in `<repo>/store`. `add` prints only root CIDs on stdout; progress bars go to stderr and
//! are hidden when stderr is not a terminal.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use eyre::WrapErr;
use ocean_store::cid::Version;
use ocean_store::{Cid, ImportOptions, Profile, Store};

use crate::config::Config;

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  error: bad input, a CID or path not in the store, a block that fails verification, I/O
  2  command-line usage error

The store lives in <repo>/store (--repo / OCEAN_REPO). CIDs are compatible with kubo and Helia:
the default import equals `ipfs add --cid-version=1`.";

/// Arguments of `ocean store`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Import files or directories; prints each root CID, one per line.
    Add(AddArgs),
    /// Write a file's bytes to stdout (CID or CID/path).
    Cat {
        /// CID, optionally followed by a path inside it.
        cid: String,
    },
    /// Write a file or directory tree to disk.
    Get {
        /// CID, optionally followed by a path inside it.
        cid: String,
        /// Where to write it.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
    /// Write a DAG as a CARv1 file.
    Export {
        /// Root CID.
        cid: String,
        /// The CAR file to write.
        #[arg(short, long, value_name = "FILE.car")]
        output: PathBuf,
    },
    /// Import a CAR file (every block verified; nothing stored if any is bad); pins its roots.
    Import {
        /// CAR files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Pin a DAG (it must be complete in the store): gc keeps it.
    Pin {
        /// Root CID.
        cid: String,
    },
    /// Remove a pin.
    Unpin {
        /// Root CID.
        cid: String,
    },
    /// List pinned roots.
    Pins,
    /// Delete every block not reachable from a pin.
    Gc,
    /// Serve the store as a trustless HTTP gateway (GET/HEAD /ipfs/{cid}?format=raw|car).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Fetch a DAG from trustless gateways, verifying every block, then pin it.
    Fetch {
        /// Root CID.
        cid: String,
        /// Gateway base URL (repeat for fallbacks), e.g. http://127.0.0.1:8080.
        #[arg(long = "from", value_name = "URL", required = true)]
        from: Vec<String>,
    },
}

#[derive(Debug, clap::Args)]
struct AddArgs {
    /// Add directories recursively.
    #[arg(short, long)]
    recursive: bool,
    /// Compute CIDs only; store nothing.
    #[arg(short = 'n', long)]
    only_hash: bool,
    /// CID version: 1 (raw leaves, base32) or 0 (dag-pb leaves, base58 Qm…).
    #[arg(long, value_parser = ["0", "1"])]
    cid_version: Option<String>,
    /// Import profile: unixfs-v1-2025 (1 MiB chunks, 1024 links), kubo-v1 (default), kubo-v0.
    #[arg(long)]
    profile: Option<String>,
    /// Include files whose names start with a dot.
    #[arg(short = 'H', long)]
    hidden: bool,
    /// Do not pin the added roots.
    #[arg(long)]
    no_pin: bool,
    /// Files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn open(config: &Config) -> eyre::Result<Store> {
    let dir = config.repo.join("store");
    Store::open(&dir).wrap_err_with(|| format!("opening the store in {}", dir.display()))
}

/// Parses `CID[/path]`.
fn parse_target(s: &str) -> eyre::Result<(Cid, String)> {
    let s = s.strip_prefix("/ipfs/").unwrap_or(s);
    let (cid, path) = s.split_once('/').unwrap_or((s, ""));
    let cid: Cid = cid.parse().wrap_err_with(|| format!("invalid CID {cid:?}"))?;
    Ok((cid, path.to_owned()))
}

fn resolve(store: &Store, s: &str) -> eyre::Result<Cid> {
    let (cid, path) = parse_target(s)?;
    Ok(store.resolve(&cid, &path)?)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> eyre::Result<T> + Send + 'static,
) -> eyre::Result<T> {
    tokio::task::spawn_blocking(f).await.wrap_err("store task failed")?
}

fn bar(total: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_owned());
    pb
}

fn disk_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if meta.is_dir() {
        std::fs::read_dir(path).map_or(0, |rd| rd.flatten().map(|e| disk_size(&e.path())).sum())
    } else {
        meta.len()
    }
}

/// Runs `ocean store ...`.
pub(crate) async fn run(args: Args, config: &Config) -> eyre::Result<()> {
    match args.command {
        Command::Add(a) => add(a, config).await,
        Command::Cat { cid } => {
            let store = open(config)?;
            blocking(move || {
                let target = resolve(&store, &cid)?;
                let mut reader = store.cat(&target)?;
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
                std::io::copy(&mut reader, &mut out).wrap_err("writing to stdout")?;
                out.flush()?;
                Ok(())
            })
            .await
        }
        Command::Get { cid, output } => {
            let store = open(config)?;
            blocking(move || {
                let target = resolve(&store, &cid)?;
                store.get(&target, &output)?;
                Ok(())
            })
            .await
        }
        Command::Export { cid, output } => {
            let store = open(config)?;
            blocking(move || {
                let target = resolve(&store, &cid)?;
                let file = std::fs::File::create(&output).wrap_err_with(|| output.display().to_string())?;
                let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
                store.export_car(&target, &mut w)?;
                w.flush()?;
                Ok(())
            })
            .await
        }
        Command::Import { files } => {
            let store = open(config)?;
            let roots = blocking(move || {
                let mut roots = Vec::new();
                for f in files {
                    let file = std::fs::File::open(&f).wrap_err_with(|| f.display().to_string())?;
                    let r = store
                        .import_car(std::io::BufReader::with_capacity(1 << 20, file))
                        .wrap_err_with(|| format!("importing {}", f.display()))?;
                    roots.extend(r);
                }
                Ok(roots)
            })
            .await?;
            print_cids(&roots);
            Ok(())
        }
        Command::Pin { cid } => {
            let store = open(config)?;
            let cid = parse_target(&cid)?.0;
            blocking(move || Ok(store.pin(&cid)?)).await
        }
        Command::Unpin { cid } => {
            let store = open(config)?;
            let cid = parse_target(&cid)?.0;
            if !blocking(move || Ok(store.unpin(&cid)?)).await? {
                eyre::bail!("{cid} is not pinned");
            }
            Ok(())
        }
        Command::Pins => {
            let store = open(config)?;
            print_cids(&store.pins()?);
            Ok(())
        }
        Command::Gc => {
            let store = open(config)?;
            let stats = blocking(move || Ok(store.gc()?)).await?;
            tracing::info!(blocks = stats.blocks, bytes = stats.bytes, "gc removed unpinned blocks");
            Ok(())
        }
        Command::Serve { listen } => {
            let store = open(config)?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .wrap_err_with(|| format!("listening on {listen}"))?;
            tracing::info!("trustless gateway on http://{}/ipfs/", listener.local_addr()?);
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            ocean_store::gateway::serve(store, listener, shutdown).await?;
            Ok(())
        }
        Command::Fetch { cid, from } => {
            let store = open(config)?;
            let root = parse_target(&cid)?.0;
            let fetcher = ocean_store::fetch::Fetcher::new(store, from)?;
            let progress = Arc::new(ocean_store::fetch::Progress::default());
            let pb = bar(0, "fetch");
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg} {bytes} {bytes_per_sec} {elapsed}")
            {
                pb.set_style(style);
            }
            let ticker = {
                let (pb, progress) = (pb.clone(), progress.clone());
                tokio::spawn(async move {
                    loop {
                        pb.set_position(progress.bytes.load(std::sync::atomic::Ordering::Relaxed));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                })
            };
            let result = fetcher.fetch(&root, &progress).await;
            ticker.abort();
            pb.finish_and_clear();
            let stats = result?;
            tracing::info!(blocks = stats.blocks, bytes = stats.bytes, "fetched and verified");
            print_cids(&[root]);
            Ok(())
        }
    }
}

async fn add(a: AddArgs, config: &Config) -> eyre::Result<()> {
    let mut opts = match &a.profile {
        Some(p) => ImportOptions::profile(p.parse::<Profile>()?),
        None => ImportOptions::default(),
    };
    match a.cid_version.as_deref() {
        Some("0") => opts = opts.with_cid_version(Version::V0),
        Some(_) => opts = opts.with_cid_version(Version::V1),
        None => {}
    }
    opts.hidden = a.hidden;
    opts.pin = !a.no_pin;
    for p in &a.paths {
        let meta = std::fs::symlink_metadata(p).wrap_err_with(|| p.display().to_string())?;
        if meta.is_dir() && !a.recursive {
            eyre::bail!("{} is a directory: use -r to add it recursively", p.display());
        }
    }
    let store = if a.only_hash { None } else { Some(open(config)?) };
    let total: u64 = a.paths.iter().map(|p| disk_size(p)).sum();
    let cids = blocking(move || {
        let pb = bar(total, if a.only_hash { "hash" } else { "add" });
        let mut cids = Vec::new();
        for p in &a.paths {
            let mut progress = |n: u64| pb.inc(n);
            let added = match &store {
                Some(s) => s.add_path(p, &opts, &mut progress),
                None => Store::hash_path(p, &opts, &mut progress),
            }
            .wrap_err_with(|| format!("adding {}", p.display()))?;
            cids.push(added.cid);
        }
        pb.finish_and_clear();
        Ok(cids)
    })
    .await?;
    print_cids(&cids);
    Ok(())
}

fn print_cids(cids: &[Cid]) {
    #[allow(clippy::print_stdout)]
    for c in cids {
        println!("{c}");
    }
}
