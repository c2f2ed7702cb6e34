//! A tiny OpenAI-compatible upstream on loopback, for the provider's behaviour tests.
//!
//! Each scenario lives under its own path prefix, so one server serves every test of a file:
//! a provider pointed at `http://127.0.0.1:PORT/<scenario>/v1` meets that scenario.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use bulkhead_inference::{OpenAiConfig, OpenAiProvider, Timeouts};
use futures_util::StreamExt;
use futures_util::stream;

pub const TEXT_STREAM: &str = include_str!("../fixtures/openai_stream.sse");
pub const TOOL_STREAM: &str = include_str!("../fixtures/openai_tool_stream.sse");

/// What the upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Received>>>);

impl Log {
    /// Record a request and return its body parsed (`null` when it is not JSON).
    fn record(&self, path: String, headers: HeaderMap, body: &[u8]) -> serde_json::Value {
        let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        self.0.lock().expect("log").push(Received {
            path,
            headers,
            body: body.clone(),
        });
        body
    }
}

/// A running upstream.
pub struct Upstream {
    pub base: String,
    log: Log,
}

impl Upstream {
    pub async fn start() -> Self {
        let log = Log::default();
        let app = Router::new()
            .route("/{scenario}/v1/chat/completions", post(chat))
            .route("/{scenario}/v1/embeddings", post(embeddings))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { base, log }
    }

    /// A provider for `scenario` with the given timeouts.
    pub fn provider(&self, scenario: &str, timeouts: Timeouts) -> OpenAiProvider {
        let mut config = OpenAiConfig::new("test", format!("{}/{scenario}/v1", self.base));
        config.api_key = Some("sk-test-secret".into());
        config.headers = vec![("x-vendor".into(), "yes".into())];
        config.timeouts = timeouts;
        OpenAiProvider::new(config).expect("provider")
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.0.lock().expect("log").clone()
    }
}

/// Generous defaults, for tests that are not about timeouts.
pub fn relaxed() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_token: Duration::from_secs(10),
        idle: Duration::from_secs(10),
        total: Duration::from_secs(20),
    }
}

fn respond(status: u16, headers: &[(&str, String)], body: impl Into<Body>) -> Response {
    let mut builder = Response::builder().status(StatusCode::from_u16(status).expect("status"));
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(body.into()).expect("response")
}

fn sse(body: Body) -> Response {
    respond(200, &[("content-type", "text/event-stream".into())], body)
}

fn json(status: u16, value: serde_json::Value) -> Response {
    respond(
        status,
        &[("content-type", "application/json".into())],
        value.to_string(),
    )
}

