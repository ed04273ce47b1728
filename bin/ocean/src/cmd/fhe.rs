//! `ocean fhe`: homomorphic jobs — keys, encryption by data owners, decryption of results, program checks.
//!
//! Keys live where the user says (`--dir`, default `<repo>/fhe`); the server key and the public key are also
//! added to the local store (`<repo>/store`), and their CIDs are what jobs and data owners use. The client key
//! is sealed with a password (the wallet's sources: `--password-file`, `OCEAN_PASSWORD`, or a prompt).

use std::path::{Path, PathBuf};

use eyre::WrapErr;
use ocean_fhe::{
    Error as FheError, data, job,
    keys::{self, Cost, KeySet},
    program::{Program, Type},
};
use ocean_store::{Cid, ImportOptions, Store};

use crate::{
    config::Config,
    exit::{Failure, out},
};

/// A key does not match: the client key, a ciphertext or the server key comes from another key set.
pub(crate) const KEY_MISMATCH: u8 = 30;
/// The client key's password is wrong (or the file was modified).
pub(crate) const WRONG_PASSWORD: u8 = 31;
/// The program does not type-check.
pub(crate) const PROGRAM: u8 = 32;
/// An input has another type or width than the program declares, or a value does not fit its type.
pub(crate) const INPUT: u8 = 33;

const AFTER_HELP: &str = "\
Typical flow (see examples/fhe/README.md):
  ocean fhe keygen                                   # requester: prints the public and server key CIDs
  ocean fhe encrypt --pubkey CID --type 'u16[]' --values 3,1,4 -o a.ct   # each data owner
  ocean exec job.toml                                # kind = \"fhe\": program, server_key, inputs
  ocean fhe decrypt RESULT_CID                       # requester: prints name = value lines

Exit codes:
  0    success
  1    error (I/O, a CID not in the store, a malformed file); the message says which
  2    command-line usage error
  30   a key does not match (client key, ciphertext or server key from another keygen)
  31   wrong password for the client key (or the key file was modified)
  32   the program does not type-check
  33   an input or value has the wrong type or width";

/// Arguments of `ocean fhe`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Make a key set: the sealed client key stays in --dir; the server and public keys go to the store.
    Keygen {
        /// Where to write client.key, server.key and public.key (default: <repo>/fhe).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Read the client key's password from this file (else OCEAN_PASSWORD, else a prompt).
        #[arg(long, env = "OCEAN_PASSWORD_FILE")]
        password_file: Option<PathBuf>,
        /// Replace an existing key set in --dir.
        #[arg(long)]
        force: bool,
    },
    /// Encrypt values with a public key (data owners need nothing else); writes a ciphertext file.
    Encrypt {
        /// The public key: a CID in the local store, or a file.
        #[arg(long)]
        pubkey: String,
        /// The value's type: bool, u8, u16, u32, u64 for one value; `u16[]` for an array of the values given
        /// (or `u16[250]` to check the count).
        #[arg(long = "type")]
        ty: String,
        /// The values, separated by commas or spaces.
        #[arg(long, conflicts_with = "file")]
        values: Option<String>,
        /// Read the values from a file (separated by commas, spaces or newlines).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Where to write the ciphertext.
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
    },
    /// Decrypt the outputs of a job (a result CID, an outputs CID, or a file) with the client key.
    Decrypt {
        /// A job's result CID (its outputs/result.fhe is read), a CID of an outputs file, or a path.
        what: String,
        /// The sealed client key (default: <repo>/fhe/client.key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Read the client key's password from this file (else OCEAN_PASSWORD, else a prompt).
        #[arg(long, env = "OCEAN_PASSWORD_FILE")]
        password_file: Option<PathBuf>,
        /// Print integers as two's complement (signed) numbers of their width.
        #[arg(long)]
        signed: bool,
    },
    /// Type-check a program and print its inputs, outputs, work units and memory estimate.
    Check {
        /// The program (TOML).
        program: PathBuf,
    },
}

/// Runs `ocean fhe`.
pub(crate) async fn run(args: Args, config: &Config) -> eyre::Result<()> {
    let config = config.clone();
    // Key generation and encryption are seconds of CPU: keep them off the async workers.
    tokio::task::spawn_blocking(move || run_blocking(args, &config)).await?
}

fn open_store(config: &Config) -> eyre::Result<Store> {
    let dir = config.repo.join("store");
    Store::open(&dir).wrap_err_with(|| format!("opening the store in {}", dir.display()))
}

/// Maps the library's typed errors to exit codes.
fn fail(e: FheError) -> eyre::Report {
    let code = match &e {
        FheError::KeyMismatch { .. } => KEY_MISMATCH,
        FheError::WrongPassphrase => WRONG_PASSWORD,
        FheError::Program(_) => PROGRAM,
        FheError::InputType { .. } | FheError::Value { .. } | FheError::Input(..) => INPUT,
        _ => return eyre::Report::new(e),
    };
    Failure { code, message: e.to_string() }.into()
}

/// Bytes of a CID in the store, or of a file.
fn load(store: &Store, what: &str) -> eyre::Result<Vec<u8>> {
    if let Ok(cid) = what.parse::<Cid>() {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut store.cat(&cid).wrap_err_with(|| format!("reading {what} from the store"))?,
            &mut bytes,
        )?;
        return Ok(bytes);
    }
    std::fs::read(what).wrap_err_with(|| format!("reading {what}"))
}

