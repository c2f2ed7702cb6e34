//! The retry loop, for any async operation whose error is [`Retryable`].
//!
//! It asks the [`RetryPolicy`] after each failure, never sleeps across the deadline (when the
//! wait would cross it, the last error is returned at once, because a caller gains nothing
//! from an answer that comes too late), and asks the [`Budget`] before each retry. The
//! [`Retry`] decorator applies the same loop to a `ChatModel` or `EmbeddingModel`.

mod model;

use std::future::Future;

use tokio::time::Instant;

use crate::{Budget, Decision, Failure, RetryPolicy, Retryable};

pub use model::{Retry, RetryLayer};

/// Run `op` until it succeeds or the policy, the budget or the policy's total timeout says
/// stop; return its last result.
///
/// ```
/// use std::time::Duration;
/// use bulkhead_retry::{ExponentialBackoff, Retryable, Unlimited, retry};
///
/// #[derive(Debug)]
/// struct Flaky;
/// impl Retryable for Flaky {
///     fn is_retryable(&self) -> bool { true }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut calls = 0;
/// let answer = retry(&ExponentialBackoff::default(), &Unlimited, || {
///     calls += 1;
///     let fail = calls < 3;
///     async move { if fail { Err(Flaky) } else { Ok(42) } }
/// })
/// .await;
/// assert_eq!(answer.unwrap(), 42);
/// # }
/// ```
pub async fn retry<P, B, T, E, F, Fut>(policy: &P, budget: &B, op: F) -> Result<T, E>
where
    P: RetryPolicy + ?Sized,
    B: Budget + ?Sized,
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry_until(policy, budget, None, op).await
}

/// Like [`retry`], with a deadline for the whole call.
///
/// The loop does not interrupt an attempt in flight (it cannot make an `E` out of a timeout);
/// bound each attempt yourself, as the [`Retry`] decorator does with `Error::timeout`.
pub async fn retry_until<P, B, T, E, F, Fut>(
    policy: &P,
    budget: &B,
    deadline: Option<Instant>,
    op: F,
) -> Result<T, E>
where
    P: RetryPolicy + ?Sized,
    B: Budget + ?Sized,
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run(policy, budget, effective_deadline(policy, deadline), op).await
}

/// The loop itself; `deadline` already includes the policy's total timeout.
pub(crate) async fn run<P, B, T, E, F, Fut>(
    policy: &P,
    budget: &B,
    deadline: Option<Instant>,
    mut op: F,
) -> Result<T, E>
where
    P: RetryPolicy + ?Sized,
    B: Budget + ?Sized,
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    budget.deposit();
    let mut attempt = 1;
    let mut previous_delay = None;
    loop {
        let error = match op().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let delay = match policy.decide(&Failure::new(attempt, &error, previous_delay)) {
            Decision::Retry(delay) => delay,
            Decision::Stop(_) => return Err(error),
        };
        if deadline.is_some_and(|deadline| Instant::now() + delay >= deadline) {
            return Err(error);
        }
        if !budget.try_withdraw() {
            return Err(error);
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        previous_delay = Some(delay);
        attempt += 1;
    }
}

/// The earlier of the caller's deadline and the policy's total timeout from now.
pub(crate) fn effective_deadline<P: RetryPolicy + ?Sized>(
    policy: &P,
    deadline: Option<Instant>,
) -> Option<Instant> {
    let total = policy.total_timeout().map(|t| Instant::now() + t);
    match (deadline, total) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
