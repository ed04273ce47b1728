//! `ocean sim`: runs the scheduler simulator — every policy on the same hidden cluster and workload — and
//! prints the metrics (a table, or one JSON object with `--json`). With `--plots DIR` it also sweeps the load
//! over 0.5, 0.7 and 0.9 and writes the JCT-vs-load and warm-up plots.

use std::path::PathBuf;

use ocean_scheduler::sim::workload::Workload;
use ocean_scheduler::sim::{self, POLICIES, Scenario, SeedResult, Summary};
use serde::Serialize;

use crate::config::Config;
use crate::exit::{Failure, USAGE};

/// Which workload to simulate.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum WorkloadArg {
    /// Poisson arrivals, bounded-Pareto sizes, heterogeneous cluster (≥10× speed spread).
    Pareto,
    /// The Lublin–Feitelson parallel workload model, heterogeneous cluster.
    Lublin,
    /// Poisson arrivals, bounded-Pareto sizes, identical nodes (the control).
    Homogeneous,
}

impl From<WorkloadArg> for Workload {
    fn from(w: WorkloadArg) -> Self {
        match w {
            WorkloadArg::Pareto => Workload::Pareto,
            WorkloadArg::Lublin => Workload::Lublin,
            WorkloadArg::Homogeneous => Workload::Homogeneous,
        }
    }
}

const AFTER_HELP: &str = "\
Policies: round_robin, random, least_loaded, p2c, mct_advertised, boinc_dcf, learned (the
production scheduler), oracle (the same dispatch rule given the hidden true speeds and failures).
Metrics leave out the first 10% of tasks (warm-up). With --seeds N the seeds are S..S+N-1 and
the table shows means with 95% confidence intervals; --json then prints the means, same shape.

JSON shape: {\"policies\": {\"<name>\": {\"mean_jct\", \"p99_slowdown\", \"makespan\",
\"deadline_miss_rate\", \"wasted_work\"}, ...}, \"lower_bound\": {\"mean_jct\", \"makespan\"}}

Exit codes: 0 success, 1 error (e.g. a plot could not be written), 2 invalid arguments.";

/// Arguments of `ocean sim`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct Args {
    /// The workload.
    #[arg(long, value_enum, default_value = "pareto")]
    workload: WorkloadArg,
    /// Offered load, as a fraction of the cluster's availability-weighted capacity.
    #[arg(long, default_value_t = 0.7)]
    load: f64,
    /// Number of nodes.
    #[arg(long, default_value_t = 200)]
    nodes: usize,
    /// Number of tasks.
    #[arg(long, default_value_t = 20_000)]
    tasks: usize,
    /// Seed (cluster, workload, failures, noise).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run this many seeds (seed, seed+1, ...) and report means with 95% confidence intervals.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Also sweep loads 0.5, 0.7, 0.9 and write `jct-vs-load-<workload>.png` and `warmup-<workload>.png` here.
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,
}

#[derive(Serialize)]
struct JsonLowerBound {
    mean_jct: f64,
    makespan: f64,
}

#[derive(Serialize)]
struct JsonReport {
    policies: std::collections::BTreeMap<String, sim::Metrics>,
    lower_bound: JsonLowerBound,
}

/// Loads swept by `--plots`.
const SWEEP: [f64; 3] = [0.5, 0.7, 0.9];

fn usage(message: String) -> eyre::Report {
    eyre::Report::new(Failure { code: USAGE, message })
}

