//! What the scheduler is told: tasks, candidate providers, and events observed while tasks run.

use serde::{Deserialize, Serialize};

/// A provider (a node that runs work), as the node layer names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProviderId(pub u64);

/// A task (one unit of placement: a job's shard or a retry of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskId(pub u64);

/// A kind of program. Tasks of one kind share a speed profile on a provider: a GPU box is far faster on
/// GPU-capable inference than on a CPU-bound wasm program, so speed is learned per (provider, kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Kind(pub u8);

impl Kind {
    /// CPU-bound programs (e.g. wasm).
    pub const CPU: Kind = Kind(0);
    /// GPU-capable programs (e.g. ONNX inference): they run anywhere, much faster where a GPU is.
    pub const GPU: Kind = Kind(1);
    /// How many kinds the model tracks; larger kind numbers share the last slot.
    pub const COUNT: usize = 4;

    /// The model slot of this kind.
    pub(crate) fn slot(self) -> usize {
        usize::from(self.0).min(Self::COUNT - 1)
    }
}

/// Resources: what a provider offers, or what a task needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// CPU cores.
    pub cores: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// A GPU is present (offered) or required (needed).
    pub gpu: bool,
}

/// A task to place.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// Its program kind.
    pub kind: Kind,
    /// Work in reference units: seconds on a provider of speed 1. `None` when the requester cannot say; the
    /// scheduler then uses the mean work it has seen for this kind.
    pub work: Option<f64>,
    /// Bytes of input the provider must fetch.
    pub input_bytes: u64,
    /// Hard requirements; providers that lack them are never chosen.
    pub needs: Resources,
    /// How many distinct providers to choose (k-of-n replication).
    pub replicas: u8,
    /// Seconds from now by which the task should complete, if any.
    pub deadline_s: Option<f64>,
    /// The highest acceptable price per work unit, if any.
    pub price_cap: Option<f64>,
    /// The least stake a provider must have locked, if any.
    pub min_stake: Option<f64>,
}

impl Task {
    /// A CPU task of `work` units with one replica and no requirements: a starting point for builders.
    pub fn new(id: u64, work: f64) -> Self {
        Self {
            id: TaskId(id),
            kind: Kind::CPU,
            work: Some(work),
            input_bytes: 0,
            needs: Resources::default(),
            replicas: 1,
            deadline_s: None,
            price_cap: None,
            min_stake: None,
        }
    }
}

/// A provider that could take the task, with what it advertises and its current load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Its id.
    pub id: ProviderId,
    /// What it offers.
    pub caps: Resources,
    /// Its advertised benchmark score, in reference speed units (1 = a reference laptop core). It is a prior
    /// only: the model learns how far each provider's real speed is from it.
    pub benchmark: f64,
    /// OCAT it has staked.
    pub stake: f64,
    /// Tasks queued or running on it.
    pub queue_len: u32,
    /// Work units queued on it and not yet started.
    pub queued_work: f64,
    /// Work units of the tasks it is running now.
    pub running_work: f64,
    /// Seconds the running tasks have been running (so the remaining part can be estimated).
    pub running_elapsed: f64,
    /// Network round-trip latency to the task's data, seconds.
    pub latency_s: f64,
    /// Network bandwidth to the task's data, bytes per second.
    pub bandwidth_bps: f64,
    /// Price per work unit.
    pub price: f64,
}

impl Candidate {
    /// An idle provider with the given advertised speed and generous resources: a starting point for builders.
    pub fn new(id: u64, benchmark: f64) -> Self {
        Self {
            id: ProviderId(id),
            caps: Resources { cores: 8, memory_mib: 16 * 1024, gpu: false },
            benchmark,
            stake: 0.0,
            queue_len: 0,
            queued_work: 0.0,
            running_work: 0.0,
            running_elapsed: 0.0,
            latency_s: 0.01,
            bandwidth_bps: 100e6,
            price: 0.0,
        }
    }
}

/// Something the scheduler observes about a task on a provider. `at` is the caller's clock in seconds; it only
/// needs to be monotonic (the model forgets old evidence as it ages, to follow drifting speeds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// The provider started running the task.
    Started {
        /// The task.
        task: TaskId,
        /// The provider.
        provider: ProviderId,
        /// When.
        at: f64,
    },
    /// The provider finished the task and its result arrived.
    Finished {
        /// The task.
        task: TaskId,
        /// The provider.
        provider: ProviderId,
        /// The task's program kind.
        kind: Kind,
        /// The task's work units, if known (speed is learned only from tasks whose work is known).
        work: Option<f64>,
        /// Bytes of input fetched.
        input_bytes: u64,
        /// Seconds spent fetching inputs.
        fetch_s: f64,
        /// Seconds spent running.
        run_s: f64,
        /// When.
        at: f64,
    },
    /// The provider reported a failure, or was found down while holding the task.
    Failed {
        /// The task.
        task: TaskId,
        /// The provider.
        provider: ProviderId,
        /// When.
        at: f64,
    },
    /// The task's result did not arrive in time (a silent loss).
    TimedOut {
        /// The task.
        task: TaskId,
        /// The provider.
        provider: ProviderId,
        /// When.
        at: f64,
    },
}
