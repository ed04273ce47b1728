//! Releasing what the node holds for jobs that are over.
//!
//! Every upload's roots are recorded as the job's [`Hold`]. A hold lives while its job can still run or be
//! fetched from; once the job is over (settled, failed, or an offer that expired unassigned) gc notes the time,
//! and a retention period later unpins the job's data and result — unless another job still holds the same CID
//! (two jobs of one job file share their bundle) — then deletes every unpinned block ([`Store::gc`]). Offers
//! live only in memory, so data uploaded for an offer that never became a task is over once the offer could no
//! longer be assigned, and released at once (nobody fetches anything of a job that never existed; the offer
//! table counts such data against the node's offer-data budget until this release, see `offers.rs`).
//! The daemon runs this every `gc_interval`; `ocean node gc` runs it on a stopped node.

use std::collections::{HashMap, HashSet};

use ocean_store::Store;
use tracing::{info, warn};

use crate::{
    Result,
    db::{Db, Hold, Task},
};

/// What one collection did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Jobs whose data was released.
    pub released: Vec<String>,
    /// Pins removed.
    pub unpinned: usize,
    /// Blocks deleted.
    pub blocks: u64,
    /// Bytes freed.
    pub bytes: u64,
}

/// What to do with the holds, decided from the task records alone.
#[derive(Debug, Default, PartialEq)]
struct Plan {
    /// Holds newly seen over: record when.
    mark: Vec<Hold>,
    /// Jobs to release.
    release: Vec<String>,
    /// CIDs to unpin (none that a kept job still needs).
    unpin: Vec<String>,
}

/// A job is over when nothing more will run or be fetched for it.
fn is_over(task: Option<&Task>, hold: &Hold, now: u64, offer_life: u64) -> bool {
    match task {
        // Data uploaded for an offer that was never assigned (the offer and its slack are past).
        None => hold.since.saturating_add(offer_life) < now,
        Some(t) => t.state.is_final(),
    }
}

fn plan(holds: &[Hold], tasks: &HashMap<&str, &Task>, now: u64, retention: u64, offer_life: u64) -> Plan {
    let mut out = Plan::default();
    let mut keep: HashSet<&str> = HashSet::new();
    let mut candidates: Vec<&str> = Vec::new();
    let mut released: HashSet<&str> = HashSet::new();
    for hold in holds {
        let task = tasks.get(hold.job_id.as_str()).copied();
        let results = task.into_iter().flat_map(|t| t.result_cid.iter().chain(t.envelope_cid.iter()));
        let never_assigned = task.is_none();
        match (is_over(task, hold, now, offer_life), hold.over_since) {
            (true, since) if never_assigned || since.is_some_and(|s| s.saturating_add(retention) <= now) => {
                out.release.push(hold.job_id.clone());
                released.insert(&hold.job_id);
                candidates.extend(hold.cids.iter().map(String::as_str));
                candidates.extend(results.map(String::as_str));
            }
            (over, since) => {
                if over && since.is_none() {
                    out.mark.push(Hold { over_since: Some(now), ..hold.clone() });
                }
                keep.extend(hold.cids.iter().map(String::as_str));
            }
        }
    }
    // Results of every job not released stay pinned, whatever their hold says.
    for (job, t) in tasks {
        if !released.contains(job) {
            keep.extend(t.result_cid.iter().chain(t.envelope_cid.iter()).map(String::as_str));
        }
    }
    let mut seen = HashSet::new();
    out.unpin =
        candidates.into_iter().filter(|c| !keep.contains(c) && seen.insert(*c)).map(str::to_owned).collect();
    out
}

