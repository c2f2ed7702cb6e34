//! Latency samples and their percentiles: a sorted `Vec<u64>` of nanoseconds, which at a few
//! hundred thousand samples per run is cheaper and simpler than a histogram dependency.

use std::time::Duration;

/// The outcome of one load: every successful request's latency, the failures, and how long
/// the load ran.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    latencies_ns: Vec<u64>,
    sorted: bool,
    /// Requests that failed (transport error, non-200, incomplete body).
    pub errors: u64,
    /// Wall time the load ran (summed over merged rounds).
    pub elapsed: Duration,
    /// Requests sent but left out of the figures (warm-up), for per-request CPU accounting.
    pub unmeasured: u64,
}

impl Samples {
    /// Empty samples with room for `n` latencies.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            latencies_ns: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// Record one request: its latency, or `None` for a failure.
    pub fn record(&mut self, latency: Option<Duration>) {
        match latency {
            Some(d) => {
                self.latencies_ns
                    .push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
                self.sorted = false;
            }
            None => self.errors += 1,
        }
    }

    /// Add another load's samples (and its time) to these.
    pub fn merge(&mut self, other: Samples) {
        self.latencies_ns.extend(other.latencies_ns);
        self.sorted = false;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.unmeasured += other.unmeasured;
    }

    /// Every request sent: measured (ok or failed) and unmeasured.
    pub fn sent(&self) -> u64 {
        self.latencies_ns.len() as u64 + self.errors + self.unmeasured
    }

    /// Successful requests.
    pub fn ok(&self) -> usize {
        self.latencies_ns.len()
    }

    /// Successful requests per second of [`elapsed`](Self::elapsed).
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok() as f64 / secs
        } else {
            0.0
        }
    }

    /// The `q` quantile (0.5 for the median, 0.99 for p99), nearest rank; zero when empty.
    pub fn quantile(&mut self, q: f64) -> Duration {
        if self.latencies_ns.is_empty() {
            return Duration::ZERO;
        }
        if !self.sorted {
            self.latencies_ns.sort_unstable();
            self.sorted = true;
        }
        let n = self.latencies_ns.len();
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(1, n);
        Duration::from_nanos(self.latencies_ns[rank - 1])
    }
}

/// Milliseconds with three decimals, the unit every table in this package uses.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// `b - a` in milliseconds, signed, with three decimals.
pub fn added_ms(a: Duration, b: Duration) -> f64 {
    (b.as_secs_f64() - a.as_secs_f64()) * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let mut s = Samples::default();
        for ms in (1..=100).rev() {
            s.record(Some(Duration::from_millis(ms)));
        }
        s.record(None);
        assert_eq!(s.quantile(0.5), Duration::from_millis(50));
        assert_eq!(s.quantile(0.99), Duration::from_millis(99));
        assert_eq!(s.quantile(1.0), Duration::from_millis(100));
        assert_eq!((s.ok(), s.errors), (100, 1));
    }
}
