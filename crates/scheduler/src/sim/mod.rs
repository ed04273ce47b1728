//! The simulator: a hidden cluster ([`cluster`]), workloads ([`workload`]), the event loop ([`engine`]) that
//! drives the production policy code, and the metrics, lower bound, multi-seed summaries with 95% confidence
//! intervals, and warm-up curves computed from its runs.
//!
//! A [`Scenario`] names a workload, a load, a cluster size, a task count and a seed. [`run_scenario`] runs
//! every policy in [`POLICIES`] on the same cluster and the same tasks (common random numbers), and
//! [`summarize`] turns several seeds into means with confidence intervals.

pub mod cluster;
pub mod engine;
pub mod workload;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Policy;
use crate::baseline::{BoincDcf, LeastLoaded, MctAdvertised, PowerOfTwo, Random, RoundRobin};
use crate::rng::splitmix;
use crate::rule::Rule;
use crate::scheduler::{Config as SchedulerConfig, Scheduler};
use cluster::{Cluster, Population};
use engine::{Driver, RunResult};
use workload::{TaskSpec, Workload};

/// Every policy compared, in report order.
pub const POLICIES: [&str; 8] =
    ["round_robin", "random", "least_loaded", "p2c", "mct_advertised", "boinc_dcf", "learned", "oracle"];

/// Share of the first tasks (by arrival) left out of the metrics: the learning phase, shown by the warm-up
/// curve instead.
pub const WARMUP: f64 = 0.1;

/// Tasks faster than this many seconds count as this long in the bounded slowdown.
pub const SLOWDOWN_BOUND_S: f64 = 10.0;

/// One simulation setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// The workload.
    pub workload: Workload,
    /// Offered load as a fraction of availability-weighted capacity.
    pub load: f64,
    /// Cluster size.
    pub nodes: usize,
    /// Task count.
    pub tasks: usize,
    /// Seed of cluster, workload, failures and noise.
    pub seed: u64,
}

impl Scenario {
    /// The cluster of this scenario.
    pub fn cluster(&self) -> Cluster {
        let population = match self.workload {
            Workload::Homogeneous => Population::Homogeneous,
            Workload::Pareto | Workload::Lublin => Population::Heterogeneous,
        };
        Cluster::generate(population, self.nodes, self.seed)
    }

    /// The tasks of this scenario.
    pub fn specs(&self, cluster: &Cluster) -> Vec<TaskSpec> {
        workload::generate(self.workload, self.load, cluster, self.tasks, self.seed)
    }
}

/// Metrics of one policy in one run (after warm-up).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean job completion time (arrival to result), seconds.
    pub mean_jct: f64,
    /// 99th percentile of bounded slowdown: JCT / max(ideal time, 10 s), at least 1.
    pub p99_slowdown: f64,
    /// Last completion minus first arrival, seconds (all tasks).
    pub makespan: f64,
    /// Share of tasks completing after their deadline.
    pub deadline_miss_rate: f64,
    /// Share of node busy time spent on runs that delivered nothing (lost, cut by failures, duplicated).
    pub wasted_work: f64,
}

/// The lower bound for a run (see [`lower_bound`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LowerBound {
    /// Mean over tasks (after warm-up) of the ideal time: no wait, fastest node, fastest link.
    pub mean_jct: f64,
    /// Longest-task and capacity bounds: the larger of the latest (arrival + ideal time) and total work over
    /// availability-weighted capacity at every node's best speed.
    pub makespan: f64,
}

/// Computes [`Metrics`] for one run.
pub fn metrics(result: &RunResult) -> Metrics {
    let skip = (WARMUP * result.tasks.len() as f64) as usize;
    let post: Vec<_> = result.tasks.iter().skip(skip).filter(|t| t.done.is_finite()).collect();
    let n = post.len().max(1) as f64;
    let jct = |t: &engine::Outcome| t.done - t.arrival;
    let mean_jct = post.iter().map(|t| jct(t)).sum::<f64>() / n;
    let mut slowdowns: Vec<f64> =
        post.iter().map(|t| (jct(t) / t.ideal.max(SLOWDOWN_BOUND_S)).max(1.0)).collect();
    let misses = post.iter().filter(|t| jct(t) > t.deadline_s).count() as f64;
    let first = result.tasks.iter().map(|t| t.arrival).fold(f64::INFINITY, f64::min);
    let last = result.tasks.iter().map(|t| t.done).filter(|d| d.is_finite()).fold(0.0, f64::max);
    Metrics {
        mean_jct,
        p99_slowdown: percentile(&mut slowdowns, 0.99),
        makespan: last - first,
        deadline_miss_rate: misses / n,
        wasted_work: if result.busy_s > 0.0 { result.wasted_s / result.busy_s } else { 0.0 },
    }
}

fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// The lower bound on mean JCT and makespan for `specs` on `cluster`, valid for any scheduler that does not
/// know a run's noise before it ends. Failures only add to it, so it ignores them except through capacity.
pub fn lower_bound(cluster: &Cluster, specs: &[TaskSpec]) -> LowerBound {
    let ideal = engine::ideal_times(cluster, specs);
    let skip = (WARMUP * specs.len() as f64) as usize;
    let post = &ideal[skip.min(ideal.len())..];
    let mean_jct = post.iter().sum::<f64>() / post.len().max(1) as f64;
    let first = specs.iter().map(|s| s.arrival).fold(f64::INFINITY, f64::min);
    let longest = specs.iter().zip(&ideal).map(|(s, i)| s.arrival + i).fold(0.0, f64::max) - first;
    let capacity: f64 = cluster.nodes.iter().map(|n| n.availability() * n.speed[0].max(n.speed[1])).sum();
    let total: f64 = specs.iter().map(|s| s.work).sum();
    LowerBound { mean_jct, makespan: longest.max(total / capacity) }
}

/// Builds a policy by its report name (`oracle` is not a policy: it needs the hidden truth).
pub fn policy(name: &str, seed: u64) -> Option<Box<dyn Policy>> {
    let seed = splitmix(seed ^ 0x9011C7);
    Some(match name {
        "round_robin" => Box::new(RoundRobin::default()),
        "random" => Box::new(Random::new(seed)),
        "least_loaded" => Box::new(LeastLoaded::new(seed)),
        "p2c" => Box::new(PowerOfTwo::new(seed)),
        "mct_advertised" => Box::new(MctAdvertised::default()),
        "boinc_dcf" => Box::new(BoincDcf::default()),
        "learned" => Box::new(Scheduler::new(SchedulerConfig::default(), seed)),
        _ => return None,
    })
}

/// Runs one policy (by name, `oracle` included) on a prepared cluster and workload.
pub fn run_policy(name: &str, cluster: &Cluster, specs: &[TaskSpec], seed: u64) -> Option<RunResult> {
    if name == "oracle" {
        return Some(engine::run(cluster, specs, &mut Driver::Oracle(Rule::default()), seed));
    }
    let mut p = policy(name, seed)?;
    Some(engine::run(cluster, specs, &mut Driver::Policy(p.as_mut()), seed))
}

/// Everything one seed of a scenario produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    /// Metrics per policy.
    pub policies: BTreeMap<String, Metrics>,
    /// The lower bound.
    pub lower_bound: LowerBound,
    /// Mean JCT of `learned` over `oracle` in consecutive windows of tasks (arrival order, warm-up included).
    pub warmup_ratio: Vec<f64>,
}

/// Windows in the warm-up curve.
pub const WARMUP_WINDOWS: usize = 40;

/// Runs every policy in [`POLICIES`] on one scenario; `threads` runs them side by side.
pub fn run_scenario(s: &Scenario, threads: usize) -> SeedResult {
    run_scenario_with(s, threads, &SchedulerConfig::default())
}

/// [`run_scenario`] with the learned scheduler configured by `learned`.
pub fn run_scenario_with(s: &Scenario, threads: usize, learned: &SchedulerConfig) -> SeedResult {
    let cluster = s.cluster();
    let specs = s.specs(&cluster);
    let results = parallel_map(&POLICIES, threads, |name| {
        if *name == "learned" {
            let mut p = Scheduler::new(learned.clone(), splitmix(s.seed ^ 0x9011C7));
            return engine::run(&cluster, &specs, &mut Driver::Policy(&mut p), s.seed);
        }
        run_policy(name, &cluster, &specs, s.seed).expect("every name in POLICIES is known")
    });
    let by_name: BTreeMap<&str, &RunResult> = POLICIES.iter().copied().zip(&results).collect();
    let windowed = |r: &RunResult| -> Vec<f64> {
        let w = (r.tasks.len() / WARMUP_WINDOWS).max(1);
        r.tasks
            .chunks(w)
            .map(|c| {
                let done: Vec<f64> =
                    c.iter().filter(|t| t.done.is_finite()).map(|t| t.done - t.arrival).collect();
                done.iter().sum::<f64>() / done.len().max(1) as f64
            })
            .collect()
    };
    let learned = windowed(by_name["learned"]);
    let oracle = windowed(by_name["oracle"]);
    SeedResult {
        policies: by_name.iter().map(|(n, r)| ((*n).to_owned(), metrics(r))).collect(),
        lower_bound: lower_bound(&cluster, &specs),
        warmup_ratio: learned.iter().zip(&oracle).map(|(l, o)| l / o.max(1e-9)).collect(),
    }
}

