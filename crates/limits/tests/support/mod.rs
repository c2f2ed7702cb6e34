//! What the limiter tests over the in-memory store and over Redis share.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bulkhead_limits::{Denied, Limiter, Limits, Permit};

/// `n` admissions of `key` at once (released together by a barrier), spread in turn over
/// `limiters` (one per replica); each result with how long its admission took. Admitted
/// permits come back to the caller and stay held, like open streams.
pub async fn race(
    limiters: &[Limiter],
    key: &'static str,
    limits: &Limits,
    n: usize,
) -> Vec<(Result<Permit, Denied>, Duration)> {
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let limiter = limiters[i % limiters.len()].clone();
            let (limits, start) = (*limits, start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let t0 = Instant::now();
                let result = limiter.admit(key, &limits, 0).await;
                (result, t0.elapsed())
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}
