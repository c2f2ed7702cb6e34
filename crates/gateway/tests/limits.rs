//! Per-key limits through the HTTP API: concurrency, rate and budget, each answered with a 429
//! in OpenAI's error shape and a `Retry-After`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    JsonBody as _, JsonValue as _, client, error_object, header, key_hash, post_keyed, serve_toml,
};
use serde_json::json;
use tokio::sync::Barrier;

/// A simulated provider (answering at `tokens_per_second` when given), one model `chat` at
/// $1 per token, and `keys`.
fn config(tokens_per_second: Option<f64>, keys: &str) -> String {
    let pace = tokens_per_second.map_or(String::new(), |t| format!("tokens_per_second = {t}"));
    format!(
        r#"
[[providers]]
name = "sim"
kind = "simulated"
{pace}

[[models]]
name = "chat"
targets = [{{ provider = "sim", model = "sim-1" }}]

[pricing."sim-1"]
input = 1000000.0
output = 1000000.0

{keys}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_streams_on_a_key_with_max_concurrent_50_get_exactly_450_immediate_429s() {
    const STREAMS: usize = 500;
    let keys = format!(
        "[[keys]]\nname = \"busy\"\nhash = \"{}\"\nmax_concurrent = 50\n",
        key_hash("bh-busy")
    );
    // 60 tokens at 10 tokens/s: an admitted stream stays open about 6 s, far longer than the
    // 500 requests take to arrive even on a loaded machine, so no slot frees mid-test.
    let root = serve_toml(&config(Some(10.0), &keys)).await;
    let url = format!("{root}/v1/chat/completions");
    let http = client();
    let body = json!({
        "model": "chat", "stream": true, "max_tokens": 60,
        "messages": [{"role": "user", "content": "Tell me a long story"}],
    });
    let start = Arc::new(Barrier::new(STREAMS));
    let mut tasks = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS {
        let (http, url, body, start) = (http.clone(), url.clone(), body.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let sent = Instant::now();
            let response = post_keyed(&http, &url, "bh-busy", &body).await;
            let status = response.status().as_u16();
            let answered_in = sent.elapsed();
            let retry_after = response.headers().get("retry-after").cloned();
            let text = String::from_utf8_lossy(&response.bytes().await.expect("body")).into_owned();
            (status, answered_in, retry_after, text)
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for task in tasks {
        let (status, answered_in, retry_after, text) = task.await.expect("task");
        match status {
            200 => {
                assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
                ok += 1;
            }
            429 => {
                assert!(
                    // A queued request would wait for a slot: for a stream to end, ~6 s.
                    answered_in < Duration::from_secs(3),
                    "a denial waited {answered_in:?}: it must not queue"
                );
                assert!(retry_after.is_some(), "429 without Retry-After");
                let body: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                assert_eq!(error_object(&body)["code"], "concurrency_limit_exceeded");
                limited += 1;
            }
            other => panic!("unexpected status {other}: {text}"),
        }
    }
    assert_eq!((ok, limited), (50, 450));

    // Every slot was released when its stream ended: the next 50 are admitted again.
    for _ in 0..50 {
        let one_token = json!({"model": "chat", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]});
        let response = post_keyed(&http, &url, "bh-busy", &one_token).await;
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn a_spent_budget_is_a_429_naming_it_and_other_keys_go_on() {
    let keys = format!(
        "[[keys]]\nname = \"thrifty\"\nhash = \"{}\"\nbudget_usd = 1.0\nbudget_period = \"day\"\n\n\
         [[keys]]\nname = \"other\"\nhash = \"{}\"\n",
        key_hash("bh-thrifty"),
        key_hash("bh-other")
    );
    let root = serve_toml(&config(None, &keys)).await;
    let url = format!("{root}/v1/chat/completions");
    let http = client();
    let body = json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});

    // At $1 per token, the first answer spends the whole budget.
    let first = post_keyed(&http, &url, "bh-thrifty", &body).await;
    assert_eq!(first.status(), 200);
    let cost: f64 = header(&first, "x-bulkhead-cost-usd")
        .and_then(|v| v.parse().ok())
        .expect("x-bulkhead-cost-usd on a JSON answer");
    assert!(cost >= 1.0, "cost {cost}");

    // The charge lands just after the answer; the next request is refused.
    let deadline = Instant::now() + Duration::from_secs(2);
    let refused = loop {
        let response = http
            .post(&url)
            .bearer_auth("bh-thrifty")
            .header("cache-control", "no-store")
            .json_body(&body)
            .send()
            .await
            .expect("send");
        if response.status() == 429 {
            break response;
        }
        assert!(Instant::now() < deadline, "budget never enforced");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(refused.headers().get("retry-after").is_some());
    let body_json = refused.json_value().await;
    let error = error_object(&body_json);
    assert_eq!(error["code"], "budget_exceeded");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("thrifty"),
        "{error}"
    );

    let other = post_keyed(&http, &url, "bh-other", &body).await;
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after() {
    let keys = format!(
        "[[keys]]\nname = \"slow\"\nhash = \"{}\"\nrpm = 60\n",
        key_hash("bh-slow")
    );
    let root = serve_toml(&config(None, &keys)).await;
    let url = format!("{root}/v1/chat/completions");
    let http = client();
    let body = json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = post_keyed(&http, &url, "bh-slow", &body).await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert_eq!(header(&response, "retry-after"), Some("1"));
            let body = response.json_value().await;
            assert_eq!(error_object(&body)["code"], "rate_limit_exceeded");
        }
    }
    // rpm = 60 with a one-second burst admits one request now, then one per second.
    assert_eq!(statuses, [200, 429, 429, 429, 429]);
}
