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

/// Verifiable inference: prove that a committed model produced an output.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit codes: 0 ok, 1 error, 40 (verify) the proof does not verify.")]
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
    /// Check a proof file against a verifying key (exit 40 when it does not verify).
    Verify {
        /// Verifying key from `ocean zk setup` (vk.bin).
        #[arg(long)]
        vk: PathBuf,
        /// The proof file from `ocean zk prove`.
        proof: PathBuf,
    },
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
