//! The hidden cluster: what each node really is (speed per program kind, reliability, network), and what it
//! advertises. Policies see only the advertised part and what they observe; the oracle sees all of it.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;
use crate::types::{Kind, Resources};

/// Which population of nodes to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Population {
    /// 60% laptops (speed ≈1), 30% servers (4–8), 10% GPU boxes (CPU 2–5, GPU-capable programs 5–20);
    /// advertised benchmarks are noisy, some nodes overstate them, some nodes silently lose work.
    Heterogeneous,
    /// Identical nodes of speed 1 that advertise exactly that: the control where learning has nothing to find.
    Homogeneous,
}

/// The kind of machine a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A laptop.
    Laptop,
    /// A server.
    Server,
    /// A GPU box.
    GpuBox,
    /// A node of the homogeneous control.
    Uniform,
}

/// One node, as it really is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Its class.
    pub class: Class,
    /// True speed per kind slot ([CPU, GPU-capable]), work units per second, before drift and noise.
    pub speed: [f64; 2],
    /// What it offers.
    pub caps: Resources,
    /// What it advertises as its speed.
    pub benchmark: f64,
    /// Probability that a run's result is silently lost (detected only by timeout).
    pub p_loss: f64,
    /// Mean of the Weibull up periods, seconds.
    pub mean_up_s: f64,
    /// Mean of the Weibull down periods, seconds.
    pub mean_down_s: f64,
    /// True network latency, seconds.
    pub latency_s: f64,
    /// True bandwidth, bytes per second.
    pub bandwidth_bps: f64,
    /// Advertised bandwidth, bytes per second.
    pub adv_bandwidth_bps: f64,
    /// Price per work unit.
    pub price: f64,
    /// OCAT staked.
    pub stake: f64,
}

/// Shape of the Weibull up and down periods (< 1: many short, a few long, as measured on volunteer hosts).
pub const WEIBULL_SHAPE: f64 = 0.7;

/// The whole cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Which population it was drawn from.
    pub population: Population,
    /// Its nodes.
    pub nodes: Vec<Node>,
}

/// Γ(x) by the Lanczos approximation (enough for Weibull means).
pub(crate) fn gamma_fn(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma_fn(1.0 - x));
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * a
}

impl Node {
    /// True speed for a kind (before drift and noise).
    pub fn speed_for(&self, kind: Kind) -> f64 {
        self.speed[usize::from(kind.0).min(1)]
    }

    /// Long-run fraction of time up.
    pub fn availability(&self) -> f64 {
        self.mean_up_s / (self.mean_up_s + self.mean_down_s)
    }

    /// Weibull scale giving the mean up period.
    pub(crate) fn up_scale(&self) -> f64 {
        self.mean_up_s / gamma_fn(1.0 + 1.0 / WEIBULL_SHAPE)
    }

    /// Weibull scale giving the mean down period.
    pub(crate) fn down_scale(&self) -> f64 {
        self.mean_down_s / gamma_fn(1.0 + 1.0 / WEIBULL_SHAPE)
    }
}

impl Cluster {
    /// Draws `n` nodes from `population`, fixed by `seed`.
    pub fn generate(population: Population, n: usize, seed: u64) -> Self {
        let mut rng = Rng::stream(seed, &[0xC1_u64]);
        let nodes = (0..n)
            .map(|_| match population {
                Population::Heterogeneous => heterogeneous_node(&mut rng),
                Population::Homogeneous => Node {
                    class: Class::Uniform,
                    speed: [1.0, 1.0],
                    caps: Resources { cores: 8, memory_mib: 16 * 1024, gpu: false },
                    benchmark: 1.0,
                    p_loss: 0.01,
                    mean_up_s: 12.0 * 3600.0,
                    mean_down_s: 1800.0,
                    latency_s: 0.02,
                    bandwidth_bps: 50e6,
                    adv_bandwidth_bps: 50e6,
                    price: 1.0,
                    stake: 100.0,
                },
            })
            .collect();
        Self { population, nodes }
    }

    /// Availability-weighted capacity for a mix with `gpu_share` of GPU-capable work: work units per second
    /// the cluster delivers on average if every node is always busy.
    pub fn capacity(&self, gpu_share: f64) -> f64 {
        self.nodes
            .iter()
            .map(|n| n.availability() * ((1.0 - gpu_share) * n.speed[0] + gpu_share * n.speed[1]))
            .sum()
    }

