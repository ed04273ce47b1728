//! The discrete-event loop. It plays the network around a policy: tasks arrive, the policy places them on
//! node queues, nodes run them (FIFO, one at a time) at their hidden speed × background-load drift × per-run
//! noise, fail and recover (Weibull up/down periods), silently lose some results, and the loop reports what a
//! real requester would observe (starts, finishes, failures detected by heartbeat, timeouts) back to the
//! policy, re-placing every task that did not deliver.
//!
//! Every random draw that is not a policy's own comes from streams keyed by (seed, node) or (seed, task,
//! attempt), so all policies face the same cluster, the same failures and the same noise (common random
//! numbers), and a seed always gives the same run.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::Policy;
use crate::placement::{Filter, Placement, TopR, finish};
use crate::rng::{Rng, hash_unit};
use crate::rule::{Rule, View};
use crate::sim::cluster::{Cluster, WEIBULL_SHAPE};
use crate::sim::workload::TaskSpec;
use crate::types::{Candidate, Event, ProviderId, Resources, Task, TaskId};

/// Seconds a down node goes unnoticed before its heartbeat is missed.
pub const HEARTBEAT_S: f64 = 60.0;
/// Seconds before an unplaceable task is offered again.
pub const RETRY_S: f64 = 30.0;
/// The fixed timeout after a run starts, for policies that do not choose one: generous for the slowest node
/// (speed ~0.8, drift down to 0.5, noise +20%).
pub fn timeout_s(work: f64) -> f64 {
    120.0 + 3.0 * work
}
/// Placement attempts after which a task is dropped.
pub const MAX_ATTEMPTS: u32 = 10_000;
/// Mean seconds between background-load changes on a node.
pub const DRIFT_MEAN_S: f64 = 3600.0;

/// What drives placement in a run.
pub enum Driver<'a> {
    /// A policy that sees only candidates and events.
    Policy(&'a mut dyn Policy),
    /// The shared rule fed the hidden truth: true speed × current drift, true loss probability, whether the
    /// node is down right now, and true fetch time.
    Oracle(Rule),
}

/// One task's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Arrival, seconds.
    pub arrival: f64,
    /// Completion (first delivered result), seconds.
    pub done: f64,
    /// Work, speed-1 seconds.
    pub work: f64,
    /// Best possible run time: work on the fastest node of its kind, plus the fastest fetch.
    pub ideal: f64,
    /// Relative deadline, seconds.
    pub deadline_s: f64,
    /// Attempts made.
    pub attempts: u32,
}

/// A whole run's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Per task, in arrival order.
    pub tasks: Vec<Outcome>,
    /// Node-seconds spent running.
    pub busy_s: f64,
    /// Node-seconds spent on runs whose result was lost, cut by a failure, or duplicated.
    pub wasted_s: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ev {
    Arrive(usize),
    Finish { node: usize, run: usize, epoch: u32 },
    Timeout(usize),
    Down(usize),
    Up(usize),
    Detect { node: usize, epoch: u32 },
    Drift(usize),
    Retry(usize),
}

struct Scheduled {
    at: f64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    // Reversed: BinaryHeap is a max-heap and we want the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.total_cmp(&self.at).then(other.seq.cmp(&self.seq))
    }
}

#[derive(Clone, Debug)]
struct Run {
    task: usize,
    node: usize,
    attempt: u32,
    /// Seconds after the start at which the requester gives up on this run.
    timeout: f64,
    started: f64,
    duration: f64,
    lost: bool,
    live: bool,
}

struct NodeState {
    up: bool,
    detected_down: bool,
    epoch: u32,
    queue: VecDeque<usize>,
    queued_work: f64,
    running: Option<usize>,
    /// Runs lost when the node restarted before its failure was detected; reported failed at detection.
    /// (While a node is down, its queue and running task stay frozen, so the load a requester sees keeps
    /// growing with what it sends there, as it would from its own bookkeeping.)
    dead: Vec<usize>,
    drift: f64,
    fail_rng: Rng,
    drift_rng: Rng,
}

