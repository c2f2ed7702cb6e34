//! The HTTP API over the simulated provider and hand-built models: shapes, statuses, headers.

mod common;

use std::sync::Arc;

use bulkhead_gateway::{Config, Gateway};
use bulkhead_inference::{SimulatedConfig, SimulatedProvider};
use common::{
    JsonBody as _, JsonValue as _, chat_body, client, data_lines, error_object, fetch, post_chat,
    serve,
};
use serde_json::{Value, json};

async fn default_gateway() -> String {
    serve(&Gateway::build(&Config::embedded_default()).expect("default builds")).await
}

#[tokio::test]
async fn chat_answers_json_with_the_upstream_model_and_headers() {
    let url = default_gateway().await;
    let response = post_chat(&client(), &url, "simulated", false).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-bulkhead-provider"], "simulated");
    assert_eq!(headers["x-bulkhead-model"], "simulated-1");
    assert!(headers.contains_key("x-request-id"));
    let body: Value = response.json_value().await;
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "simulated-1");
    assert!(
        body["choices"][0]["message"]["content"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn a_stream_is_sse_of_chunks_ending_with_done() {
    let url = default_gateway().await;
    let response = client()
        .post(format!("{url}/v1/chat/completions"))
        .json_body(&json!({
            "model": "simulated",
            "messages": [{"role": "user", "content": "Tell me a story about a lighthouse"}],
            "stream": true,
            "stream_options": {"include_usage": true},
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(response.headers()["x-bulkhead-model"], "simulated-1");
    let body = response.text().await.expect("body");
    let lines = data_lines(&body);
    assert!(lines.len() >= 3, "{body}");
    assert_eq!(lines.last(), Some(&"[DONE]"), "{body}");
    let mut text = String::new();
    for line in &lines[..lines.len() - 1] {
        let chunk: Value = serde_json::from_str(line).expect("each data line is JSON");
        assert_eq!(chunk["object"], "chat.completion.chunk", "{line}");
        assert_eq!(chunk["model"], "simulated-1");
        if let Some(t) = chunk["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
    }
    assert!(!text.is_empty(), "{body}");
    let last: Value = serde_json::from_str(lines[lines.len() - 2]).expect("json");
    assert!(
        last["usage"]["total_tokens"].is_u64(),
        "usage chunk last: {last}"
    );
}

/// POST `body` as JSON to the default gateway's chat route; the body of the 400 it must answer.
async fn rejected_chat_body(body: impl Into<reqwest::Body>) -> Value {
    let url = default_gateway().await;
    let response = client()
        .post(format!("{url}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    let body: Value = response.json_value().await;
    assert_eq!(error_object(&body)["type"], "invalid_request_error");
    body
}

#[tokio::test]
async fn invalid_json_is_a_400_with_serdes_position() {
    let body = rejected_chat_body("{\"model\": \"simulated\",\n \"messages\": [}").await;
    let error = error_object(&body);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("line 2")),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_a_400_saying_so() {
    let mut body =
        br#"{"model": "simulated", "messages": [{"role": "user", "content": "caf"#.to_vec();
    body.extend_from_slice(&[0xe9, b'"', b'}', b']', b'}']);
    let body = rejected_chat_body(body).await;
    let error = error_object(&body);
    assert_eq!(error["code"], "invalid_request_body");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("not valid UTF-8 (at byte 68)")),
        "{body}"
    );
}

#[tokio::test]
async fn missing_or_empty_messages_are_400s() {
    let url = default_gateway().await;
    let client = client();
    let missing = client
        .post(format!("{url}/v1/chat/completions"))
        .json_body(&json!({"model": "simulated"}))
        .send()
        .await
        .expect("send");
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json_value().await;
    let error = error_object(&body);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("messages")),
        "{body}"
    );

    let empty = client
        .post(format!("{url}/v1/chat/completions"))
        .json_body(&json!({"model": "simulated", "messages": []}))
        .send()
        .await
        .expect("send");
    assert_eq!(empty.status(), 400);
    let body: Value = empty.json_value().await;
    assert_eq!(error_object(&body)["param"], "messages");
}

#[tokio::test]
async fn an_unknown_model_is_a_404_model_not_found() {
    let url = default_gateway().await;
    for stream in [false, true] {
        let response = post_chat(&client(), &url, "gpt-9", stream).await;
        assert_eq!(response.status(), 404);
        let body: Value = response.json_value().await;
        let error = error_object(&body);
        assert_eq!(error["code"], "model_not_found");
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(
            error["message"],
            "The model `gpt-9` does not exist or is not served by this gateway"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let config = Config::from_toml_str(
        "[server]\nmax_body_bytes = 1000\n[[providers]]\nname = \"s\"\nkind = \"simulated\"\n\
         [[models]]\nname = \"m\"\ntargets = [{ provider = \"s\", model = \"s-1\" }]\n",
        "limit.toml",
    )
    .expect("valid");
    let url = serve(&Gateway::build(&config).expect("builds")).await;
    let big = "x".repeat(2000);
    let response = client()
        .post(format!("{url}/v1/chat/completions"))
        .json_body(&json!({"model": "m", "messages": [{"role": "user", "content": big}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 413);
    let body: Value = response.json_value().await;
    assert_eq!(error_object(&body)["code"], "request_too_large");

    // A body streamed without Content-Length is cut off at the limit too.
    let chunks: Vec<Result<String, std::io::Error>> = vec![
        Ok("{\"model\": \"m\", \"messages\": [".into()),
        Ok(" ".repeat(5000)),
    ];
    let response = client()
        .post(format!("{url}/v1/chat/completions"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_generated_otherwise() {
    let url = default_gateway().await;
    let client = client();
    let echoed = client
        .post(format!("{url}/v1/chat/completions"))
        .header("x-request-id", "client-id-42")
        .json_body(&chat_body("simulated", false))
        .send()
        .await
        .expect("send");
    assert_eq!(echoed.headers()["x-request-id"], "client-id-42");

    let too_long = "a".repeat(200);
    let mut seen = Vec::new();
    for header in [None, Some(too_long.as_str()), Some("has space")] {
        let mut request = client.get(format!("{url}/v1/models"));
        if let Some(h) = header {
            request = request.header("x-request-id", h);
        }
        let response = request.send().await.expect("send");
        let id = response.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(id.starts_with("req_") && id.len() <= 128, "{id}");
        assert!(!seen.contains(&id), "ids repeat: {id}");
        seen.push(id);
    }

    // Errors carry the id too.
    let not_found = client
        .get(format!("{url}/v2/nothing"))
        .header("x-request-id", "abc")
        .send()
        .await
        .expect("send");
    assert_eq!(not_found.headers()["x-request-id"], "abc");
}

#[tokio::test]
async fn models_lists_the_configured_names() {
    let url = default_gateway().await;
    let client = client();
    let body: Value = fetch(&client, &format!("{url}/v1/models"))
        .await
        .json_value()
        .await;
    assert_eq!(body["object"], "list");
    let data = body["data"].as_array().expect("data");
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], "simulated");
    assert_eq!(data[0]["object"], "model");
    assert_eq!(data[0]["owned_by"], "bulkhead");
    assert!(data[0]["created"].is_u64());

    let one = fetch(&client, &format!("{url}/v1/models/simulated")).await;
    assert_eq!(one.status(), 200);
    let missing = fetch(&client, &format!("{url}/v1/models/other")).await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn embeddings_are_served_by_the_simulated_provider() {
    let url = default_gateway().await;
    let client = client();
    let response = client
        .post(format!("{url}/v1/embeddings"))
        .json_body(&json!({"model": "simulated", "input": ["one", "two"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-bulkhead-model"], "simulated-1");
    let body: Value = response.json_value().await;
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
    assert!(
        body["data"][0]["embedding"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
    );

    let unknown = client
        .post(format!("{url}/v1/embeddings"))
        .json_body(&json!({"model": "nope", "input": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn health_readiness_unknown_paths_and_methods() {
    let url = default_gateway().await;
    let client = client();
    let health = fetch(&client, &format!("{url}/healthz")).await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.expect("text"), "ok");

    let ready: Value = fetch(&client, &format!("{url}/readyz"))
        .await
        .json_value()
        .await;
    // The embedded default caches in memory, which is always reachable.
    assert_eq!(
        ready,
        json!({"status": "ready", "cache": "ok", "limits": "ok"})
    );

    let unknown = fetch(&client, &format!("{url}/v1/nothing")).await;
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json_value().await;
    assert_eq!(error_object(&body)["code"], "unknown_url");

    let wrong = fetch(&client, &format!("{url}/v1/chat/completions")).await;
    assert_eq!(wrong.status(), 405);
    let body: Value = wrong.json_value().await;
    assert_eq!(error_object(&body)["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_hand_built_gateway_serves_its_models() {
    let sim = Arc::new(SimulatedProvider::new(SimulatedConfig::default()));
    let gateway = Gateway::builder()
        .model("mine", sim.clone(), None)
        .route(bulkhead_gateway::ModelRoute::new("aliased", sim.clone()).upstream("sim", "sim-7"))
        .build()
        .expect("builds");
    let url = serve(&gateway).await;
    let client = client();

    let response = post_chat(&client, &url, "mine", false).await;
    assert_eq!(response.status(), 200);
    assert!(!response.headers().contains_key("x-bulkhead-provider"));
    let body: Value = response.json_value().await;
    assert_eq!(body["model"], "mine", "the name passes through unchanged");

    let aliased = post_chat(&client, &url, "aliased", false).await;
    assert_eq!(aliased.headers()["x-bulkhead-provider"], "sim");
    let body: Value = aliased.json_value().await;
    assert_eq!(body["model"], "sim-7");

    let no_embeddings = client
        .post(format!("{url}/v1/embeddings"))
        .json_body(&json!({"model": "mine", "input": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(no_embeddings.status(), 400);
    let body: Value = no_embeddings.json_value().await;
    assert_eq!(error_object(&body)["code"], "embeddings_not_supported");

    let duplicate = Gateway::builder()
        .model("x", sim.clone(), None)
        .model("x", sim, None)
        .build();
    assert!(duplicate.is_err());
}

#[tokio::test]
async fn the_router_nests_inside_another_app() {
    use axum::body::Body;
    use tower::ServiceExt as _;

    let gateway = Gateway::build(&Config::embedded_default()).expect("default builds");
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "my app" }))
        .nest("/llm", gateway.router());

    let request = |uri: &str| {
        http::Request::get(uri)
            .body(Body::empty())
            .expect("request")
    };
    let models = app
        .clone()
        .oneshot(request("/llm/v1/models"))
        .await
        .expect("infallible");
    assert_eq!(models.status(), 200);
    assert!(models.headers().contains_key("x-request-id"));

    let unknown = app
        .clone()
        .oneshot(request("/llm/v1/nothing"))
        .await
        .expect("infallible");
    assert_eq!(unknown.status(), 404);
    let body = axum::body::to_bytes(unknown.into_body(), 1 << 16)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(error_object(&body)["code"], "unknown_url");

    let root = app.oneshot(request("/")).await.expect("infallible");
    assert_eq!(root.status(), 200);
}
