//! Retries, `x-bulkhead-attempts` and the circuit breaker end to end: real HTTP on loopback,
//! through a gateway built from TOML, against the testkit's mock upstream.
//!
//! Metrics are read through a global `DebuggingRecorder` installed once for this test binary
//! (a thread-local recorder would miss what the server's tasks emit on other threads); every
//! test uses its own provider name, so the `provider` label keeps their counters apart.

mod common;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bulkhead_testkit::{MockUpstream, Step};
use common::{
    JsonValue as _, ROOMY_TIMEOUTS, client, error_object, model_toml, post_chat, provider_toml,
    serve_toml,
};

use futures_util::StreamExt as _;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("the only recorder of this binary");
        snapshotter
    })
}

/// The value of counter `name` labelled `provider = provider` (0 if never incremented).
///
/// A snapshot drains the recorder's counters, and the tests of this binary run concurrently,
/// so every snapshot is added to one running total per (name, provider).
fn counter(name: &str, provider: &str) -> u64 {
    static TOTALS: OnceLock<Mutex<HashMap<(String, String), u64>>> = OnceLock::new();
    let mut totals = TOTALS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for (key, _, _, value) in snapshotter().snapshot().into_vec() {
        let DebugValue::Counter(n) = value else {
            continue;
        };
        let label = key
            .key()
            .labels()
            .find(|l| l.key() == "provider")
            .map(|l| l.value().to_owned())
            .unwrap_or_default();
        *totals
            .entry((key.key().name().to_owned(), label))
            .or_default() += n;
    }
    totals
        .get(&(name.to_owned(), provider.to_owned()))
        .copied()
        .unwrap_or(0)
}

/// One client for the whole binary: its pooled connections keep the 2,000-request run fast.
fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(client)
}

/// A gateway with one model `chat` served by provider `name` at the mock, with `extra` TOML
/// (sections `[retry]`, `[circuit_breaker]`) appended.
async fn gateway(name: &str, upstream: &MockUpstream, extra: &str) -> String {
    snapshotter();
    let provider = provider_toml(name, "openai", &upstream.base_url(), ROOMY_TIMEOUTS);
    let model = model_toml("chat", name, "mock-model");
    serve_toml(&format!("{provider}{model}\n{extra}\n")).await
}

struct Answer {
    status: u16,
    attempts: Option<u32>,
    body: serde_json::Value,
}

async fn ask(url: &str, stream: bool) -> Answer {
    let response = post_chat(http(), url, "chat", stream).await;
    let status = response.status().as_u16();
    let attempts = response
        .headers()
        .get("x-bulkhead-attempts")
        .map(|v| v.to_str().expect("ascii").parse().expect("a number"));
    let body = if stream {
        // An SSE answer is kept as text; an error before the first chunk is JSON.
        let text = response.text().await.expect("body");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    } else {
        response.json_value().await
    };
    Answer {
        status,
        attempts,
        body,
    }
}

/// splitmix64: a seeded, reproducible sequence for the mock's script.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Issue 5's acceptance: with 30% 503s, at least 99.9% of 2,000 requests succeed, and
/// `bulkhead_retries_total` equals the retries the mock saw (its calls minus the requests).
///
/// Each upstream call independently fails with probability 0.3 (a seeded script), so a
/// request fails only if all its attempts do: 0.3^n. 99.9% needs n >= 6 (0.3^6 = 0.07%); the
/// test uses 8 (0.007%, expected 0.13 failures in 2,000) so the bound holds whatever the
/// interleaving of the 8 concurrent clients. Backoff is 1-5 ms and the budget generous, so the
/// run takes a few seconds; the breaker is set so that 30% failures never open it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_503s_are_retried_into_success() {
    const REQUESTS: usize = 2_000;
    let upstream = MockUpstream::start().await;
    let mut seed = 0x0b0b_5eed;
    let mut scripted_errors = 0;
    for _ in 0..REQUESTS * 2 {
        if splitmix(&mut seed) % 10 < 3 {
            upstream.push(Step::error(503, "The server is overloaded"));
            scripted_errors += 1;
        } else {
            upstream.push(Step::Reply);
        }
    }
    assert!(
        (1_100..1_300).contains(&scripted_errors),
        "{scripted_errors}"
    );
    let url = gateway(
        "flaky",
        &upstream,
        r#"
[retry]
max_attempts = 8
initial_backoff_ms = 1
max_backoff_ms = 5
budget_ratio = 1.0
budget_min_per_sec = 1000

[circuit_breaker]
failure_ratio = 1.0
min_requests = 1000
"#,
    )
    .await;

    let started = Instant::now();
    let answers: Vec<Answer> = futures_util::stream::iter(0..REQUESTS)
        .map(|_| ask(&url, false))
        .buffer_unordered(8)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let ok = answers.iter().filter(|a| a.status == 200).count();
    let calls = upstream.calls();
    let header_total: u64 = answers
        .iter()
        .map(|a| u64::from(a.attempts.expect("x-bulkhead-attempts on every answer")))
        .sum();
    let retries = counter("bulkhead_retries_total", "flaky");
    eprintln!(
        "{ok}/{REQUESTS} ok, {calls} upstream calls, {retries} retries, {:.3} calls/request, {elapsed:?}",
        calls as f64 / REQUESTS as f64
    );
    assert!(
        ok * 1000 >= REQUESTS * 999,
        "only {ok} of {REQUESTS} succeeded"
    );
    assert!(calls > REQUESTS, "the script made some calls fail");
    assert_eq!(
        retries,
        (calls - REQUESTS) as u64,
        "retries counted = retries seen upstream"
    );
    assert_eq!(
        header_total, calls as u64,
        "x-bulkhead-attempts adds up to the mock's calls"
    );
    assert_eq!(
        counter("bulkhead_upstream_attempts_total", "flaky"),
        calls as u64
    );
}