struct TaskState {
    done: Option<f64>,
    attempts: u32,
    live_runs: u32,
}

struct Engine<'c> {
    seed: u64,
    cluster: &'c Cluster,
    specs: &'c [TaskSpec],
    heap: BinaryHeap<Scheduled>,
    seq: u64,
    now: f64,
    nodes: Vec<NodeState>,
    runs: Vec<Run>,
    tasks: Vec<TaskState>,
    remaining: usize,
    busy_s: f64,
    wasted_s: f64,
    candidates: Vec<Candidate>,
    candidate_nodes: Vec<usize>,
}

/// Runs `specs` on `cluster` under `driver`, deterministically for `seed`.
pub fn run(cluster: &Cluster, specs: &[TaskSpec], driver: &mut Driver<'_>, seed: u64) -> RunResult {
    let mut e = Engine {
        seed,
        cluster,
        specs,
        heap: BinaryHeap::new(),
        seq: 0,
        now: 0.0,
        nodes: (0..cluster.nodes.len())
            .map(|i| NodeState {
                up: true,
                detected_down: false,
                epoch: 0,
                queue: VecDeque::new(),
                queued_work: 0.0,
                running: None,
                dead: Vec::new(),
                drift: 1.0,
                fail_rng: Rng::stream(seed, &[0xFA, i as u64]),
                drift_rng: Rng::stream(seed, &[0xD5, i as u64]),
            })
            .collect(),
        runs: Vec::new(),
        tasks: specs.iter().map(|_| TaskState { done: None, attempts: 0, live_runs: 0 }).collect(),
        remaining: specs.len(),
        busy_s: 0.0,
        wasted_s: 0.0,
        candidates: Vec::with_capacity(cluster.nodes.len()),
        candidate_nodes: Vec::with_capacity(cluster.nodes.len()),
    };
    for (i, s) in specs.iter().enumerate() {
        e.push(s.arrival, Ev::Arrive(i));
    }
    for i in 0..cluster.nodes.len() {
        // Start each node at a random point of an up period (the first draw is part of its stream).
        let up = e.nodes[i].fail_rng.weibull(WEIBULL_SHAPE, cluster.nodes[i].up_scale());
        let first_down = up * e.nodes[i].fail_rng.unit();
        e.push(first_down, Ev::Down(i));
        let next = e.nodes[i].drift_rng.exp() * DRIFT_MEAN_S;
        e.push(next, Ev::Drift(i));
    }
    while e.remaining > 0 {
        let Some(Scheduled { at, ev, .. }) = e.heap.pop() else { break };
        e.now = at;
        e.handle(ev, driver);
    }
    let ideal = ideal_times(cluster, specs);
    let tasks = specs
        .iter()
        .zip(&e.tasks)
        .zip(ideal)
        .map(|((s, t), ideal)| Outcome {
            arrival: s.arrival,
            done: t.done.unwrap_or(f64::NAN),
            work: s.work,
            ideal,
            deadline_s: s.deadline_s,
            attempts: t.attempts,
        })
        .collect();
    RunResult { tasks, busy_s: e.busy_s, wasted_s: e.wasted_s }
}

