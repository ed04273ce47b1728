//! `ocean zk`: verifiable inference of the quantized digits MLP (Groth16 on BN254, see ocean-zk).
//!
//! `setup` makes a circuit's parameters (proving key, verifying key, Solidity verifier), `spec` prints what a
//! requester puts on chain for a model and an input, `prove` runs the model and proves it for a job, `verify`
//! checks a proof file against a verifying key.

use std::path::{Path, PathBuf};

use eyre::{Context, eyre};
use ocean_zk::{Input, Model, Output, Params, Statement, model::fr_from_bytes_canonical};

use crate::exit::{Failure, out};

/// Exit code of `ocean zk verify` when the proof does not verify.
const NOT_VERIFIED: u8 = 40;
/// Exit code of `ocean zk ceremony verify|finalize` when the transcript does not verify.
const CEREMONY_BROKEN: u8 = 41;

/// Verifiable inference: prove that a committed model produced an output.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 ok, 1 error, 40 (verify) the proof does not verify, 41 (ceremony verify, \
                  finalize) a contribution does not verify."
)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Make the circuit's parameters from OS randomness (the randomness is discarded when this returns):
    /// writes OUT/params.bin (proving key), OUT/vk.bin and OUT/Groth16Verifier.sol, prints the model commitment.
    Setup {
        /// The quantized model (e.g. examples/zk/digits-q.json).
        model: PathBuf,
        /// Output directory.
        #[arg(long, default_value = "zk-params")]
        out: PathBuf,
        /// The public development parameters instead (what `ocean deploy` puts on chain; anyone can forge
        /// proofs under them).
        #[arg(long)]
        dev: bool,
    },
    /// Print the model commitment, the input commitment and the job spec (the `proofSpec` of a zk job).
    Spec {
        /// The quantized model.
        #[arg(long)]
        model: PathBuf,
        /// The input image (`{"pixels": [64 values]}`).
        #[arg(long)]
        input: PathBuf,
    },
    /// Run the model on the input and prove it for a job; writes the proof file (JSON).
    Prove {
        /// Proving key from `ocean zk setup`.
        #[arg(long)]
        params: PathBuf,
        /// The quantized model.
        #[arg(long)]
        model: PathBuf,
        /// The input image.
        #[arg(long)]
        input: PathBuf,
        /// The on-chain job id (0x + 64 hex digits).
        #[arg(long)]
        job_id: String,
        /// Where to write the proof file.
        #[arg(long, default_value = "proof.json")]
        out: PathBuf,
    },
    /// A multi-party key ceremony for the circuit, run with snarkjs (Groth16 phase 2): the key it makes is safe
    /// as long as one contributor discarded its randomness, and anyone can check the transcript.
    Ceremony {
        #[command(subcommand)]
        step: CeremonyStep,
    },
    /// Check a proof file against a verifying key (exit 40 when it does not verify).
    Verify {
        /// Verifying key from `ocean zk setup` (vk.bin).
        #[arg(long)]
        vk: PathBuf,
        /// The proof file from `ocean zk prove`.
        proof: PathBuf,
    },
}

