//! The answer to "where does this task run?": r distinct providers, or a machine-readable reason why not.
//!
//! Every policy (the learned one and the baselines) filters candidates through [`Filter`], so hard
//! requirements (resources, price cap, stake) are respected the same way everywhere and the reason for a
//! refusal is computed in one place.

use serde::{Deserialize, Serialize};

use crate::types::{Candidate, ProviderId, Task};

/// The outcome of [`crate::Policy::place`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Placement {
    /// `task.replicas` distinct providers, best first.
    Assigned {
        /// The chosen providers.
        providers: Vec<ProviderId>,
    },
    /// The task cannot be placed now.
    NotPlaced {
        /// Why, for the user and for scripts.
        reason: Reason,
    },
}

impl Placement {
    /// The chosen providers, or an empty slice.
    pub fn providers(&self) -> &[ProviderId] {
        match self {
            Placement::Assigned { providers } => providers,
            Placement::NotPlaced { .. } => &[],
        }
    }
}

/// Why a task was not placed. Serialized with a `code` tag so that clients can match on it; the `Display` text
/// is what users see.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    /// No provider was offered at all.
    #[error("no providers are available")]
    NoCandidates,
    /// No provider has enough memory.
    #[error("no provider with {needed_mib} MiB of memory (largest offered: {largest_mib} MiB)")]
    Memory {
        /// MiB the task needs.
        needed_mib: u64,
        /// The most any candidate offers.
        largest_mib: u64,
    },
    /// No provider has enough cores.
    #[error("no provider with {needed} cores (largest offered: {largest})")]
    Cores {
        /// Cores the task needs.
        needed: u32,
        /// The most any candidate offers.
        largest: u32,
    },
    /// The task needs a GPU and no capable provider has one.
    #[error("no provider with a GPU")]
    Gpu,
    /// Every capable provider has less stake than the task demands.
    #[error("no provider with at least {min_stake} OCAT staked (largest: {largest})")]
    Stake {
        /// The minimum the task demands.
        min_stake: f64,
        /// The most any capable candidate has.
        largest: f64,
    },
    /// Every capable provider asks more than the cap.
    #[error("all providers are above the price cap {cap} (cheapest capable: {cheapest})")]
    Price {
        /// The task's cap per work unit.
        cap: f64,
        /// The cheapest capable provider's price.
        cheapest: f64,
    },
    /// Some providers qualify, but fewer than the replicas wanted.
    #[error("only {eligible} eligible providers for {needed} replicas")]
    TooFewProviders {
        /// Replicas wanted.
        needed: u8,
        /// Providers that qualify.
        eligible: usize,
    },
}

/// Counts why candidates were rejected, to name the binding constraint when nothing qualifies.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    seen: usize,
    eligible: usize,
    // The first filter (in the order checked) that rejected most candidates decides the reason.
    largest_mem: u64,
    largest_cores: u32,
    any_gpu_among_sized: bool,
    largest_stake: f64,
    cheapest: f64,
    passed_caps: usize,
    passed_stake: usize,
}

impl Filter {
    pub(crate) fn new() -> Self {
        Self { cheapest: f64::INFINITY, largest_stake: f64::NEG_INFINITY, ..Self::default() }
    }

    /// Whether `c` satisfies every hard requirement of `task`; records why not.
    #[inline]
    pub(crate) fn admits(&mut self, task: &Task, c: &Candidate) -> bool {
        self.seen += 1;
        let needs = &task.needs;
        self.largest_mem = self.largest_mem.max(c.caps.memory_mib);
        self.largest_cores = self.largest_cores.max(c.caps.cores);
        if c.caps.memory_mib < needs.memory_mib || c.caps.cores < needs.cores {
            return false;
        }
        self.any_gpu_among_sized |= c.caps.gpu;
        if needs.gpu && !c.caps.gpu {
            return false;
        }
        self.passed_caps += 1;
        self.largest_stake = self.largest_stake.max(c.stake);
        if task.min_stake.is_some_and(|m| c.stake < m) {
            return false;
        }
        self.passed_stake += 1;
        self.cheapest = self.cheapest.min(c.price);
        if task.price_cap.is_some_and(|cap| c.price > cap) {
            return false;
        }
        self.eligible += 1;
        true
    }

