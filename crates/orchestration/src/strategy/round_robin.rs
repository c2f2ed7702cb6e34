//! `round_robin`: each target in turn, weights ignored.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Candidates, Strategy};

/// Takes the targets in turn; an unavailable one is passed over for the next available.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: AtomicUsize,
}

impl RoundRobin {
    /// A round robin starting at the first target.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Strategy for RoundRobin {
    fn pick(&self, c: &Candidates<'_>) -> Option<usize> {
        let n = c.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        (0..n).map(|k| (start + k) % n).find(|&i| c.is_available(i))
    }
}