/// The steps of `ocean zk ceremony`. Each reads and writes the ceremony folder: `circuit.r1cs`, `phase1.ptau`
/// and the keys `0000.zkey` (the initial key) … `NNNN.zkey` (after the N-th contribution).
#[derive(Debug, clap::Subcommand)]
enum CeremonyStep {
    /// Start a ceremony: export the circuit, copy the phase-1 file (powers of tau, at least 2^15 for the digits
    /// circuit) and make the initial key from them.
    Init {
        /// A phase-1 file prepared for phase 2 (snarkjs `powersoftau prepare phase2`).
        #[arg(long)]
        ptau: PathBuf,
        /// The ceremony folder.
        #[arg(long, default_value = "zk-ceremony")]
        dir: PathBuf,
        /// Another circuit's `.r1cs` instead of the digits circuit (for tests of the ceremony itself).
        #[arg(long, hide = true)]
        r1cs: Option<PathBuf>,
    },
    /// Add a contribution on top of the latest key: fresh randomness from the OS (mixed with `--entropy`), then
    /// discarded. Prints the contribution's hash, which the contributor publishes.
    Contribute {
        /// The ceremony folder.
        #[arg(long, default_value = "zk-ceremony")]
        dir: PathBuf,
        /// Who contributes (recorded in the key).
        #[arg(long)]
        name: String,
        /// Extra entropy to mix in.
        #[arg(long)]
        entropy: Option<String>,
    },
    /// Check the latest key against the circuit and the phase-1 file, every contribution included (exit 41 when
    /// it does not verify).
    Verify {
        /// The ceremony folder.
        #[arg(long, default_value = "zk-ceremony")]
        dir: PathBuf,
    },
    /// Verify, then write the final proving key (a `.zkey` for `ocean deploy --zk-key` and `ocean node start
    /// --zk-params`). Refuses a key nobody contributed to.
    Finalize {
        /// The ceremony folder.
        #[arg(long, default_value = "zk-ceremony")]
        dir: PathBuf,
        /// Where to write the key.
        #[arg(long)]
        out: PathBuf,
    },
}

/// snarkjs, from `OCEAN_SNARKJS` or the `PATH` (0.7.6 is what Ocean AI tests with: `make deps-ceremony`).
fn snarkjs(args: &[&std::ffi::OsStr], dir: &Path) -> eyre::Result<String> {
    let bin = std::env::var_os("OCEAN_SNARKJS").unwrap_or_else(|| "snarkjs".into());
    let output = std::process::Command::new(&bin).args(args).current_dir(dir).output().map_err(|e| {
        eyre!(
            "running {} failed ({e}): install snarkjs 0.7.6 (`npm install -g snarkjs@0.7.6`) or set OCEAN_SNARKJS",
            bin.to_string_lossy()
        )
    })?;
    let text =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(eyre!("snarkjs {:?} failed: {}", args, text.trim()));
    }
    Ok(text)
}

