//! The one place that decides what an error means for an HTTP client: its status, and
//! OpenAI's error body `{"error": {"message", "type", "code", "param"}}`.
//!
//! Errors from the model stack ([`bulkhead_core::Error`]) map by
//! [`ErrorKind`](bulkhead_core::ErrorKind) (in `kinds`):
//!
//! | kind | status | type | code |
//! |---|---|---|---|
//! | `BadRequest` | 400 | `invalid_request_error` | `bad_request` |
//! | `ContextWindowExceeded` | 400 | `invalid_request_error` | `context_length_exceeded` |
//! | `ContentFiltered` | 400 | `invalid_request_error` | `content_filter` |
//! | `RateLimited` | 429 + `Retry-After` when known | `rate_limit_error` | `rate_limit_exceeded` |
//! | `QuotaExceeded` | 429 | `rate_limit_error` | `insufficient_quota` |
//! | `Overloaded` | 503 + `Retry-After` when known | `overloaded_error` | `overloaded` |
//! | `CircuitOpen` | 503 + `Retry-After` when known | `overloaded_error` | `circuit_open` |
//! | `Timeout` | 504 | `timeout_error` | `timeout` |
//! | `Transport` | 502 | `upstream_error` | `transport` |
//! | `ServerError` | 502 | `upstream_error` | `server_error` |
//! | `NotFound` | 502 | `upstream_error` | `upstream_not_found` |
//! | `Authentication` | 502 | `upstream_error` | `upstream_authentication` |
//! | `PermissionDenied` | 502 | `upstream_error` | `upstream_permission_denied` |
//! | `Cancelled` | 499 | `cancelled_error` | `cancelled` |
//! | `Internal` (and any kind added later) | 500 | `server_error` | `internal` |
//!
//! Why some are not passed through as the upstream said:
//! - An upstream 401/403 means the *gateway's* credentials for that provider are wrong; the
//!   client's key was fine, so the client gets 502 and a fixed message (the upstream's message
//!   may quote part of the key, so it is never forwarded).
//! - An upstream 404 means this gateway's configuration names a model the provider does not
//!   have. The client asked for a model the gateway claims to serve, so 404 ("your model does
//!   not exist") would be a lie; 502 says the deployment is broken.
//! - 499 is the de-facto code for "the client closed the request"; the client is normally gone
//!   and never sees it, but access logs do.
//!
//! Errors the gateway finds itself:
//!
//! | problem | status | type | code | param |
//! |---|---|---|---|---|
//! | body is not valid JSON, or misses a required field | 400 | `invalid_request_error` | `invalid_request_body` | |
//! | `messages` is empty / `input` is empty | 400 | `invalid_request_error` | `invalid_value` | `messages` / `input` |
//! | the model serves no embeddings | 400 | `invalid_request_error` | `embeddings_not_supported` | `model` |
//! | no key, when `[[keys]]` are configured | 401 | `invalid_request_error` | `missing_api_key` | |
//! | malformed or unknown key | 401 | `invalid_request_error` | `invalid_api_key` | |
//! | model outside the key's `models` | 403 | `permission_error` | `model_not_allowed` | `model` |
//! | unknown model | 404 | `invalid_request_error` | `model_not_found` | `model` |
//! | key over `rpm` / `tpm` / `max_concurrent` | 429 + `Retry-After` | `rate_limit_error` | `rate_limit_exceeded` / `tokens_rate_limit_exceeded` / `concurrency_limit_exceeded` | |
//! | key's `budget_usd` spent for the period | 429 + `Retry-After` (the period's end) | `rate_limit_error` | `budget_exceeded` | |
//! | unknown path | 404 | `invalid_request_error` | `unknown_url` | |
//! | wrong method | 405 | `invalid_request_error` | `method_not_allowed` | |
//! | body larger than `max_body_bytes` | 413 | `invalid_request_error` | `request_too_large` | |
//! | request head larger than `max_header_bytes` | 431 | `invalid_request_error` | `request_header_fields_too_large` | |
//!
//! Error bodies never contain API keys or prompt text: serde's parse messages keep the field,
//! the expectation and the line and column, but lose the string values they would quote; an
//! upstream's 401/403 message is replaced. Client errors are logged without their message.

use std::borrow::Cow;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, BytesMut};
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use super::{X_BULKHEAD_ATTEMPTS, X_BULKHEAD_MODEL, X_BULKHEAD_PROVIDER};

mod kinds;

/// An error answer: status, OpenAI error body, and the headers that go with it.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: Cow<'static, str>,
    kind: &'static str,
    code: &'static str,
    param: Option<&'static str>,
    retry_after: Option<Duration>,
    provider_header: Option<HeaderValue>,
    model_header: Option<HeaderValue>,
    /// Upstream attempts made, for `x-bulkhead-attempts`; `None` when no model was called.
    attempts: Option<u32>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Object<'a>,
}

#[derive(Serialize)]
struct Object<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    code: &'a str,
    param: Option<&'a str>,
}

