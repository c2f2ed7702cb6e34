//! The default policy: capped exponential backoff with jitter, `Retry-After` honoured up to a
//! cap.
//!
//! Jitter matters because clients that failed together would otherwise retry together, in
//! lock-step waves. The ceilings come from backon's exponential schedule; the jitter is drawn
//! from a seeded generator so a test sees the same delays for the same seed.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use super::{Decision, Failure, RetryPolicy, StopReason};
use crate::rng::SplitMix64;

/// How a computed delay is randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// No randomness: exactly the exponential ceiling. Only for tests and single clients.
    None,
    /// Uniform in `[0, ceiling]` ("full jitter"): spreads retries the most.
    #[default]
    Full,
    /// Uniform in `[initial, 3 × previous delay]`, capped ("decorrelated jitter").
    Decorrelated,
}

/// Settings of [`ExponentialBackoff`]. `Default` matches the `[retry]` example of the
/// configuration file; the struct itself knows nothing of files.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// The ceiling of the first backoff; each later ceiling doubles.
    pub initial_backoff: Duration,
    /// No backoff ceiling exceeds this.
    pub max_backoff: Duration,
    /// The longest `Retry-After` that is waited for; a longer one returns the error at once.
    pub retry_after_cap: Duration,
    /// How delays are randomised.
    pub jitter: Jitter,
    /// A limit on the whole call, retries included (`None`: only the request's deadline).
    pub total_timeout: Option<Duration>,
    /// Seeds the jitter; the same seed and call order give the same delays.
    pub seed: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            retry_after_cap: Duration::from_secs(60),
            jitter: Jitter::Full,
            total_timeout: None,
            seed: 0x5eed_b01c_ead0_0001,
        }
    }
}

/// The default [`RetryPolicy`]. Cheap to share: the jitter generator is one atomic.
#[derive(Debug)]
pub struct ExponentialBackoff {
    config: RetryConfig,
    /// `ceilings[n]` is the delay ceiling before attempt `n + 2`.
    ceilings: Vec<Duration>,
    rng: SplitMix64,
}

impl ExponentialBackoff {
    /// A policy with these settings.
    pub fn new(config: RetryConfig) -> Self {
        let retries = config.max_attempts.saturating_sub(1).min(64) as usize;
        let ceilings = ExponentialBuilder::new()
            .with_min_delay(config.initial_backoff)
            .with_max_delay(config.max_backoff)
            .with_factor(2.0)
            .with_max_times(retries)
            .build()
            .map(|d| d.min(config.max_backoff))
            .collect();
        let rng = SplitMix64::new(config.seed);
        Self {
            config,
            ceilings,
            rng,
        }
    }

    /// The settings.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// The largest delay the policy may choose after failed attempt `attempt` (from 1), before
    /// jitter and `Retry-After`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let index = attempt.saturating_sub(1) as usize;
        self.ceilings
            .get(index)
            .or(self.ceilings.last())
            .copied()
            .unwrap_or(self.config.max_backoff)
    }

    fn jittered(&self, failure: &Failure) -> Duration {
        let ceiling = self.ceiling(failure.attempt);
        match self.config.jitter {
            Jitter::None => ceiling,
            Jitter::Full => ceiling.mul_f64(self.rng.next_f64()),
            Jitter::Decorrelated => {
                let low = self.config.initial_backoff;
                let high = failure
                    .previous_delay
                    .unwrap_or(low)
                    .saturating_mul(3)
                    .max(low);
                let span = high - low;
                (low + span.mul_f64(self.rng.next_f64())).min(self.config.max_backoff)
            }
        }
    }
}

impl Default for ExponentialBackoff {
    fn default() -> Self {
        Self::new(RetryConfig::default())
    }
}

impl RetryPolicy for ExponentialBackoff {
    fn decide(&self, failure: &Failure) -> Decision {
        if !failure.retryable {
            return Decision::Stop(StopReason::NotRetryable);
        }
        if failure.attempt >= self.config.max_attempts {
            return Decision::Stop(StopReason::AttemptsExhausted);
        }
        match failure.retry_after {
            Some(wait) if wait > self.config.retry_after_cap => {
                Decision::Stop(StopReason::RetryAfterTooLong)
            }
            Some(wait) => Decision::Retry(wait),
            None => Decision::Retry(self.jittered(failure)),
        }
    }

    fn total_timeout(&self) -> Option<Duration> {
        self.config.total_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(attempt: u32, previous_delay: Option<Duration>) -> Failure {
        Failure {
            attempt,
            retryable: true,
            retry_after: None,
            previous_delay,
        }
    }

    #[test]
    fn ceilings_double_from_initial_and_stop_at_the_cap() {
        let policy = ExponentialBackoff::new(RetryConfig {
            max_attempts: 10,
            ..RetryConfig::default()
        });
        let ms = |n| policy.ceiling(n).as_millis();
        assert_eq!([ms(1), ms(2), ms(3), ms(4)], [200, 400, 800, 1600]);
        assert_eq!(ms(7), 10_000);
        assert_eq!(ms(9), 10_000);
        assert_eq!(ms(50), 10_000);
    }

    #[test]
    fn retry_after_overrides_up_to_the_cap() {
        let policy = ExponentialBackoff::default();
        let mut f = failure(1, None);
        f.retry_after = Some(Duration::from_secs(2));
        assert_eq!(policy.decide(&f), Decision::Retry(Duration::from_secs(2)));
        f.retry_after = Some(Duration::from_secs(61));
        assert_eq!(
            policy.decide(&f),
            Decision::Stop(StopReason::RetryAfterTooLong)
        );
    }

    #[test]
    fn stops_after_max_attempts_and_on_permanent_errors() {
        let policy = ExponentialBackoff::default();
        assert!(matches!(
            policy.decide(&failure(2, None)),
            Decision::Retry(_)
        ));
        assert_eq!(
            policy.decide(&failure(3, None)),
            Decision::Stop(StopReason::AttemptsExhausted)
        );
        let mut f = failure(1, None);
        f.retryable = false;
        assert_eq!(policy.decide(&f), Decision::Stop(StopReason::NotRetryable));
    }
}
