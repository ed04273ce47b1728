//! `ocean job`: submit jobs and follow them to a verified, paid result.

use std::{path::PathBuf, time::Duration};

use eyre::{WrapErr, bail};
use indicatif::{ProgressBar, ProgressStyle};
use ocean_chain::{B256, State};
use ocean_requester::{Options, Outcome, Progress, Requester};
use ocean_store::Store;
use ocean_types::{Amount, manifest::Manifest};

use crate::{
    config::Config,
    exit::{Failure, out},
    session,
};

/// Submit jobs and get their results.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit codes: 0 success; 1 error; 3 the job cannot be placed; 4 insufficient funds; \
                        5 the job failed or expired (its escrow is refunded); 6 timed out waiting; \
                        7 a private job's keys or envelopes are wrong (nothing escrowed, nothing written); \
                        21 / 22 / 24 the job hit its fuel / memory / output limit: it is finalized with the \
                        limit result (ocean-limit.json, written like any result) and its providers were paid. \
                        A wall-clock timeout is no result: the job fails unpaid and ends with 5.")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Add the job's program and inputs to the local store, place it, escrow its budget and follow it to the
    /// end (results go to ./results/<job id>/).
    Submit {
        /// The job file.
        job: PathBuf,
        /// Print the job id as soon as it is on chain and return.
        #[arg(long)]
        detach: bool,
        /// Where to write the result [default: ./results/<job id>].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Give up waiting after this many seconds (the job itself goes on, and its deadlines still apply).
        #[arg(long, default_value_t = 900)]
        timeout: u64,
        /// Say on stderr why each registered provider was chosen or passed over.
        #[arg(long)]
        explain: bool,
    },
    /// Show a job's state on chain.
    Status {
        /// Job id (0x…).
        id: B256,
    },
    /// Follow a job to the end, settling it when its results are in.
    Wait {
        /// Job id (0x…).
        id: B256,
        /// Where to write the result [default: ./results/<job id>].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 900)]
        timeout: u64,
    },
    /// Fetch a finalized job's result (verified block by block) into DIR; a private job's result is
    /// decrypted with this account's key and checked against the finalized CID before anything is written.
    Results {
        /// Job id (0x…).
        id: B256,
        /// Output folder.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Expire a job whose deadline passed unsettled (e.g. every provider failed): its escrow is refunded to
    /// this account's balance in the JobMarket, or, when providers committed to results that disagree, the
    /// job goes to arbitration. A job is created with all its providers, so it cannot be withdrawn earlier.
    Cancel {
        /// Job id (0x…).
        id: B256,
    },
    /// List this account's jobs.
    List,
}

pub(crate) async fn requester(config: &Config) -> eyre::Result<Requester> {
    let deployment = session::load_deployment(config)?;
    let signer = ocean_wallet::unlock_account(
        &config.keys_dir(),
        config.account.as_deref(),
        config.password_file.as_deref(),
    )?;
    // The age identity that private jobs' results are encrypted to, derived from the wallet key: it has
    // the keystore's protection and needs no second secret.
    let identity = ocean_crypto::Identity::derive(signer.to_bytes().as_slice());
    let client = session::connect_as(config, signer, deployment).await?;
    std::fs::create_dir_all(&config.repo).wrap_err_with(|| format!("creating {}", config.repo.display()))?;
    let store = Store::open(config.repo.join("store")).wrap_err("opening the local store")?;
    let options = Options { identity: Some(identity), ..Options::default() };
    Ok(Requester::new(client, store, config.repo.clone(), options)?)
}

fn classify(err: ocean_requester::Error) -> eyre::Report {
    let code = match &err {
        ocean_requester::Error::NotPlaced(_) => Some(3),
        ocean_requester::Error::Funds(_) => Some(4),
        ocean_requester::Error::Timeout(_) => Some(6),
        ocean_requester::Error::Privacy(_) | ocean_requester::Error::Envelope { .. } => Some(7),
        _ => None,
    };
    match code {
        Some(code) => eyre::Report::new(Failure { code, message: err.to_string() }),
        None => eyre::Report::new(err),
    }
}

