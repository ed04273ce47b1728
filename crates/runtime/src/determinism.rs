//! The guest's view of time and chance, fixed by the job so that every replica computes the same bytes.
//!
//! Clocks start at a fixed instant and move forward by a fixed step each time the guest reads them, so loops
//! that wait for time to pass still terminate (by running out of fuel at worst) and elapsed-time arithmetic
//! sees progress, yet two runs read identical values. Randomness is ChaCha20 seeded from the job's seed.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// 2025-01-01T00:00:00Z: what the guest's wall clock reads first.
pub(crate) const EPOCH_SECS: u64 = 1_735_689_600;
/// How far both clocks move per read.
pub(crate) const TICK_NANOS: u64 = 1_000;

/// Both clocks share one counter of reads, so wall and monotonic time advance together.
#[derive(Clone, Default)]
pub(crate) struct Clock {
    reads: Arc<AtomicU64>,
}

impl Clock {
    fn tick(&self) -> u64 {
        // Relaxed: the counter is only read and bumped by the one thread running this guest.
        let n = self.reads.fetch_add(1, Ordering::Relaxed);
        n.saturating_mul(TICK_NANOS)
    }
}

impl HostWallClock for Clock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(TICK_NANOS)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(EPOCH_SECS) + Duration::from_nanos(self.tick())
    }
}

impl HostMonotonicClock for Clock {
    fn resolution(&self) -> u64 {
        TICK_NANOS
    }
    fn now(&self) -> u64 {
        self.tick()
    }
}

/// The guest's generators: `secure` backs `random_get`, `insecure` the insecure-random interface. Separate
/// streams of the same seed, so one never predicts the other's position.
pub(crate) fn rngs(seed: u64) -> (ChaCha20Rng, ChaCha20Rng, u128) {
    let secure = ChaCha20Rng::seed_from_u64(seed);
    let insecure = ChaCha20Rng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    let insecure_seed = u128::from(seed) << 64 | u128::from(seed.rotate_left(32));
    (secure, insecure, insecure_seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn clocks_advance_deterministically() {
        let a = Clock::default();
        let b = Clock::default();
        let ra: Vec<u64> = (0..5).map(|_| HostMonotonicClock::now(&a)).collect();
        let rb: Vec<u64> = (0..5).map(|_| HostMonotonicClock::now(&b)).collect();
        assert_eq!(ra, rb);
        assert!(ra.windows(2).all(|w| w[1] > w[0]));
        assert_eq!(
            HostWallClock::now(&a),
            Duration::from_secs(EPOCH_SECS) + Duration::from_nanos(5 * TICK_NANOS)
        );
    }

    #[test]
    fn same_seed_same_stream() {
        let (mut a, _, _) = rngs(7);
        let (mut b, _, _) = rngs(7);
        let (mut c, _, _) = rngs(8);
        let x = a.next_u64();
        assert_eq!(x, b.next_u64());
        assert_ne!(x, c.next_u64());
    }
}