fn run_blocking(args: Args, config: &Config) -> eyre::Result<()> {
    let default_dir = config.repo.join("fhe");
    match args.command {
        Command::Keygen { dir, password_file, force } => {
            let dir = dir.unwrap_or(default_dir);
            let client_path = dir.join("client.key");
            if client_path.exists() && !force {
                eyre::bail!("{} exists; pass --force to replace the key set", client_path.display());
            }
            let password =
                ocean_wallet::password::resolve(password_file.as_deref(), "the FHE client key", true)?;
            let store = open_store(config)?;
            tracing::info!("generating an FHE key set (a few seconds)");
            let set = KeySet::generate();
            let client = set.client_file(password.as_bytes(), Cost::STANDARD).map_err(fail)?;
            let (server, public) = (set.server_file(), set.public_file());
            std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
            write_private(&client_path, &client)?;
            std::fs::write(dir.join("server.key"), &server)?;
            std::fs::write(dir.join("public.key"), &public)?;
            let opts = ImportOptions::default();
            let server_cid = store.add_bytes(&server, &opts)?.cid;
            let public_cid = store.add_bytes(&public, &opts)?.cid;
            out(&format!("key id      {}", set.key_id));
            out(&format!("public key  {public_cid}  ({} bytes)", public.len()));
            out(&format!("server key  {server_cid}  ({} bytes)", server.len()));
            out(&format!("client key  {}  (sealed; never share it)", client_path.display()));
        }
        Command::Encrypt { pubkey, ty, values, file, out: path } => {
            let store = open_store(config)?;
            let public = keys::read_public(&load(&store, &pubkey)?).map_err(fail)?;
            let text = match (values, file) {
                (Some(v), _) => v,
                (None, Some(f)) => {
                    std::fs::read_to_string(&f).wrap_err_with(|| format!("reading {}", f.display()))?
                }
                (None, None) => eyre::bail!("give the values with --values or --file"),
            };
            let parsed = parse_values(&text)?;
            let ty = match ty.strip_suffix("[]") {
                Some(scalar) => {
                    let n = u32::try_from(parsed.len())?;
                    format!("{scalar}[{n}]").parse::<Type>().map_err(fail)?
                }
                None => ty.parse::<Type>().map_err(fail)?,
            };
            let ct = data::encrypt(&public, ty, &parsed).map_err(fail)?;
            std::fs::write(&path, &ct).wrap_err_with(|| format!("writing {}", path.display()))?;
            let cid = store.add_bytes(&ct, &ImportOptions::default())?.cid;
            out(&format!("{cid}  {}  ({ty}, key {}, {} bytes)", path.display(), public.key_id, ct.len()));
        }
        Command::Decrypt { what, key, password_file, signed } => {
            let key_path = key.unwrap_or_else(|| default_dir.join("client.key"));
            let sealed =
                std::fs::read(&key_path).wrap_err_with(|| format!("reading {}", key_path.display()))?;
            let store = open_store(config)?;
            let bytes = load_outputs(&store, &config.repo.join("tmp"), &what)?;
            let password =
                ocean_wallet::password::resolve(password_file.as_deref(), "the FHE client key", false)?;
            let client = keys::open_client(&sealed, password.as_bytes()).map_err(fail)?;
            for plain in data::decrypt(&client, &bytes).map_err(fail)? {
                out(&plain.render(signed));
            }
        }
        Command::Check { program } => {
            let text = std::fs::read_to_string(&program)
                .wrap_err_with(|| format!("reading {}", program.display()))?;
            let p = Program::parse(&text).map_err(fail)?;
            for (name, ty) in &p.inputs {
                out(&format!("input   {name}: {ty}"));
            }
            for (name, _, ty) in &p.outputs {
                out(&format!("output  {name}: {ty}"));
            }
            out(&format!("work units  {}", p.work));
            let mem = job::SERVER_KEY_MEMORY + p.peak_blocks * job::BLOCK_MEMORY;
            out(&format!("memory      ~{} MiB (plus the input files)", mem.div_ceil(1 << 20)));
        }
    }
    Ok(())
}

/// The outputs file of `what`: a path, a CID of the file, or a job result directory's CID.
fn load_outputs(store: &Store, scratch: &Path, what: &str) -> eyre::Result<Vec<u8>> {
    if let Ok(cid) = what.parse::<Cid>() {
        let at = scratch.join(format!("fhe-decrypt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&at);
        let got = store.get(&cid, &at).wrap_err_with(|| format!("reading {what} from the store"));
        let file =
            if at.is_dir() { at.join("outputs").join(ocean_runtime::job::FHE_OUTPUTS) } else { at.clone() };
        let bytes = got.and_then(|()| {
            std::fs::read(&file)
                .wrap_err_with(|| format!("{what} holds no {}", ocean_runtime::job::FHE_OUTPUTS))
        });
        let _ = if at.is_dir() { std::fs::remove_dir_all(&at) } else { std::fs::remove_file(&at) };
        return bytes;
    }
    std::fs::read(what).wrap_err_with(|| format!("reading {what}"))
}

fn parse_values(text: &str) -> eyre::Result<Vec<u64>> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "true" => Ok(1),
            "false" => Ok(0),
            _ => s.parse::<u64>().wrap_err_with(|| format!("`{s}` is not an unsigned integer")),
        })
        .collect()
}

/// Writes a secret file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> eyre::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).wrap_err_with(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}
