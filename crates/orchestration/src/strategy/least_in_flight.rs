//! `least_in_flight`: the target with the fewest requests in flight per unit of weight.
//!
//! For backends whose limit is concurrency (a self-hosted vLLM with a fixed batch) rather
//! than rate, outstanding requests are the best load signal there is. Ties rotate, so an idle
//! alias does not send everything to its first target.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Candidates, Strategy};

/// Picks the target minimising `(in_flight + 1) / weight`.
#[derive(Debug, Default)]
pub struct LeastInFlight {
    rotate: AtomicUsize,
}

impl LeastInFlight {
    /// A least-in-flight strategy.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Strategy for LeastInFlight {
    fn pick(&self, c: &Candidates<'_>) -> Option<usize> {
        let n = c.len();
        if n == 0 {
            return None;
        }
        let start = self.rotate.fetch_add(1, Ordering::Relaxed) % n;
        let mut best: Option<(usize, u64, u64)> = None;
        for i in (0..n)
            .map(|k| (start + k) % n)
            .filter(|&i| c.is_available(i))
        {
            let load = u64::from(c.in_flight(i)) + 1;
            let weight = u64::from(c.weight(i).max(1));
            // load/weight < best_load/best_weight, without division.
            if best.is_none_or(|(_, bl, bw)| load * bw < bl * weight) {
                best = Some((i, load, weight));
            }
        }
        best.map(|(i, _, _)| i)
    }
}
