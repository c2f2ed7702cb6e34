//! `/metrics` after a scripted run against mock upstreams: every counter equals what the mock
//! and the client saw, tokens and cost equal the usage the mock returned, and request ids and
//! users mint no new series.
//!
//! One test in this file: the Prometheus recorder is global to the process.

mod common;

use bulkhead_gateway::serve::LiveRouter;
use bulkhead_gateway::{Config, Gateway, ServerConfig};
use bulkhead_testkit::{MockUpstream, Step};
use common::{
    JsonBody as _, JsonValue as _, client, data_lines, fallback_toml, get_text, header, post_json,
    serve_live,
};
use serde_json::{Value, json};

/// The sum of the samples of `name` whose labels include every pair of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

fn series_count(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count()
}

/// A JSON answer's `x-bulkhead-cost-usd` and `usage`.
async fn json_answer(response: reqwest::Response) -> (f64, Value) {
    assert_eq!(response.status(), 200);
    let cost: f64 = header(&response, "x-bulkhead-cost-usd")
        .and_then(|v| v.parse().ok())
        .expect("x-bulkhead-cost-usd");
    let body = response.json_value().await;
    (cost, body["usage"].clone())
}

struct Seen {
    input: u64,
    output: u64,
}

impl Seen {
    fn add(&mut self, usage: &Value) {
        self.input += usage["prompt_tokens"].as_u64().expect("prompt_tokens");
        self.output += usage["completion_tokens"]
            .as_u64()
            .expect("completion_tokens");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_equal_what_the_mock_and_the_client_saw() {
    let handle = bulkhead_observability::install_prometheus().expect("install the exporter");
    let primary = MockUpstream::start().await;
    let backup = MockUpstream::start().await;
    let toml = format!(
        r#"{}
[retry]
max_attempts = 2
initial_backoff_ms = 1
max_backoff_ms = 2

[cache]
enabled = true

[pricing."mock-model"]
input = 1.0
output = 2.0
"#,
        fallback_toml(
            (&primary.base_url(), "mock-model"),
            (&backup.base_url(), "mock-model")
        )
    );
    let config = Config::from_toml_str(&toml, "metrics.toml").expect("config");
    let gateway = Gateway::build(&config).expect("gateway");
    // Served as bulkhead-server serves it: the gateway's service, `/metrics` included, on the
    // gateway's own serve loop.
    let live = LiveRouter::new(gateway.service_with_metrics(handle.clone()));
    let root = format!("http://{}", serve_live(live, ServerConfig::default()).await);
    let url = format!("{root}/v1/chat/completions");
    let http = client();
    let ask = async |prompt: &str, stream: bool| {
        let mut body = json!({"model": "chat", "messages": [{"role": "user", "content": prompt}]});
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        post_json(&http, &url, &body).await
    };
    let mut seen = Seen {
        input: 0,
        output: 0,
    };
    let mut cost_headers = 0.0;

    // Three plain successes.
    for i in 0..3 {
        let r = ask(&format!("question {i}"), false).await;
        let (cost, usage) = json_answer(r).await;
        cost_headers += cost;
        seen.add(&usage);
    }
    // One retried: a 500, then an answer.
    primary.push(Step::error(500, "boom"));
    let r = ask("retried", false).await;
    assert_eq!(header(&r, "x-bulkhead-attempts"), Some("2"));
    let (cost, usage) = json_answer(r).await;
    cost_headers += cost;
    seen.add(&usage);
    // One that falls back: both attempts on the primary fail, the backup answers.
    primary.push(Step::error(500, "boom"));
    primary.push(Step::error(500, "boom"));
    let r = ask("fell back", false).await;
    assert_eq!(header(&r, "x-bulkhead-provider"), Some("backup"));
    let (cost, usage) = json_answer(r).await;
    cost_headers += cost;
    seen.add(&usage);
    // Two cache hits: free, and no upstream call.
    for _ in 0..2 {
        let r = ask("question 0", false).await;
        assert_eq!(header(&r, "x-bulkhead-cache"), Some("hit"));
        let (cost, _) = json_answer(r).await;
        assert_eq!(cost, 0.0, "a cache hit costs nothing");
    }
    // Two streams, with usage.
    for i in 0..2 {
        let r = ask(&format!("stream {i}"), true).await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.expect("body");
        let lines = data_lines(&text);
        assert_eq!(lines.last(), Some(&"[DONE]"));
        let usage: Value = lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|c| c["usage"].is_object())
            .map(|c| c["usage"].clone())
            .expect("a usage chunk");
        seen.add(&usage);
    }
    assert_eq!(primary.calls(), 3 + 2 + 2 + 2);
    assert_eq!(backup.calls(), 1);

    // The recorder applies stream metrics as the stream ends, just after the client read it.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let metrics = format!("{root}/metrics");
    let text = get_text(&http, &metrics).await;

    let requests = |outcome| {
        sample(
            &text,
            "bulkhead_requests_total",
            &[("model", "chat"), ("outcome", outcome)],
        )
    };
    assert_eq!(requests("ok"), 9.0, "{text}");
    let cache = |result| {
        sample(
            &text,
            "bulkhead_cache_requests_total",
            &[("result", result)],
        )
    };
    assert_eq!((cache("miss"), cache("hit")), (7.0, 2.0));
    let attempts = |provider, outcome| {
        sample(
            &text,
            "bulkhead_upstream_attempts_total",
            &[("provider", provider), ("outcome", outcome)],
        )
    };
    assert_eq!(attempts("primary", "ok"), 6.0);
    assert_eq!(attempts("primary", "server_error"), 3.0);
    assert_eq!(attempts("backup", "ok"), 1.0);
    assert_eq!(
        sample(&text, "bulkhead_retries_total", &[("provider", "primary")]),
        2.0
    );
    // Tokens: what the mock reported, over every answer that came from upstream.
    let tokens = |kind| {
        sample(
            &text,
            "gen_ai_client_token_usage_sum",
            &[("gen_ai_token_type", kind)],
        )
    };
    assert_eq!(tokens("input"), seen.input as f64);
    assert_eq!(tokens("output"), seen.output as f64);
    // Cost: $1 and $2 per million input and output tokens.
    let expected = (seen.input as f64 * 1.0 + seen.output as f64 * 2.0) / 1e6;
    let counted = sample(&text, "bulkhead_cost_usd_total", &[("model", "chat")]);
    assert!(
        (counted - expected).abs() < 1e-12,
        "{counted} vs {expected}"
    );
    let json_only = cost_headers;
    assert!(json_only > 0.0 && json_only <= expected + 1e-12);
    assert_eq!(
        sample(
            &text,
            "gen_ai_client_operation_time_to_first_chunk_seconds_count",
            &[]
        ),
        2.0
    );

    // 10,000 more requests with distinct request ids and users mint no series.
    let before = series_count(&text);
    for i in 0..10_000 {
        let body = json!({
            "model": "chat", "user": format!("user-{i}"),
            "messages": [{"role": "user", "content": "question 0"}],
        });
        let r = http
            .post(&url)
            .header("x-request-id", format!("req-{i}"))
            .json_body(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
    }
    let after = get_text(&http, &metrics).await;
    assert_eq!(series_count(&after), before, "new series appeared");
    assert_eq!(
        sample(
            &after,
            "bulkhead_requests_total",
            &[("model", "chat"), ("outcome", "ok")]
        ),
        10_009.0
    );
    assert!(!after.contains("req-1"), "a request id became a label");
    assert!(!after.contains("user-1"), "a user became a label");
}
