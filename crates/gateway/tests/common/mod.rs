//! Shared by the HTTP tests: serve a gateway on loopback and talk to it with reqwest.

#![allow(dead_code, unreachable_pub, async_fn_in_trait)]

use axum::serve::ListenerExt as _;
use bulkhead_gateway::{Config, Gateway};
use serde_json::{Value, json};

/// Serve `gateway` on `127.0.0.1:0`; returns its root URL (`http://127.0.0.1:PORT`).
pub async fn serve(gateway: &Gateway) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = gateway.router();
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    format!("http://{addr}")
}

/// Build a gateway from TOML and serve it.
pub async fn serve_toml(toml: &str) -> String {
    let config = Config::from_toml_str(toml, "test.toml").expect("valid test config");
    serve(&Gateway::build(&config).expect("buildable test config")).await
}

/// A gateway serving one model `chat` from an OpenAI-compatible upstream at `base_url`, with
/// retries off, so one scripted upstream answer is the one the client sees (retries are
/// tested in `retry.rs`).
pub async fn serve_upstream(base_url: &str, timeouts: &str) -> String {
    serve_toml(&format!(
        r#"
[[providers]]
name = "mock"
kind = "openai"
base_url = "{base_url}"
api_key = "sk-secret-never-shown"
timeouts = {{ {timeouts} }}

[[models]]
name = "chat"
targets = [{{ provider = "mock", model = "mock-model" }}]

[retry]
max_attempts = 1
"#
    ))
    .await
}

pub fn client() -> reqwest::Client {
    bulkhead_inference::install_crypto_provider();
    reqwest::Client::new()
}

pub fn chat_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": "Say hello"}],
        "stream": stream,
    })
}

/// The `data:` payloads of an SSE body, in order.
pub fn data_lines(body: &str) -> Vec<&str> {
    body.split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| {
            event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {event:?}"))
        })
        .collect()
}

/// Check an OpenAI error body and return its `error` object.
pub fn error_object(body: &Value) -> &Value {
    let error = &body["error"];
    assert!(error["message"].is_string(), "message in {body}");
    assert!(error["type"].is_string(), "type in {body}");
    assert!(error.get("code").is_some(), "code in {body}");
    assert!(error.get("param").is_some(), "param in {body}");
    error
}

/// `.json(...)` without reqwest's `json` feature.
pub trait JsonBody {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(serde_json::to_vec(body).expect("serializable"))
    }
}

/// `.json()` without reqwest's `json` feature.
pub trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        let bytes = self.bytes().await.expect("body");
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
    }
}
