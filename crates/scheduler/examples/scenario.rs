//! Runs one scenario over several seeds and prints its summary as JSON (a quick check while tuning; the
//! user-facing command is `ocean sim`).
//!
//! `cargo run --release -p ocean-scheduler --example scenario -- pareto 0.7 200 20000 1 10`

use ocean_scheduler::sim::{self, Scenario, workload::Workload};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_owned());
    let workload = match arg(1, "pareto").as_str() {
        "lublin" => Workload::Lublin,
        "homogeneous" => Workload::Homogeneous,
        _ => Workload::Pareto,
    };
    let load: f64 = arg(2, "0.7").parse().expect("load is a number");
    let nodes: usize = arg(3, "200").parse().expect("nodes is a number");
    let tasks: usize = arg(4, "20000").parse().expect("tasks is a number");
    let seed: u64 = arg(5, "1").parse().expect("seed is a number");
    let seeds: u64 = arg(6, "1").parse().expect("seeds is a number");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Knobs of the learned scheduler can be overridden for tuning: EXPLORE, PRIOR_SD, OBS_SD, MAX_EVIDENCE,
    // TIMEOUT_FACTOR.
    let mut cfg = ocean_scheduler::Config::default();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    if let Some(v) = env("EXPLORE") {
        cfg.model.explore = v;
    }
    if let Some(v) = env("PRIOR_SD") {
        cfg.model.prior_sd = v;
    }
    if let Some(v) = env("OBS_SD") {
        cfg.model.obs_sd = v;
    }
    if let Some(v) = env("MAX_EVIDENCE") {
        cfg.model.max_evidence = v;
    }
    if let Some(v) = env("TIMEOUT_FACTOR") {
        cfg.timeout_factor = v;
    }
    if let Some(v) = env("PRIOR_FAILURE") {
        cfg.model.prior_failure = v;
    }
    let results: Vec<_> = (seed..seed + seeds)
        .map(|seed| sim::run_scenario_with(&Scenario { workload, load, nodes, tasks, seed }, threads, &cfg))
        .collect();
    let summary = sim::summarize(&results);
    #[allow(clippy::print_stdout)]
    for (name, m) in &summary.policies {
        println!(
            "{name:<15} jct {:>10.1} ±{:>7.1}  vs_oracle {:>6.3}  p99sd {:>8.1}  miss {:.4}  waste {:.4}  makespan {:.0}",
            m.mean_jct.mean,
            m.mean_jct.ci95,
            m.jct_vs_oracle.mean,
            m.p99_slowdown.mean,
            m.deadline_miss_rate.mean,
            m.wasted_work.mean,
            m.makespan.mean
        );
    }
    #[allow(clippy::print_stdout)]
    {
        println!(
            "lower bound jct {:.1} makespan {:.0}",
            summary.lower_bound_mean_jct.mean, summary.lower_bound_makespan.mean
        );
        let w: Vec<String> = summary.warmup_ratio.iter().map(|s| format!("{:.2}", s.mean)).collect();
        println!("warm-up learned/oracle: {}", w.join(" "));
    }
}
