//! What the `/ipfs` gateway on the provider's listener may serve: the blocks of finalized tasks' results,
//! manifests and result envelopes — never a result before its job is finalized.
//!
//! Before finalization a result CID is the one secret of replication: a co-provider that learned it could
//! commit to it without computing. So the gateway answers `404` for every block that is not in the set
//! published here, exactly as for a block the node does not hold. A task's blocks are published when the
//! watcher sees its job finalized, or on demand when someone asks for a result root of a task that is done
//! here and the chain (asked at most once a second per task; a request in between waits for the next check)
//! says the job is final by now: the requester fetches the result the moment it sees finalization, often
//! before this node's next look at the chain.
//!
//! The set is bounded: beyond [`CAP`] blocks the oldest published tasks are dropped (their results are on
//! the requester's side long before that).

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

use ocean_chain::B256;
use ocean_store::Cid;

/// Most blocks the gateway will serve at once (about 100 bytes of memory each).
pub(crate) const CAP: usize = 1 << 20;
/// How often a done task's job is looked up on chain on a request for its result.
const RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct State {
    /// Block → number of published tasks holding it.
    blocks: HashMap<Cid, u32>,
    /// Published tasks, oldest first, with their blocks.
    tasks: VecDeque<(B256, Vec<Cid>)>,
    /// The jobs of `tasks`, so that the per-tick `expect` of every done task does not walk the queue.
    published: HashSet<B256>,
    /// Result roots of tasks done here but not (known to be) finalized → (job, last chain check).
    pending: HashMap<Cid, (B256, Option<Instant>)>,
}

/// The gate. One lock, never held across an await.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: Mutex<State>,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update below leaves the maps consistent before it can panic.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the gateway may serve `cid`.
    pub(crate) fn allows(&self, cid: &Cid) -> bool {
        self.lock().blocks.contains_key(cid)
    }

    /// Whether `job` was published.
    pub(crate) fn published(&self, job: &B256) -> bool {
        self.lock().published.contains(job)
    }

    /// Makes `blocks` (every block of a finalized task's DAGs) servable.
    pub(crate) fn publish(&self, job: B256, blocks: Vec<Cid>) {
        let mut s = self.lock();
        if !s.published.insert(job) {
            return;
        }
        s.pending.retain(|_, (j, _)| *j != job);
        for cid in &blocks {
            *s.blocks.entry(*cid).or_default() += 1;
        }
        s.tasks.push_back((job, blocks));
        while s.blocks.len() > CAP && s.tasks.len() > 1 {
            let Some((old_job, old)) = s.tasks.pop_front() else { break };
            s.published.remove(&old_job);
            for cid in old {
                if let Some(n) = s.blocks.get_mut(&cid) {
                    *n -= 1;
                    if *n == 0 {
                        s.blocks.remove(&cid);
                    }
                }
            }
        }
    }

    /// Remembers that `result` is the result root of `job`, done here and not yet known to be finalized.
    pub(crate) fn expect(&self, result: Cid, job: B256) {
        let mut s = self.lock();
        if !s.published.contains(&job) {
            s.pending.entry(result).or_insert((job, None));
        }
    }

    /// Remembers a done task's result root and result envelope (what a requester fetches once it sees the job
    /// finalized).
    pub(crate) fn expect_task(&self, task: &crate::db::Task) {
        let Ok(job) = task.job_id.parse::<B256>() else { return };
        for cid in [&task.result_cid, &task.envelope_cid].into_iter().flatten() {
            if let Ok(cid) = cid.parse() {
                self.expect(cid, job);
            }
        }
    }

    /// If `cid` is the result root (or result envelope) of a done task: its job, and how long to wait before
    /// its chain state may be checked (zero: now; the check is recorded so the next one waits [`RECHECK`]).
    pub(crate) fn due_check(&self, cid: &Cid, now: Instant) -> Option<(B256, Duration)> {
        let mut s = self.lock();
        let (job, last) = s.pending.get_mut(cid)?;
        if let Some(l) = *last {
            let since = now.saturating_duration_since(l);
            if since < RECHECK {
                return Some((*job, RECHECK - since));
            }
        }
        *last = Some(now);
        Some((*job, Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cid(n: u8) -> Cid {
        ocean_store::Store::memory().add_bytes(&[n], &ocean_store::ImportOptions::default()).unwrap().cid
    }

    #[test]
    fn only_published_blocks_pass_and_results_are_checked_at_most_once_a_second() {
        let gate = Gate::default();
        let (job, result, input) = (B256::repeat_byte(1), cid(1), cid(2));
        gate.expect(result, job);
        assert!(!gate.allows(&result), "a done result is not served before finalization");
        let t0 = Instant::now();
        assert_eq!(gate.due_check(&result, t0), Some((job, Duration::ZERO)));
        let half = Duration::from_millis(500);
        assert_eq!(
            gate.due_check(&result, t0 + half),
            Some((job, RECHECK - half)),
            "wait for the next check"
        );
        assert_eq!(gate.due_check(&result, t0 + RECHECK), Some((job, Duration::ZERO)));
        assert_eq!(gate.due_check(&input, t0), None, "nothing else triggers a chain check");

        gate.publish(job, vec![result, input]);
        assert!(gate.allows(&result) && gate.allows(&input) && gate.published(&job));
        assert_eq!(gate.due_check(&result, t0 + RECHECK * 2), None, "published: nothing left to check");
        gate.expect(result, job);
        assert_eq!(gate.due_check(&result, t0 + RECHECK * 3), None);
    }
}