impl ApiError {
    pub(super) fn new(
        status: StatusCode,
        message: impl Into<Cow<'static, str>>,
        kind: &'static str,
        code: &'static str,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            code,
            param: None,
            retry_after: None,
            provider_header: None,
            model_header: None,
            attempts: None,
        }
    }

    fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    /// 400 for a client mistake the gateway found itself.
    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>, code: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, INVALID, code)
    }

    /// 400 for a body that is not the JSON we expect; serde's message names line and column.
    pub(crate) fn invalid_body(error: &serde_json::Error) -> Self {
        Self::invalid(
            format!(
                "could not parse the JSON body of the request: {}",
                without_quoted_values(&error.to_string())
            ),
            "invalid_request_body",
        )
    }

    /// 400 for a body that is not UTF-8, which JSON must be.
    pub(crate) fn body_not_utf8(error: &std::str::Utf8Error) -> Self {
        Self::invalid(
            format!(
                "could not parse the JSON body of the request: it is not valid UTF-8 (at byte {})",
                error.valid_up_to()
            ),
            "invalid_request_body",
        )
    }

    /// 400 for an empty list that must not be empty.
    pub(crate) fn empty(param: &'static str, what: &str) -> Self {
        Self::invalid(
            format!("`{param}` must contain at least one {what}"),
            "invalid_value",
        )
        .param(param)
    }

    /// 400 when the model exists but serves no embeddings.
    pub(crate) fn no_embeddings(model: &str) -> Self {
        Self::invalid(
            format!("The model `{model}` does not support embeddings on this gateway"),
            "embeddings_not_supported",
        )
        .param("model")
    }

    /// 404 for a model name this gateway does not serve (the OpenAI SDKs raise `NotFoundError`).
    pub(crate) fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("The model `{model}` does not exist or is not served by this gateway"),
            INVALID,
            "model_not_found",
        )
        .param("model")
    }

    /// 401 for a request without a key, when keys are configured.
    pub(crate) fn missing_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key. Send it as `Authorization: Bearer KEY`.",
            INVALID,
            "missing_api_key",
        )
    }

    /// 401 for a key that is malformed or not configured. The key itself is never echoed.
    pub(crate) fn invalid_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            INVALID,
            "invalid_api_key",
        )
    }

    /// 403 for a model outside the key's allow-list.
    pub(crate) fn model_not_allowed(model: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            format!("This API key is not allowed to use the model `{model}`"),
            "permission_error",
            "model_not_allowed",
        )
        .param("model")
    }

    /// 404 for a path the API does not have.
    pub(crate) fn unknown_url(method: &http::Method, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("Invalid URL ({method} {path})"),
            INVALID,
            "unknown_url",
        )
    }

    /// 405 for a known path with the wrong method.
    pub(crate) fn method_not_allowed(method: &http::Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method {method} is not allowed for {path}"),
            INVALID,
            "method_not_allowed",
        )
    }

    /// The error for a body that could not be read: 413 when over the limit, else 400.
    pub(crate) fn body_rejected(status: StatusCode, limit: usize) -> Self {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body is larger than this gateway's limit of {limit} bytes"),
                INVALID,
                "request_too_large",
            )
        } else {
            Self::invalid("could not read the request body", "invalid_request_body")
        }
    }

    /// 431 for a request head (request line and headers) larger than the server allows.
    pub(crate) fn head_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("The request's headers are larger than this gateway's limit of {limit} bytes"),
            INVALID,
            "request_header_fields_too_large",
        )
    }

    /// 429 (or 503 when the limits store is down and limits fail closed) for a key over one
    /// of its limits, with `Retry-After`.
    pub(crate) fn limited(
        status: StatusCode,
        message: String,
        code: &'static str,
        retry_after: Duration,
    ) -> Self {
        let mut error = Self::new(status, message, "rate_limit_error", code);
        error.retry_after = Some(retry_after);
        error
    }

    /// 500 for a fault inside the gateway.
    pub(crate) fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            message,
            "server_error",
            "internal",
        )
    }

    /// Append the JSON error body to `buf`.
    pub(crate) fn write_json(&self, buf: &mut BytesMut) {
        let body = Envelope {
            error: Object {
                message: &self.message,
                kind: self.kind,
                code: self.code,
                param: self.param,
            },
        };
        // Serializing plain strings into memory cannot fail.
        let _ = serde_json::to_writer(buf.writer(), &body);
    }
}

pub(super) const INVALID: &str = "invalid_request_error";

/// serde's message without the string values it quotes (`invalid type: string "..."`): those
/// are the client's prompt text, which never goes into an error body or a log. Field names
/// (in backticks), the expectation and the line and column stay.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        // Skip to the closing quote; serde prints values Debug-escaped, so `\"` is inside.
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => break,
                _ => {}
            }
        }
        if out.ends_with(' ') {
            out.pop();
        }
    }
    out
}

/// `Retry-After` in whole seconds, rounded up so a client never retries early.
fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut buf = BytesMut::with_capacity(160 + self.message.len());
        self.write_json(&mut buf);
        let mut response = Response::new(Body::from(buf.freeze()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(after) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs(after)));
        }
        if let Some(v) = self.provider_header {
            headers.insert(X_BULKHEAD_PROVIDER, v);
        }
        if let Some(v) = self.model_header {
            headers.insert(X_BULKHEAD_MODEL, v);
        }
        if let Some(n) = self.attempts {
            headers.insert(X_BULKHEAD_ATTEMPTS, HeaderValue::from(n));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_messages_lose_the_values_they_quote() {
        assert_eq!(
            without_quoted_values(
                r#"invalid type: string "my \"secret\" prompt", expected a sequence at line 1 column 46"#
            ),
            "invalid type: string, expected a sequence at line 1 column 46"
        );
        assert_eq!(
            without_quoted_values("missing field `messages` at line 1 column 20"),
            "missing field `messages` at line 1 column 20"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_secs(7)), 7);
        assert_eq!(retry_after_secs(Duration::from_millis(6001)), 7);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 0);
    }

    #[test]
    fn the_body_has_openais_shape() {
        let mut buf = BytesMut::new();
        ApiError::model_not_found("gpt-x").write_json(&mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).expect("json");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["param"], "model");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("`gpt-x`"))
        );
    }
}
