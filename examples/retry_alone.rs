//! `bulkhead-retry` alone, around a plain async function that has nothing to do with AI: a
//! flaky "inventory lookup" that fails twice with a retryable error, then once asks us to wait
//! (a `Retry-After`), then answers. It shows the generic [`retry`] loop with the default
//! jittered exponential backoff, a shared retry budget, a deadline, and a circuit breaker
//! guarding the same function.
//!
//! Run it with:
//!
//! ```text
//! cargo run -p bulkhead-examples --example retry_alone
//! ```

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bulkhead_retry::{
    Circuit, CircuitConfig, CircuitError, ExponentialBackoff, RetryBudget, RetryConfig, Retryable,
    retry_until,
};
use tokio::time::Instant;

/// The error of our own service: any type can take part by implementing [`Retryable`].
#[derive(Debug)]
enum LookupError {
    /// A blip: worth another try.
    Unavailable,
    /// The service asked us to come back later.
    Busy { retry_after: Duration },
    /// Our request was wrong: retrying cannot help.
    #[allow(dead_code)]
    NoSuchItem,
}

impl Retryable for LookupError {
    fn is_retryable(&self) -> bool {
        !matches!(self, LookupError::NoSuchItem)
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            LookupError::Busy { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// The flaky function: the first two calls fail, the third says "busy, retry in 300 ms".
async fn lookup(calls: &AtomicU32, item: &str) -> Result<u32, LookupError> {
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(Duration::from_millis(20)).await;
    println!("  attempt {n}: looking up {item:?}");
    match n {
        1 | 2 => Err(LookupError::Unavailable),
        3 => Err(LookupError::Busy {
            retry_after: Duration::from_millis(300),
        }),
        _ => Ok(42),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let policy = ExponentialBackoff::new(RetryConfig {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(100),
        ..RetryConfig::default()
    });
    let budget = RetryBudget::default();
    let calls = AtomicU32::new(0);

    println!("retry with backoff, Retry-After and a 5 s deadline:");
    let started = Instant::now();
    let deadline = Some(started + Duration::from_secs(5));
    let stock = retry_until(&policy, &budget, deadline, || lookup(&calls, "blue widget"))
        .await
        .map_err(|e| anyhow::anyhow!("lookup failed: {e:?}"))?;
    println!(
        "  -> {stock} in stock after {} attempts, {:?}",
        calls.load(Ordering::SeqCst),
        started.elapsed()
    );

    println!("a circuit breaker around the same kind of function:");
    let circuit = Circuit::new(
        "inventory",
        CircuitConfig {
            min_requests: 4,
            ..CircuitConfig::default()
        },
    );
    for i in 1..=6 {
        let outcome = circuit
            .call(async { Err::<u32, _>(LookupError::Unavailable) })
            .await;
        let what = match outcome {
            Err(CircuitError::Rejected(_)) => "rejected at once: circuit open",
            Err(CircuitError::Failed(_)) => "called, failed",
            Ok(_) => "called, ok",
        };
        println!("  call {i}: {what} (state now {:?})", circuit.state());
    }
    Ok(())
}
