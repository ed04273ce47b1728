//! Baseline policies, behind the same [`Policy`] trait as the learned scheduler, for honest comparison.
//!
//! All of them respect hard requirements through the same filter, so they differ only in how they rank.

use crate::Policy;
use crate::model::IdMap;
use crate::placement::{Filter, Placement, TopR, finish};
use crate::rng::Rng;
use crate::rule::{Rule, View, advertised_fetch_s};
use crate::types::{Candidate, Event, Task};

fn replicas(task: &Task) -> usize {
    usize::from(task.replicas.max(1))
}

/// Keeps the `replicas` eligible candidates with the lowest `score` (filter, rank, finish: the shape of every
/// scoring baseline).
fn place_by_score(
    task: &Task,
    candidates: &[Candidate],
    mut score: impl FnMut(&Candidate) -> f64,
) -> Placement {
    let mut filter = Filter::new();
    let mut top = TopR::new(replicas(task));
    for (i, c) in candidates.iter().enumerate() {
        if filter.admits(task, c) {
            top.offer(score(c), i);
        }
    }
    finish(task, candidates, &top, &filter)
}

/// Cycles through the candidates, giving each the next task in turn.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: usize,
}

impl Policy for RoundRobin {
    fn name(&self) -> &'static str {
        "round_robin"
    }
    fn observe(&mut self, _: &Event) {}
    fn place(&mut self, task: &Task, candidates: &[Candidate]) -> Placement {
        let n = candidates.len();
        let mut filter = Filter::new();
        let mut top = TopR::new(replicas(task));
        for step in 0..n {
            let i = (self.next + step) % n;
            if filter.admits(task, &candidates[i]) {
                // Order of visit is the ranking.
                top.offer(step as f64, i);
                if top.len() == replicas(task) {
                    break;
                }
            }
        }
        self.next = self.next.wrapping_add(1);
        finish(task, candidates, &top, &filter)
    }
}

/// Picks uniformly at random among the eligible.
#[derive(Debug)]
pub struct Random {
    rng: Rng,
}

impl Random {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self { rng: Rng::seed(seed) }
    }
}

impl Policy for Random {
    fn name(&self) -> &'static str {
        "random"
    }
    fn observe(&mut self, _: &Event) {}
    fn place(&mut self, task: &Task, candidates: &[Candidate]) -> Placement {
        place_by_score(task, candidates, |_| self.rng.unit())
    }
}

/// Picks the shortest queue (ties broken at random).
#[derive(Debug)]
pub struct LeastLoaded {
    rng: Rng,
}

impl LeastLoaded {
    /// Seeded (for tie-breaking).
    pub fn new(seed: u64) -> Self {
        Self { rng: Rng::seed(seed) }
    }
}

impl Policy for LeastLoaded {
    fn name(&self) -> &'static str {
        "least_loaded"
    }
    fn observe(&mut self, _: &Event) {}
    fn place(&mut self, task: &Task, candidates: &[Candidate]) -> Placement {
        place_by_score(task, candidates, |c| f64::from(c.queue_len) + self.rng.unit() * 0.5)
    }
}

/// Power of two choices: two random eligible candidates, the shorter queue wins.
#[derive(Debug)]
pub struct PowerOfTwo {
    rng: Rng,
}

impl PowerOfTwo {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self { rng: Rng::seed(seed) }
    }
}

impl Policy for PowerOfTwo {
    fn name(&self) -> &'static str {
        "p2c"
    }
    fn observe(&mut self, _: &Event) {}
    fn place(&mut self, task: &Task, candidates: &[Candidate]) -> Placement {
        let mut filter = Filter::new();
        let eligible: Vec<usize> =
            (0..candidates.len()).filter(|&i| filter.admits(task, &candidates[i])).collect();
        let r = replicas(task);
        let mut top = TopR::new(r);
        if eligible.len() >= r {
            let mut chosen: Vec<usize> = Vec::with_capacity(r);
            while chosen.len() < r {
                let a = eligible[self.rng.below(eligible.len())];
                let b = eligible[self.rng.below(eligible.len())];
                let pick = if candidates[b].queue_len < candidates[a].queue_len { b } else { a };
                let pick = if chosen.contains(&pick) {
                    // Fall back to any eligible not yet chosen, so r distinct always come out.
                    match eligible.iter().copied().find(|i| !chosen.contains(i)) {
                        Some(i) => i,
                        None => break,
                    }
                } else {
                    pick
                };
                top.offer(chosen.len() as f64, pick);
                chosen.push(pick);
            }
        }
        finish(task, candidates, &top, &filter)
    }
}

