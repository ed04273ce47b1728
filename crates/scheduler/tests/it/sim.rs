//! The simulator: determinism per seed, and a small end-to-end comparison (small sizes: debug builds).

use ocean_scheduler::sim::workload::Workload;
use ocean_scheduler::sim::{self, POLICIES, Scenario};

fn small(workload: Workload, seed: u64) -> Scenario {
    Scenario { workload, load: 0.7, nodes: 30, tasks: 600, seed }
}

#[test]
fn same_seed_same_result_other_seed_other_result() {
    let a = sim::run_scenario(&small(Workload::Pareto, 5), 2);
    let b = sim::run_scenario(&small(Workload::Pareto, 5), 1);
    assert_eq!(a, b, "a seed fixes the whole run, whatever the threading");
    let c = sim::run_scenario(&small(Workload::Pareto, 6), 2);
    assert_ne!(a.policies["learned"], c.policies["learned"]);
}

#[test]
fn every_workload_runs_every_policy_to_completion() {
    for workload in [Workload::Pareto, Workload::Lublin, Workload::Homogeneous] {
        let s = small(workload, 1);
        let cluster = s.cluster();
        let specs = s.specs(&cluster);
        for name in POLICIES {
            let r = sim::run_policy(name, &cluster, &specs, s.seed).unwrap();
            assert!(r.tasks.iter().all(|t| t.done.is_finite() && t.done >= t.arrival), "{workload:?} {name}");
            let m = sim::metrics(&r);
            assert!(m.mean_jct > 0.0 && m.p99_slowdown >= 1.0 && (0.0..=1.0).contains(&m.deadline_miss_rate));
            let lb = sim::lower_bound(&cluster, &specs);
            assert!(
                m.mean_jct >= lb.mean_jct * 0.8,
                "{name} beat the lower bound: {} < {}",
                m.mean_jct,
                lb.mean_jct
            );
            assert!(
                m.makespan >= lb.makespan * 0.8,
                "{name} makespan {} < bound {}",
                m.makespan,
                lb.makespan
            );
        }
    }
}

#[test]
fn learned_beats_blind_policies_on_a_heterogeneous_cluster() {
    let results: Vec<_> = (1..=3).map(|seed| sim::run_scenario(&small(Workload::Pareto, seed), 2)).collect();
    let summary = sim::summarize(&results);
    let jct = |p: &str| summary.policies[p].mean_jct.mean;
    assert!(
        jct("learned") < jct("round_robin"),
        "learned {} vs round robin {}",
        jct("learned"),
        jct("round_robin")
    );
    assert!(jct("learned") < jct("random"), "learned {} vs random {}", jct("learned"), jct("random"));
    assert!(jct("oracle") <= jct("round_robin"));
    assert_eq!(summary.warmup_ratio.len(), sim::WARMUP_WINDOWS);
}