    /// The fastest true speed for a kind.
    pub fn max_speed(&self, kind: Kind) -> f64 {
        self.nodes.iter().map(|n| n.speed_for(kind)).fold(0.0, f64::max)
    }

    /// Ratio of fastest to slowest true speed over all kinds.
    pub fn speed_spread(&self) -> f64 {
        let max = self.nodes.iter().map(|n| n.speed[0].max(n.speed[1])).fold(0.0, f64::max);
        let min = self.nodes.iter().map(|n| n.speed[0].min(n.speed[1])).fold(f64::INFINITY, f64::min);
        max / min
    }
}

fn heterogeneous_node(rng: &mut Rng) -> Node {
    let u = rng.unit();
    let gib = 1024;
    let mut node = if u < 0.6 {
        let s = rng.range(0.8, 1.2);
        Node {
            class: Class::Laptop,
            speed: [s, s],
            caps: Resources {
                cores: if rng.unit() < 0.5 { 4 } else { 8 },
                memory_mib: if rng.unit() < 0.5 { 8 * gib } else { 16 * gib },
                gpu: false,
            },
            benchmark: 0.0,
            p_loss: 0.02,
            mean_up_s: 4.0 * 3600.0,
            mean_down_s: 1200.0,
            latency_s: rng.range(0.02, 0.08),
            bandwidth_bps: rng.range(5e6, 50e6),
            adv_bandwidth_bps: 0.0,
            price: 1.0,
            stake: rng.range(10.0, 100.0),
        }
    } else if u < 0.9 {
        let s = rng.range(4.0, 8.0);
        Node {
            class: Class::Server,
            speed: [s, s],
            caps: Resources { cores: 32, memory_mib: 128 * gib, gpu: false },
            benchmark: 0.0,
            p_loss: 0.005,
            mean_up_s: 24.0 * 3600.0,
            mean_down_s: 1800.0,
            latency_s: rng.range(0.005, 0.02),
            bandwidth_bps: rng.range(50e6, 500e6),
            adv_bandwidth_bps: 0.0,
            price: 2.0,
            stake: rng.range(100.0, 1000.0),
        }
    } else {
        let cpu = rng.range(2.0, 5.0);
        Node {
            class: Class::GpuBox,
            speed: [cpu, rng.range(5.0, 20.0).max(cpu)],
            caps: Resources { cores: 16, memory_mib: 64 * gib, gpu: true },
            benchmark: 0.0,
            p_loss: 0.01,
            mean_up_s: 12.0 * 3600.0,
            mean_down_s: 1800.0,
            latency_s: rng.range(0.005, 0.04),
            bandwidth_bps: rng.range(20e6, 200e6),
            adv_bandwidth_bps: 0.0,
            price: 3.0,
            stake: rng.range(100.0, 1000.0),
        }
    };
    // Benchmarks measure the CPU, with a spread of ±35% (lognormal sd 0.3); 15% of nodes overstate 2–4×.
    node.benchmark = node.speed[0] * (0.3 * rng.normal()).exp();
    if rng.unit() < 0.15 {
        node.benchmark *= rng.range(2.0, 4.0);
    }
    // Advertised bandwidth is the link's nominal rate; the real one is often lower.
    node.adv_bandwidth_bps = node.bandwidth_bps * rng.range(1.0, 3.0);
    // A few flaky nodes silently lose a quarter of their work.
    if rng.unit() < 0.05 {
        node.p_loss = 0.25;
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_matches_known_values() {
        assert!((gamma_fn(5.0) - 24.0).abs() < 1e-9);
        assert!((gamma_fn(0.5) - std::f64::consts::PI.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn heterogeneous_has_the_advertised_mix_and_spread() {
        let c = Cluster::generate(Population::Heterogeneous, 2000, 1);
        let laptops = c.nodes.iter().filter(|n| n.class == Class::Laptop).count() as f64 / 2000.0;
        let gpus = c.nodes.iter().filter(|n| n.class == Class::GpuBox).count() as f64 / 2000.0;
        assert!((laptops - 0.6).abs() < 0.04 && (gpus - 0.1).abs() < 0.03);
        assert!(c.speed_spread() >= 10.0);
        let h = Cluster::generate(Population::Homogeneous, 10, 1);
        assert!((h.speed_spread() - 1.0).abs() < 1e-12);
    }
}
