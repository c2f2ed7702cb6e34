//! Where the limiter's idea of "now" comes from, so tests can move time by hand.
//!
//! Budgets follow UTC calendar days and months, so the clock is wall-clock time (time since the
//! Unix epoch), not a monotonic instant. The Redis store uses the Redis server's own clock for
//! its rate and lease arithmetic, so replicas with skewed clocks still share one timeline.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Time since the Unix epoch.
    fn now(&self) -> Duration;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }
}

/// A clock that moves only when told to: for tests of rate arithmetic and budget periods.
///
/// Clones share one time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    micros: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `since_epoch`.
    pub fn new(since_epoch: Duration) -> Self {
        Self {
            micros: Arc::new(AtomicU64::new(as_micros(since_epoch))),
        }
    }

    /// Move the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.micros.fetch_add(as_micros(by), Ordering::SeqCst);
    }

    /// Set the clock to `since_epoch` (it may go backwards).
    pub fn set(&self, since_epoch: Duration) {
        self.micros.store(as_micros(since_epoch), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_micros(self.micros.load(Ordering::SeqCst))
    }
}

fn as_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
