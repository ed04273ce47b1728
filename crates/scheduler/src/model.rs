//! The online performance model: per provider, per program kind, a Bayesian estimate of log-speed; per provider
//! a reliability estimate and a network-slowness factor. Every update is O(1).
//!
//! Speed. An observation is `y = ln(work / run_s)`. The prior mean for a provider is `ln(benchmark)` plus a
//! learned offset for its group (kind × has-GPU): the population-level lesson "advertised GPU boxes run
//! GPU-capable programs ~5× their CPU benchmark" transfers to providers never seen. The posterior is the
//! conjugate normal update with known observation noise, computed from two numbers per (provider, kind): an
//! exponentially-aged count and mean of observations. Ageing (a half-life in the caller's clock) keeps the
//! estimate following slow drift, and caps certainty so that a provider that slows down is noticed.
//!
//! Reliability. A Beta posterior on "a run delivers", from successes and failures/timeouts, aged per event.
//!
//! Network. An aged mean of `ln(observed fetch / advertised fetch)`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::rng::{Rng, splitmix};
use crate::rule::{View, advertised_fetch_s};
use crate::types::{Candidate, Event, Kind, ProviderId};

/// Hashes provider ids with one SplitMix64 round: ids are already well spread, and SipHash would dominate the
/// cost of a placement.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        splitmix(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b) ^ (self.0 >> 56);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

pub(crate) type IdMap<V> = HashMap<ProviderId, V, BuildHasherDefault<IdHasher>>;

/// The model's knobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Standard deviation of one log-speed observation (run-to-run noise plus drift between observations).
    pub obs_sd: f64,
    /// Standard deviation of the prior on log-speed around the advertised benchmark plus group offset.
    pub prior_sd: f64,
    /// Evidence loses half its weight after this many seconds, so estimates follow drift.
    pub half_life_s: f64,
    /// The most observations' worth of certainty kept, so a change is noticed within a few runs.
    pub max_evidence: f64,
    /// Prior successes and failures of the reliability estimate (Beta(a, b)).
    pub prior_success: f64,
    /// See `prior_success`.
    pub prior_failure: f64,
    /// Per-event ageing of the reliability counts (1 = never forget).
    pub reliability_decay: f64,
    /// Multiplies the posterior spread when sampling: 0 is greedy, 1 is plain Thompson sampling. Plain
    /// sampling over hundreds of providers per decision explores too much (some uncertain provider nearly
    /// always samples fast); a tempered posterior (0.3, tuned on seeds 1–2, reported on others) keeps the
    /// exploration of new providers while costing little once they are known.
    pub explore: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            obs_sd: 0.25,
            prior_sd: 1.0,
            half_life_s: 6.0 * 3600.0,
            max_evidence: 12.0,
            prior_success: 9.0,
            prior_failure: 0.5,
            reliability_decay: 0.98,
            explore: 0.3,
        }
    }
}

/// Aged count and mean of log-speed observations.
#[derive(Clone, Copy, Debug, Default)]
struct Evidence {
    n: f64,
    mean: f64,
    at: f64,
}

#[derive(Clone, Debug)]
struct ProviderState {
    speed: [Evidence; Kind::COUNT],
    ok: f64,
    bad: f64,
    /// What the provider advertised when last assigned work: observations are compared with it.
    ln_bench: f64,
    gpu: bool,
    adv_latency_s: f64,
    adv_bandwidth_bps: f64,
    net: Evidence,
}

impl ProviderState {
    fn unknown() -> Self {
        Self {
            speed: [Evidence::default(); Kind::COUNT],
            ok: 0.0,
            bad: 0.0,
            ln_bench: f64::NAN,
            gpu: false,
            adv_latency_s: 0.0,
            adv_bandwidth_bps: 0.0,
            net: Evidence::default(),
        }
    }

    fn new(c: &Candidate) -> Self {
        Self {
            speed: [Evidence::default(); Kind::COUNT],
            ok: 0.0,
            bad: 0.0,
            ln_bench: c.benchmark.max(1e-6).ln(),
            gpu: c.caps.gpu,
            adv_latency_s: c.latency_s,
            adv_bandwidth_bps: c.bandwidth_bps,
            net: Evidence::default(),
        }
    }
}

/// The population-level offset of real over advertised log-speed, per (kind, has-GPU).
#[derive(Clone, Copy, Debug, Default)]
struct Offset {
    n: f64,
    mean: f64,
}

/// How many best-known providers per kind are indexed for the shortlist on very large candidate sets.
pub(crate) const ELITES: usize = 48;
const BLOOM_WORDS: usize = 32;

