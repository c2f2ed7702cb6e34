//! The limiter over a real `redis-server`: several `Limiter`s stand for several replicas.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bulkhead_limits::{
    Budget, BudgetPeriod, FailMode, LimitKind, Limiter, LimiterConfig, Limits, RedisStore,
};
use bulkhead_testkit::redis::RedisServer;
use support::race;

mod support;

/// A test config: failures deny (so a slow store can never hide as an admission) and the
/// store may take up to a second on a busy CI machine.
fn config() -> LimiterConfig {
    LimiterConfig {
        fail_mode: FailMode::Closed,
        store_timeout: Duration::from_secs(1),
        ..LimiterConfig::default()
    }
}

fn replica(url: &str, prefix: &str, config: LimiterConfig) -> Limiter {
    let store = RedisStore::new(url, config.store_timeout)
        .expect("valid url")
        .with_prefix(prefix);
    Limiter::with_config(Arc::new(store), config)
}

/// Acceptance, scaled: "one key with rpm = 600 and 50 req/s offered across two replicas for
/// 60 s -> 600 ± 5%" becomes rpm = 6000 and 500 req/s for 3 s (rates × 10, time ÷ 20). GCRA
/// admits the burst (1 s of the rate = 100) plus the rate over the window actually offered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_request_rate_and_other_keys_are_unaffected() {
    let Some(server) = RedisServer::try_start() else {
        return;
    };
    let url = server.url();
    let replicas = [
        replica(&url, "t-rate:", config()),
        replica(&url, "t-rate:", config()),
    ];
    let limited = Limits {
        rpm: Some(6000),
        ..Limits::default()
    };
    let other = Limits {
        rpm: Some(6000),
        ..Limits::default()
    };
    let admitted = Arc::new(AtomicU32::new(0));
    let other_admitted = Arc::new(AtomicU32::new(0));
    let unavailable = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let mut generators = Vec::new();
    for limiter in replicas {
        let (admitted, other_admitted, unavailable) = (
            admitted.clone(),
            other_admitted.clone(),
            unavailable.clone(),
        );
        generators.push(tokio::spawn(async move {
            // 250 per second per replica for 3 s; every tenth tick also a request of the
            // other key (25 per second per replica, well under its limit).
            let mut tick = tokio::time::interval(Duration::from_millis(4));
            let mut calls = Vec::new();
            for i in 0..750 {
                tick.tick().await;
                let (limiter, admitted, other_admitted, unavailable) = (
                    limiter.clone(),
                    admitted.clone(),
                    other_admitted.clone(),
                    unavailable.clone(),
                );
                calls.push(tokio::spawn(async move {
                    match limiter.admit("team-a", &limited, 0).await {
                        Ok(_) => {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(d) if d.limit == LimitKind::Unavailable => {
                            unavailable.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {}
                    }
                    if i % 10 == 0 && limiter.admit("team-b", &other, 0).await.is_ok() {
                        other_admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
            // The offered window ends with the last request sent, not with its answer.
            let sent_for = started.elapsed();
            for c in calls {
                c.await.expect("call");
            }
            sent_for
        }));
    }
    let mut window = Duration::ZERO;
    for g in generators {
        window = window.max(g.await.expect("generator"));
    }
    let window = window.as_secs_f64();
    let admitted = f64::from(admitted.load(Ordering::Relaxed));
    let expected = 100.0 + 100.0 * window;
    eprintln!("admitted {admitted} over {window:.2} s; expected {expected:.0} ± 5%");
    assert_eq!(unavailable.load(Ordering::Relaxed), 0);
    assert!(
        (admitted - expected).abs() <= expected * 0.05,
        "admitted {admitted}, expected {expected:.0} ± 5%"
    );
    assert_eq!(
        other_admitted.load(Ordering::Relaxed),
        150,
        "other key served in full"
    );
}

/// Many tasks on two replicas racing for the same slots: the script admits exactly the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_admissions_across_replicas_never_over_admit() {
    let Some(server) = RedisServer::try_start() else {
        return;
    };
    let url = server.url();
    let a = replica(&url, "t-race:", config());
    let b = replica(&url, "t-race:", config());

    // Concurrency: 500 attempts, max 50, all permits held -> exactly 450 immediate denials.
    let streams = Limits {
        max_concurrent: Some(50),
        ..Limits::default()
    };
    let mut permits = Vec::new();
    let mut denied = 0;
    for (result, _) in race(&[a.clone(), b.clone()], "streams", &streams, 500).await {
        match result {
            Ok(p) => permits.push(p),
            Err(d) => {
                assert_eq!(d.limit, LimitKind::Concurrency, "{d}");
                denied += 1;
            }
        }
    }
    assert_eq!((permits.len(), denied), (50, 450));
    // A finished stream frees its slot for any replica (the release is sent in the background).
    permits.pop();
    let freed = wait_for(|| async { b.admit("streams", &streams, 0).await.ok() }).await;
    assert!(a.admit("streams", &streams, 0).await.is_err());
    drop(freed);

    // Requests: a burst of exactly 100 and a refill of one per minute; 300 racing attempts.
    let burst = LimiterConfig {
        request_burst: Duration::from_secs(100 * 60),
        ..config()
    };
    let (a, b) = (
        replica(&url, "t-race:", burst),
        replica(&url, "t-race:", burst),
    );
    let rpm = Limits {
        rpm: Some(1),
        ..Limits::default()
    };
    let mut tasks = Vec::new();
    for i in 0..300 {
        let limiter = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            limiter.admit("burst", &rpm, 0).await.is_ok()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += u32::from(t.await.expect("task"));
    }
    assert_eq!(ok, 100);
}

async fn wait_for<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..100 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 1 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_tokens_and_budget_on_one_replica_apply_on_the_other() {
    let Some(server) = RedisServer::try_start() else {
        return;
    };
    let url = server.url();
    let a = replica(&url, "t-settle:", config());
    let b = replica(&url, "t-settle:", config());
    let limits = Limits {
        tpm: Some(6000),
        budget: Some(Budget {
            usd: 1.0,
            period: BudgetPeriod::Day,
        }),
        ..Limits::default()
    };
    // One request per minute, burst 1: B sees A's request and waits out the rest of the minute.
    let rpm = Limits {
        rpm: Some(1),
        ..Limits::default()
    };
    drop(a.admit("r", &rpm, 0).await.expect("first"));
    let d = b
        .admit("r", &rpm, 0)
        .await
        .expect_err("limited across replicas");
    assert_eq!(d.limit, LimitKind::Requests);
    assert!(
        d.retry_after > Duration::from_secs(58) && d.retry_after <= Duration::from_secs(60),
        "{:?}",
        d.retry_after
    );
    assert!((59..=60).contains(&d.retry_after_secs()));

    // Reserve the whole minute on A; B is refused; A reports 1000 real tokens -> B fits 5000.
    let p = a.admit("k", &limits, 6000).await.expect("admitted");
    let d = b
        .admit("k", &limits, 5000)
        .await
        .expect_err("no tokens left");
    assert_eq!(d.limit, LimitKind::Tokens);
    assert!(
        d.retry_after > Duration::from_secs(49),
        "{:?}",
        d.retry_after
    );
    let usage: bulkhead_core::Usage = serde_json::from_str(
        r#"{"prompt_tokens":900,"completion_tokens":100,"total_tokens":1000}"#,
    )
    .expect("usage");
    p.finish(Some(&usage), 0.75).await;
    let p = b.admit("k", &limits, 5000).await.expect("refunded tokens");
    // B's answer costs $0.50: $1.25 of $1 spent for today, on both replicas.
    p.finish_tokens(Some(5000), 0.5).await;
    for limiter in [&a, &b] {
        let d = limiter
            .admit("k", &limits, 0)
            .await
            .expect_err("budget spent");
        assert_eq!(d.limit, LimitKind::Budget);
        assert!(
            d.message
                .starts_with("budget of $1.00 per day spent for key 'k'; resets at "),
            "{}",
            d.message
        );
        assert!(d.retry_after <= Duration::from_secs(86_400));
    }
}

#[test]
fn a_crashed_replicas_slots_expire_and_a_live_ones_are_renewed() {
    let Some(server) = RedisServer::try_start() else {
        return;
    };
    let url = server.url();
    let short = LimiterConfig {
        lease_ttl: Duration::from_millis(300),
        ..config()
    };
    let limits = Limits {
        max_concurrent: Some(2),
        ..Limits::default()
    };
    // A replica takes both slots and dies without releasing them (its runtime is dropped:
    // no release, no renewal).
    {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            let crashed = replica(&url, "t-lease:", short);
            for _ in 0..2 {
                std::mem::forget(crashed.admit("k", &limits, 0).await.expect("slot"));
            }
        });
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let live = replica(&url, "t-lease:", short);
        assert_eq!(
            live.admit("k", &limits, 0).await.expect_err("held").limit,
            LimitKind::Concurrency
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        // The dead replica's leases expired: both slots are free again, and held by a live
        // replica that renews them every 100 ms.
        let held = [
            live.admit("k", &limits, 0).await.expect("expired slot"),
            live.admit("k", &limits, 0).await.expect("expired slot"),
        ];
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(
            live.admit("k", &limits, 0).await.is_err(),
            "renewed leases still hold"
        );
        drop(held);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_or_hanging_redis_fails_open_within_the_timeout_or_closed_when_asked() {
    let Some(mut server) = RedisServer::try_start() else {
        return;
    };
    let dead_url = server.url();
    server.kill();
    // A "Redis" that accepts connections and never answers.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hanging_url = format!("redis://{}/", hanging.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hanging.accept().await {
            held.push(socket);
        }
    });
    let limits = Limits {
        rpm: Some(1),
        max_concurrent: Some(1),
        ..Limits::default()
    };
    let open = LimiterConfig {
        store_timeout: Duration::from_millis(100),
        ..LimiterConfig::default()
    };
    for url in [&dead_url, &hanging_url] {
        let limiter = Limiter::redis(url, open).expect("valid url");
        let t0 = Instant::now();
        assert!(limiter.check_store().await.is_err(), "not ready");
        assert!(
            t0.elapsed() < Duration::from_millis(500),
            "{:?}",
            t0.elapsed()
        );
        for _ in 0..3 {
            let t0 = Instant::now();
            let permit = limiter.admit("k", &limits, 0).await;
            assert!(permit.is_ok(), "fails open");
            assert!(
                t0.elapsed() < Duration::from_millis(500),
                "{:?}",
                t0.elapsed()
            );
            let t0 = Instant::now();
            permit.expect("permit").finish(None, 1.0).await;
            assert!(
                t0.elapsed() < Duration::from_millis(500),
                "{:?}",
                t0.elapsed()
            );
        }
        let closed = Limiter::redis(
            url,
            LimiterConfig {
                fail_mode: FailMode::Closed,
                ..open
            },
        )
        .expect("valid url");
        let t0 = Instant::now();
        let d = closed
            .admit("k", &limits, 0)
            .await
            .expect_err("fails closed");
        assert_eq!(d.limit, LimitKind::Unavailable);
        assert_eq!(d.retry_after, Duration::from_secs(1));
        assert!(t0.elapsed() < Duration::from_millis(500));
    }
    // Redis comes back: limits apply again.
    server.restart();
    let limiter = Limiter::redis(&dead_url, config()).expect("valid url");
    limiter.check_store().await.expect("ready again");
    assert!(Limiter::in_memory().check_store().await.is_ok());
    let first = limiter.admit("k", &limits, 0).await.expect("admitted");
    assert_eq!(
        limiter
            .admit("k", &limits, 0)
            .await
            .expect_err("limited")
            .limit,
        LimitKind::Concurrency
    );
    drop(first);
}