/// Minimum completion time from advertised specs only: the shared rule, believing every benchmark and
/// assuming every provider is reliable.
#[derive(Debug, Default)]
pub struct MctAdvertised {
    rule: Rule,
}

impl Policy for MctAdvertised {
    fn name(&self) -> &'static str {
        "mct_advertised"
    }
    fn observe(&mut self, _: &Event) {}
    fn place(&mut self, task: &Task, candidates: &[Candidate]) -> Placement {
        let work = task.work.unwrap_or(60.0);
        let mut filter = Filter::new();
        let mut top = TopR::new(replicas(task));
        for (i, c) in candidates.iter().enumerate() {
            if filter.admits(task, c) {
                let view = View {
                    speed: c.benchmark,
                    success: 1.0,
                    fetch_s: advertised_fetch_s(c, task.input_bytes),
                };
                top.offer(self.rule.predict(work, task.deadline_s, c, view).score, i);
            }
        }
        finish(task, candidates, &top, &filter)
    }
}

/// BOINC-style duration correction: per provider, one factor (all program kinds together) that multiplies the
/// benchmark-based estimate; it jumps up at once when a run is slower than estimated and decays slowly (10% per
/// run) when faster, as BOINC's client does. Placement is the shared rule with that estimate.
#[derive(Debug, Default)]
pub struct BoincDcf {
    rule: Rule,
    dcf: IdMap<(f64, f64)>,
}

impl Policy for BoincDcf {
    fn name(&self) -> &'static str {
        "boinc_dcf"
    }
    fn observe(&mut self, event: &Event) {
        if let Event::Finished { provider, work: Some(work), run_s, .. } = *event
            && let Some((dcf, bench)) = self.dcf.get_mut(&provider)
            && work > 0.0
        {
            let estimate = work / bench.max(1e-9);
            let ratio = run_s / estimate;
            *dcf = if ratio > *dcf { ratio } else { *dcf + 0.1 * (ratio - *dcf) };
        }
    }
    fn place(&mut self, task: &Task, candidates: &[Candidate]) -> Placement {
        let work = task.work.unwrap_or(60.0);
        let mut filter = Filter::new();
        let mut top = TopR::new(replicas(task));
        for (i, c) in candidates.iter().enumerate() {
            if filter.admits(task, c) {
                let dcf = self.dcf.get(&c.id).map_or(1.0, |&(d, _)| d);
                let view = View {
                    speed: c.benchmark / dcf.max(1e-9),
                    success: 1.0,
                    fetch_s: advertised_fetch_s(c, task.input_bytes),
                };
                top.offer(self.rule.predict(work, task.deadline_s, c, view).score, i);
            }
        }
        let placement = finish(task, candidates, &top, &filter);
        for i in top.indices() {
            let c = &candidates[i];
            self.dcf.entry(c.id).and_modify(|e| e.1 = c.benchmark).or_insert((1.0, c.benchmark));
        }
        placement
    }
}

/// The providers of a placement as a set, for tests.
#[cfg(test)]
fn ids(p: &Placement) -> Vec<crate::ProviderId> {
    let mut v = p.providers().to_vec();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_baseline_gives_r_distinct_eligible_providers() {
        let cands: Vec<Candidate> = (0..20)
            .map(|i| {
                let mut c = Candidate::new(i, 1.0 + i as f64);
                c.queue_len = (i % 5) as u32;
                c.caps.gpu = i % 2 == 0;
                c
            })
            .collect();
        let mut task = Task::new(1, 10.0);
        task.replicas = 3;
        task.needs.gpu = true;
        let mut policies: Vec<Box<dyn Policy>> = vec![
            Box::new(RoundRobin::default()),
            Box::new(Random::new(1)),
            Box::new(LeastLoaded::new(1)),
            Box::new(PowerOfTwo::new(1)),
            Box::new(MctAdvertised::default()),
            Box::new(BoincDcf::default()),
        ];
        for p in &mut policies {
            for _ in 0..20 {
                let placed = p.place(&task, &cands);
                let chosen = ids(&placed);
                assert_eq!(chosen.len(), 3, "{}", p.name());
                assert!(chosen.windows(2).all(|w| w[0] != w[1]), "{} repeated a provider", p.name());
                assert!(chosen.iter().all(|id| id.0 % 2 == 0), "{} chose a provider without GPU", p.name());
            }
        }
    }
}