/// Releases the holds of jobs over for longer than `retention` seconds, then deletes unpinned blocks.
/// Blocking (walks the store): call it from a blocking thread.
pub fn collect(db: &Db, store: &Store, now: u64, retention: u64) -> Result<Report> {
    let all = db.all()?;
    let tasks: HashMap<&str, &Task> = all.iter().map(|t| (t.job_id.as_str(), t)).collect();
    let plan = plan(&db.holds()?, &tasks, now, retention, super::api::OFFER_TTL + super::offers::SLACK);
    for hold in &plan.mark {
        db.put_hold(hold)?;
    }
    let mut unpinned = 0;
    for cid in &plan.unpin {
        match cid.parse::<ocean_store::Cid>() {
            Ok(c) => unpinned += usize::from(store.unpin(&c)?),
            Err(e) => warn!(target: "ocean::node", %cid, "gc skips a CID it cannot read: {e}"),
        }
    }
    for job in &plan.release {
        db.release(job)?;
    }
    let stats = store.gc()?;
    if !plan.release.is_empty() || stats.blocks > 0 {
        info!(target: "ocean::node", jobs = plan.release.len(), unpinned, blocks = stats.blocks, bytes = stats.bytes, "gc released data of finished jobs");
    }
    Ok(Report { released: plan.release, unpinned, blocks: stats.blocks, bytes: stats.bytes })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::db::TaskState;

    fn task(job: &str, state: TaskState, result: Option<&str>) -> Task {
        Task {
            price_wei: "1".into(),
            state,
            result_cid: result.map(Into::into),
            ..Task::assigned(job.into(), "m".into(), 0, None)
        }
    }

    fn hold(job: &str, cids: &[&str], over_since: Option<u64>) -> Hold {
        Hold {
            job_id: job.into(),
            cids: cids.iter().map(|c| c.to_string()).collect(),
            since: 100,
            over_since,
        }
    }

    fn settled() -> TaskState {
        TaskState::Settled { paid: "1".into(), slashed: false }
    }

    #[test]
    fn a_finished_job_is_marked_then_released_after_the_retention() {
        let t = task("0x1", settled(), Some("result"));
        let tasks = HashMap::from([("0x1", &t)]);
        let first = plan(&[hold("0x1", &["bundle"], None)], &tasks, 1000, 50, 120);
        assert_eq!(first.mark, vec![hold("0x1", &["bundle"], Some(1000))]);
        assert!(first.release.is_empty() && first.unpin.is_empty(), "kept during the retention: {first:?}");
        let early = plan(&first.mark, &tasks, 1049, 50, 120);
        assert!(early.release.is_empty());
        let late = plan(&first.mark, &tasks, 1050, 50, 120);
        assert_eq!(late.release, ["0x1"]);
        assert_eq!(late.unpin, ["bundle", "result"]);
    }

    #[test]
    fn a_task_whose_data_was_already_here_has_its_result_released_too() {
        // The watcher gives every assigned task a hold, with no CIDs when nothing was uploaded for it: without
        // one, its result stayed pinned for good.
        let t = task("0x7", settled(), Some("result"));
        let tasks = HashMap::from([("0x7", &t)]);
        let first = plan(&[hold("0x7", &[], None)], &tasks, 1000, 50, 120);
        assert_eq!(first.mark, vec![hold("0x7", &[], Some(1000))]);
        let late = plan(&first.mark, &tasks, 1050, 50, 120);
        assert_eq!((late.release, late.unpin), (vec!["0x7".to_owned()], vec!["result".to_owned()]));
    }

    #[test]
    fn live_jobs_and_shared_cids_are_kept() {
        let running = task("0x2", TaskState::Running, None);
        let done = task("0x3", TaskState::Failed { reason: "x".into() }, None);
        let tasks = HashMap::from([("0x2", &running), ("0x3", &done)]);
        let mut offered = hold("0x4", &["offered"], None);
        offered.since = 990;
        let holds = [hold("0x2", &["shared"], None), hold("0x3", &["shared", "own"], Some(0)), offered];
        let p = plan(&holds, &tasks, 1000, 50, 120);
        assert_eq!(p.release, ["0x3"]);
        assert_eq!(p.unpin, ["own"], "a CID another live job holds stays pinned");
        assert!(p.mark.is_empty());
    }

    #[test]
    fn data_for_an_offer_never_assigned_is_over_once_the_offer_is() {
        // Released at once, without the retention a finished job's data gets: it has no result to fetch.
        let p = plan(&[hold("0x6", &["b"], None)], &HashMap::new(), 1000, 50, 120);
        assert!(p.mark.is_empty());
        assert_eq!((p.release, p.unpin), (vec!["0x6".to_owned()], vec!["b".to_owned()]));
        let young = plan(&[hold("0x6", &["b"], None)], &HashMap::new(), 150, 50, 120);
        assert!(young.mark.is_empty(), "an upload for an offer still within its lifetime is kept");
    }
}
