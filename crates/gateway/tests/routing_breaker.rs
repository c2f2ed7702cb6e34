//! The router and the retry crate's circuit breaker together, end to end: a gateway built from
//! TOML, real HTTP on loopback, one mock upstream per provider.
//!
//! An open circuit answers `CircuitOpen` with the time left open as its retry-after; the router
//! then keeps that target out of rotation until then, so requests go straight to the healthy
//! target without calling (or waiting for) the broken one. After `open_secs` the circuit lets
//! probes through again.

mod common;

use std::time::{Duration, Instant};

use bulkhead_testkit::{MockUpstream, Step};
use common::{
    JsonValue as _, ROOMY_TIMEOUTS, client, error_object, post_chat, provider_toml, serve_toml,
};
use serde_json::Value;

/// A gateway with model `chat` over providers `a` and `b` (round robin, retries off) and the
/// given `[circuit_breaker]` keys.
async fn gateway(a: &MockUpstream, b: &MockUpstream, breaker: &str) -> String {
    let a = provider_toml("a", "openai", &a.base_url(), ROOMY_TIMEOUTS);
    let b = provider_toml("b", "openai", &b.base_url(), ROOMY_TIMEOUTS);
    serve_toml(&format!(
        r#"{a}{b}
[[models]]
name = "chat"
strategy = "round_robin"
targets = [{{ provider = "a", model = "model-a" }}, {{ provider = "b", model = "model-b" }}]

# One attempt per target: this test is about the router and the breaker.
[retry]
max_attempts = 1

[circuit_breaker]
failure_ratio = 0.5
window_secs = 30
{breaker}
"#
    ))
    .await
}

struct Answer {
    status: u16,
    provider: Option<String>,
    retry_after: Option<String>,
    attempts: Option<String>,
    took: Duration,
    body: Value,
}

async fn ask(http: &reqwest::Client, url: &str) -> Answer {
    let started = Instant::now();
    let response = post_chat(http, url, "chat", false).await;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_owned())
    };
    let (status, provider, retry_after, attempts) = (
        response.status().as_u16(),
        header("x-bulkhead-provider"),
        header("retry-after"),
        header("x-bulkhead-attempts"),
    );
    let body = response.json_value().await;
    Answer {
        status,
        provider,
        retry_after,
        attempts,
        took: started.elapsed(),
        body,
    }
}

/// Check that `answer` is a 503 `overloaded_error` whose Retry-After is the minute the
/// circuits stay open (58 to 60 s left); returns its error object.
fn overloaded_for_about_a_minute(answer: &Answer) -> &Value {
    assert_eq!(answer.status, 503, "{}", answer.body);
    let error = error_object(&answer.body);
    assert_eq!(error["type"], "overloaded_error");
    let retry_after: u64 = answer
        .retry_after
        .as_deref()
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((58..=60).contains(&retry_after), "{retry_after}");
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_circuit_is_skipped_without_waiting_and_probed_again_after_open_secs() {
    let healthy = MockUpstream::start().await;
    let failing = MockUpstream::start().await;
    let url = gateway(&healthy, &failing, "min_requests = 4\nopen_secs = 2").await;
    let http = client();
    // `b` fails hard: slow 500s, four of them (enough to open its circuit), then it recovers.
    for _ in 0..4 {
        failing.push(Step::error(500, "down").after(Duration::from_millis(300)));
    }

    // Closed: every other request tries `b` first, waits for its 500, and fails over to `a`.
    let mut waited = 0;
    for _ in 0..8 {
        let answer = ask(&http, &url).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.provider.as_deref(), Some("a"));
        if answer.took >= Duration::from_millis(300) {
            waited += 1;
        }
    }
    assert_eq!(failing.calls(), 4);
    assert_eq!(waited, 4, "the requests that tried `b` waited for its 500");
    let opened = Instant::now();

    // Open: `b` is skipped at once; nothing reaches it, and no request waits for it.
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let answer = ask(&http, &url).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.provider.as_deref(), Some("a"));
        assert_eq!(answer.attempts.as_deref(), Some("1"), "only `a` was called");
        slowest = slowest.max(answer.took);
    }
    assert!(
        opened.elapsed() < Duration::from_secs(2),
        "the open phase outlasted open_secs ({:?}); the test proves nothing",
        opened.elapsed()
    );
    assert_eq!(failing.calls(), 4, "the open circuit kept requests away");
    assert!(
        slowest < Duration::from_millis(200),
        "a request took {slowest:?} while `b` was open (a 500 from `b` takes 300 ms)"
    );
    eprintln!("slowest request while open: {slowest:?}");

    // After open_secs the circuit lets probes through; `b` has recovered, so it answers again
    // and, once its probes succeed, takes its turns as before.
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(opened.elapsed())).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut from_b = 0;
    for _ in 0..20 {
        let answer = ask(&http, &url).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        if answer.provider.as_deref() == Some("b") {
            from_b += 1;
        }
    }
    assert_eq!(from_b, 10, "round robin again once the circuit closed");
    assert_eq!(failing.calls(), 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_circuit_open_and_no_fallback_is_a_503_saying_so_without_calling_upstream() {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    let url = gateway(&a, &b, "min_requests = 2\nopen_secs = 60").await;
    let http = client();
    for upstream in [&a, &b] {
        for _ in 0..2 {
            upstream.push(Step::error(500, "down"));
        }
    }

    // Two requests fail on both deployments and open both circuits.
    for _ in 0..2 {
        let answer = ask(&http, &url).await;
        assert_eq!(answer.status, 503, "{}", answer.body);
    }
    assert_eq!((a.calls(), b.calls()), (2, 2));

    // The next request meets both circuits open: each answers at once with its retry-after,
    // which the client gets too.
    let answer = ask(&http, &url).await;
    let error = overloaded_for_about_a_minute(&answer);
    let message = error["message"].as_str().expect("message");
    assert!(
        message.starts_with("no healthy deployment for model `chat`: tried "),
        "{message}"
    );
    assert!(
        message.contains("provider `a` (model-a: circuit_open)")
            && message.contains("provider `b` (model-b: circuit_open)"),
        "{message}"
    );
    assert_eq!(answer.attempts.as_deref(), Some("0"));

    // From then on the router skips both without asking them, says so, and says when to
    // come back.
    for _ in 0..5 {
        let answer = ask(&http, &url).await;
        let error = overloaded_for_about_a_minute(&answer);
        assert_eq!(
            error["message"],
            "no healthy deployment for model `chat`: skipped provider `a` (model-a: cooling \
             down), provider `b` (model-b: cooling down)"
        );
        assert!(
            answer.took < Duration::from_millis(200),
            "{:?}",
            answer.took
        );
    }
    assert_eq!(
        (a.calls(), b.calls()),
        (2, 2),
        "nothing reached the upstreams"
    );
}
