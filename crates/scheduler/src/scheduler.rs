//! The production policy: the learned model plus the shared dispatch rule, with Thompson sampling for
//! exploration and a shortlist for very large candidate sets.

use serde::{Deserialize, Serialize};

use crate::Policy;
use crate::model::{Model, ModelConfig};
use crate::placement::{Filter, Placement, TopR, finish};
use crate::rng::Rng;
use crate::rule::Rule;
use crate::types::{Candidate, Event, Task};

/// The scheduler's knobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The performance model.
    pub model: ModelConfig,
    /// The dispatch rule.
    pub rule: Rule,
    /// Up to this many candidates, every one is scored. Above it, only a shortlist is: the best-known
    /// providers of the task's kind (found through a Bloom-filtered index) plus `sample` random candidates.
    pub full_scan_limit: usize,
    /// Random candidates added to the shortlist (they also carry exploration of unknown providers).
    pub sample: usize,
    /// Work units assumed for a task that does not say, until the model has seen tasks of its kind.
    pub default_work: f64,
    /// A run is presumed lost after `timeout_floor_s + timeout_factor × (fetch + work / slow speed)`, where
    /// the slow speed is the model's estimate two standard deviations down: tight on well-known providers,
    /// loose on new ones.
    pub timeout_factor: f64,
    /// See `timeout_factor`.
    pub timeout_floor_s: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            rule: Rule::default(),
            full_scan_limit: 1024,
            sample: 64,
            default_work: 60.0,
            timeout_factor: 2.0,
            timeout_floor_s: 30.0,
        }
    }
}

/// The learned scheduler. See the crate documentation for the data flow and an example.
#[derive(Clone, Debug)]
pub struct Scheduler {
    cfg: Config,
    model: Model,
    rng: Rng,
    decisions: u64,
}

impl Scheduler {
    /// A scheduler with an empty model; `seed` fixes its exploration draws.
    pub fn new(cfg: Config, seed: u64) -> Self {
        let model = Model::new(cfg.model.clone());
        Self { cfg, model, rng: Rng::seed(seed), decisions: 0 }
    }

    /// The learned model (for inspection).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Its knobs.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    #[inline]
    fn score(&mut self, task: &Task, work: f64, c: &Candidate) -> f64 {
        let view = self.model.sample(c, task.kind, task.input_bytes, &mut self.rng);
        self.cfg.rule.predict(work, task.deadline_s, c, view).score
    }

    fn full_scan(&mut self, task: &Task, work: f64, candidates: &[Candidate], top: &mut TopR) -> Filter {
        let mut filter = Filter::new();
        for (i, c) in candidates.iter().enumerate() {
            if filter.admits(task, c) {
                let s = self.score(task, work, c);
                top.offer(s, i);
            }
        }
        filter
    }

    fn shortlist(&mut self, task: &Task, work: f64, candidates: &[Candidate], top: &mut TopR) {
        let mut filter = Filter::new();
        let mut taken: Vec<usize> = Vec::with_capacity(crate::model::ELITES + self.cfg.sample);
        // The kind's best-known providers, by their position hints: O(48) when the caller keeps its candidate
        // list in a stable order. Otherwise (a hint points at someone else, membership changed, or every
        // 1024 decisions to find returning providers) one Bloom-filtered pass over all candidates relocates them.
        self.decisions = self.decisions.wrapping_add(1);
        let elites = self.model.elites(task.kind);
        let mut wrong = elites.stale() || self.decisions.is_multiple_of(1024);
        for (id, hint) in elites.hinted() {
            match candidates.get(hint) {
                Some(c) if c.id == id && filter.admits(task, c) => taken.push(hint),
                Some(c) if c.id == id => {}
                Some(_) => wrong = true,
                None => {}
            }
        }
        if wrong {
            let mut found = Vec::with_capacity(crate::model::ELITES);
            for (i, c) in candidates.iter().enumerate() {
                if elites.may_contain(c.id) && elites.contains(c.id) {
                    found.push((c.id, i));
                    if filter.admits(task, c) {
                        taken.push(i);
                    }
                }
            }
            self.model.elites_mut(task.kind).set_hints(&found);
        }
        for _ in 0..self.cfg.sample {
            let i = self.rng.below(candidates.len());
            if filter.admits(task, &candidates[i]) {
                taken.push(i);
            }
        }
        taken.sort_unstable();
        taken.dedup();
        for i in taken {
            let s = self.score(task, work, &candidates[i]);
            top.offer(s, i);
        }
    }
}

impl Policy for Scheduler {
    fn name(&self) -> &'static str {
        "learned"
    }

    fn observe(&mut self, event: &Event) {
        self.model.observe(event);
    }

    fn timeout_s(&self, task: &Task, provider: &Candidate) -> Option<f64> {
        let work = task.work.unwrap_or_else(|| self.model.mean_work(task.kind, self.cfg.default_work));
        let belief = self.model.belief(provider, task.kind);
        let slow = belief.speed * (-2.0 * belief.log_sd).exp();
        let fetch = 2.0 * crate::rule::advertised_fetch_s(provider, task.input_bytes);
        Some(self.cfg.timeout_floor_s + self.cfg.timeout_factor * (fetch + work / slow.max(1e-9)))
    }

    fn place(&mut self, task: &Task, candidates: &[Candidate]) -> Placement {
        let work = task.work.unwrap_or_else(|| self.model.mean_work(task.kind, self.cfg.default_work));
        let r = usize::from(task.replicas.max(1));
        let mut top = TopR::new(r);
        let mut filter = None;
        if candidates.len() > self.cfg.full_scan_limit {
            self.shortlist(task, work, candidates, &mut top);
        }
        if top.len() < r {
            // Small sets, or a shortlist that came up short: score everything (this also yields the exact
            // reason when nothing qualifies).
            top = TopR::new(r);
            filter = Some(self.full_scan(task, work, candidates, &mut top));
        }
        let placement = finish(task, candidates, &top, &filter.unwrap_or_else(Filter::new));
        for i in top.indices() {
            self.model.assigned(&candidates[i]);
        }
        if let Placement::NotPlaced { reason } = &placement {
            tracing::debug!(target: "ocean::scheduler", task = task.id.0, %reason, "not placed");
        }
        placement
    }
}