fn openai_error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Response {
    json(
        status,
        serde_json::json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}

/// The first `n` events of the text fixture, as separate body pieces.
fn events(n: usize) -> Vec<Result<Bytes, Infallible>> {
    TEXT_STREAM
        .split_inclusive("\n\n")
        .take(n)
        .map(|e| Ok(Bytes::from(e.to_owned())))
        .collect()
}

async fn chat(
    State(log): State<Log>,
    Path(scenario): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = log.record(format!("/{scenario}/v1/chat/completions"), headers, &body);
    let stream = body["stream"] == serde_json::Value::Bool(true);
    let model = body["model"].clone();
    let in_30s = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
    match scenario.as_str() {
        "ok" if stream => sse(Body::from(TEXT_STREAM)),
        "ok" => json(
            200,
            serde_json::json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1741570283,
                "model": model, "system_fingerprint": "fp_1",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there!",
                    "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
            }),
        ),
        // OpenAI's own layout (indented, its member order), as the provider reads it by hand.
        "openai_layout" => respond(
            200,
            &[("content-type", "application/json".into())],
            bulkhead_testkit::fixtures::realistic_response(),
        ),
        "tools" => sse(Body::from(TOOL_STREAM)),
        "crlf" => sse(Body::from(TEXT_STREAM.replace('\n', "\r\n"))),
        "rate_secs" => {
            let mut r = openai_error(
                429,
                "Rate limit reached for gpt-4o-mini",
                "requests",
                Some("rate_limit_exceeded"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, "7".parse().expect("value"));
            r
        }
        "rate_date" => {
            let mut r = openai_error(
                429,
                "Rate limit reached",
                "requests",
                Some("rate_limit_exceeded"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, in_30s.parse().expect("value"));
            r
        }
        "rate_ms" => {
            let mut r = openai_error(
                429,
                "Rate limit reached",
                "tokens",
                Some("rate_limit_exceeded"),
            );
            r.headers_mut()
                .insert("retry-after-ms", "1500".parse().expect("value"));
            r.headers_mut()
                .insert(header::RETRY_AFTER, "2".parse().expect("value"));
            r
        }
        "quota" => openai_error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            Some("insufficient_quota"),
        ),
        "context" => openai_error(
            400,
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
            "invalid_request_error",
            Some("context_length_exceeded"),
        ),
        "vllm_context" => json(
            400,
            serde_json::json!({"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.", "type": "BadRequestError", "param": null, "code": 400}),
        ),
        "ollama_missing" => json(
            404,
            serde_json::json!({"error": "model \"llama9\" not found, try pulling it first"}),
        ),
        "bad_request" => openai_error(
            400,
            "Invalid value for 'temperature'",
            "invalid_request_error",
            None,
        ),
        "filtered" => openai_error(
            400,
            "Your request was rejected by the safety system.",
            "invalid_request_error",
            Some("content_policy_violation"),
        ),
        "unauthorized" => openai_error(
            401,
            "Incorrect API key provided: sk-test-****",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        "forbidden" => openai_error(
            403,
            "Project does not have access to model",
            "invalid_request_error",
            None,
        ),
        "server_error" => openai_error(
            500,
            "The server had an error while processing your request.",
            "server_error",
            None,
        ),
        "bad_gateway" => respond(
            502,
            &[("content-type", "text/html".into())],
            "<html><body>502 Bad Gateway</body></html>",
        ),
        "unavailable" => respond(
            503,
            &[],
            "upstream connect error or disconnect/reset before headers",
        ),
        "overloaded" => json(
            529,
            serde_json::json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
        "gateway_timeout" => respond(504, &[], ""),
        "hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            respond(200, &[], "")
        }
        "stall" => sse(Body::from_stream(
            stream::iter(events(3)).chain(stream::pending()),
        )),
        "headers_then_silence" => sse(Body::from_stream(stream::pending::<
            Result<Bytes, Infallible>,
        >())),
        "truncated" => sse(Body::from_stream(stream::iter(events(4)))),
        "drip" => {
            let first = TEXT_STREAM
                .split_inclusive("\n\n")
                .nth(1)
                .expect("event")
                .to_owned();
            let drip = stream::unfold((), move |()| {
                let event = first.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(40)).await;
                    Some((Ok::<_, Infallible>(Bytes::from(event)), ()))
                }
            });
            sse(Body::from_stream(stream::iter(events(1)).chain(drip)))
        }
        "midstream_error" => {
            let error = "data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n";
            let pieces = events(3).into_iter().chain([Ok(Bytes::from(error))]);
            sse(Body::from_stream(stream::iter(pieces)))
        }
        "json_error_200" if stream => json(
            200,
            serde_json::json!({"error": {"message": "Overloaded", "type": "overloaded_error"}}),
        ),
        "garbage" => sse(Body::from("data: {not json}\n\n")),
        "huge_line" => sse(Body::from(format!(
            "data: {}\n\n",
            "x".repeat(2 * 1024 * 1024)
        ))),
        _ => respond(404, &[], "no such scenario"),
    }
}

async fn embeddings(
    State(log): State<Log>,
    Path(scenario): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = log.record(format!("/{scenario}/v1/embeddings"), headers, &body);
    let model = body["model"].clone();
    match scenario.as_str() {
        "ok" => json(
            200,
            serde_json::json!({
                "object": "list", "model": model,
                "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 0.125]}],
                "usage": {"prompt_tokens": 2, "total_tokens": 2}
            }),
        ),
        _ => openai_error(
            401,
            "Incorrect API key provided",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
    }
}