/// Runs `ocean job`.
pub(crate) async fn run(args: Args, config: &Config) -> eyre::Result<()> {
    match args.command {
        Command::Submit { job, detach, output, timeout, explain } => {
            if detach {
                let (mut requester, prepared) = prepare(&job, config).await?;
                let mut report = |p: Progress| {
                    if explain && let Progress::Placed { choices } = &p {
                        print_choices(choices);
                    }
                };
                let record = requester.submit(&prepared, &mut report).await.map_err(classify)?;
                out(&record.job_id);
                return Ok(());
            }
            submit_and_wait(&job, output, timeout, explain, config).await
        }
        Command::Wait { id, output, timeout } => {
            let mut requester = requester(config).await?;
            let bar = bar();
            let mut report = |p: Progress| show(&bar, &p);
            let outcome =
                requester.wait(id, Duration::from_secs(timeout), &mut report).await.map_err(classify)?;
            bar.finish_and_clear();
            finish(&requester, outcome, output).await
        }
        Command::Status { id } => {
            let client = session::connect(config).await?;
            let view = client.job(id).await?;
            if view.state == State::Nonexistent {
                bail!("no job {id:#x} on this chain");
            }
            out(&format!("job       {id:#x}"));
            out(&format!("state     {:?}", view.state).to_lowercase());
            out(&format!("replicas  {} (quorum {})", view.replicas, view.quorum));
            out(&format!("price     {} per replica", Amount::from_wei(view.price_per_replica)));
            out(&format!(
                "deadlines commit {} / reveal {} (unix)",
                view.commit_deadline, view.reveal_deadline
            ));
            out(&format!("mode      {:?}", view.mode).to_lowercase());
            if let Some(bytes) = client.result_cid(id).await? {
                if view.mode == ocean_chain::Mode::Proof {
                    let output = ocean_zk::Output::from_bytes(&bytes)?;
                    out(&format!(
                        "result    0x{} (proven logits: class {})",
                        hex::encode(&bytes),
                        output.class()
                    ));
                } else {
                    out(&format!("result    {}", ocean_store::Cid::from_bytes(&bytes)?));
                }
            }
            Ok(())
        }
        Command::Results { id, output } => {
            let requester = requester(config).await?;
            let cid = requester.results(id, &output).await.map_err(classify)?;
            out(&cid.to_string());
            match Requester::limit_in(&output)? {
                Some(hit) => Err(limit_hit(&hit, &format!("{id:#x}"))),
                None => Ok(()),
            }
        }
        Command::Cancel { id } => {
            let client = session::connect(config).await?;
            let view = client.job(id).await?;
            let now = client.chain_time().await?;
            // A job is born with all its providers, who may already be working for it: it can only be expired
            // once it can no longer be settled (JobMarket.expire), never withdrawn before.
            let deadline = match (view.state, view.mode) {
                (State::Assigned, ocean_chain::Mode::Proof) => view.commit_deadline,
                _ => view.reveal_deadline,
            };
            match view.state {
                State::Assigned | State::Arbitration if now > deadline => {
                    client.expire(id).await?;
                    let after = client.job(id).await?;
                    if after.state == State::Arbitration {
                        out(&format!(
                            "job {id:#x} had commitments but no verdict: it went to arbitration (arbiters commit \
                             until {}, unix); it settles or fails after that",
                            after.commit_deadline
                        ));
                    } else {
                        out(&format!(
                            "job {id:#x} expired unsettled; its escrow is withdrawable with `ocean wallet balance`"
                        ));
                    }
                }
                State::Assigned | State::Arbitration => bail!(
                    "job {id:#x} has its providers and can still be settled until {deadline} (unix, chain time \
                     {now}); a job cannot be withdrawn once providers may be working for it. After that, \
                     `ocean job cancel` expires it and refunds the escrow"
                ),
                State::Nonexistent => bail!("no job {id:#x} on this chain"),
                state => bail!("job {id:#x} is already {}", format!("{state:?}").to_lowercase()),
            }
            Ok(())
        }
        Command::List => {
            let client = session::connect(config).await?;
            for (id, _, block) in client.jobs_of(client.address()).await? {
                let view = client.job(id).await?;
                out(&format!("{id:#x}  {:<9}  block {block}", format!("{:?}", view.state).to_lowercase()));
            }
            Ok(())
        }
    }
}

async fn prepare(
    job: &std::path::Path,
    config: &Config,
) -> eyre::Result<(Requester, ocean_requester::Prepared)> {
    let text = std::fs::read_to_string(job).wrap_err_with(|| format!("reading {}", job.display()))?;
    let manifest =
        Manifest::from_toml(&text).wrap_err_with(|| format!("{} is not a valid job", job.display()))?;
    let base = job.parent().map(PathBuf::from).unwrap_or_default();
    let requester = requester(config).await?;
    let prepared = requester.prepare(manifest, &base).map_err(classify)?;
    Ok((requester, prepared))
}

