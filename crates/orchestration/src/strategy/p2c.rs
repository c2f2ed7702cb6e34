//! `p2c`: power of two choices over peak-EWMA latency, as Finagle and Linkerd balance.
//!
//! Two distinct targets are drawn at random and the cheaper one wins, where cost is the
//! latency estimate (see the `ewma` module) times requests in flight plus one, divided by
//! weight. Comparing two random targets instead of scanning for the global best avoids the
//! herd: every router replica that sees the same "best" target would pile onto it, while two
//! random choices spread load almost as well as perfect knowledge. The decaying estimate
//! means a slow target is probed again once its old latency has faded, so when it recovers
//! it wins its share back without operator action.

use super::{Candidates, Rng, Strategy};

/// Power of two choices over peak-EWMA latency x load.
#[derive(Debug)]
pub struct P2c {
    rng: Rng,
}

impl P2c {
    /// A P2C strategy seeded from process randomness.
    pub fn new() -> Self {
        Self { rng: Rng::random() }
    }

    /// A P2C strategy with a fixed seed, for reproducible tests.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            rng: Rng::seeded(seed),
        }
    }

    fn cost(c: &Candidates<'_>, i: usize) -> f64 {
        // An unmeasured target costs 0, so new targets are tried first.
        let latency = c.latency_nanos(i);
        let load = f64::from(c.in_flight(i)) + 1.0;
        latency * load / f64::from(c.weight(i).max(1))
    }
}

impl Default for P2c {
    fn default() -> Self {
        Self::new()
    }
}

impl Strategy for P2c {
    fn pick(&self, c: &Candidates<'_>) -> Option<usize> {
        let n = c.available_count() as u64;
        match n {
            0 => None,
            1 => c.available().next(),
            _ => {
                let a = self.rng.below(n);
                // A second, distinct draw: offset by 1..n.
                let b = (a + 1 + self.rng.below(n - 1)) % n;
                let (a, b) = (c.nth_available(a as usize)?, c.nth_available(b as usize)?);
                let (ca, cb) = (Self::cost(c, a), Self::cost(c, b));
                Some(if cb < ca { b } else { a })
            }
        }
    }
}
