//! Peak-EWMA latency, as Finagle and Linkerd use it for power-of-two-choices balancing.
//!
//! A slower sample replaces the estimate at once (the *peak*): a target that just got slow
//! must lose traffic now, not after many samples. A faster sample is blended in with a
//! weight that depends on the time since the last one, `exp(-elapsed / decay)`, so the
//! estimate forgets at the same pace whether a target gets a thousand requests a second or
//! one. Reading the estimate decays it towards zero as if a zero-latency sample arrived now:
//! a target that stopped getting traffic because it was slow looks cheaper and cheaper until
//! it is tried again. That is what lets a recovered target win its share back.
//!
//! A failed attempt is recorded as at least [`FAILURE_PENALTY`], so a deployment that fails
//! fast does not look like the fastest one.
//!
//! The estimate and its time stamp are two atomics updated without a lock; two completions
//! racing may lose one sample, which a load estimate can afford.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The latency charged for a failed attempt, when it failed faster than this.
pub const FAILURE_PENALTY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct PeakEwma {
    /// The estimate in nanoseconds, as `f64` bits.
    estimate: AtomicU64,
    /// When the estimate was last updated, in nanoseconds since the router's epoch.
    stamp: AtomicU64,
    decay_ns: f64,
}

impl PeakEwma {
    pub(crate) fn new(decay: Duration) -> Self {
        Self {
            estimate: AtomicU64::new(0f64.to_bits()),
            stamp: AtomicU64::new(0),
            decay_ns: (decay.as_nanos() as f64).max(1.0),
        }
    }

    /// The estimate in nanoseconds at `now_ns`, decayed for the time since it was updated.
    pub(crate) fn get(&self, now_ns: u64) -> f64 {
        let estimate = f64::from_bits(self.estimate.load(Ordering::Relaxed));
        if estimate == 0.0 {
            return 0.0;
        }
        let elapsed = now_ns.saturating_sub(self.stamp.load(Ordering::Relaxed)) as f64;
        estimate * (-elapsed / self.decay_ns).exp()
    }

    pub(crate) fn observe(&self, rtt: Duration, failed: bool, now_ns: u64) {
        let rtt = if failed {
            rtt.max(FAILURE_PENALTY)
        } else {
            rtt
        };
        let rtt = rtt.as_nanos() as f64;
        let current = f64::from_bits(self.estimate.load(Ordering::Relaxed));
        let next = if rtt > current {
            rtt
        } else {
            let elapsed = now_ns.saturating_sub(self.stamp.load(Ordering::Relaxed)) as f64;
            let decay = (-elapsed / self.decay_ns).exp();
            current * decay + rtt * (1.0 - decay)
        };
        self.estimate.store(next.to_bits(), Ordering::Relaxed);
        self.stamp.store(now_ns, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_slow_sample_is_taken_at_once_and_a_fast_one_blends_in_over_time() {
        let e = PeakEwma::new(Duration::from_secs(10));
        e.observe(Duration::from_millis(2), false, 0);
        e.observe(Duration::from_millis(20), false, MS);
        assert!((e.get(MS) - 20e6).abs() < 1.0);
        // A fast sample right after barely moves it; one 10 s later moves it most of the way.
        e.observe(Duration::from_millis(2), false, 2 * MS);
        assert!(e.get(2 * MS) > 19e6);
        e.observe(Duration::from_millis(2), false, 10_000 * MS);
        assert!(e.get(10_000 * MS) < 10e6);
    }

    #[test]
    fn reading_decays_towards_zero_and_failures_count_as_slow() {
        let e = PeakEwma::new(Duration::from_secs(10));
        e.observe(Duration::from_millis(20), false, 0);
        let later = e.get(23_026 * MS); // ln(10) * 10 s
        assert!((later - 2e6).abs() < 0.01e6, "{later}");
        e.observe(Duration::from_millis(1), true, 0);
        assert!(e.get(0) >= 1e9);
    }
}