/// The best-known providers of one kind, with a 2048-bit Bloom filter so a scan can skip others in ~1 ns.
#[derive(Clone, Debug)]
pub(crate) struct Elites {
    members: Vec<(ProviderId, f64)>,
    /// Where each member was last seen in a candidate slice (callers pass the registry in a stable order, so
    /// the hint usually holds and no scan is needed); `usize::MAX` when unknown.
    hints: Vec<usize>,
    /// Membership changed since the hints were last refreshed.
    stale: bool,
    bloom: [u64; BLOOM_WORDS],
}

impl Elites {
    fn new() -> Self {
        Self {
            members: Vec::with_capacity(ELITES + 1),
            hints: Vec::with_capacity(ELITES + 1),
            stale: true,
            bloom: [0; BLOOM_WORDS],
        }
    }

    #[inline]
    fn bit(id: ProviderId) -> (usize, u64) {
        let h = splitmix(id.0);
        (((h >> 6) as usize) % BLOOM_WORDS, 1u64 << (h & 63))
    }

    /// Whether `id` may be an elite (no false negatives).
    #[inline]
    pub(crate) fn may_contain(&self, id: ProviderId) -> bool {
        let (w, b) = Self::bit(id);
        self.bloom[w] & b != 0
    }

    pub(crate) fn contains(&self, id: ProviderId) -> bool {
        self.members.iter().any(|&(m, _)| m == id)
    }

    /// The members with their position hints.
    pub(crate) fn hinted(&self) -> impl Iterator<Item = (ProviderId, usize)> + '_ {
        self.members.iter().zip(&self.hints).map(|(&(id, _), &h)| (id, h))
    }

    /// Whether membership changed since the hints were refreshed.
    pub(crate) fn stale(&self) -> bool {
        self.stale
    }

    /// Records where members were found in a full scan (`usize::MAX` for absent ones).
    pub(crate) fn set_hints(&mut self, found: &[(ProviderId, usize)]) {
        for (k, &(id, _)) in self.members.iter().enumerate() {
            self.hints[k] = found.iter().find(|(f, _)| *f == id).map_or(usize::MAX, |&(_, i)| i);
        }
        self.stale = false;
    }

    fn update(&mut self, id: ProviderId, value: f64) {
        if let Some(pos) = self.members.iter().position(|&(m, _)| m == id) {
            self.members[pos].1 = value;
            return;
        } else if self.members.len() < ELITES {
            self.members.push((id, value));
            self.hints.push(usize::MAX);
        } else {
            let (worst, &(_, v)) = self
                .members
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
                .expect("the elite list is full, so not empty");
            if value <= v {
                return;
            }
            self.members[worst] = (id, value);
            self.hints[worst] = usize::MAX;
        }
        self.stale = true;
        self.bloom = [0; BLOOM_WORDS];
        for &(m, _) in &self.members {
            let (w, b) = Self::bit(m);
            self.bloom[w] |= b;
        }
    }
}

/// The learned performance model.
#[derive(Clone, Debug)]
pub struct Model {
    cfg: ModelConfig,
    providers: IdMap<ProviderState>,
    offsets: [[Offset; 2]; Kind::COUNT],
    mean_work: [Offset; Kind::COUNT],
    elites: Vec<Elites>,
    now: f64,
}

/// What the model currently believes about one provider and kind (for inspection and tests).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Belief {
    /// Posterior mean of the speed (work units per second), `exp` of the log-speed mean.
    pub speed: f64,
    /// Posterior standard deviation of the log-speed.
    pub log_sd: f64,
    /// Posterior mean probability that a run delivers.
    pub success: f64,
    /// Aged number of speed observations behind the estimate.
    pub evidence: f64,
}

impl Model {
    /// An empty model.
    pub fn new(cfg: ModelConfig) -> Self {
        Self {
            cfg,
            providers: IdMap::default(),
            offsets: [[Offset::default(); 2]; Kind::COUNT],
            mean_work: [Offset::default(); Kind::COUNT],
            elites: (0..Kind::COUNT).map(|_| Elites::new()).collect(),
            now: 0.0,
        }
    }

    /// The model's knobs.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// How many providers it has state for.
    pub fn providers(&self) -> usize {
        self.providers.len()
    }

    fn aged(&self, e: &Evidence) -> f64 {
        if e.n == 0.0 {
            return 0.0;
        }
        let dt = (self.now - e.at).max(0.0);
        e.n * (-dt * std::f64::consts::LN_2 / self.cfg.half_life_s).exp()
    }

