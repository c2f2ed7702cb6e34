//! The limiter over the in-memory store, on a hand-moved clock.

use std::sync::Arc;
use std::time::Duration;

use bulkhead_core::{ErrorKind, Usage};
use bulkhead_limits::{
    Budget, BudgetPeriod, Denied, LimitKind, Limiter, LimiterConfig, Limits, ManualClock,
    MemoryStore, Permit,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use support::race;

mod support;

/// 2026-11-30T09:58:00Z.
const START: Duration = Duration::from_secs(1_796_032_680);

fn limiter() -> (Limiter, ManualClock) {
    let clock = ManualClock::new(START);
    let limiter = Limiter::with_clock(
        Arc::new(MemoryStore::new()),
        LimiterConfig::default(),
        Arc::new(clock.clone()),
    );
    (limiter, clock)
}

fn usage(total: u32) -> Usage {
    let json =
        format!(r#"{{"prompt_tokens":{total},"completion_tokens":0,"total_tokens":{total}}}"#);
    serde_json::from_str(&json).expect("valid usage")
}

async fn admitted(limiter: &Limiter, key: &str, limits: &Limits, tokens: u32) -> Permit {
    match limiter.admit(key, limits, tokens).await {
        Ok(p) => p,
        Err(d) => panic!("expected admission, got: {d}"),
    }
}

async fn denied(limiter: &Limiter, key: &str, limits: &Limits, tokens: u32) -> Denied {
    match limiter.admit(key, limits, tokens).await {
        Ok(_) => panic!("expected a denial"),
        Err(d) => d,
    }
}

#[tokio::test]
async fn rpm_allows_a_one_second_burst_then_the_steady_rate_with_exact_retry_after() {
    let (limiter, clock) = limiter();
    let limits = Limits {
        rpm: Some(600),
        ..Limits::default()
    };
    for _ in 0..10 {
        drop(admitted(&limiter, "a", &limits, 0).await);
    }
    let d = denied(&limiter, "a", &limits, 0).await;
    assert_eq!(d.limit, LimitKind::Requests);
    assert_eq!(d.retry_after, Duration::from_millis(100));
    assert_eq!(d.retry_after_secs(), 1);
    assert!(
        d.message
            .contains("rate limit of 600 requests per minute reached for key 'a'"),
        "{}",
        d.message
    );
    // Waiting exactly the retry-after is enough, for one request.
    clock.advance(d.retry_after);
    drop(admitted(&limiter, "a", &limits, 0).await);
    assert_eq!(
        denied(&limiter, "a", &limits, 0).await.limit,
        LimitKind::Requests
    );

    // Steady state: one request per 100 ms, over a simulated minute.
    let mut admitted_count = 0;
    for _ in 0..600 {
        clock.advance(Duration::from_millis(20));
        if limiter.admit("a", &limits, 0).await.is_ok() {
            admitted_count += 1;
        }
    }
    // 12 s at 10 per second.
    assert_eq!(admitted_count, 120);

    // Another key is not affected.
    drop(admitted(&limiter, "b", &limits, 0).await);
}

#[tokio::test]
async fn over_a_minute_an_idle_key_gets_rpm_plus_its_burst() {
    let (limiter, clock) = limiter();
    let limits = Limits {
        rpm: Some(600),
        ..Limits::default()
    };
    // 50 requests per second offered for 60 s, as in the acceptance test.
    let mut admitted_count = 0;
    for _ in 0..3000 {
        if limiter.admit("k", &limits, 0).await.is_ok() {
            admitted_count += 1;
        }
        clock.advance(Duration::from_millis(20));
    }
    // The burst of 10, then one per 100 ms over the 59.98 s offered: 10 + 599. The acceptance
    // bound (600 ± 5%) holds with room to spare.
    assert_eq!(admitted_count, 609);
}

#[tokio::test]
async fn tokens_are_reserved_then_corrected_charging_or_refunding() {
    let (limiter, clock) = limiter();
    // 6000 tokens per minute: 100 per second, burst of the whole minute.
    let limits = Limits {
        tpm: Some(6000),
        ..Limits::default()
    };
    let p = admitted(&limiter, "t", &limits, 5000).await;
    assert_eq!(p.estimated_tokens(), 5000);
    // 1000 left of the burst: a 1001-token request waits 10 ms (one token at 100 per second).
    let d = denied(&limiter, "t", &limits, 1001).await;
    assert_eq!(d.limit, LimitKind::Tokens);
    assert_eq!(d.retry_after, Duration::from_millis(10));
    assert!(
        d.message.contains("estimated at 1001 tokens"),
        "{}",
        d.message
    );

    // The request really used 1000: 4000 are refunded and a 5000-token request fits again.
    p.finish(Some(&usage(1000)), 0.0).await;
    let p2 = admitted(&limiter, "t", &limits, 5000).await;
    assert!(
        limiter.admit("t", &limits, 1).await.is_err(),
        "bucket full again"
    );

    // It really used 5600: 600 more are charged; with the bucket at -600, even a 1-token
    // request waits 6.01 s.
    p2.finish(Some(&usage(5600)), 0.0).await;
    let d = denied(&limiter, "t", &limits, 1).await;
    assert_eq!(d.retry_after, Duration::from_millis(6010));
    clock.advance(d.retry_after);
    drop(admitted(&limiter, "t", &limits, 1).await);

    // From a place that cannot await (a stream's last poll): the refund lands shortly after.
    clock.advance(Duration::from_secs(60));
    let p4 = admitted(&limiter, "t", &limits, 6000).await;
    p4.finish_detached(Some(&usage(0)), 0.0);
    let mut refunded = false;
    for _ in 0..100 {
        tokio::task::yield_now().await;
        if let Ok(p) = limiter.admit("t", &limits, 6000).await {
            drop(p);
            refunded = true;
            break;
        }
    }
    assert!(refunded, "detached finish refunded the estimate");

    // Without reported usage the estimate stays charged.
    clock.advance(Duration::from_secs(60));
    let p3 = admitted(&limiter, "t", &limits, 6000).await;
    p3.finish(None, 0.0).await;
    assert!(limiter.admit("t", &limits, 1).await.is_err());
}

#[tokio::test]
async fn a_request_larger_than_the_whole_minute_passes_only_when_idle() {
    let (limiter, clock) = limiter();
    let limits = Limits {
        tpm: Some(1000),
        ..Limits::default()
    };
    drop(admitted(&limiter, "big", &limits, 3000).await);
    let d = denied(&limiter, "big", &limits, 3000).await;
    // It used three minutes' worth: the key is idle again after 3 minutes.
    assert_eq!(d.retry_after, Duration::from_secs(180));
    clock.advance(Duration::from_secs(180));
    drop(admitted(&limiter, "big", &limits, 3000).await);
}

#[tokio::test]
async fn a_denied_request_takes_nothing() {
    let (limiter, _clock) = limiter();
    // A burst of 2 requests, 100 tokens, 2 slots.
    let limits = Limits {
        rpm: Some(120),
        tpm: Some(100),
        max_concurrent: Some(2),
        ..Limits::default()
    };
    let _first = admitted(&limiter, "n", &limits, 60).await;
    // 40 tokens left: denied for tokens, which must take neither the second request of the
    // burst nor the second slot...
    assert_eq!(
        denied(&limiter, "n", &limits, 50).await.limit,
        LimitKind::Tokens
    );
    // ...so both are still there for a request that fits.
    let _second = admitted(&limiter, "n", &limits, 40).await;
    assert_eq!(
        denied(&limiter, "n", &limits, 0).await.limit,
        LimitKind::Concurrency
    );
}

#[tokio::test]
async fn budget_is_charged_after_and_denies_until_the_next_utc_month() {
    let (limiter, clock) = limiter();
    let limits = Limits {
        budget: Some(Budget {
            usd: 1.0,
            period: BudgetPeriod::Month,
        }),
        ..Limits::default()
    };
    admitted(&limiter, "team-a", &limits, 0)
        .await
        .finish(None, 0.6)
        .await;
    // $0.60 of $1 spent: still admitted; this one takes it to $1.20.
    admitted(&limiter, "team-a", &limits, 0)
        .await
        .finish(None, 0.6)
        .await;
    let d = denied(&limiter, "team-a", &limits, 0).await;
    assert_eq!(d.limit, LimitKind::Budget);
    assert!(
        d.message.starts_with(
            "budget of $1.00 per month spent for key 'team-a'; resets at 2026-12-01T00:00:00Z"
        ),
        "{}",
        d.message
    );
    // From 2026-11-30T09:58:00Z to 2026-12-01T00:00:00Z.
    assert_eq!(d.retry_after, Duration::from_secs(14 * 3600 + 2 * 60));
    let err: bulkhead_core::Error = d.clone().into();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(d.retry_after));

    // One second before midnight: still spent. At midnight UTC: a new month.
    clock.advance(d.retry_after - Duration::from_secs(1));
    assert_eq!(
        denied(&limiter, "team-a", &limits, 0).await.limit,
        LimitKind::Budget
    );
    clock.advance(Duration::from_secs(1));
    drop(admitted(&limiter, "team-a", &limits, 0).await);
    // Other keys never shared the budget.
    drop(admitted(&limiter, "team-b", &limits, 0).await);
}

#[tokio::test]
async fn daily_budget_resets_at_midnight_utc() {
    let (limiter, clock) = limiter();
    let limits = Limits {
        budget: Some(Budget {
            usd: 0.5,
            period: BudgetPeriod::Day,
        }),
        ..Limits::default()
    };
    admitted(&limiter, "d", &limits, 0)
        .await
        .finish(None, 0.5)
        .await;
    let d = denied(&limiter, "d", &limits, 0).await;
    assert!(
        d.message
            .contains("per day spent for key 'd'; resets at 2026-12-01T00:00:00Z")
    );
    clock.advance(d.retry_after);
    let p = admitted(&limiter, "d", &limits, 0).await;
    p.finish(None, 0.25).await;
    drop(admitted(&limiter, "d", &limits, 0).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_attempts_with_max_fifty_gives_exactly_450_denials() {
    let limiter = Limiter::in_memory();
    let limits = Limits {
        max_concurrent: Some(50),
        ..Limits::default()
    };
    let mut permits = Vec::new();
    let mut denials = 0;
    for (result, took) in race(std::slice::from_ref(&limiter), "c", &limits, 500).await {
        match result {
            Ok(permit) => {
                assert!(took < Duration::from_millis(100), "admission took {took:?}");
                permits.push(permit);
            }
            Err(d) => {
                assert!(
                    took < Duration::from_millis(100),
                    "denial was not immediate: {took:?}"
                );
                assert_eq!(d.limit, LimitKind::Concurrency);
                assert_eq!(d.retry_after_secs(), 1);
                denials += 1;
            }
        }
    }
    assert_eq!(denials, 450);
    assert_eq!(permits.len(), 50);
    // Ending one stream frees exactly one slot.
    permits.pop();
    let again = limiter.admit("c", &limits, 0).await.expect("a freed slot");
    assert!(limiter.admit("c", &limits, 0).await.is_err());
    drop(again);
    drop(permits);
    for _ in 0..50 {
        std::mem::forget(
            limiter
                .admit("c", &limits, 0)
                .await
                .expect("all slots free"),
        );
    }
}

#[test]
fn denials_are_counted_per_key_name_and_limit() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let (limiter, _clock) = limiter();
    let limits = Limits {
        rpm: Some(60),
        ..Limits::default()
    };
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async {
            drop(admitted(&limiter, "team-a", &limits, 0).await);
            let _ = limiter.admit("team-a", &limits, 0).await;
            let _ = limiter.admit("team-a", &limits, 0).await;
        });
    });
    let counts: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, ..)| k.key().name() == "bulkhead_rate_limited_total")
        .map(|(k, _, _, v)| {
            let labels: Vec<_> = k
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            (labels, v)
        })
        .collect();
    assert_eq!(
        counts,
        vec![(
            vec!["key=team-a".to_owned(), "limit=rpm".to_owned()],
            DebugValue::Counter(2)
        )]
    );
}
