//! Workloads: the Lublin–Feitelson parallel workload model, Poisson arrivals with bounded-Pareto sizes, and the
//! homogeneous control.
//!
//! Lublin–Feitelson (U. Lublin and D. G. Feitelson, "The workload on parallel supercomputers: modeling the
//! characteristics of rigid jobs", JPDC 63(11), 2003) is implemented from the parameters the authors published
//! with their reference generator (`m_lublin99.c`), with interactive and batch jobs modelled separately:
//! job width from a two-stage uniform on log2(width) with a bias to powers of two, log-runtime from a
//! hyper-gamma whose mixing weight falls with width, and arrivals from a gamma inter-arrival time paced by a
//! gamma-shaped daily cycle of 48 half-hour buckets. A job becomes one task on one provider: its work is
//! its runtime (speed-1 seconds, the model's nodes being the reference) and its width becomes a need of
//! min(width, 32) cores, so wide jobs can only go to servers. The time axis is then scaled so that the
//! offered work is the requested fraction of the cluster's availability-weighted capacity.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;
use crate::sim::cluster::Cluster;
use crate::types::Kind;

/// Which workload to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Poisson arrivals, bounded-Pareto sizes, heterogeneous cluster.
    Pareto,
    /// Lublin–Feitelson, heterogeneous cluster.
    Lublin,
    /// Poisson arrivals, bounded-Pareto sizes, homogeneous cluster (the control).
    Homogeneous,
}

/// One task as the workload defines it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Arrival time, seconds.
    pub arrival: f64,
    /// Work, speed-1 seconds.
    pub work: f64,
    /// Program kind.
    pub kind: Kind,
    /// Memory needed, MiB.
    pub memory_mib: u64,
    /// Cores needed.
    pub cores: u32,
    /// Input size, bytes.
    pub input_bytes: u64,
    /// Seconds after arrival by which it should complete.
    pub deadline_s: f64,
}

/// Share of tasks that are GPU-capable programs.
pub const GPU_SHARE: f64 = 0.3;

/// Bounded Pareto sizes: shape α, bounds [L, H] in speed-1 seconds.
pub const PARETO_ALPHA: f64 = 1.5;
/// Lower bound of the bounded Pareto.
pub const PARETO_LOW: f64 = 60.0;
/// Upper bound of the bounded Pareto.
pub const PARETO_HIGH: f64 = 86_400.0;

/// The mean of a bounded Pareto(α, L, H).
pub fn bounded_pareto_mean(alpha: f64, low: f64, high: f64) -> f64 {
    let norm = low.powf(alpha) / (1.0 - (low / high).powf(alpha));
    norm * alpha / (alpha - 1.0) * (low.powf(1.0 - alpha) - high.powf(1.0 - alpha))
}

fn bounded_pareto(rng: &mut Rng, alpha: f64, low: f64, high: f64) -> f64 {
    let u = rng.unit();
    let ratio = (low / high).powf(alpha);
    low / (1.0 - u * (1.0 - ratio)).powf(1.0 / alpha)
}

/// Generates `n` tasks of `workload` offering `load` × the capacity of `cluster`.
pub fn generate(workload: Workload, load: f64, cluster: &Cluster, n: usize, seed: u64) -> Vec<TaskSpec> {
    let capacity = cluster.capacity(GPU_SHARE);
    let heterogeneous = workload != Workload::Homogeneous;
    let mut rng = Rng::stream(seed, &[0x3D_u64]);
    let mut tasks: Vec<TaskSpec> = match workload {
        Workload::Pareto | Workload::Homogeneous => {
            let rate = load * capacity / bounded_pareto_mean(PARETO_ALPHA, PARETO_LOW, PARETO_HIGH);
            let mut t = 0.0;
            (0..n)
                .map(|_| {
                    t += rng.exp() / rate;
                    let work = bounded_pareto(&mut rng, PARETO_ALPHA, PARETO_LOW, PARETO_HIGH);
                    spec(&mut rng, t, work, 1, heterogeneous)
                })
                .collect()
        }
        Workload::Lublin => {
            let mut lf = Lublin::new();
            let raw: Vec<(f64, f64, f64)> = (0..n).map(|_| lf.next_job(&mut rng)).collect();
            let total: f64 = raw.iter().map(|&(_, _, runtime)| runtime).sum();
            let span = raw.last().map_or(1.0, |&(a, _, _)| a).max(1.0);
            // Scale time so that offered work / (capacity × span) = load.
            let scale = total / (capacity * load) / span;
            raw.into_iter()
                .map(|(a, width, runtime)| {
                    spec(&mut rng, a * scale, runtime, (width as u32).min(LUBLIN_MAX_CORES), heterogeneous)
                })
                .collect()
        }
    };
    tasks.sort_by(|a, b| a.arrival.total_cmp(&b.arrival));
    tasks
}

/// A Lublin–Feitelson job of width w needs min(w, this) cores on one provider.
pub const LUBLIN_MAX_CORES: u32 = 32;

