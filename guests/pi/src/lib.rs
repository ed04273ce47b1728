//! Monte-Carlo estimation of pi: the kernel, shared by the guest and the native benchmark.

/// xoshiro256** (Blackman & Vigna): small, fast, and the same sequence on every platform.
pub struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// A generator whose state is expanded from `seed` with SplitMix64 (the authors' recommendation).
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Self { s: [next(), next(), next(), next()] }
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

    /// A uniform double in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// How many of `samples` random points in the unit square fall inside the quarter circle.
pub fn hits(seed: u64, samples: u64) -> u64 {
    let mut rng = Xoshiro256::new(seed);
    let mut inside = 0;
    for _ in 0..samples {
        let (x, y) = (rng.next_f64(), rng.next_f64());
        if x * x + y * y < 1.0 {
            inside += 1;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    #[test]
    fn close_to_pi() {
        let n = 1_000_000;
        let pi = 4.0 * super::hits(1, n) as f64 / n as f64;
        assert!((pi - std::f64::consts::PI).abs() < 0.01, "{pi}");
    }
}
