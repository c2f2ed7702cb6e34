//! Time spent waiting on upstream attempts, summed across one request.
//!
//! The request-level [`Observe`](crate::Observe) puts a fresh [`UpstreamTime`] into the
//! request's extensions; every attempt-level `Observe` below it adds the time its attempt took.
//! Whole-request time minus this sum is `bulkhead_gateway_overhead_seconds`: routing, cache
//! look-ups, retry bookkeeping and the stack's own code, with backoff sleeps included (they are
//! time the caller waits on Bulkhead, not on a provider).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A shared sum of upstream time; clones share one sum (it travels in extensions, which are
/// cloned for every retry and fallback).
#[derive(Debug, Clone, Default)]
pub struct UpstreamTime(Arc<AtomicU64>);

impl UpstreamTime {
    /// A sum of zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one attempt's time.
    pub fn add(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The time added so far.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_add_into_one_sum() {
        let time = UpstreamTime::new();
        let attempt = time.clone();
        attempt.add(Duration::from_millis(30));
        time.clone().add(Duration::from_millis(12));
        assert_eq!(time.total(), Duration::from_millis(42));
    }
}