#[tokio::test]
async fn attempts_header_counts_every_upstream_call_on_answers_and_errors() {
    let upstream = MockUpstream::start().await;
    let url = gateway(
        "twice",
        &upstream,
        "[retry]\ninitial_backoff_ms = 1\nmax_backoff_ms = 2\n",
    )
    .await;
    for stream in [false, true] {
        let before = upstream.calls();
        upstream.push(Step::error(503, "busy"));
        upstream.push(Step::error(500, "oops"));
        upstream.push(Step::Reply);
        let answer = ask(&url, stream).await;
        assert_eq!(answer.status, 200, "stream={stream}: {}", answer.body);
        assert_eq!(upstream.calls() - before, 3, "stream={stream}");
        assert_eq!(answer.attempts, Some(3), "stream={stream}: two retries");
    }
    // Every attempt fails: the error carries the count too.
    let before = upstream.calls();
    for _ in 0..3 {
        upstream.push(Step::error(503, "busy"));
    }
    let answer = ask(&url, false).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(upstream.calls() - before, 3);
    assert_eq!(answer.attempts, Some(3));
    // A request that never reaches a model has no count to report.
    let response = post_chat(&client(), &url, "no-such-model", false).await;
    assert_eq!(response.status(), 404);
    assert!(response.headers().get("x-bulkhead-attempts").is_none());
}

#[tokio::test]
async fn an_upstream_400_is_tried_exactly_once() {
    let upstream = MockUpstream::start().await;
    let url = gateway("strict", &upstream, "[retry]\ninitial_backoff_ms = 1\n").await;
    upstream.push(Step::error(400, "bad request"));
    let answer = ask(&url, false).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.attempts, Some(1));
    assert_eq!(upstream.calls(), 1);
    assert_eq!(counter("bulkhead_retries_total", "strict"), 0);
}

#[tokio::test]
async fn max_attempts_1_disables_retries() {
    let upstream = MockUpstream::start().await;
    let url = gateway(
        "once",
        &upstream,
        r#"
[retry]
initial_backoff_ms = 1

[[providers]]
name = "unused"
kind = "simulated"
retry = { max_attempts = 5 }
"#,
    )
    .await;
    // Another provider's override leaves this one on the section's settings...
    upstream.push(Step::error(503, "busy"));
    let answer = ask(&url, false).await;
    assert_eq!(answer.status, 200, "the section's 3 attempts apply");
    assert_eq!(answer.attempts, Some(2));

    let upstream = MockUpstream::start().await;
    let url = serve_toml(&format!(
        r#"
[retry]
max_attempts = 4
initial_backoff_ms = 1

[[providers]]
name = "once"
kind = "openai"
base_url = "{}"
retry = {{ max_attempts = 1 }}

[[models]]
name = "chat"
targets = [{{ provider = "once", model = "m" }}]
"#,
        upstream.base_url()
    ))
    .await;
    // ...and its own `retry = { max_attempts = 1 }` turns retries off over `max_attempts = 4`.
    upstream.push(Step::error(503, "busy"));
    let answer = ask(&url, false).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.attempts, Some(1));
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_through_the_gateway() {
    let upstream = MockUpstream::start().await;
    let url = gateway("patient", &upstream, "[retry]\ninitial_backoff_ms = 1\n").await;
    upstream.push(Step::rate_limited(1));
    let started = Instant::now();
    let answer = ask(&url, false).await;
    let elapsed = started.elapsed();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.attempts, Some(2));
    assert!(
        elapsed >= Duration::from_secs(1),
        "retried after {elapsed:?}, before the upstream's Retry-After: 1"
    );
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test]
async fn an_open_circuit_answers_503_at_once_without_calling_upstream() {
    let upstream = MockUpstream::start().await;
    let url = gateway(
        "broken",
        &upstream,
        r#"
[retry]
max_attempts = 1

[circuit_breaker]
failure_ratio = 0.5
min_requests = 3
open_secs = 60
"#,
    )
    .await;
    for _ in 0..3 {
        upstream.push(Step::error(500, "down"));
        let answer = ask(&url, false).await;
        assert_eq!(answer.status, 502, "{}", answer.body);
        assert_eq!(answer.attempts, Some(1));
    }
    assert_eq!(upstream.calls(), 3);
    for stream in [false, true] {
        let started = Instant::now();
        let answer = ask(&url, stream).await;
        let elapsed = started.elapsed();
        assert_eq!(answer.status, 503, "stream={stream}: {}", answer.body);
        assert_eq!(error_object(&answer.body)["code"], "circuit_open");
        assert_eq!(answer.attempts, Some(0), "nothing was sent upstream");
        assert!(elapsed < Duration::from_millis(500), "took {elapsed:?}");
    }
    assert_eq!(
        upstream.calls(),
        3,
        "the open circuit kept calls away from the mock"
    );
}