/// Maps `f` over `items` on up to `threads` threads, keeping order.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    out.lock().expect("no worker panics while holding the lock")[i] = Some(r);
                }
            });
        }
    });
    out.into_inner()
        .expect("no worker panicked")
        .into_iter()
        .map(|r| r.expect("every item was processed"))
        .collect()
}

/// A mean with its 95% confidence half-width (Student t over seeds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// The mean over seeds.
    pub mean: f64,
    /// Half-width of the 95% confidence interval (0 for a single seed).
    pub ci95: f64,
}

/// Two-sided 97.5% quantile of Student's t with `df` degrees of freedom.
fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042,
    ];
    if df == 0 { f64::NAN } else { TABLE.get(df - 1).copied().unwrap_or(1.96) }
}

/// The mean and 95% CI of `values`.
pub fn stat(values: &[f64]) -> Stat {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n.max(1) as f64;
    if n < 2 {
        return Stat { mean, ci95: 0.0 };
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Stat { mean, ci95: t975(n - 1) * (var / n as f64).sqrt() }
}

/// Per-policy metric statistics over seeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricStats {
    /// See [`Metrics::mean_jct`].
    pub mean_jct: Stat,
    /// See [`Metrics::p99_slowdown`].
    pub p99_slowdown: Stat,
    /// See [`Metrics::makespan`].
    pub makespan: Stat,
    /// See [`Metrics::deadline_miss_rate`].
    pub deadline_miss_rate: Stat,
    /// See [`Metrics::wasted_work`].
    pub wasted_work: Stat,
    /// Mean JCT relative to the oracle's, per seed, then averaged (paired: same tasks, same failures).
    pub jct_vs_oracle: Stat,
}

/// A scenario summarized over seeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Seeds run.
    pub seeds: usize,
    /// Per policy.
    pub policies: BTreeMap<String, MetricStats>,
    /// The lower bound's mean JCT.
    pub lower_bound_mean_jct: Stat,
    /// The lower bound's makespan.
    pub lower_bound_makespan: Stat,
    /// The warm-up curve: learned/oracle mean JCT per window of tasks.
    pub warmup_ratio: Vec<Stat>,
}

/// Summarizes several seeds of one scenario.
pub fn summarize(results: &[SeedResult]) -> Summary {
    let mut policies = BTreeMap::new();
    for name in POLICIES {
        let get = |f: fn(&Metrics) -> f64| -> Stat {
            stat(&results.iter().filter_map(|r| r.policies.get(name)).map(f).collect::<Vec<_>>())
        };
        let vs_oracle: Vec<f64> = results
            .iter()
            .filter_map(|r| Some(r.policies.get(name)?.mean_jct / r.policies.get("oracle")?.mean_jct))
            .collect();
        policies.insert(
            name.to_owned(),
            MetricStats {
                mean_jct: get(|m| m.mean_jct),
                p99_slowdown: get(|m| m.p99_slowdown),
                makespan: get(|m| m.makespan),
                deadline_miss_rate: get(|m| m.deadline_miss_rate),
                wasted_work: get(|m| m.wasted_work),
                jct_vs_oracle: stat(&vs_oracle),
            },
        );
    }
    let windows = results.iter().map(|r| r.warmup_ratio.len()).min().unwrap_or(0);
    Summary {
        seeds: results.len(),
        policies,
        lower_bound_mean_jct: stat(&results.iter().map(|r| r.lower_bound.mean_jct).collect::<Vec<_>>()),
        lower_bound_makespan: stat(&results.iter().map(|r| r.lower_bound.makespan).collect::<Vec<_>>()),
        warmup_ratio: (0..windows)
            .map(|w| stat(&results.iter().map(|r| r.warmup_ratio[w]).collect::<Vec<_>>()))
            .collect(),
    }
}
