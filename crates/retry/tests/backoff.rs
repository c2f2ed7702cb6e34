//! Acceptance: backoff bounds, the deadline, and Retry-After.

mod support;

use std::time::Duration;

use bulkhead_core::{ChatModel, ErrorKind};
use bulkhead_inference::simulated::{SimulatedConfig, SimulatedProvider};
use bulkhead_retry::{
    Decision, ExponentialBackoff, Failure, Jitter, Retry, RetryConfig, RetryPolicy, deadline_in,
};
use support::{Scripted, Step, rate_limited, request, unavailable};
use tokio::time::Instant;

fn failure(attempt: u32, previous_delay: Option<Duration>) -> Failure {
    let mut f = Failure::new(attempt, &unavailable(), previous_delay);
    f.retry_after = None;
    f
}

fn delay(policy: &ExponentialBackoff, f: &Failure) -> Duration {
    match policy.decide(f) {
        Decision::Retry(d) => d,
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[test]
fn ten_thousand_full_jitter_delays_lie_within_their_bounds() {
    let policy = ExponentialBackoff::new(RetryConfig {
        max_attempts: 10,
        seed: 42,
        ..RetryConfig::default()
    });
    let slack = Duration::from_micros(1); // backon computes ceilings in f32
    let mut sums = [0.0_f64; 9];
    for i in 0..10_000_u32 {
        let attempt = i % 9 + 1;
        let expected =
            (Duration::from_millis(200) * 2_u32.pow(attempt - 1)).min(Duration::from_secs(10));
        let d = delay(&policy, &failure(attempt, None));
        assert!(
            d <= expected + slack,
            "attempt {attempt}: {d:?} > {expected:?}"
        );
        sums[(attempt - 1) as usize] += d.as_secs_f64() / expected.as_secs_f64();
    }
    for (n, sum) in sums.iter().enumerate() {
        let mean = sum / (10_000.0 / 9.0);
        assert!(
            (0.45..0.55).contains(&mean),
            "attempt {}: mean {mean}",
            n + 1
        );
    }
}

#[test]
fn ten_thousand_decorrelated_delays_lie_within_their_bounds() {
    let policy = ExponentialBackoff::new(RetryConfig {
        max_attempts: 1000,
        jitter: Jitter::Decorrelated,
        seed: 7,
        ..RetryConfig::default()
    });
    let (low, cap) = (Duration::from_millis(200), Duration::from_secs(10));
    let mut previous = None;
    for i in 0..10_000_u32 {
        let d = delay(&policy, &failure(i % 999 + 1, previous));
        let high = (previous.unwrap_or(low) * 3).max(low).min(cap);
        assert!(
            d >= low.min(high) && d <= high,
            "{d:?} outside [{low:?}, {high:?}]"
        );
        previous = if i % 20 == 19 { None } else { Some(d) };
    }
}

#[test]
fn same_seed_same_delays() {
    let config = RetryConfig {
        seed: 99,
        ..RetryConfig::default()
    };
    let (a, b) = (
        ExponentialBackoff::new(config.clone()),
        ExponentialBackoff::new(config),
    );
    for _ in 0..100 {
        assert_eq!(delay(&a, &failure(2, None)), delay(&b, &failure(2, None)));
    }
}

#[tokio::test(start_paused = true)]
async fn with_a_three_second_deadline_the_call_ends_within_3_05_s() {
    let policy = || {
        ExponentialBackoff::new(RetryConfig {
            max_attempts: 1000,
            ..RetryConfig::default()
        })
    };
    // An upstream that fails after 100 ms, and one that hangs for 10 s.
    let failing = Scripted::failing_forever(unavailable()).with_latency(Duration::from_millis(100));
    let hanging = SimulatedProvider::new(SimulatedConfig {
        latency: Duration::from_secs(10),
        ..SimulatedConfig::default()
    });
    for seed in 0..50 {
        let model = Retry::new(failing.clone(), policy());
        let mut req = request();
        req.extensions.insert(deadline_in(Duration::from_secs(3)));
        let start = Instant::now();
        let err = model.chat(req).await.expect_err("the call should fail");
        let took = start.elapsed();
        assert!(took <= Duration::from_millis(3050), "seed {seed}: {took:?}");
        assert!(matches!(
            err.kind(),
            ErrorKind::Overloaded | ErrorKind::Timeout
        ));

        let model = Retry::new(hanging.clone(), policy());
        let mut req = request();
        req.extensions.insert(deadline_in(Duration::from_secs(3)));
        let start = Instant::now();
        let err = model.chat(req).await.expect_err("the call should fail");
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(start.elapsed() <= Duration::from_millis(3050));
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_two_seconds_is_honoured() {
    let upstream = Scripted::new([Step::Fail(rate_limited(Duration::from_secs(2)))]);
    let model = Retry::new(upstream.clone(), ExponentialBackoff::default());
    let start = Instant::now();
    model.chat(request()).await.expect("the call succeeds");
    let starts = upstream.starts();
    assert_eq!(starts.len(), 2);
    assert!(starts[1] - starts[0] >= Duration::from_secs(2));
    assert!(start.elapsed() < Duration::from_millis(2100));
}

#[tokio::test(start_paused = true)]
async fn retry_after_crossing_the_deadline_returns_the_429_at_once() {
    let upstream = Scripted::new([Step::Fail(rate_limited(Duration::from_secs(2)))]);
    let model = Retry::new(upstream.clone(), ExponentialBackoff::default());
    let mut req = request();
    req.extensions
        .insert(deadline_in(Duration::from_millis(1500)));
    let start = Instant::now();
    let err = model.chat(req).await.expect_err("the call should fail");
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.status(), Some(429));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_cap_is_not_waited_for() {
    let upstream = Scripted::new([Step::Fail(rate_limited(Duration::from_secs(120)))]);
    let model = Retry::new(upstream.clone(), ExponentialBackoff::default());
    let start = Instant::now();
    let err = model
        .chat(request())
        .await
        .expect_err("the call should fail");
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!((start.elapsed(), upstream.calls()), (Duration::ZERO, 1));
}