    /// Posterior (mean, sd) of log-speed of `c` for `kind`.
    #[inline]
    fn log_speed(&self, c: &Candidate, kind: Kind, state: Option<&ProviderState>) -> (f64, f64) {
        let k = kind.slot();
        let offset = self.offsets[k][usize::from(c.caps.gpu)].mean;
        let prior_mean = c.benchmark.max(1e-6).ln() + offset;
        let prior_prec = 1.0 / (self.cfg.prior_sd * self.cfg.prior_sd);
        let obs_prec = 1.0 / (self.cfg.obs_sd * self.cfg.obs_sd);
        let (n, mean) = match state {
            Some(s) => (self.aged(&s.speed[k]), s.speed[k].mean),
            None => (0.0, 0.0),
        };
        let prec = prior_prec + n * obs_prec;
        ((prior_mean * prior_prec + n * mean * obs_prec) / prec, prec.sqrt().recip())
    }

    fn success(&self, state: Option<&ProviderState>) -> f64 {
        let (ok, bad) = state.map_or((0.0, 0.0), |s| (s.ok, s.bad));
        let a = self.cfg.prior_success + ok;
        a / (a + self.cfg.prior_failure + bad)
    }

    /// The mean belief about `c` for `kind`.
    pub fn belief(&self, c: &Candidate, kind: Kind) -> Belief {
        let state = self.providers.get(&c.id);
        let (mean, sd) = self.log_speed(c, kind, state);
        Belief {
            speed: mean.exp(),
            log_sd: sd,
            success: self.success(state),
            evidence: state.map_or(0.0, |s| self.aged(&s.speed[kind.slot()])),
        }
    }

    /// A view of `c` for a task: a Thompson sample of its speed (spread scaled by `explore`), its mean
    /// reliability, and its predicted fetch time.
    #[inline]
    pub(crate) fn sample(&self, c: &Candidate, kind: Kind, input_bytes: u64, rng: &mut Rng) -> View {
        let state = self.providers.get(&c.id);
        let (mean, sd) = self.log_speed(c, kind, state);
        let explore = self.cfg.explore;
        let ln_speed = if explore > 0.0 { mean + explore * sd * rng.normal() } else { mean };
        let net = state.map_or(0.0, |s| if s.net.n > 0.0 { s.net.mean } else { 0.0 });
        View {
            speed: ln_speed.exp(),
            success: self.success(state),
            fetch_s: advertised_fetch_s(c, input_bytes) * net.exp(),
        }
    }

    /// The mean work of tasks of `kind` seen so far (used when a task does not say), or `fallback`.
    pub fn mean_work(&self, kind: Kind, fallback: f64) -> f64 {
        let w = self.mean_work[kind.slot()];
        if w.n > 0.0 { w.mean } else { fallback }
    }

    pub(crate) fn elites(&self, kind: Kind) -> &Elites {
        &self.elites[kind.slot()]
    }

    pub(crate) fn elites_mut(&mut self, kind: Kind) -> &mut Elites {
        &mut self.elites[kind.slot()]
    }

    /// Remembers what `c` advertised when it is given work, so later observations can be compared with it.
    pub(crate) fn assigned(&mut self, c: &Candidate) {
        let s = self.providers.entry(c.id).or_insert_with(|| ProviderState::new(c));
        s.ln_bench = c.benchmark.max(1e-6).ln();
        s.gpu = c.caps.gpu;
        s.adv_latency_s = c.latency_s;
        s.adv_bandwidth_bps = c.bandwidth_bps;
    }