fn spec(rng: &mut Rng, arrival: f64, work: f64, cores: u32, heterogeneous: bool) -> TaskSpec {
    let kind = if rng.unit() < GPU_SHARE { Kind::GPU } else { Kind::CPU };
    let memory_mib = if heterogeneous {
        let u = rng.unit();
        if u < 0.90 {
            2048
        } else if u < 0.98 {
            12 * 1024
        } else {
            48 * 1024
        }
    } else {
        2048
    };
    // Median 20 MB of input, lognormal.
    let input_bytes = (20e6 * rng.normal().exp()) as u64;
    TaskSpec { arrival, work, kind, memory_mib, cores, input_bytes, deadline_s: 60.0 + 2.0 * work }
}

/// Published parameters of the Lublin–Feitelson model, `[interactive, batch]`.
mod lf {
    pub(super) const SERIAL_PROB: [f64; 2] = [0.1541, 0.2927];
    pub(super) const POW2_PROB: [f64; 2] = [0.625, 0.6686];
    pub(super) const ULOW: [f64; 2] = [1.0, 1.2];
    pub(super) const UMED: [f64; 2] = [3.0, 5.0];
    pub(super) const UHI: [f64; 2] = [5.5, 7.0];
    pub(super) const UPROB: [f64; 2] = [0.705, 0.875];
    pub(super) const A1: [f64; 2] = [3.8351, 6.57];
    pub(super) const B1: [f64; 2] = [0.6605, 0.823];
    pub(super) const A2: [f64; 2] = [7.073, 639.1];
    pub(super) const B2: [f64; 2] = [0.6856, 0.0156];
    pub(super) const PA: [f64; 2] = [-0.0118, -0.003];
    pub(super) const PB: [f64; 2] = [0.9156, 0.6986];
    // Inter-arrival gamma at rush hours, with the all-hours ratio (ARAR) folded into the shape.
    pub(super) const AARR: [f64; 2] = [6.5510 * 0.9797, 6.0415 * 1.0519];
    pub(super) const BARR: [f64; 2] = [0.6621, 0.8531];
    // Daily cycle: the gamma cdf over half-hour buckets.
    pub(super) const ANUM: [f64; 2] = [8.9186, 6.1271];
    pub(super) const BNUM: [f64; 2] = [3.6680, 5.2740];
    /// log(runtime) above this is redrawn (about two days).
    pub(super) const MAX_LOG_RUNTIME: f64 = 12.0;
    /// log(inter-arrival) above this is redrawn (about five days).
    pub(super) const MAX_LOG_ARRIVAL: f64 = 13.0;
    pub(super) const BUCKETS: usize = 48;
    pub(super) const SECONDS_IN_BUCKET: f64 = 86_400.0 / BUCKETS as f64;
    /// The model's day starts at 11:00 (buckets are rotated so).
    pub(super) const CYCLIC_DAY_START: usize = 11;
}

/// The regularized lower incomplete gamma P(a, x): series below a+1, continued fraction above.
fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let ln_prefix = -x + a * x.ln() - crate::sim::cluster::gamma_fn(a).ln();
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term < sum * 1e-12 {
                break;
            }
        }
        sum * ln_prefix.exp()
    } else {
        // Lentz's method for the continued fraction of Q(a, x).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-12 {
                break;
            }
        }
        1.0 - ln_prefix.exp() * h
    }
}

/// The generator's state: per job type, the time of its next arrival and its place in the daily cycle.
struct Lublin {
    weights: [[f64; lf::BUCKETS]; 2],
    bucket: [usize; 2],
    points: [f64; 2],
    remainder: [f64; 2],
    next_at: [f64; 2],
    primed: bool,
}

impl Lublin {
    fn new() -> Self {
        let mut weights = [[0.0; lf::BUCKETS]; 2];
        for (t, w) in weights.iter_mut().enumerate() {
            for i in lf::CYCLIC_DAY_START..lf::BUCKETS + lf::CYCLIC_DAY_START {
                let idx = (i - 1) % lf::BUCKETS;
                let x = i as f64;
                w[idx] = gamma_p(lf::ANUM[t], (x + 0.5) / lf::BNUM[t])
                    - gamma_p(lf::ANUM[t], (x - 0.5) / lf::BNUM[t]);
            }
            let mean = w.iter().sum::<f64>() / lf::BUCKETS as f64;
            for v in w.iter_mut() {
                *v /= mean;
            }
        }
        Self {
            weights,
            bucket: [0; 2],
            points: [0.0; 2],
            remainder: [0.0; 2],
            next_at: [0.0; 2],
            primed: false,
        }
    }