impl Engine<'_> {
    fn push(&mut self, at: f64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Scheduled { at, seq: self.seq, ev });
    }

    fn handle(&mut self, ev: Ev, driver: &mut Driver<'_>) {
        match ev {
            Ev::Arrive(t) | Ev::Retry(t) => self.place(t, driver),
            Ev::Finish { node, run, epoch } => self.finish(node, run, epoch, driver),
            Ev::Timeout(run) => {
                let r = &mut self.runs[run];
                if !r.live {
                    return;
                }
                r.live = false;
                let (task, node) = (r.task, r.node);
                self.tasks[task].live_runs -= 1;
                observe(
                    driver,
                    &Event::TimedOut { task: TaskId(task as u64), provider: pid(node), at: self.now },
                );
                if self.tasks[task].done.is_none() && self.tasks[task].live_runs == 0 {
                    self.place(task, driver);
                }
            }
            Ev::Down(node) => {
                let n = &mut self.nodes[node];
                n.up = false;
                n.epoch += 1;
                let epoch = n.epoch;
                if let Some(run) = n.running {
                    let cut = self.now - self.runs[run].started;
                    self.busy_s += cut;
                    self.wasted_s += cut;
                }
                let down = n.fail_rng.weibull(WEIBULL_SHAPE, self.cluster.nodes[node].down_scale());
                self.push(self.now + HEARTBEAT_S, Ev::Detect { node, epoch });
                self.push(self.now + down, Ev::Up(node));
            }
            Ev::Up(node) => {
                let n = &mut self.nodes[node];
                // It restarts empty: whatever it held is lost, and reported when the heartbeat gap is noticed.
                if let Some(run) = n.running.take() {
                    n.dead.push(run);
                }
                n.dead.extend(n.queue.drain(..));
                n.queued_work = 0.0;
                n.up = true;
                n.detected_down = false;
                let up = n.fail_rng.weibull(WEIBULL_SHAPE, self.cluster.nodes[node].up_scale());
                self.push(self.now + up, Ev::Down(node));
                self.start_next(node, driver);
            }
            Ev::Detect { node, epoch } => {
                let n = &mut self.nodes[node];
                if n.epoch == epoch && !n.up {
                    n.detected_down = true;
                    if let Some(run) = n.running.take() {
                        n.dead.push(run);
                    }
                    n.dead.extend(n.queue.drain(..));
                    n.queued_work = 0.0;
                }
                let dead = std::mem::take(&mut self.nodes[node].dead);
                for run in dead {
                    self.fail_run(run, driver);
                }
            }
            Ev::Drift(node) => {
                let n = &mut self.nodes[node];
                // Background load: a slow random walk of the usable fraction of the machine, within [0.5, 1].
                n.drift = (n.drift * (0.15 * n.drift_rng.normal()).exp()).clamp(0.5, 1.0);
                let next = n.drift_rng.exp() * DRIFT_MEAN_S;
                self.push(self.now + next, Ev::Drift(node));
            }
        }
    }

    fn fail_run(&mut self, run: usize, driver: &mut Driver<'_>) {
        let r = &mut self.runs[run];
        if !r.live {
            return;
        }
        r.live = false;
        let (task, node) = (r.task, r.node);
        self.tasks[task].live_runs -= 1;
        observe(driver, &Event::Failed { task: TaskId(task as u64), provider: pid(node), at: self.now });
        if self.tasks[task].done.is_none() && self.tasks[task].live_runs == 0 {
            self.place(task, driver);
        }
    }

    fn place(&mut self, t: usize, driver: &mut Driver<'_>) {
        let spec = &self.specs[t];
        let task = Task {
            id: TaskId(t as u64),
            kind: spec.kind,
            work: Some(spec.work),
            input_bytes: spec.input_bytes,
            needs: Resources { cores: spec.cores, memory_mib: spec.memory_mib, gpu: false },
            replicas: 1,
            deadline_s: Some((spec.arrival + spec.deadline_s - self.now).max(0.0)),
            price_cap: None,
            min_stake: None,
        };
        self.candidates.clear();
        self.candidate_nodes.clear();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.detected_down {
                continue;
            }
            let truth = &self.cluster.nodes[i];
            let (running_work, running_elapsed) = match n.running {
                Some(run) => (self.specs[self.runs[run].task].work, self.now - self.runs[run].started),
                None => (0.0, 0.0),
            };
            self.candidates.push(Candidate {
                id: pid(i),
                caps: truth.caps,
                benchmark: truth.benchmark,
                stake: truth.stake,
                queue_len: (n.queue.len() + usize::from(n.running.is_some())) as u32,
                queued_work: n.queued_work,
                running_work,
                running_elapsed,
                latency_s: truth.latency_s,
                bandwidth_bps: truth.adv_bandwidth_bps,
                price: truth.price,
            });
            self.candidate_nodes.push(i);
        }
        let placement = match driver {
            Driver::Policy(p) => p.place(&task, &self.candidates),
            Driver::Oracle(rule) => self.oracle(rule, &task),
        };
        self.tasks[t].attempts += 1;
        match placement {
            Placement::Assigned { providers } => {
                for p in providers {
                    let node = p.0 as usize;
                    let chosen = self.candidate_nodes.iter().position(|&i| i == node);
                    let timeout = match (&*driver, chosen) {
                        (Driver::Policy(p), Some(ci)) => p.timeout_s(&task, &self.candidates[ci]),
                        (Driver::Oracle(_), _) => Some(self.oracle_timeout(&task, node)),
                        _ => None,
                    };
                    let timeout = timeout.unwrap_or_else(|| timeout_s(self.specs[t].work));
                    self.assign(t, node, timeout, driver);
                }
            }
            Placement::NotPlaced { .. } if self.tasks[t].attempts < MAX_ATTEMPTS => {
                self.push(self.now + RETRY_S, Ev::Retry(t))
            }
            Placement::NotPlaced { reason } => {
                // Give up on it (counted as dropped) rather than spin forever.
                tracing::warn!(target: "ocean::sim", task = t, %reason, "task dropped");
                self.remaining -= 1;
            }
        }
    }

    fn oracle(&self, rule: &Rule, task: &Task) -> Placement {
        let mut filter = Filter::new();
        let mut top = TopR::new(usize::from(task.replicas.max(1)));
        let work = task.work.unwrap_or(0.0);
        for (ci, c) in self.candidates.iter().enumerate() {
            if !filter.admits(task, c) {
                continue;
            }
            let i = self.candidate_nodes[ci];
            let (truth, state) = (&self.cluster.nodes[i], &self.nodes[i]);
            let view = View {
                speed: truth.speed_for(task.kind) * state.drift,
                success: if state.up { 1.0 - truth.p_loss } else { 0.0 },
                fetch_s: truth.latency_s + task.input_bytes as f64 / truth.bandwidth_bps,
            };
            top.offer(rule.predict(work, task.deadline_s, c, view).score, ci);
        }
        finish(task, &self.candidates, &top, &filter)
    }

    /// The oracle's timeout: it knows the run's nominal duration, so it waits exactly long enough for the
    /// slowest noise draw (+20%).
    fn oracle_timeout(&self, task: &Task, node: usize) -> f64 {
        let truth = &self.cluster.nodes[node];
        let fetch = truth.latency_s + task.input_bytes as f64 / truth.bandwidth_bps;
        let run = task.work.unwrap_or(0.0) / (truth.speed_for(task.kind) * self.nodes[node].drift);
        10.0 + 1.25 * (fetch + run)
    }

    fn assign(&mut self, t: usize, node: usize, timeout: f64, driver: &mut Driver<'_>) {
        let attempt = self.tasks[t].attempts;
        let run = self.runs.len();
        self.runs.push(Run {
            task: t,
            node,
            attempt,
            timeout,
            started: 0.0,
            duration: 0.0,
            lost: false,
            live: true,
        });
        self.tasks[t].live_runs += 1;
        let n = &mut self.nodes[node];
        // A down node's queue is frozen, not drained: what is sent there waits until the failure is noticed.
        n.queue.push_back(run);
        n.queued_work += self.specs[t].work;
        if n.running.is_none() {
            self.start_next(node, driver);
        }
    }

    fn start_next(&mut self, node: usize, driver: &mut Driver<'_>) {
        let n = &mut self.nodes[node];
        if !n.up || n.running.is_some() {
            return;
        }
        let Some(run) = n.queue.pop_front() else { return };
        let r = &self.runs[run];
        let spec = &self.specs[r.task];
        n.queued_work = (n.queued_work - spec.work).max(0.0);
        let truth = &self.cluster.nodes[node];
        let (t, attempt) = (r.task as u64, u64::from(r.attempt));
        let noise = 0.8 + 0.4 * hash_unit(&[self.seed, t, attempt, 0x5E]);
        let fetch = truth.latency_s + spec.input_bytes as f64 / truth.bandwidth_bps;
        let run_s = spec.work / (truth.speed_for(spec.kind) * n.drift) * noise;
        let lost = hash_unit(&[self.seed, t, attempt, node as u64, 0x10]) < truth.p_loss;
        let duration = fetch + run_s;
        n.running = Some(run);
        let epoch = n.epoch;
        let r = &mut self.runs[run];
        r.started = self.now;
        r.duration = duration;
        r.lost = lost;
        let timeout = r.timeout;
        observe(driver, &Event::Started { task: TaskId(t), provider: pid(node), at: self.now });
        self.push(self.now + duration, Ev::Finish { node, run, epoch });
        // The requester's clock on this run: if no result has arrived by then, it is presumed lost.
        self.push(self.now + timeout, Ev::Timeout(run));
    }

    fn finish(&mut self, node: usize, run: usize, epoch: u32, driver: &mut Driver<'_>) {
        if self.nodes[node].epoch != epoch || self.nodes[node].running != Some(run) {
            return;
        }
        self.nodes[node].running = None;
        let r = self.runs[run].clone();
        self.busy_s += r.duration;
        let spec = &self.specs[r.task];
        if r.lost {
            // The node moves on; the requester only learns of it when the timeout fires.
            self.wasted_s += r.duration;
        } else if r.live || self.tasks[r.task].done.is_none() {
            // Delivered (possibly after its timeout: a late result is still a result).
            if r.live {
                self.runs[run].live = false;
                self.tasks[r.task].live_runs -= 1;
            }
            let fetch = self.cluster.nodes[node].latency_s
                + spec.input_bytes as f64 / self.cluster.nodes[node].bandwidth_bps;
            observe(
                driver,
                &Event::Finished {
                    task: TaskId(r.task as u64),
                    provider: pid(node),
                    kind: spec.kind,
                    work: Some(spec.work),
                    input_bytes: spec.input_bytes,
                    fetch_s: fetch,
                    run_s: r.duration - fetch,
                    at: self.now,
                },
            );
            if self.tasks[r.task].done.is_none() {
                self.tasks[r.task].done = Some(self.now);
                self.remaining -= 1;
            } else {
                self.wasted_s += r.duration;
            }
        } else {
            self.wasted_s += r.duration;
        }
        self.start_next(node, driver);
    }
}

/// Per task, the best possible time from arrival to result for a scheduler that cannot see the future: its
/// work at the fastest true speed for its kind, plus the fastest fetch anywhere.
pub fn ideal_times(cluster: &Cluster, specs: &[TaskSpec]) -> Vec<f64> {
    let max_speed = [cluster.max_speed(crate::Kind::CPU), cluster.max_speed(crate::Kind::GPU)];
    let fastest_link = cluster
        .nodes
        .iter()
        .map(|n| (n.latency_s, n.bandwidth_bps))
        .fold((f64::INFINITY, 0.0), |a, b| (a.0.min(b.0), if b.1 > a.1 { b.1 } else { a.1 }));
    specs
        .iter()
        .map(|s| {
            s.work / max_speed[usize::from(s.kind.0).min(1)]
                + fastest_link.0
                + s.input_bytes as f64 / fastest_link.1.max(1.0)
        })
        .collect()
}

fn pid(node: usize) -> ProviderId {
    ProviderId(node as u64)
}

fn observe(driver: &mut Driver<'_>, event: &Event) {
    if let Driver::Policy(p) = driver {
        p.observe(event);
    }
}