/// The keys of a ceremony folder, in order.
fn ceremony_keys(dir: &Path) -> eyre::Result<Vec<PathBuf>> {
    let mut keys: Vec<PathBuf> = std::fs::read_dir(dir)
        .wrap_err_with(|| format!("reading the ceremony folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "zkey")
                && p.file_stem()
                    .and_then(|s| s.to_str())
                    .is_some_and(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    keys.sort();
    if keys.is_empty() {
        return Err(eyre!("{} holds no ceremony keys: run `ocean zk ceremony init` first", dir.display()));
    }
    Ok(keys)
}

/// `snarkjs zkey verify` of the latest key; a failure is exit 41.
fn verify_ceremony(dir: &Path) -> eyre::Result<PathBuf> {
    let latest = ceremony_keys(dir)?.pop().ok_or_else(|| eyre!("no keys"))?;
    // snarkjs runs in the ceremony folder: it gets names, not paths.
    let name = latest.file_name().ok_or_else(|| eyre!("a key without a name"))?;
    let args: [&std::ffi::OsStr; 5] =
        ["zkey".as_ref(), "verify".as_ref(), "circuit.r1cs".as_ref(), "phase1.ptau".as_ref(), name];
    match snarkjs(&args, dir) {
        Ok(text) if text.contains("ZKey Ok!") => Ok(latest),
        Ok(text) => Err(Failure {
            code: CEREMONY_BROKEN,
            message: format!("the ceremony does not verify: {}", text.trim()),
        }
        .into()),
        Err(e) => {
            Err(Failure { code: CEREMONY_BROKEN, message: format!("the ceremony does not verify: {e}") }
                .into())
        }
    }
}

fn ceremony(step: CeremonyStep) -> eyre::Result<()> {
    match step {
        CeremonyStep::Init { ptau, dir, r1cs } => {
            std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
            if dir.join("0000.zkey").exists() {
                return Err(eyre!("{} already holds a ceremony", dir.display()));
            }
            let circuit = dir.join("circuit.r1cs");
            match r1cs {
                Some(other) => {
                    std::fs::copy(&other, &circuit)
                        .wrap_err_with(|| format!("copying {}", other.display()))?;
                }
                None => {
                    let mut file = std::fs::File::create(&circuit)
                        .wrap_err_with(|| format!("creating {}", circuit.display()))?;
                    let info = ocean_zk::r1cs_file::write_r1cs(&mut file)?;
                    out(&format!(
                        "circuit: {} constraints, {} public inputs",
                        info.constraints, info.public_inputs
                    ));
                }
            }
            std::fs::copy(&ptau, dir.join("phase1.ptau"))
                .wrap_err_with(|| format!("copying {}", ptau.display()))?;
            snarkjs(
                &[
                    "groth16".as_ref(),
                    "setup".as_ref(),
                    "circuit.r1cs".as_ref(),
                    "phase1.ptau".as_ref(),
                    "0000.zkey".as_ref(),
                ],
                &dir,
            )?;
            out(&format!(
                "initial key {}/0000.zkey: add contributions with `ocean zk ceremony contribute`",
                dir.display()
            ));
        }
        CeremonyStep::Contribute { dir, name, entropy } => {
            let keys = ceremony_keys(&dir)?;
            let latest = keys.last().and_then(|k| k.file_name()).ok_or_else(|| eyre!("no keys"))?;
            let next_name = format!("{:04}.zkey", keys.len());
            let next = dir.join(&next_name);
            let random: [u8; 32] = rand::random();
            let e = format!("-e={}{}", hex::encode(random), entropy.unwrap_or_default());
            let n = format!("--name={name}");
            let text = snarkjs(
                &["zkey".as_ref(), "contribute".as_ref(), latest, next_name.as_ref(), n.as_ref(), e.as_ref()],
                &dir,
            )?;
            let hash: Vec<&str> = text
                .lines()
                .skip_while(|l| !l.contains("Contribution Hash"))
                .skip(1)
                .take(4)
                .map(str::trim)
                .collect();
            out(&format!("contribution {} by {name}: {}", next.display(), hash.join(" ")));
        }
        CeremonyStep::Verify { dir } => {
            let latest = verify_ceremony(&dir)?;
            out(&format!(
                "verified: {} (every contribution checks against the circuit and phase 1)",
                latest.display()
            ));
        }
        CeremonyStep::Finalize { dir, out: path } => {
            let latest = verify_ceremony(&dir)?;
            if ceremony_keys(&dir)?.len() < 2 {
                return Err(eyre!("nobody has contributed yet: the initial key's randomness is public"));
            }
            std::fs::copy(&latest, &path).wrap_err_with(|| format!("writing {}", path.display()))?;
            // Read back as ocean deploy and the node will: a key they could not use is not a result.
            Params::from_zkey(&std::fs::read(&path).wrap_err("reading the final key")?)?;
            out(&format!(
                "final key {} ({} contributions); ocean deploy --zk-key {} puts its verifying key on chain",
                path.display(),
                ceremony_keys(&dir)?.len() - 1,
                path.display()
            ));
        }
    }
    Ok(())
}

/// What `ocean zk prove` writes and `ocean zk verify` reads.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProofFile {
    job_id: String,
    spec: String,
    model_commitment: String,
    input_commitment: String,
    /// The job result submitted on chain: the packed logits (32 bytes).
    result: String,
    logits: Vec<i64>,
    class: usize,
    /// 256 bytes: A, B, C as the EVM pairing precompile reads them.
    proof: String,
}

fn hex32(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn parse_hex(s: &str) -> eyre::Result<Vec<u8>> {
    hex::decode(s.trim_start_matches("0x")).wrap_err_with(|| format!("not hex: {s}"))
}

fn parse32(s: &str) -> eyre::Result<[u8; 32]> {
    parse_hex(s)?.try_into().map_err(|_| eyre!("expected 32 bytes: {s}"))
}

fn write(path: &Path, bytes: &[u8]) -> eyre::Result<()> {
    std::fs::write(path, bytes).wrap_err_with(|| format!("writing {}", path.display()))
}

pub(crate) async fn run(args: Args, _config: &crate::config::Config) -> eyre::Result<()> {
    // Proving and setup are CPU-bound for seconds: keep them off the async workers.
    tokio::task::spawn_blocking(move || run_blocking(args)).await?
}

fn run_blocking(args: Args) -> eyre::Result<()> {
    match args.command {
        Command::Setup { model, out: dir, dev } => {
            let model = Model::load(&model)?;
            let params = if dev { Params::dev()? } else { Params::setup_os()? };
            std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
            write(&dir.join("params.bin"), &params.to_bytes()?)?;
            write(&dir.join("vk.bin"), &params.vk_bytes()?)?;
            let provenance = if dev {
                "DEVELOPMENT ONLY: ocean_zk::Params::dev() (public seed: anyone can forge proofs).".to_owned()
            } else {
                "ocean zk setup, one party, OS randomness (trust: that party discarded it).".to_owned()
            };
            let sol = ocean_zk::solidity::verifier_source(params.vk(), "DigitsGroth16Verifier", &provenance);
            write(&dir.join("Groth16Verifier.sol"), sol.as_bytes())?;
            let (constraints, _, _) = ocean_zk::groth16::circuit_size()?;
            out(&format!(
                "model commitment {}",
                hex32(&ocean_zk::model::fr_to_bytes(&ocean_zk::model_commitment(&model)))
            ));
            out(&format!("constraints {constraints}"));
            out(&format!("wrote {}/params.bin, vk.bin, Groth16Verifier.sol", dir.display()));
        }
        Command::Spec { model, input } => {
            let (model, input) = (Model::load(&model)?, Input::load(&input)?);
            let (m, i) = (ocean_zk::model_commitment(&model), ocean_zk::input_commitment(&input));
            let b = ocean_zk::model::fr_to_bytes;
            out(&format!("model commitment {}", hex32(&b(&m))));
            out(&format!("input commitment {}", hex32(&b(&i))));
            out(&format!("spec {}", hex32(&b(&ocean_zk::spec(m, i)))));
        }
        Command::Prove { params, model, input, job_id, out: path } => {
            let bytes = std::fs::read(&params).wrap_err_with(|| format!("reading {}", params.display()))?;
            let params = Params::from_file_bytes(&bytes)?;
            let (model, input) = (Model::load(&model)?, Input::load(&input)?);
            let job_id = parse32(&job_id)?;
            let proven = params.prove_os(&model, &input, job_id)?;
            let b = ocean_zk::model::fr_to_bytes;
            let file = ProofFile {
                job_id: hex32(&job_id),
                spec: hex32(&b(&proven.statement.spec)),
                model_commitment: hex32(&b(&ocean_zk::model_commitment(&model))),
                input_commitment: hex32(&b(&ocean_zk::input_commitment(&input))),
                result: hex32(&proven.statement.output.to_bytes()),
                logits: proven.statement.output.0.to_vec(),
                class: proven.statement.output.class(),
                proof: hex32(&proven.proof),
            };
            write(&path, serde_json::to_string_pretty(&file)?.as_bytes())?;
            out(&format!("class {} (proof in {})", file.class, path.display()));
        }
        Command::Ceremony { step } => ceremony(step)?,
        Command::Verify { vk, proof } => {
            let bytes = std::fs::read(&vk).wrap_err_with(|| format!("reading {}", vk.display()))?;
            let vk = ocean_zk::groth16::vk_from_bytes(&bytes)?;
            let text =
                std::fs::read_to_string(&proof).wrap_err_with(|| format!("reading {}", proof.display()))?;
            let file: ProofFile = serde_json::from_str(&text).wrap_err("parsing the proof file")?;
            let statement = Statement {
                job_id: parse32(&file.job_id)?,
                spec: fr_from_bytes_canonical(&parse32(&file.spec)?)?,
                output: Output::from_bytes(&parse_hex(&file.result)?)?,
            };
            if !ocean_zk::verify(&vk, &statement, &parse_hex(&file.proof)?)? {
                return Err(
                    Failure { code: NOT_VERIFIED, message: "the proof does not verify".into() }.into()
                );
            }
            out(&format!("verified: class {} for job {}", statement.output.class(), file.job_id));
        }
    }
    Ok(())
}
