//! The provider's persisted state: one record per task, and the last chain block scanned.
//!
//! redb commits are atomic and durable, so after a `kill -9` the node sees every task exactly as its last
//! committed transition left it. Every transition that has an effect outside the node (an on-chain commit) is
//! written *before* the effect, so a restart knows to check the chain instead of acting twice. A signed offer
//! writes nothing: the chain's assignment (which carries the offer) is what creates a task.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Tasks still in flight: what the watcher walks on every tick and what the queue length counts.
const TASKS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("tasks");
/// Settled and failed tasks, moved here so the per-tick work does not grow with the node's history.
const FINISHED: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("finished");
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
/// What the store keeps pinned on behalf of each job (its uploaded data), until gc releases it.
const HOLDS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("holds");

/// The states of a task on a provider. Transitions only move down this list (or to `Failed`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TaskState {
    /// Assigned on chain; waiting for a worker. (Offers are not tasks: they live in memory until the chain
    /// assigns the job, see `provider::offers`.)
    Assigned,
    /// A worker runs it. After a restart it is run again: runs are deterministic.
    Running,
    /// Result stored and commitment signed; waiting for the requester to settle.
    Done,
    /// About to commit on chain. After a restart: check the chain before sending again.
    Committing,
    /// Committed on chain.
    Committed,
    /// The job was finalized; `paid` is what this provider earned (0 if outvoted).
    Settled {
        /// Wei credited by the JobMarket.
        paid: String,
        /// Whether this provider was slashed.
        slashed: bool,
    },
    /// Nothing more will happen.
    Failed {
        /// Why.
        reason: String,
    },
}

impl TaskState {
    /// Short name for APIs and status output.
    pub fn name(&self) -> &'static str {
        self.phase().name()
    }

    /// The phase the API reports.
    pub fn phase(&self) -> ocean_protocol::TaskPhase {
        use ocean_protocol::TaskPhase;
        match self {
            Self::Assigned => TaskPhase::Assigned,
            Self::Running => TaskPhase::Running,
            Self::Done => TaskPhase::Done,
            Self::Committing => TaskPhase::Committing,
            Self::Committed => TaskPhase::Committed,
            Self::Settled { .. } => TaskPhase::Settled,
            Self::Failed { .. } => TaskPhase::Failed,
        }
    }

    /// Whether the task is over.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Settled { .. } | Self::Failed { .. })
    }
}

/// One task: a job assigned to this provider on chain.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Task {
    /// The job id (0x…).
    pub job_id: String,
    /// The manifest CID.
    pub manifest_cid: String,
    /// Unix time by which to commit.
    pub commit_deadline: u64,
    /// Position in the assignment (known once assigned).
    pub index: Option<u8>,
    /// The job's rebalance time (unix seconds; 0 or absent: never), read from chain at assignment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalance_at: Option<u64>,
    /// Price it will be paid, wei (decimal string).
    pub price_wei: String,
    /// Current state.
    pub state: TaskState,
    /// The job's requester (0x…), read from chain at assignment: the only account whose signed reads see
    /// the task before the job is finalized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
    /// Result CID once computed.
    pub result_cid: Option<String>,
    /// Signed commitment once computed.
    pub signed_commit: Option<ocean_protocol::SignedCommit>,
    /// Seconds the run took.
    pub run_secs: Option<f64>,
    /// Unix time the result was computed.
    pub done_at: Option<u64>,
    /// A private job's result, age-encrypted to the requester: the CID this node serves (the commitment is
    /// to the plaintext result's CID, which this node never stores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope_cid: Option<String>,
    /// A zk job's result and proof, submitted on chain in place of a commitment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Proof>,
    /// The limits hash of the job's `JobCreated` event (0x…), read once at assignment: the manifest run must
    /// have exactly these limits. Absent in records written before offers bound the limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits_hash: Option<String>,
}

impl Task {
    /// A task just assigned on chain: nothing run, nothing known beyond its assignment.
    pub fn assigned(job_id: String, manifest_cid: String, commit_deadline: u64, index: Option<u8>) -> Self {
        Self {
            job_id,
            manifest_cid,
            commit_deadline,
            index,
            rebalance_at: None,
            price_wei: "0".into(),
            state: TaskState::Assigned,
            requester: None,
            result_cid: None,
            signed_commit: None,
            run_secs: None,
            done_at: None,
            envelope_cid: None,
            proof: None,
            limits_hash: None,
        }
    }
}

