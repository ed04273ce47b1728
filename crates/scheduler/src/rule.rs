//! The dispatch rule: predict a task's completion on a candidate from a *view* of that candidate (speed,
//! reliability, fetch time), and keep the r best.
//!
//! The rule is shared: the learned scheduler feeds it Thompson samples from its model, the speed-oracle in the
//! simulator feeds it the hidden truth, and the advertised-specs and BOINC baselines feed it their own
//! estimates. Differences between those policies are therefore differences of knowledge, not of rule.

use serde::{Deserialize, Serialize};

use crate::types::Candidate;

/// What a policy believes about one candidate for one task.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Work units per second for this task's kind.
    pub speed: f64,
    /// Probability that a run there delivers its result.
    pub success: f64,
    /// Seconds to fetch the task's inputs there.
    pub fetch_s: f64,
}

/// The rule's knobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Seconds lost, beyond the run itself, when a run fails and must be retried (detection + re-dispatch).
    pub retry_penalty_s: f64,
    /// Weight of each second predicted past the deadline, on top of the expected completion.
    pub deadline_weight: f64,
}

impl Default for Rule {
    fn default() -> Self {
        Self { retry_penalty_s: 120.0, deadline_weight: 1.0 }
    }
}

/// A prediction for one (task, candidate).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// Seconds until the task would complete if the run succeeds.
    pub completion_s: f64,
    /// What the rule minimizes: the expected completion with retries, plus the deadline penalty.
    pub score: f64,
}

impl Rule {
    /// Predicts completion of `work` units on `c`, given `view`.
    #[inline]
    pub fn predict(&self, work: f64, deadline_s: Option<f64>, c: &Candidate, view: View) -> Prediction {
        let speed = view.speed.max(1e-9);
        // The running tasks' remaining part, then the queue, then ours.
        let running_left = (c.running_work / speed - c.running_elapsed).max(0.0);
        let wait = running_left + c.queued_work / speed;
        let completion = view.fetch_s + wait + work / speed;
        let q = view.success.clamp(1e-3, 1.0);
        // Geometric retries: each failure costs a detection delay and a fresh attempt.
        let expected = completion + (1.0 - q) / q * (self.retry_penalty_s + completion);
        let late = deadline_s.map_or(0.0, |d| (completion - d).max(0.0));
        Prediction { completion_s: completion, score: expected + self.deadline_weight * late }
    }
}

/// The advertised fetch time: latency plus bytes over bandwidth.
#[inline]
pub(crate) fn advertised_fetch_s(c: &Candidate, input_bytes: u64) -> f64 {
    c.latency_s + input_bytes as f64 / c.bandwidth_bps.max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faster_and_emptier_wins_and_failures_cost() {
        let rule = Rule::default();
        let c = Candidate::new(1, 1.0);
        let fast = View { speed: 10.0, success: 1.0, fetch_s: 0.0 };
        let slow = View { speed: 1.0, success: 1.0, fetch_s: 0.0 };
        assert!(rule.predict(100.0, None, &c, fast).score < rule.predict(100.0, None, &c, slow).score);
        let mut busy = c.clone();
        busy.queued_work = 10_000.0;
        assert!(rule.predict(100.0, None, &busy, fast).score > rule.predict(100.0, None, &c, slow).score);
        let flaky = View { success: 0.5, ..fast };
        let p = rule.predict(100.0, None, &c, flaky);
        assert!((p.completion_s - 10.0).abs() < 1e-9);
        assert!((p.score - (10.0 + 130.0)).abs() < 1e-9);
        let late = rule.predict(100.0, Some(5.0), &c, fast);
        assert!((late.score - 15.0).abs() < 1e-9);
    }
}