    /// The reason nothing (or too little) qualified, given the counts so far.
    pub(crate) fn reason(&self, task: &Task) -> Reason {
        if self.seen == 0 {
            return Reason::NoCandidates;
        }
        let needs = &task.needs;
        if self.passed_caps == 0 {
            if self.largest_mem < needs.memory_mib {
                return Reason::Memory { needed_mib: needs.memory_mib, largest_mib: self.largest_mem };
            }
            if self.largest_cores < needs.cores {
                return Reason::Cores { needed: needs.cores, largest: self.largest_cores };
            }
            if needs.gpu && !self.any_gpu_among_sized {
                return Reason::Gpu;
            }
            // Memory and cores exist, but never together on one provider: report memory, the rarer one.
            return Reason::Memory { needed_mib: needs.memory_mib, largest_mib: self.largest_mem };
        }
        if self.passed_stake == 0 {
            return Reason::Stake { min_stake: task.min_stake.unwrap_or(0.0), largest: self.largest_stake };
        }
        if self.eligible == 0 {
            return Reason::Price { cap: task.price_cap.unwrap_or(f64::INFINITY), cheapest: self.cheapest };
        }
        Reason::TooFewProviders { needed: task.replicas, eligible: self.eligible }
    }
}

/// Keeps the `r` lowest-scored candidates (indices), best first: O(n·r) with r tiny.
#[derive(Debug)]
pub(crate) struct TopR {
    r: usize,
    items: Vec<(f64, usize)>,
}

impl TopR {
    pub(crate) fn new(r: usize) -> Self {
        Self { r: r.max(1), items: Vec::with_capacity(r.max(1) + 1) }
    }

    /// The score a newcomer must beat to enter.
    #[inline]
    pub(crate) fn bar(&self) -> f64 {
        if self.items.len() < self.r { f64::INFINITY } else { self.items[self.r - 1].0 }
    }

    #[inline]
    pub(crate) fn offer(&mut self, score: f64, index: usize) {
        // NaN scores never enter (a NaN compares as not-less).
        if score.partial_cmp(&self.bar()) != Some(std::cmp::Ordering::Less) {
            return;
        }
        let pos = self.items.partition_point(|&(s, _)| s <= score);
        self.items.insert(pos, (score, index));
        self.items.truncate(self.r);
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.items.iter().map(|&(_, i)| i)
    }
}

/// Turns chosen indices into a placement, or the filter's reason when fewer than `task.replicas` qualified.
pub(crate) fn finish(task: &Task, candidates: &[Candidate], top: &TopR, filter: &Filter) -> Placement {
    let r = usize::from(task.replicas.max(1));
    if top.len() < r {
        return Placement::NotPlaced { reason: filter.reason(task) };
    }
    Placement::Assigned { providers: top.indices().map(|i| candidates[i].id).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_r_keeps_the_smallest_in_order() {
        let mut t = TopR::new(3);
        for (i, s) in [5.0, 1.0, 4.0, 3.0, 2.0, 9.0].into_iter().enumerate() {
            t.offer(s, i);
        }
        assert_eq!(t.indices().collect::<Vec<_>>(), vec![1, 4, 3]);
    }

    #[test]
    fn reasons_name_the_binding_constraint() {
        let mut task = Task::new(1, 10.0);
        task.needs.memory_mib = 16 * 1024 + 1;
        let c = Candidate::new(1, 1.0);
        let mut f = Filter::new();
        assert!(!f.admits(&task, &c));
        assert_eq!(f.reason(&task), Reason::Memory { needed_mib: 16 * 1024 + 1, largest_mib: 16 * 1024 });
        assert!(f.reason(&task).to_string().contains("no provider with 16385 MiB"));

        let mut task = Task::new(1, 10.0);
        task.price_cap = Some(1.0);
        let mut c = Candidate::new(1, 1.0);
        c.price = 2.0;
        let mut f = Filter::new();
        assert!(!f.admits(&task, &c));
        assert_eq!(f.reason(&task), Reason::Price { cap: 1.0, cheapest: 2.0 });
        let json = serde_json::to_value(f.reason(&task)).expect("serializes");
        assert_eq!(json["code"], "price");
    }
}
