//! Routing through the HTTP API: several targets, fallbacks, headers naming the deployment that
//! answered, stream cuts, and the `[[models]]` routing keys of the config file.

mod common;

use std::sync::Arc;

use bulkhead_core::{
    ChatChunk, ChatModel, ChatRequest, ChatResponse, ChatStream, Error, Result, async_trait,
};
use bulkhead_gateway::{Config, Gateway, ModelRoute, StrategyKind};
use bulkhead_orchestration::{Route, Router, Routes, Target};
use bulkhead_testkit::{MockUpstream, Step};
use common::{
    JsonValue as _, client, data_lines, fallback_toml, post_chat, provider_toml, serve, serve_toml,
};
use serde_json::{Value, json};

#[tokio::test]
async fn a_failing_primary_falls_back_and_headers_name_the_deployment_that_answered() {
    let primary = MockUpstream::start().await;
    let backup = MockUpstream::start().await;
    let deployments = fallback_toml((&primary.base_url(), "small"), (&backup.base_url(), "big"));
    // Retries off: this test is about what the router does when a deployment fails.
    let url = serve_toml(&format!("{deployments}[retry]\nmax_attempts = 1\n")).await;
    let client = client();
    let mut served = 0;
    for i in 0..200 {
        // 30% of the primary's answers are 503s.
        if i % 10 < 3 {
            primary.push(Step::error(503, "busy"));
        }
        let response = post_chat(&client, &url, "chat", false).await;
        assert_eq!(response.status(), 200);
        let expected = if i % 10 < 3 {
            ("backup", "big")
        } else {
            ("primary", "small")
        };
        let headers = response.headers().clone();
        assert_eq!(headers["x-bulkhead-provider"], expected.0);
        assert_eq!(headers["x-bulkhead-model"], expected.1);
        let body: Value = response.json_value().await;
        assert_eq!(body["model"], expected.1);
        served += 1;
    }
    assert_eq!(served, 200);
    assert_eq!(backup.calls(), 60);
}

#[tokio::test]
async fn every_deployment_failing_is_a_503_naming_them() {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    let providers = [
        provider_toml("a", "openai", &a.base_url(), ""),
        provider_toml("b", "openai", &b.base_url(), ""),
    ]
    .concat();
    let url = serve_toml(&format!(
        r#"{providers}
[[models]]
name = "chat"
strategy = "round_robin"
targets = [{{ provider = "a", model = "m1" }}, {{ provider = "b", model = "m2", weight = 2 }}]
# Retries off: this test is about what the router does when a deployment fails.
[retry]
max_attempts = 1
"#
    ))
    .await;
    a.push(Step::error(500, "boom"));
    b.push(Step::error(503, "busy"));
    let response = post_chat(&client(), &url, "chat", false).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json_value().await;
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("no healthy deployment for model `chat`: tried "),
        "{message}"
    );
    assert!(
        message.contains("provider `a` (m1: server_error)")
            && message.contains("provider `b` (m2: overloaded)"),
        "{message}"
    );
}

/// Five chunks, then a transport error.
struct CutAfterFive;

fn chunk(text: &str, model: &str) -> ChatChunk {
    serde_json::from_value(json!({
        "id": "c", "object": "chat.completion.chunk", "created": 1, "model": model,
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}],
    }))
    .expect("chunk")
}

#[async_trait]
impl ChatModel for CutAfterFive {
    async fn chat(&self, _request: ChatRequest) -> Result<ChatResponse> {
        Err(Error::internal("stream only"))
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let items: Vec<Result<ChatChunk>> = (0..5)
            .map(|i| Ok(chunk(&format!("w{i} "), &request.model)))
            .chain([Err(Error::transport("connection reset mid-stream"))])
            .collect();
        Ok(Box::pin(futures_util::stream::iter(items)))
    }
}

#[tokio::test]
async fn a_stream_cut_after_five_chunks_ends_with_an_error_event_and_no_done_every_time() {
    let routes = Routes::builder()
        .route(Route::new(
            Router::builder("chat")
                .target(Target::new("cutter", "cut-model", Arc::new(CutAfterFive)))
                .target(Target::new("cutter2", "cut-model", Arc::new(CutAfterFive)))
                .build()
                .expect("router"),
        ))
        .build()
        .expect("routes");
    let model = routes.model("chat").expect("alias");
    let gateway = Gateway::builder()
        .route(ModelRoute::new("chat", Arc::new(model)))
        .build()
        .expect("gateway");
    let url = serve(&gateway).await;
    let client = client();
    for _ in 0..1000 {
        let response = post_chat(&client, &url, "chat", true).await;
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["x-bulkhead-provider"]
                .to_str()
                .is_ok_and(|p| p.starts_with("cutter"))
        );
        let body = response.text().await.expect("body");
        let lines = data_lines(&body);
        assert_eq!(lines.len(), 6, "{body}");
        assert!(!lines.contains(&"[DONE]"), "{body}");
        let error: Value = serde_json::from_str(lines[5]).expect("json error event");
        assert_eq!(error["error"]["code"], "transport", "{body}");
    }
}

fn config_errors(source: &str) -> Vec<String> {
    match Config::from_toml_str_with_env(source, "test.toml", &|_| None) {
        Ok(_) => Vec::new(),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    }
}

#[test]
fn routing_keys_parse_and_bad_links_are_placed() {
    let ok = Config::from_toml_str_with_env(
        r#"
[[providers]]
name = "s"
kind = "simulated"

[[models]]
name = "chat"
strategy = "p2c"
targets = [{ provider = "s", model = "a", weight = 3 }, { provider = "s", model = "b" }]
fallbacks = ["big"]
on_context_window_exceeded = "long"

[[models]]
name = "big"
targets = [{ provider = "s", model = "c" }]

[[models]]
name = "long"
targets = [{ provider = "s", model = "d" }]
"#,
        "test.toml",
        &|_| None,
    )
    .expect("valid");
    assert_eq!(ok.models[0].strategy, StrategyKind::P2c);
    assert_eq!(ok.models[0].targets.len(), 2);
    assert_eq!(ok.models[0].fallbacks, ["big"]);
    assert_eq!(
        ok.models[0].on_context_window_exceeded.as_deref(),
        Some("long")
    );
    Gateway::build(&ok).expect("builds");

    let lines = config_errors(
        r#"[[providers]]
name = "s"
kind = "simulated"

[[models]]
name = "a"
strategy = "fastest"
targets = [{ provider = "s", model = "x" }]
fallbacks = ["b", "nope", "a"]

[[models]]
name = "b"
targets = [{ provider = "s", model = "y", weight = 0 }]
on_context_window_exceeded = "a"
"#,
    );
    let expected = [
        ("7:12", "unknown strategy \"fastest\""),
        (
            "9:19",
            "model `a` falls back to `nope`, which is not a defined model",
        ),
        ("9:27", "model `a` falls back to itself"),
        ("13:52", "`weight` must be between 1"),
        ("14:30", "fallbacks form a cycle: a -> b -> a"),
    ];
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (line, (place, text)) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(&format!("test.toml:{place}: ")) && line.contains(text),
            "expected {place} {text:?}, got {line:?}\nall: {lines:#?}"
        );
    }
}
