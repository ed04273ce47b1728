//! Ocean AI's scheduler: where each task runs.
//!
//! It owns the placement policy the node calls, the baselines it is measured against, and the discrete-event
//! simulator that runs *the same policy code* on a hidden cluster model to measure it.
//!
//! # Data flow
//!
//! ```text
//!  registry offers + telemetry ──► Candidate { caps, benchmark, stake, queue, latency, price }
//!                                           │
//!  task { kind, work, input, needs, r, deadline, price cap } ──► Policy::place ──► Placement
//!                                           │          (r distinct providers | Reason)
//!  node events: Started / Finished / Failed / TimedOut ──► Policy::observe ──► Model (O(1) update)
//! ```
//!
//! The production policy is [`Scheduler`]. Its [`Model`] keeps, per provider and program [`Kind`], a Bayesian
//! estimate of log-speed whose prior is the advertised benchmark corrected by a learned population offset,
//! plus a reliability estimate and a network-slowness factor; evidence ages so that drifting speeds are
//! followed. To place a task it draws a (tempered) Thompson sample of each candidate's speed, predicts the
//! completion time with the shared [`Rule`] (fetch + queue drain + run, inflated by expected retries and
//! deadline lateness), and keeps the r best. Exploration falls out of the sampling: uncertain providers
//! sometimes sample fast and get tried. [`Policy::timeout_s`] gives each run a timeout from the model (tight
//! on well-known providers), after which the caller reports [`Event::TimedOut`] and places the task again.
//! Above [`Config::full_scan_limit`] candidates only a shortlist is scored (the best-known providers of the
//! kind, found by position hints or a Bloom-filtered pass, plus random candidates), which keeps a decision
//! with 10,000 providers near 12 µs (see `benches/place.rs`).
//!
//! Hard requirements (memory, cores, GPU, stake, price cap) are filters; when nothing qualifies, the
//! placement says why as a typed, serializable [`Reason`] ("no provider with 16384 MiB of memory").
//! Rebalancing is the caller's loop: on `Failed` or `TimedOut` it reports the event and calls `place` again;
//! the model has already lowered that provider's reliability.
//!
//! The baselines ([`baseline`]) implement the same [`Policy`] trait. The simulator ([`sim`]) drives any
//! policy through its event loop; its speed-oracle is the same [`Rule`] fed the hidden truth.
//!
//! # Example
//!
//! ```
//! use ocean_scheduler::{Candidate, Config, Event, Kind, Placement, Policy, Scheduler, Task};
//!
//! let mut scheduler = Scheduler::new(Config::default(), 42);
//! let laptop = Candidate::new(1, 1.0);
//! let server = Candidate::new(2, 1.0); // advertises like a laptop ...
//! // ... but runs 6x faster: after a few observations the model knows it.
//! for i in 0..10 {
//!     scheduler.observe(&Event::Finished {
//!         task: ocean_scheduler::TaskId(i),
//!         provider: server.id,
//!         kind: Kind::CPU,
//!         work: Some(60.0),
//!         input_bytes: 0,
//!         fetch_s: 0.0,
//!         run_s: 10.0,
//!         at: i as f64,
//!     });
//! }
//! let task = Task::new(100, 60.0);
//! let placement = scheduler.place(&task, &[laptop.clone(), server.clone()]);
//! assert_eq!(placement.providers(), &[server.id]);
//!
//! // A requirement nobody meets comes back as a machine-readable reason.
//! let mut big = Task::new(101, 60.0);
//! big.needs.memory_mib = 64 * 1024;
//! match scheduler.place(&big, &[laptop, server]) {
//!     Placement::NotPlaced { reason } => assert!(reason.to_string().starts_with("no provider with 65536 MiB")),
//!     other => panic!("placed {other:?}"),
//! }
//! ```

pub mod baseline;
mod model;
mod placement;
pub mod plot;
mod rng;
mod rule;
mod scheduler;
pub mod sim;
mod types;

pub use model::{Belief, Model, ModelConfig};
pub use placement::{Placement, Reason};
pub use rng::Rng;
pub use rule::{Prediction, Rule, View};
pub use scheduler::{Config, Scheduler};
pub use types::{Candidate, Event, Kind, ProviderId, Resources, Task, TaskId};

/// A placement policy: what the node calls. Implementations must be cheap per call (the learned one is O(1)
/// per event and O(candidates) with a small constant per placement, or a shortlist for very large sets).
pub trait Policy {
    /// A stable, snake_case name (used in reports).
    fn name(&self) -> &'static str;
    /// Learns from an event about a task it placed.
    fn observe(&mut self, event: &Event);
    /// Chooses `task.replicas` distinct providers among `candidates`, or says why it cannot.
    fn place(&mut self, task: &Task, candidates: &[Candidate]) -> Placement;
    /// Seconds after a run of `task` starts on `provider` after which, with no result, the caller should
    /// presume it lost, report [`Event::TimedOut`] and place the task again. `None`: the caller's default.
    fn timeout_s(&self, task: &Task, provider: &Candidate) -> Option<f64> {
        let _ = (task, provider);
        None
    }
}