/// `ocean job submit` without `--detach`: submit, follow with a progress bar, fetch and print the result.
pub(crate) async fn submit_and_wait(
    job: &std::path::Path,
    output: Option<PathBuf>,
    timeout: u64,
    explain: bool,
    config: &Config,
) -> eyre::Result<()> {
    let (mut requester, prepared) = prepare(job, config).await?;
    let bar = bar();
    let mut report = |p: Progress| {
        if explain && let Progress::Placed { choices } = &p {
            bar.suspend(|| print_choices(choices));
        }
        show(&bar, &p);
    };
    let record = requester.submit(&prepared, &mut report).await.map_err(classify)?;
    let id: B256 = record.job_id.parse().wrap_err("job id")?;
    let outcome = requester.wait(id, Duration::from_secs(timeout), &mut report).await.map_err(classify)?;
    bar.finish_and_clear();
    finish(&requester, outcome, output).await
}

async fn finish(requester: &Requester, outcome: Outcome, output: Option<PathBuf>) -> eyre::Result<()> {
    let id = format!("{:#x}", outcome.job_id);
    match (outcome.state, outcome.result) {
        (State::Finalized, Some(result)) => {
            let dir = output.unwrap_or_else(|| PathBuf::from("results").join(&id));
            requester.results(outcome.job_id, &dir).await.map_err(classify)?;
            // A private job's limit result is known only once opened and written.
            let limit = match outcome.limit {
                Some(hit) => Some(hit),
                None => Requester::limit_in(&dir)?,
            };
            let total: u128 = outcome.paid.iter().map(|(_, p)| p).sum();
            for (provider, paid) in &outcome.paid {
                out(&format!("paid {} to {provider}", Amount::from_wei(*paid)));
            }
            for (provider, s) in &outcome.slashed {
                out(&format!("slashed {} from {provider} (wrong result)", Amount::from_wei(*s)));
            }
            if let Some(inference) = &outcome.inference {
                out(&format!(
                    "proven inference: class {} (logits {:?}), proof checked on chain",
                    inference.class(),
                    inference.0
                ));
            }
            out(&format!("result written to {}", dir.display()));
            if outcome.gas > 0 {
                out(&format!("gas used by this requester: {}", outcome.gas));
            }
            let amount = Amount::from_wei(total).to_string();
            let amount = amount.trim_end_matches(" OCAT");
            out(&format!(
                "job {id} finalized: result {result}, paid {amount} OCAT to {} providers",
                outcome.paid.len()
            ));
            match limit {
                Some(hit) => Err(limit_hit(&hit, &id)),
                None => Ok(()),
            }
        }
        (state, _) => Err(eyre::Report::new(Failure {
            code: 5,
            message: format!(
                "job {id} ended {state:?}: its escrow was refunded (withdraw with the JobMarket)"
            ),
        })),
    }
}

/// The error (and exit code 21, 22 or 24) of a job finalized with a limit result: the result was
/// written and the providers paid, but the program did not finish.
fn limit_hit(hit: &ocean_types::limit::LimitResult, id: &str) -> eyre::Report {
    eyre::Report::new(Failure {
        code: super::exec::limit_code(hit.limit),
        message: format!(
            "job {id}: {hit}; providers were paid (raise [limits] {} to let it finish)",
            hit.limit.field()
        ),
    })
}

fn bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// `--explain`: one line per registered provider on stderr, the chosen ones first.
fn print_choices(choices: &[ocean_requester::Choice]) {
    #[allow(clippy::print_stderr)]
    for c in choices {
        eprintln!("{} {}: {}", if c.chosen { "+" } else { "-" }, c.address, c.reason);
    }
}

fn show(bar: &ProgressBar, p: &Progress) {
    let msg = match p {
        Progress::Placed { choices } => {
            format!(
                "placed on {} of {} providers",
                choices.iter().filter(|c| c.chosen).count(),
                choices.len()
            )
        }
        Progress::Placing { candidates } => format!("placing: {candidates} providers reachable"),
        Progress::Offered { providers } => {
            format!(
                "offers signed by {providers} providers (after they checked the job's data); creating the job"
            )
        }
        Progress::Created { job_id } => format!("created {job_id:#x} (budget in escrow); assigned"),
        Progress::Running { done, total } => format!("running: {done}/{total} results in"),
        Progress::Waiting { reason } => format!("waiting: {reason}"),
        Progress::Committed { matching } => format!("committed: {matching} matching results; settling"),
        Progress::Finalized { result } => format!("finalized: {result}; fetching"),
    };
    tracing::debug!(target: "ocean::job", "{msg}");
    bar.set_message(msg);
}