/// Runs the simulation and prints the report on stdout.
pub(crate) async fn run(args: Args, _config: &Config) -> eyre::Result<()> {
    if !(args.load > 0.0 && args.load <= 2.0) {
        return Err(usage(format!("--load must be in (0, 2], got {}", args.load)));
    }
    if args.nodes == 0 || args.tasks == 0 || args.seeds == 0 {
        return Err(usage("--nodes, --tasks and --seeds must be at least 1".into()));
    }
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let workload: Workload = args.workload.into();
    let seeds: Vec<u64> = (args.seed..args.seed + args.seeds).collect();
    // Simulation is CPU-bound: keep it off the async runtime's workers.
    let (nodes, tasks, load) = (args.nodes, args.tasks, args.load);
    let summary_for = move |load: f64| -> (Vec<SeedResult>, Summary) {
        let results: Vec<SeedResult> = seeds
            .iter()
            .map(|&seed| sim::run_scenario(&Scenario { workload, load, nodes, tasks, seed }, threads))
            .collect();
        let summary = sim::summarize(&results);
        (results, summary)
    };
    let plots = args.plots.clone();
    let (summary, sweep) = tokio::task::spawn_blocking(move || {
        let sweep = plots.map(|_| SWEEP.map(|l| summary_for(l).1));
        let summary = match (&sweep, SWEEP.iter().position(|&l| l == load)) {
            (Some(sweep), Some(i)) => sweep[i].clone(),
            _ => summary_for(load).1,
        };
        (summary, sweep)
    })
    .await?;
    if let (Some(dir), Some(sweep)) = (&args.plots, &sweep) {
        write_plots(dir, args.workload, sweep, nodes, tasks, args.seeds)?;
    }
    let text = if args.json {
        let report = JsonReport {
            policies: summary
                .policies
                .iter()
                .map(|(name, s)| {
                    let m = sim::Metrics {
                        mean_jct: s.mean_jct.mean,
                        p99_slowdown: s.p99_slowdown.mean,
                        makespan: s.makespan.mean,
                        deadline_miss_rate: s.deadline_miss_rate.mean,
                        wasted_work: s.wasted_work.mean,
                    };
                    (name.clone(), m)
                })
                .collect(),
            lower_bound: JsonLowerBound {
                mean_jct: summary.lower_bound_mean_jct.mean,
                makespan: summary.lower_bound_makespan.mean,
            },
        };
        serde_json::to_string(&report)?
    } else {
        table(&summary, args.workload, load)
    };
    #[allow(clippy::print_stdout)]
    {
        println!("{text}");
    }
    Ok(())
}

fn pm(s: sim::Stat, digits: usize) -> String {
    if s.ci95 > 0.0 {
        format!("{:.digits$} ± {:.digits$}", s.mean, s.ci95)
    } else {
        format!("{:.digits$}", s.mean)
    }
}

fn table(summary: &Summary, workload: WorkloadArg, load: f64) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "workload {workload:?}, load {load}, {} seed(s); after warm-up (first 10% of tasks left out)",
        summary.seeds
    );
    let _ = writeln!(
        out,
        "{:<15} {:>20} {:>14} {:>20} {:>16} {:>16} {:>16}",
        "policy", "mean JCT (s)", "vs oracle", "p99 slowdown", "makespan (s)", "deadline miss", "wasted work"
    );
    for name in POLICIES {
        let Some(s) = summary.policies.get(name) else { continue };
        let _ = writeln!(
            out,
            "{:<15} {:>20} {:>14} {:>20} {:>16} {:>16} {:>16}",
            name,
            pm(s.mean_jct, 1),
            pm(s.jct_vs_oracle, 3),
            pm(s.p99_slowdown, 1),
            pm(s.makespan, 0),
            pm(s.deadline_miss_rate, 4),
            pm(s.wasted_work, 4)
        );
    }
    let _ = writeln!(
        out,
        "{:<15} {:>20} {:>14} {:>20} {:>16}",
        "lower_bound",
        pm(summary.lower_bound_mean_jct, 1),
        "",
        "",
        pm(summary.lower_bound_makespan, 0)
    );
    out
}

fn write_plots(
    dir: &std::path::Path,
    workload: WorkloadArg,
    sweep: &[Summary; 3],
    nodes: usize,
    tasks: usize,
    seeds: u64,
) -> eyre::Result<()> {
    use ocean_scheduler::plot;
    std::fs::create_dir_all(dir)?;
    let name = format!("{workload:?}").to_lowercase();
    let series: Vec<plot::Series> = POLICIES
        .iter()
        .map(|p| plot::Series {
            label: (*p).to_owned(),
            points: sweep
                .iter()
                .map(|s| s.policies.get(*p).map(|m| m.mean_jct).unwrap_or_default())
                .collect(),
        })
        .collect();
    let lower: Vec<f64> = sweep.iter().map(|s| s.lower_bound_mean_jct.mean).collect();
    let title = format!("{name}: mean JCT vs load ({nodes} nodes, {tasks} tasks, {seeds} seeds)");
    plot::jct_vs_load(&dir.join(format!("jct-vs-load-{name}.png")), &title, &SWEEP, &series, &lower)?;
    let window = (tasks / sim::WARMUP_WINDOWS).max(1);
    let title = format!("{name}, load 0.7: warm-up of the learned scheduler ({seeds} seeds)");
    plot::warmup(&dir.join(format!("warmup-{name}.png")), &title, window, &sweep[1].warmup_ratio)?;
    Ok(())
}
