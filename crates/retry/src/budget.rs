//! Retry budgets: retries may add at most a fraction of the recent request rate, plus a floor.
//!
//! Why a budget and not just a maximum attempt count? A fixed "3 attempts" is harmless while
//! failures are rare, but when an upstream is struggling *every* call fails, and every caller
//! now sends three requests instead of one: the retry storm triples the load exactly when the
//! upstream is weakest, and a brown-out becomes an outage. Stacked layers multiply it (3 tries
//! in a client, times 3 in the gateway, is 9). A budget bounds the extra load instead of the
//! tries per call: with `ratio = 0.2` retries add at most 20% to upstream traffic however bad
//! things get, while a rare transient failure is still retried as freely as before. The
//! `min_per_sec` floor keeps retries possible for callers that send few requests, where a pure
//! ratio would allow almost none. (Finagle's `RetryBudget` and gRPC's retry throttling follow
//! the same idea.)
//!
//! [`RetryBudget`] is a token bucket: each request deposits `ratio` tokens, time deposits
//! `min_per_sec` tokens per second, each retry withdraws one, and the balance is capped at what
//! one `window` of that floor would earn plus `ratio` of one window of requests at the peak,
//! so credit saved while idle cannot fund a storm. Time is read when a request deposits, so the
//! floor accrues only across time in which the caller is actually sending. A new budget starts
//! with one second of the floor banked, so a fresh process can retry at once; it pays for that
//! by earning no floor during its first second, so over any run the floor never adds more than
//! `min_per_sec` per second.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Decides whether a retry may be sent. Shared by every call to one upstream.
pub trait Budget: Send + Sync + fmt::Debug {
    /// Note one new request (a first attempt).
    fn deposit(&self);

    /// Take permission for one retry; `false` means the retry must not be sent.
    fn try_withdraw(&self) -> bool;
}

/// A budget that allows every retry: the retry policy's attempt count is the only limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

impl Budget for Unlimited {
    fn deposit(&self) {}

    fn try_withdraw(&self) -> bool {
        true
    }
}

impl<B: Budget + ?Sized> Budget for std::sync::Arc<B> {
    fn deposit(&self) {
        (**self).deposit();
    }

    fn try_withdraw(&self) -> bool {
        (**self).try_withdraw()
    }
}

/// Settings of a [`RetryBudget`]. `Default` matches the `[retry]` example of the configuration
/// file (`budget_ratio = 0.2`, `budget_min_per_sec = 10`).
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetConfig {
    /// Retries allowed per request, on average (0.2: retries add at most 20%).
    pub ratio: f64,
    /// Retries per second allowed on top of the ratio, so quiet callers can retry at all.
    pub min_per_sec: f64,
    /// How much unused credit may be kept: one window's worth of the floor (and of the ratio at
    /// the busiest rate seen in a window).
    pub window: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            ratio: 0.2,
            min_per_sec: 10.0,
            window: Duration::from_secs(10),
        }
    }
}

/// The default [`Budget`]: a token bucket fed by requests and by time (see the module docs).
#[derive(Debug)]
pub struct RetryBudget {
    config: BudgetConfig,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    balance: f64,
    last: Instant,
    /// Requests seen in the current window, and when it began: bounds the ratio's credit.
    window_requests: u64,
    window_start: Instant,
    peak_requests: u64,
}

impl RetryBudget {
    /// A budget with these settings, with one second of the floor banked in advance.
    pub fn new(config: BudgetConfig) -> Self {
        let now = Instant::now();
        let advance = Duration::from_secs(1);
        Self {
            state: Mutex::new(State {
                balance: config.min_per_sec * advance.as_secs_f64(),
                last: now + advance,
                window_requests: 0,
                window_start: now,
                peak_requests: 0,
            }),
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    /// Retries that could be sent right now.
    pub fn balance(&self) -> f64 {
        self.lock().balance
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn capacity(&self, state: &State) -> f64 {
        let window = self.config.window.as_secs_f64();
        let peak = state.peak_requests.max(state.window_requests) as f64;
        (self.config.min_per_sec * window + self.config.ratio * peak).max(1.0)
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::new(BudgetConfig::default())
    }
}

impl Budget for RetryBudget {
    fn deposit(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        if now.duration_since(state.window_start) >= self.config.window {
            state.peak_requests = state.window_requests;
            state.window_requests = 0;
            state.window_start = now;
        }
        state.window_requests += 1;
        // `last` starts a second ahead: the floor banked at creation is not earned twice.
        let elapsed = now.saturating_duration_since(state.last).as_secs_f64();
        state.last = state.last.max(now);
        let earned = self.config.ratio + self.config.min_per_sec * elapsed;
        let capacity = self.capacity(&state);
        state.balance = (state.balance + earned).min(capacity);
    }

    fn try_withdraw(&self) -> bool {
        let mut state = self.lock();
        // A little slack so that five deposits of 0.2 make one whole retry in floating point.
        if state.balance >= 1.0 - 1e-9 {
            state.balance -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ratio_and_floor_both_fund_retries() {
        let budget = RetryBudget::default();
        let banked = (0..100).filter(|_| budget.try_withdraw()).count();
        assert_eq!(banked, 10, "one second of the floor is banked at the start");
        for _ in 0..10 {
            budget.deposit();
        }
        assert!(budget.try_withdraw(), "ten requests earn two retries");
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
        tokio::time::advance(Duration::from_millis(1500)).await;
        budget.deposit();
        let granted = (0..10).filter(|_| budget.try_withdraw()).count();
        assert_eq!(
            granted, 5,
            "half a second past the banked one (5) plus 0.2 of one request"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_credit_is_capped_at_one_window() {
        let budget = RetryBudget::default();
        tokio::time::advance(Duration::from_secs(3600)).await;
        budget.deposit();
        let granted = (0..1000).filter(|_| budget.try_withdraw()).count();
        assert_eq!(granted, 100, "10/s for a 10 s window");
    }
}
