//! `weighted`: random, in proportion to each target's weight.
//!
//! Random rather than a deterministic smooth round robin because it needs no shared mutable
//! schedule: one atomic step and a walk over a handful of weights, with no lock, and exclusions
//! (a target already tried, or cooling down) cost nothing extra. Over 10,000 picks the shares
//! land within a fraction of a point of the weights.

use super::{Candidates, Rng, Strategy};

/// Picks at random in proportion to weight.
#[derive(Debug)]
pub struct Weighted {
    rng: Rng,
}

impl Weighted {
    /// A weighted strategy seeded from process randomness.
    pub fn new() -> Self {
        Self { rng: Rng::random() }
    }

    /// A weighted strategy with a fixed seed, for reproducible tests.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            rng: Rng::seeded(seed),
        }
    }
}

impl Default for Weighted {
    fn default() -> Self {
        Self::new()
    }
}

impl Strategy for Weighted {
    fn pick(&self, c: &Candidates<'_>) -> Option<usize> {
        let total: u64 = c.available().map(|i| u64::from(c.weight(i))).sum();
        if total == 0 {
            return c.available().next();
        }
        let mut point = self.rng.below(total);
        for i in c.available() {
            let w = u64::from(c.weight(i));
            if point < w {
                return Some(i);
            }
            point -= w;
        }
        None
    }
}