    /// Learns from one event. O(1) except for the elite index of the kind (O(48)).
    pub fn observe(&mut self, event: &Event) {
        match *event {
            Event::Started { at, .. } => self.now = self.now.max(at),
            Event::Finished { provider, kind, work, input_bytes, fetch_s, run_s, at, .. } => {
                self.now = self.now.max(at);
                let now = self.now;
                let cfg = self.cfg.clone();
                let k = kind.slot();
                if let Some(w) = work.filter(|w| *w > 0.0) {
                    let mw = &mut self.mean_work[k];
                    mw.n = (mw.n + 1.0).min(1000.0);
                    mw.mean += (w - mw.mean) / mw.n;
                }
                let n_aged = self.providers.get(&provider).map_or(0.0, |s| self.aged(&s.speed[k]));
                // A provider we never assigned to still teaches us its speed; without its advertised specs
                // it cannot teach the population offset (its benchmark is unknown: NaN).
                let s = self.providers.entry(provider).or_insert_with(ProviderState::unknown);
                s.ok = s.ok * cfg.reliability_decay + 1.0;
                s.bad *= cfg.reliability_decay;
                let predicted_fetch = if s.adv_bandwidth_bps > 0.0 {
                    s.adv_latency_s + input_bytes as f64 / s.adv_bandwidth_bps
                } else {
                    f64::NAN
                };
                if predicted_fetch > 0.0 && predicted_fetch.is_finite() && fetch_s > 0.0 {
                    let y = (fetch_s / predicted_fetch).ln();
                    s.net.n = (s.net.n + 1.0).min(cfg.max_evidence);
                    s.net.mean += (y - s.net.mean) / s.net.n;
                }
                let (Some(w), true) = (work.filter(|w| *w > 0.0), run_s > 0.0) else { return };
                let y = (w / run_s).ln();
                let e = &mut s.speed[k];
                let n = (n_aged + 1.0).min(cfg.max_evidence);
                e.mean = if n_aged == 0.0 { y } else { e.mean + (y - e.mean) / n.max(1.0) };
                e.n = n;
                e.at = now;
                let value = e.mean;
                if s.ln_bench.is_finite() {
                    let off = &mut self.offsets[k][usize::from(s.gpu)];
                    off.n = (off.n + 1.0).min(500.0);
                    off.mean += (y - s.ln_bench - off.mean) / off.n;
                }
                self.elites[k].update(provider, value);
            }
            Event::Failed { provider, at, .. } | Event::TimedOut { provider, at, .. } => {
                self.now = self.now.max(at);
                let decay = self.cfg.reliability_decay;
                if let Some(s) = self.providers.get_mut(&provider) {
                    s.bad = s.bad * decay + 1.0;
                    s.ok *= decay;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TaskId;

    fn finished(p: u64, kind: Kind, work: f64, run_s: f64, at: f64) -> Event {
        Event::Finished {
            task: TaskId(0),
            provider: ProviderId(p),
            kind,
            work: Some(work),
            input_bytes: 0,
            fetch_s: 0.0,
            run_s,
            at,
        }
    }

    #[test]
    fn converges_to_the_true_speed_despite_a_wrong_benchmark() {
        let mut m = Model::new(ModelConfig::default());
        let mut rng = Rng::seed(5);
        // Advertises 1, really runs at 7 with ±20% noise.
        let c = Candidate::new(1, 1.0);
        m.assigned(&c);
        for i in 0..40 {
            let noise = rng.range(0.8, 1.2);
            m.observe(&finished(1, Kind::CPU, 100.0, 100.0 / 7.0 * noise, f64::from(i)));
        }
        let b = m.belief(&c, Kind::CPU);
        assert!((b.speed / 7.0 - 1.0).abs() < 0.1, "learned {}", b.speed);
        assert!(b.log_sd < 0.1);
        // Evidence is capped (so drift stays visible), not unbounded.
        assert!((b.evidence - m.config().max_evidence).abs() < 0.5, "evidence {}", b.evidence);
    }

    #[test]
    fn speed_is_per_kind_and_offsets_transfer_to_new_providers() {
        let mut m = Model::new(ModelConfig::default());
        let mut gpu_box = Candidate::new(1, 2.0);
        gpu_box.caps.gpu = true;
        m.assigned(&gpu_box);
        for i in 0..30 {
            m.observe(&finished(1, Kind::CPU, 100.0, 50.0, f64::from(i)));
            m.observe(&finished(1, Kind::GPU, 100.0, 10.0, f64::from(i)));
        }
        assert!((m.belief(&gpu_box, Kind::CPU).speed - 2.0).abs() < 0.2);
        assert!((m.belief(&gpu_box, Kind::GPU).speed - 10.0).abs() < 1.0);
        // A never-seen GPU box inherits the learned "GPU kind runs 5x the benchmark" offset.
        let mut other = Candidate::new(2, 3.0);
        other.caps.gpu = true;
        let b = m.belief(&other, Kind::GPU);
        assert!(b.speed > 10.0 && b.speed < 20.0, "prior from group offset: {}", b.speed);
    }

    #[test]
    fn follows_drift_and_tracks_reliability() {
        let mut m = Model::new(ModelConfig::default());
        let c = Candidate::new(1, 1.0);
        m.assigned(&c);
        for i in 0..30 {
            m.observe(&finished(1, Kind::CPU, 10.0, 1.0, f64::from(i)));
        }
        // The provider slows to speed 2; a handful of runs must move the estimate most of the way.
        for i in 0..15 {
            m.observe(&finished(1, Kind::CPU, 10.0, 5.0, 100.0 + f64::from(i)));
        }
        let s = m.belief(&c, Kind::CPU).speed;
        assert!(s < 4.0, "still believes {s}");
        let before = m.belief(&c, Kind::CPU).success;
        for _ in 0..10 {
            m.observe(&Event::TimedOut { task: TaskId(1), provider: ProviderId(1), at: 200.0 });
        }
        let after = m.belief(&c, Kind::CPU).success;
        assert!(before > 0.95 && after < before - 0.15, "{before} -> {after}");
        // A provider that only ever fails is believed to fail more often than not.
        let flaky = Candidate::new(2, 1.0);
        m.assigned(&flaky);
        for _ in 0..10 {
            m.observe(&Event::Failed { task: TaskId(2), provider: ProviderId(2), at: 300.0 });
        }
        assert!(m.belief(&flaky, Kind::CPU).success < 0.5);
    }
}
