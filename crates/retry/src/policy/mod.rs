//! The retry decision: after a failed attempt, try again (after how long) or stop.
//!
//! [`RetryPolicy`] is the trait a user implements to change the decision; the retry loop is
//! the mechanism that applies it, together with the deadline and the [budget](crate::Budget).
//! [`ExponentialBackoff`] is the default: capped exponential backoff with jitter, `Retry-After`
//! honoured up to a cap, non-retryable errors tried exactly once.

mod exponential;

use std::fmt;
use std::time::Duration;

pub use exponential::{ExponentialBackoff, Jitter, RetryConfig};

/// The facts about a failed attempt that a policy decides from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failure {
    /// Which attempt failed, counting from 1.
    pub attempt: u32,
    /// Whether the error says another attempt may succeed.
    pub retryable: bool,
    /// How long the upstream asked us to wait, if it said.
    pub retry_after: Option<Duration>,
    /// The delay waited before the failed attempt (`None` after the first attempt).
    pub previous_delay: Option<Duration>,
}

impl Failure {
    /// The facts of attempt `attempt` failing with `error`.
    pub fn new(
        attempt: u32,
        error: &impl crate::Retryable,
        previous_delay: Option<Duration>,
    ) -> Self {
        Self {
            attempt,
            retryable: error.is_retryable(),
            retry_after: error.retry_after(),
            previous_delay,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again (if the deadline and the budget allow).
    Retry(Duration),
    /// Return the error.
    Stop(StopReason),
}

/// Why a policy stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// The error is not worth another try (bad request, authentication, ...).
    NotRetryable,
    /// The maximum number of attempts has been made.
    AttemptsExhausted,
    /// The upstream asked for a wait longer than the policy's `Retry-After` cap.
    RetryAfterTooLong,
}

impl StopReason {
    /// A snake_case name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::NotRetryable => "not_retryable",
            StopReason::AttemptsExhausted => "attempts_exhausted",
            StopReason::RetryAfterTooLong => "retry_after_too_long",
        }
    }
}

/// Decides whether and when a failed attempt is tried again.
///
/// The retry loop enforces what a policy cannot know: the request's deadline (it never sleeps
/// across it) and the shared [budget](crate::Budget).
pub trait RetryPolicy: Send + Sync + fmt::Debug {
    /// Decide after a failed attempt.
    fn decide(&self, failure: &Failure) -> Decision;

    /// A limit on the whole call, retries and waits included, counted from its start; the
    /// request's own deadline applies too, and the earlier one wins.
    fn total_timeout(&self) -> Option<Duration> {
        None
    }
}

impl<P: RetryPolicy + ?Sized> RetryPolicy for std::sync::Arc<P> {
    fn decide(&self, failure: &Failure) -> Decision {
        (**self).decide(failure)
    }

    fn total_timeout(&self) -> Option<Duration> {
        (**self).total_timeout()
    }
}
