//! Shared by the HTTP tests: serve a gateway on loopback and talk to it with reqwest.

#![allow(dead_code, unreachable_pub, async_fn_in_trait)]

use bulkhead_gateway::serve::LiveRouter;
use bulkhead_gateway::{Config, Gateway, ServerConfig};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// Serve `router` on `127.0.0.1:0` with axum; returns its root URL (`http://127.0.0.1:PORT`).
pub async fn serve_router(router: axum::Router) -> String {
    format!("http://{}", bulkhead_testkit::serve_router(router).await)
}

/// Serve `gateway` on `127.0.0.1:0`; returns its root URL (`http://127.0.0.1:PORT`).
pub async fn serve(gateway: &Gateway) -> String {
    serve_router(gateway.router()).await
}

/// Serve `router` with the gateway's own serve loop (its `server` settings, no shutdown) on
/// `127.0.0.1:0`; returns the bound address (`127.0.0.1:PORT`).
pub async fn serve_live(router: LiveRouter, server: ServerConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        bulkhead_gateway::serve::serve(listener, router, &server, std::future::pending())
            .await
            .expect("serve");
    });
    addr.to_string()
}

/// How a `[[keys]]` entry stores a client key: `sha256:` and the hex SHA-256 of the key.
pub fn key_hash(key: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// One `[[providers]]` table: provider `name` of `kind` at `base_url`, with the `extra` lines
/// (an `api_key`, `timeouts`, ...) added to it.
pub fn provider_toml(name: &str, kind: &str, base_url: &str, extra: &str) -> String {
    format!(
        r#"
[[providers]]
name = "{name}"
kind = "{kind}"
base_url = "{base_url}"
{extra}
"#
    )
}

/// One `[[models]]` table: model `name`, served as `model` by `provider`.
pub fn model_toml(name: &str, provider: &str, model: &str) -> String {
    format!(
        r#"
[[models]]
name = "{name}"
targets = [{{ provider = "{provider}", model = "{model}" }}]
"#
    )
}

/// A provider's `timeouts` line with room to spare on loopback: only an upstream scripted to
/// be slow or to hang trips them.
pub const ROOMY_TIMEOUTS: &str =
    "timeouts = { connect_ms = 1000, first_token_ms = 5000, idle_ms = 5000, total_ms = 10000 }";

/// TOML for model `chat`, served as `primary_model` by the OpenAI-compatible provider `primary`
/// at `primary_url`, falling back to model `chat-backup`, served as `backup_model` by provider
/// `backup` at `backup_url`. Sections may follow.
pub fn fallback_toml(
    (primary_url, primary_model): (&str, &str),
    (backup_url, backup_model): (&str, &str),
) -> String {
    let providers = [
        provider_toml("primary", "openai", primary_url, ""),
        provider_toml("backup", "openai", backup_url, ""),
    ]
    .concat();
    let backup = model_toml("chat-backup", "backup", backup_model);
    format!(
        r#"{providers}
[[models]]
name = "chat"
targets = [{{ provider = "primary", model = "{primary_model}" }}]
fallbacks = ["chat-backup"]
{backup}"#
    )
}

/// TOML for model `model`, served as `claude-sonnet-4` by the Anthropic-format provider
/// `claude` at `root_url` with `api_key`, retries off. Sections may follow.
pub fn anthropic_toml(root_url: &str, api_key: &str, model: &str) -> String {
    let provider = provider_toml(
        "claude",
        "anthropic",
        root_url,
        &format!("api_key = \"{api_key}\""),
    );
    let model = model_toml(model, "claude", "claude-sonnet-4");
    format!("{provider}{model}\n[retry]\nmax_attempts = 1\n")
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
    let provider = format!("api_key = \"sk-secret-never-shown\"\ntimeouts = {{ {timeouts} }}");
    serve_toml(&mock_toml(base_url, &provider)).await
}

/// TOML for one model `chat` served as `mock-model` by an OpenAI-compatible provider `mock` at
/// `base_url` (with `provider` lines added to its table), retries off. Sections may follow.
pub fn mock_toml(base_url: &str, provider: &str) -> String {
    let provider = provider_toml("mock", "openai", base_url, provider);
    let model = model_toml("chat", "mock", "mock-model");
    format!("{provider}{model}\n[retry]\nmax_attempts = 1\n")
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

/// POST `body` as JSON to `url`.
pub async fn post_json(http: &reqwest::Client, url: &str, body: &Value) -> reqwest::Response {
    http.post(url).json_body(body).send().await.expect("send")
}

/// POST `body` as JSON to `url` with `key` as the bearer API key.
pub async fn post_keyed(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    http.post(url)
        .bearer_auth(key)
        .json_body(body)
        .send()
        .await
        .expect("send")
}

/// POST `chat_body(model, stream)` to the gateway at `root`'s `/v1/chat/completions`.
pub async fn post_chat(
    http: &reqwest::Client,
    root: &str,
    model: &str,
    stream: bool,
) -> reqwest::Response {
    let url = format!("{root}/v1/chat/completions");
    post_json(http, &url, &chat_body(model, stream)).await
}

/// GET `url`.
pub async fn fetch(http: &reqwest::Client, url: &str) -> reqwest::Response {
    http.get(url).send().await.expect("send")
}

/// GET `url` and read the body as text (a `/metrics` scrape, say).
pub async fn get_text(http: &reqwest::Client, url: &str) -> String {
    fetch(http, url).await.text().await.expect("body")
}

/// The value of header `name`, when present and visible ASCII.
pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
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
