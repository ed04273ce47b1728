//! Placement invariants of the learned scheduler through its public API.

use ocean_scheduler::{
    Candidate, Config, Event, Kind, Placement, Policy, ProviderId, Reason, Scheduler, Task, TaskId,
};

fn pool(n: u64) -> Vec<Candidate> {
    (0..n)
        .map(|i| {
            let mut c = Candidate::new(i, 1.0 + (i % 7) as f64);
            c.caps.memory_mib = if i % 3 == 0 { 32 * 1024 } else { 8 * 1024 };
            c.caps.gpu = i % 4 == 0;
            c.price = 1.0 + (i % 5) as f64;
            c.stake = (i * 10) as f64;
            c
        })
        .collect()
}

#[test]
fn chooses_r_distinct_providers_that_meet_every_requirement() {
    for n in [200u64, 3000] {
        // 3000 candidates exercises the shortlist path.
        let cands = pool(n);
        let mut s = Scheduler::new(Config::default(), 1);
        for i in 0..200 {
            let mut task = Task::new(i, 50.0);
            task.replicas = 3;
            task.needs.memory_mib = 16 * 1024;
            task.needs.gpu = i % 2 == 0;
            task.price_cap = Some(3.0);
            task.min_stake = Some(100.0);
            let placed = s.place(&task, &cands);
            let ids = placed.providers();
            assert_eq!(ids.len(), 3, "{placed:?}");
            let mut unique = ids.to_vec();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 3, "distinct providers");
            for id in ids {
                let c = &cands[id.0 as usize];
                assert!(c.caps.memory_mib >= 16 * 1024);
                assert!(!task.needs.gpu || c.caps.gpu);
                assert!(c.price <= 3.0);
                assert!(c.stake >= 100.0);
            }
        }
    }
}

#[test]
fn says_why_not_placed() {
    let cands = pool(10);
    let mut s = Scheduler::new(Config::default(), 1);
    let mut task = Task::new(1, 10.0);
    task.needs.memory_mib = 64 * 1024;
    let Placement::NotPlaced { reason } = s.place(&task, &cands) else { panic!("placed") };
    assert_eq!(reason, Reason::Memory { needed_mib: 64 * 1024, largest_mib: 32 * 1024 });

    let mut task = Task::new(2, 10.0);
    task.price_cap = Some(0.5);
    let Placement::NotPlaced { reason } = s.place(&task, &cands) else { panic!("placed") };
    assert!(matches!(reason, Reason::Price { cheapest, .. } if cheapest == 1.0));
    assert!(reason.to_string().contains("above the price cap"));

    let mut task = Task::new(3, 10.0);
    task.replicas = 11;
    let Placement::NotPlaced { reason } = s.place(&task, &cands) else { panic!("placed") };
    assert_eq!(reason, Reason::TooFewProviders { needed: 11, eligible: 10 });

    let Placement::NotPlaced { reason } = s.place(&Task::new(4, 1.0), &[]) else { panic!("placed") };
    assert_eq!(reason, Reason::NoCandidates);
    let json = serde_json::to_string(&reason).unwrap();
    assert_eq!(json, r#"{"code":"no_candidates"}"#);
}

#[test]
fn learns_to_prefer_the_truly_fast_and_avoid_the_unreliable() {
    // Three providers advertise the same speed; 1 is really 8x faster, 2 loses most of its work.
    let cands: Vec<Candidate> = (0..3).map(|i| Candidate::new(i, 2.0)).collect();
    let truth = [1.0, 8.0, 8.0];
    // Plain Thompson sampling, so that both look-alikes get tried enough to tell them apart.
    let mut cfg = Config::default();
    cfg.model.explore = 1.0;
    let mut s = Scheduler::new(cfg, 3);
    let mut at = 0.0;
    for i in 0..300 {
        let task = Task::new(i, 100.0);
        let p = s.place(&task, &cands).providers()[0];
        at += 1.0;
        let fails = p == ProviderId(2) && i % 4 != 0;
        let event = if fails {
            Event::TimedOut { task: TaskId(i), provider: p, at }
        } else {
            Event::Finished {
                task: TaskId(i),
                provider: p,
                kind: Kind::CPU,
                work: Some(100.0),
                input_bytes: 0,
                fetch_s: 0.0,
                run_s: 100.0 / truth[p.0 as usize],
                at,
            }
        };
        s.observe(&event);
    }
    let picks: Vec<ProviderId> =
        (1000..1100).map(|i| s.place(&Task::new(i, 100.0), &cands).providers()[0]).collect();
    let fast = picks.iter().filter(|p| **p == ProviderId(1)).count();
    assert!(fast >= 90, "chose the fast reliable provider {fast}/100 times");
    let b = s.model().belief(&cands[1], Kind::CPU);
    assert!((b.speed / 8.0 - 1.0).abs() < 0.1, "learned speed {}", b.speed);
    let (good, bad) =
        (s.model().belief(&cands[1], Kind::CPU).success, s.model().belief(&cands[2], Kind::CPU).success);
    assert!(bad < good - 0.1, "reliability: fast {good}, lossy {bad}");
}