    /// Advances type `t`'s next arrival: a gamma-distributed log inter-arrival, paid out in "points" across
    /// the day's buckets, so busy hours receive more arrivals.
    fn advance(&mut self, t: usize, rng: &mut Rng) {
        let gam = loop {
            let g = rng.gamma(lf::AARR[t], lf::BARR[t]);
            if g <= lf::MAX_LOG_ARRIVAL {
                break g;
            }
        };
        self.points[t] += gam.exp() / lf::SECONDS_IN_BUCKET;
        let mut bucket = self.bucket[t];
        let mut next = 0.0;
        while self.points[t] > self.weights[t][bucket] {
            self.points[t] -= self.weights[t][bucket];
            bucket = (bucket + 1) % lf::BUCKETS;
            next += lf::SECONDS_IN_BUCKET;
        }
        let remainder = self.points[t] / self.weights[t][bucket];
        next += lf::SECONDS_IN_BUCKET * (remainder - self.remainder[t]);
        self.remainder[t] = remainder;
        self.next_at[t] += next;
        self.bucket[t] = bucket;
    }

    /// The next job: (arrival seconds, width, runtime seconds).
    fn next_job(&mut self, rng: &mut Rng) -> (f64, f64, f64) {
        if !self.primed {
            self.advance(0, rng);
            self.advance(1, rng);
            self.primed = true;
        }
        let t = if self.next_at[1] < self.next_at[0] { 1 } else { 0 };
        let arrival = self.next_at[t];
        self.advance(t, rng);
        let width = width(rng, t);
        let p = (lf::PA[t] * width + lf::PB[t]).clamp(0.0, 1.0);
        let log_runtime = loop {
            let (a, b) = if rng.unit() <= p { (lf::A1[t], lf::B1[t]) } else { (lf::A2[t], lf::B2[t]) };
            let g = rng.gamma(a, b);
            if g <= lf::MAX_LOG_RUNTIME {
                break g;
            }
        };
        (arrival, width, log_runtime.exp().max(1.0))
    }
}

/// Job width: serial, a power of two, or any size, with log2(width) from a two-stage uniform.
fn width(rng: &mut Rng, t: usize) -> f64 {
    let u = rng.unit();
    if u <= lf::SERIAL_PROB[t] {
        return 1.0;
    }
    let (lo, hi) =
        if rng.unit() <= lf::UPROB[t] { (lf::ULOW[t], lf::UMED[t]) } else { (lf::UMED[t], lf::UHI[t]) };
    let mut par = rng.range(lo, hi);
    if u <= lf::SERIAL_PROB[t] + lf::POW2_PROB[t] {
        par = par.round();
    }
    2f64.powf(par).round()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::cluster::Population;

    #[test]
    fn pareto_mean_and_load_match() {
        let mean = bounded_pareto_mean(PARETO_ALPHA, PARETO_LOW, PARETO_HIGH);
        let mut rng = Rng::seed(2);
        let n = 200_000;
        let sample: f64 =
            (0..n).map(|_| bounded_pareto(&mut rng, PARETO_ALPHA, PARETO_LOW, PARETO_HIGH)).sum::<f64>()
                / n as f64;
        assert!((sample / mean - 1.0).abs() < 0.05, "sample {sample} vs {mean}");
        let cluster = Cluster::generate(Population::Heterogeneous, 50, 1);
        let tasks = generate(Workload::Pareto, 0.7, &cluster, 20_000, 3);
        let span = tasks.last().map(|t| t.arrival).unwrap_or(1.0);
        let offered = tasks.iter().map(|t| t.work).sum::<f64>() / span / cluster.capacity(GPU_SHARE);
        assert!((offered - 0.7).abs() < 0.1, "offered load {offered}");
    }

    #[test]
    fn gamma_cdf_is_right() {
        // P(1, x) = 1 - e^-x; P(3, 2) = 0.3233235838.
        assert!((gamma_p(1.0, 0.7) - (1.0 - (-0.7f64).exp())).abs() < 1e-9);
        assert!((gamma_p(3.0, 2.0) - 0.323_323_583_8).abs() < 1e-8);
        assert!((gamma_p(3.0, 9.0) - 0.993_768_65).abs() < 1e-6);
    }

    #[test]
    fn lublin_matches_the_model_shape() {
        let mut rng = Rng::seed(9);
        let mut lf = Lublin::new();
        let jobs: Vec<(f64, f64, f64)> = (0..20_000).map(|_| lf.next_job(&mut rng)).collect();
        assert!(jobs.windows(2).all(|w| w[1].0 >= w[0].0), "arrivals are ordered");
        // Widths: about a fifth serial overall, none above 128.
        let mut rng = Rng::seed(10);
        let widths: Vec<f64> = (0..20_000).map(|i| width(&mut rng, i % 2)).collect();
        let serial = widths.iter().filter(|&&w| w == 1.0).count() as f64 / 20_000.0;
        assert!((serial - (0.1541 + 0.2927) / 2.0).abs() < 0.02, "serial share {serial}");
        assert!(widths.iter().all(|&w| (1.0..=128.0).contains(&w)));
        // Mean inter-arrival is minutes, not seconds or days (the model's published scale).
        let span = jobs.last().map_or(0.0, |j| j.0) - jobs[0].0;
        let mean_gap = span / 19_999.0;
        assert!(mean_gap > 60.0 && mean_gap < 3600.0, "mean inter-arrival {mean_gap}s");
    }
}
