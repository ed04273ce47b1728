//! A small deterministic random number generator (xoshiro256**, seeded by SplitMix64).
//!
//! The scheduler samples (Thompson sampling) and the simulator draws workloads from it. We keep our own instead
//! of a registry RNG so that a seed gives the same simulation on every platform and every dependency update:
//! reproducibility per seed is a property the benchmarks rely on.

/// SplitMix64 step: a good 64-bit mixer, used for seeding and stateless hashing.
pub(crate) fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in `[0, 1)` that depends only on `keys`: used for common random numbers, so that every
/// policy sees the same noise for the same (task, attempt).
pub(crate) fn hash_unit(keys: &[u64]) -> f64 {
    let mut h = 0x51_7C_C1_B7_27_22_0A_95_u64;
    for &k in keys {
        h = splitmix(h ^ k);
    }
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// xoshiro256**: fast, small state, statistically strong for simulation.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose whole stream is fixed by `seed`.
    pub fn seed(seed: u64) -> Self {
        let mut x = seed;
        let mut s = [0u64; 4];
        for slot in &mut s {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            *slot = splitmix(x);
        }
        Self { s }
    }

    /// An independent stream derived from `seed` and a list of keys (e.g. node index, purpose tag).
    pub(crate) fn stream(seed: u64, keys: &[u64]) -> Self {
        let mut h = seed;
        for &k in keys {
            h = splitmix(h ^ k.wrapping_mul(0xA24B_AED4_963E_E407));
        }
        Self::seed(h)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`: safe to take the logarithm of.
    pub(crate) fn open_unit(&mut self) -> f64 {
        1.0 - self.unit()
    }

    /// Uniform in `[lo, hi)`.
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform index in `0..n` (`n > 0`), by multiply-shift (no modulo bias worth caring about here).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A standard normal sample (Box–Muller; one of the pair is dropped to keep the state simple).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.open_unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// An exponential sample with mean 1.
    pub(crate) fn exp(&mut self) -> f64 {
        -self.open_unit().ln()
    }

    /// A gamma sample with `shape` and `scale` (Marsaglia–Tsang; shape < 1 by the boost `U^(1/shape)`).
    pub(crate) fn gamma(&mut self, shape: f64, scale: f64) -> f64 {
        if shape < 1.0 {
            let boost = self.open_unit().powf(1.0 / shape);
            return self.gamma(shape + 1.0, scale) * boost;
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.open_unit();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v * scale;
            }
        }
    }

    /// A Weibull sample with `shape` k and `scale` λ (inverse transform).
    pub(crate) fn weibull(&mut self, shape: f64, scale: f64) -> f64 {
        scale * self.exp().powf(1.0 / shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::seed(7);
        let mut b = Rng::seed(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::seed(7).next_u64(), Rng::seed(8).next_u64());
    }

    #[test]
    fn moments_are_right() {
        let mut r = Rng::seed(1);
        let n = 200_000;
        let (mut su, mut sn, mut sn2, mut sg) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..n {
            su += r.unit();
            let z = r.normal();
            sn += z;
            sn2 += z * z;
            sg += r.gamma(2.5, 2.0);
        }
        let n = f64::from(n);
        assert!((su / n - 0.5).abs() < 0.01);
        assert!((sn / n).abs() < 0.02);
        assert!((sn2 / n - 1.0).abs() < 0.02);
        assert!((sg / n - 5.0).abs() < 0.1, "gamma mean {}", sg / n);
        let small: f64 = (0..100_000).map(|_| r.gamma(0.5, 1.0)).sum::<f64>() / 100_000.0;
        assert!((small - 0.5).abs() < 0.02, "gamma(0.5) mean {small}");
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::seed(3);
        for n in [1usize, 2, 7, 10_000] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
    }
}