/// The CIDs the node pinned for one job (the roots of its uploads), and since when the job is over.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hold {
    /// The job id (0x…).
    pub job_id: String,
    /// Pinned roots (CIDs as strings).
    pub cids: Vec<String>,
    /// Unix time of the first upload.
    pub since: u64,
    /// Unix time gc first saw the job over (settled, failed, or an offer that expired unassigned); the pins
    /// are released a retention period after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_since: Option<u64>,
}

/// A zk job's proven result, as the provider submits it (`JobMarket.submitProof`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Proof {
    /// The result bytes the chain records: the packed logits (0x…, 32 bytes).
    pub result: String,
    /// The Groth16 proof (0x…, 256 bytes).
    pub proof: String,
}

/// The task database.
#[derive(Debug)]
pub struct Db {
    db: Database,
}

impl Db {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        let db = Database::create(path).map_err(Error::db)?;
        let tx = db.begin_write().map_err(Error::db)?;
        {
            tx.open_table(TASKS).map_err(Error::db)?;
            tx.open_table(FINISHED).map_err(Error::db)?;
            tx.open_table(META).map_err(Error::db)?;
            tx.open_table(HOLDS).map_err(Error::db)?;
        }
        tx.commit().map_err(Error::db)?;
        Ok(Self { db })
    }

    /// Writes `task` durably; a final task moves from the in-flight table to the finished one in the same
    /// transaction.
    pub fn put(&self, task: &Task) -> Result<()> {
        let value = serde_json::to_vec(task).map_err(Error::db)?;
        let key = task.job_id.as_bytes();
        let tx = self.db.begin_write().map_err(Error::db)?;
        {
            let mut tasks = tx.open_table(TASKS).map_err(Error::db)?;
            if task.state.is_final() {
                tasks.remove(key).map_err(Error::db)?;
                let mut finished = tx.open_table(FINISHED).map_err(Error::db)?;
                finished.insert(key, value.as_slice()).map_err(Error::db)?;
            } else {
                tasks.insert(key, value.as_slice()).map_err(Error::db)?;
            }
        }
        tx.commit().map_err(Error::db)
    }

    /// Reads one task, in flight or finished.
    pub fn get(&self, job_id: &str) -> Result<Option<Task>> {
        let tx = self.db.begin_read().map_err(Error::db)?;
        for table in [TASKS, FINISHED] {
            let t = tx.open_table(table).map_err(Error::db)?;
            if let Some(v) = t.get(job_id.as_bytes()).map_err(Error::db)? {
                return Ok(Some(serde_json::from_slice(v.value()).map_err(Error::db)?));
            }
        }
        Ok(None)
    }

    /// Tasks still in flight (not settled or failed).
    pub fn active(&self) -> Result<Vec<Task>> {
        self.read(&[TASKS])
    }

    /// Every task, in flight and finished.
    pub fn all(&self) -> Result<Vec<Task>> {
        self.read(&[TASKS, FINISHED])
    }

    fn read(&self, tables: &[TableDefinition<'_, &[u8], &[u8]>]) -> Result<Vec<Task>> {
        let tx = self.db.begin_read().map_err(Error::db)?;
        let mut out = Vec::new();
        for table in tables {
            let t = tx.open_table(*table).map_err(Error::db)?;
            for item in t.iter().map_err(Error::db)? {
                let (_, v) = item.map_err(Error::db)?;
                out.push(serde_json::from_slice(v.value()).map_err(Error::db)?);
            }
        }
        Ok(out)
    }

    /// Adds `cids` to the job's hold (creating it at `now`).
    pub fn hold(&self, job_id: &str, cids: &[String], now: u64) -> Result<Hold> {
        let tx = self.db.begin_write().map_err(Error::db)?;
        let hold = {
            let mut t = tx.open_table(HOLDS).map_err(Error::db)?;
            let existing = t.get(job_id.as_bytes()).map_err(Error::db)?.map(|v| v.value().to_vec());
            let mut hold = match existing {
                Some(v) => serde_json::from_slice(&v).map_err(Error::db)?,
                None => Hold { job_id: job_id.to_owned(), cids: Vec::new(), since: now, over_since: None },
            };
            for c in cids {
                if !hold.cids.contains(c) {
                    hold.cids.push(c.clone());
                }
            }
            let value = serde_json::to_vec(&hold).map_err(Error::db)?;
            t.insert(job_id.as_bytes(), value.as_slice()).map_err(Error::db)?;
            hold
        };
        tx.commit().map_err(Error::db)?;
        Ok(hold)
    }

    /// The hold of one job, if it has one.
    pub fn hold_of(&self, job_id: &str) -> Result<Option<Hold>> {
        let tx = self.db.begin_read().map_err(Error::db)?;
        let t = tx.open_table(HOLDS).map_err(Error::db)?;
        let v = t.get(job_id.as_bytes()).map_err(Error::db)?;
        v.map(|v| serde_json::from_slice(v.value()).map_err(Error::db)).transpose()
    }

    /// Every job's hold.
    pub fn holds(&self) -> Result<Vec<Hold>> {
        let tx = self.db.begin_read().map_err(Error::db)?;
        let t = tx.open_table(HOLDS).map_err(Error::db)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(Error::db)? {
            let (_, v) = item.map_err(Error::db)?;
            out.push(serde_json::from_slice(v.value()).map_err(Error::db)?);
        }
        Ok(out)
    }

    /// Replaces a hold (gc marking it over).
    pub fn put_hold(&self, hold: &Hold) -> Result<()> {
        let value = serde_json::to_vec(hold).map_err(Error::db)?;
        let tx = self.db.begin_write().map_err(Error::db)?;
        tx.open_table(HOLDS)
            .map_err(Error::db)?
            .insert(hold.job_id.as_bytes(), value.as_slice())
            .map_err(Error::db)?;
        tx.commit().map_err(Error::db)
    }

    /// Forgets a job's hold (after gc unpinned it).
    pub fn release(&self, job_id: &str) -> Result<()> {
        let tx = self.db.begin_write().map_err(Error::db)?;
        tx.open_table(HOLDS).map_err(Error::db)?.remove(job_id.as_bytes()).map_err(Error::db)?;
        tx.commit().map_err(Error::db)
    }

    /// A counter or marker in the meta table (e.g. the last block scanned).
    pub fn meta(&self, key: &str) -> Result<Option<u64>> {
        let tx = self.db.begin_read().map_err(Error::db)?;
        let t = tx.open_table(META).map_err(Error::db)?;
        Ok(t.get(key).map_err(Error::db)?.map(|v| v.value()))
    }

    /// Sets a meta value.
    pub fn set_meta(&self, key: &str, value: u64) -> Result<()> {
        let tx = self.db.begin_write().map_err(Error::db)?;
        {
            let mut t = tx.open_table(META).map_err(Error::db)?;
            t.insert(key, value).map_err(Error::db)?;
        }
        tx.commit().map_err(Error::db)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn task(id: &str) -> Task {
        Task { price_wei: "1".into(), ..Task::assigned(id.into(), "bafy".into(), 10, None) }
    }

    #[test]
    fn holds_accumulate_per_job_and_are_released() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("node.redb")).unwrap();
        db.hold("0x01", &["a".into()], 5).unwrap();
        let h = db.hold("0x01", &["a".into(), "b".into()], 9).unwrap();
        assert_eq!((h.cids, h.since), (vec!["a".to_string(), "b".to_string()], 5));
        db.hold("0x02", &["c".into()], 7).unwrap();
        assert_eq!(db.holds().unwrap().len(), 2);
        db.release("0x01").unwrap();
        assert_eq!(db.holds().unwrap().iter().map(|h| h.job_id.as_str()).collect::<Vec<_>>(), ["0x02"]);
    }

    #[test]
    fn tasks_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.redb");
        {
            let db = Db::open(&path).unwrap();
            db.put(&task("0x01")).unwrap();
            let mut t = task("0x02");
            t.state = TaskState::Committing;
            db.put(&t).unwrap();
            db.set_meta("block", 42).unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(db.get("0x02").unwrap().unwrap().state, TaskState::Committing);
        assert_eq!(db.all().unwrap().len(), 2);
        let mut settled = task("0x01");
        settled.state = TaskState::Settled { paid: "1".into(), slashed: false };
        db.put(&settled).unwrap();
        assert_eq!(db.active().unwrap().len(), 1, "a settled task leaves the in-flight table");
        assert_eq!(db.all().unwrap().len(), 2);
        assert_eq!(db.get("0x01").unwrap().unwrap().state, settled.state);
        assert_eq!(db.meta("block").unwrap(), Some(42));
        assert!(db.get("0x03").unwrap().is_none());
    }
}
