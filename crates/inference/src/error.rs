//! Turning an upstream's failure into a [`bulkhead_core::Error`] whose kind every layer acts on.
//!
//! OpenAI-compatible servers disagree on the error body (`{"error": {...}}`, `{"error": "..."}`,
//! `{"message": ...}`, `{"detail": ...}`) and on the status of a few cases, so the kind comes
//! from the status refined by the body's `code`/`type` (quota, context window, content filter).
//! Anthropic's body (`{"type": "error", "error": {"type", "message"}}`) is the first shape, with
//! its `type` names (`overloaded_error`, `rate_limit_error`, `billing_error`, ...) understood
//! for mid-stream error events that carry no status. Messages carry the provider's name and
//! never an API key.
//!
//! # Fixtures
//!
//! Every row is a real answer kept verbatim in `tests/error_fixtures.rs` and checked there.
//! Context-window errors are told apart from other 400s by `code`/`type`
//! (`context_length_exceeded`, `exceed_context_size_error`, ...) or by the message:
//!
//! | upstream | status | what identifies it | kind |
//! |---|---|---|---|
//! | OpenAI | 400 | `code: context_length_exceeded`, "maximum context length is 8192 tokens" | `ContextWindowExceeded` |
//! | OpenAI (newer models) | 400 | `code: context_length_exceeded`, "exceeds the context window" | `ContextWindowExceeded` |
//! | Azure OpenAI | 400 | as OpenAI, plus `status` in the body | `ContextWindowExceeded` |
//! | Anthropic | 400 | "prompt is too long: 208310 tokens > 200000 maximum" | `ContextWindowExceeded` |
//! | Anthropic | 400 | "input length and `max_tokens` exceed context limit" | `ContextWindowExceeded` |
//! | vLLM | 400 | flat body, `code: 400`, "maximum context length is 4096 tokens" | `ContextWindowExceeded` |
//! | vLLM | 400 | "longer than the maximum model length ... `max_model_len`" | `ContextWindowExceeded` |
//! | Ollama | 400 | `{"error": "the input length exceeds the context length"}` | `ContextWindowExceeded` |
//! | llama.cpp server | 400 | `type: exceed_context_size_error` | `ContextWindowExceeded` |
//! | Mistral | 400 | "too large for model with 32768 maximum context length" | `ContextWindowExceeded` |
//! | DeepSeek | 400 | "maximum context length is 65536 tokens" | `ContextWindowExceeded` |
//! | Groq | 400 | `code: context_length_exceeded` | `ContextWindowExceeded` |
//! | OpenRouter | 400 | "This endpoint's maximum context length is 131072 tokens" | `ContextWindowExceeded` |
//! | Together (TGI) | 400 | "`inputs` tokens + `max_new_tokens` must be <= 32769" | `ContextWindowExceeded` |
//! | Gemini (OpenAI-compatible) | 400 | array body, "exceeds the maximum number of tokens allowed" | `ContextWindowExceeded` |
//! | OpenAI | 429 | `type: insufficient_quota` (not retryable) | `QuotaExceeded` |
//! | OpenAI | 400 | `code: content_policy_violation` | `ContentFiltered` |
//! | Azure OpenAI | 400 | `code: content_filter` | `ContentFiltered` |
//! | Anthropic | 529 | `type: overloaded_error` | `Overloaded` |
//! | OpenAI | 401 | `code: invalid_api_key` | `Authentication` |
//!
//! The wait a 429 asks for, first match wins: `retry-after-ms` (milliseconds), `Retry-After`
//! (seconds or an HTTP date), then `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens`
//! (Go durations: `1s`, `6m0s`, `20ms`, `2m59.56s`), the one whose `x-ratelimit-remaining-*`
//! is `0`, else the later of the two.

use std::time::{Duration, SystemTime};

use bulkhead_core::{Error, ErrorKind};
use http::HeaderMap;
use serde_json::Value;

/// The longest upstream message kept in an error, in bytes; a proxy's HTML page is not a message.
const MAX_MESSAGE_LEN: usize = 512;

/// The parts of an upstream error body that decide what the error means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamError {
    /// The human-readable message.
    pub message: Option<String>,
    /// OpenAI's `type` (`invalid_request_error`, `insufficient_quota`, ...).
    pub kind: Option<String>,
    /// OpenAI's `code` (`context_length_exceeded`, `rate_limit_exceeded`, ...); a numeric code
    /// (vLLM sends the HTTP status there) is kept as its decimal string.
    pub code: Option<String>,
    /// The request parameter the error is about.
    pub param: Option<String>,
}

impl UpstreamError {
    /// Read the error out of a body, accepting the shapes OpenAI-compatible servers send.
    /// Returns `None` when the body is not JSON or has no recognisable error in it.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        Self::from_value(&value)
    }

    /// Like [`parse`](Self::parse), from an already parsed JSON value.
    pub fn from_value(value: &Value) -> Option<Self> {
        // Gemini's OpenAI-compatible endpoint wraps its error in a one-element array.
        let value = match value {
            Value::Array(items) => items.first()?,
            other => other,
        };
        let object = value.as_object()?;
        match object.get("error") {
            Some(Value::Object(inner)) => Some(Self {
                message: text_field(inner.get("message")),
                kind: text_field(inner.get("type")),
                code: text_field(inner.get("code")),
                param: text_field(inner.get("param")),
            }),
            Some(Value::String(message)) => Some(Self {
                message: Some(message.clone()),
                ..Self::default()
            }),
            _ => {
                let message = text_field(object.get("message"))
                    .or_else(|| text_field(object.get("detail")))?;
                Some(Self {
                    message: Some(message),
                    kind: text_field(object.get("type")),
                    code: text_field(object.get("code")),
                    param: None,
                })
            }
        }
    }

    fn code_or_type_is(&self, names: &[&str]) -> bool {
        let is = |field: &Option<String>| field.as_deref().is_some_and(|v| names.contains(&v));
        is(&self.code) || is(&self.kind)
    }

    fn says_context_window(&self) -> bool {
        if self.code_or_type_is(CONTEXT_WINDOW_CODES) {
            return true;
        }
        self.message.as_deref().is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            CONTEXT_WINDOW_PHRASES
                .iter()
                .any(|phrase| m.contains(phrase))
        })
    }

    /// The kind this error has, refining the HTTP `status` (when there is one) with the body.
    pub fn kind_for(&self, status: Option<u16>) -> ErrorKind {
        let status = status.or_else(|| {
            // Mid-stream error events have no status; vLLM puts it in `code`.
            self.code.as_deref().and_then(|c| c.parse().ok())
        });
        if self.code_or_type_is(&[
            "insufficient_quota",
            "billing_hard_limit_reached",
            "billing_error",
        ]) {
            return ErrorKind::QuotaExceeded;
        }
        if self.code_or_type_is(&["content_filter", "content_policy_violation"]) {
            return ErrorKind::ContentFiltered;
        }
        if matches!(status, None | Some(400) | Some(413) | Some(422)) && self.says_context_window()
        {
            return ErrorKind::ContextWindowExceeded;
        }
        match status {
            Some(status) => kind_for_status(status),
            None => self.kind_without_status(),
        }
    }

    fn kind_without_status(&self) -> ErrorKind {
        let name = |names: &[&str]| self.code_or_type_is(names);
        if name(&[
            "rate_limit_exceeded",
            "rate_limit_error",
            "requests",
            "tokens",
        ]) {
            ErrorKind::RateLimited
        } else if name(&["overloaded_error", "overloaded", "service_unavailable"]) {
            ErrorKind::Overloaded
        } else if name(&[
            "invalid_request_error",
            "BadRequestError",
            "invalid_value",
            "request_too_large",
        ]) {
            ErrorKind::BadRequest
        } else if name(&["authentication_error", "invalid_api_key"]) {
            ErrorKind::Authentication
        } else if name(&["permission_error"]) {
            ErrorKind::PermissionDenied
        } else if name(&["not_found_error", "model_not_found"]) {
            ErrorKind::NotFound
        } else if name(&["timeout", "timeout_error"]) {
            ErrorKind::Timeout
        } else {
            ErrorKind::ServerError
        }
    }
}

/// `code` or `type` values that mean the prompt does not fit.
const CONTEXT_WINDOW_CODES: &[&str] = &[
    "context_length_exceeded",
    "string_above_max_length",
    "exceed_context_size_error",
    "model_context_window_exceeded",
];

/// Lower-case phrases of context-window messages, from the fixtures in the module docs. Only
/// read on a 400, 413 or 422 (or a mid-stream event), so "too long" elsewhere is not matched.
const CONTEXT_WINDOW_PHRASES: &[&str] = &[
    "maximum context length",
    "context window",
    "context length",
    "context limit",
    "context size",
    "prompt is too long",
    "maximum model length",
    "max_model_len",
    "`inputs` tokens + `max_new_tokens`",
    "exceeds the maximum number of tokens",
];

fn text_field(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The kind an HTTP status alone implies.
pub fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Authentication,
        402 => ErrorKind::QuotaExceeded,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        408 | 504 => ErrorKind::Timeout,
        429 => ErrorKind::RateLimited,
        503 | 529 => ErrorKind::Overloaded,
        400..=499 => ErrorKind::BadRequest,
        500..=599 => ErrorKind::ServerError,
        // A 1xx/2xx/3xx that reached error handling is an answer we cannot use.
        _ => ErrorKind::Internal,
    }
}

/// The error for a non-success HTTP answer from provider `provider`.
///
/// The kind comes from the status, refined by the body (see [`UpstreamError::kind_for`]); the
/// status is always attached, and so is the wait the upstream asked for (`retry-after-ms`,
/// `Retry-After` in seconds or as an HTTP date). The message is the upstream's, prefixed with
/// the provider's name: ``provider `openai`: Rate limit reached ...``.
pub fn error_from_response(provider: &str, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let upstream = UpstreamError::parse(body);
    let kind = match &upstream {
        Some(upstream) => upstream.kind_for(Some(status)),
        None => kind_for_status(status),
    };
    let detail = match upstream.as_ref().and_then(|u| u.message.as_deref()) {
        Some(message) => message.to_owned(),
        None => fallback_message(status, body),
    };
    let mut error = Error::new(
        kind,
        format!("provider `{provider}`: {}", truncate(&detail)),
    )
    .with_status(status);
    let wait = retry_after(headers, SystemTime::now())
        .or_else(|| (status == 429).then(|| rate_limit_reset(headers)).flatten());
    if let Some(wait) = wait {
        error = error.with_retry_after(wait);
    }
    error
}

/// The error for an error event inside a stream that had already started (no HTTP status).
pub fn error_from_event(provider: &str, upstream: &UpstreamError) -> Error {
    let kind = upstream.kind_for(None);
    let message = upstream
        .message
        .as_deref()
        .unwrap_or("error event in stream");
    let mut error = Error::new(
        kind,
        format!("provider `{provider}`: {}", truncate(message)),
    );
    if let Some(status) = upstream.code.as_deref().and_then(|c| c.parse().ok()) {
        error = error.with_status(status);
    }
    error
}

fn fallback_message(status: u16, body: &[u8]) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error");
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() || text.starts_with('<') {
        format!("HTTP {status} {reason}")
    } else {
        format!("HTTP {status} {reason}: {text}")
    }
}

fn truncate(message: &str) -> &str {
    if message.len() <= MAX_MESSAGE_LEN {
        return message;
    }
    let mut end = MAX_MESSAGE_LEN;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// How long the upstream asked us to wait: `retry-after-ms` (OpenAI, milliseconds) first, then
/// `Retry-After` as delay-seconds or as an HTTP date (relative to `now`; a past date is zero).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// When the exhausted rate limit resets, from OpenAI-style `x-ratelimit-reset-requests` and
/// `x-ratelimit-reset-tokens` (durations like `1s`, `6m0s`, `20ms`, `2m59.56s`).
///
/// The limit whose `x-ratelimit-remaining-*` is `0` is the one that was hit; when neither says
/// so, the later reset is taken, since waiting less would be refused again. These headers come
/// on every answer, so they only mean "wait" on a 429: [`error_from_response`] reads them only
/// then, and only when `retry-after-ms` and `Retry-After` are absent.
pub fn rate_limit_reset(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let exhausted = |kind: &str| header(&format!("x-ratelimit-remaining-{kind}")) == Some("0");
    let reset = |kind: &str| header(&format!("x-ratelimit-reset-{kind}")).and_then(parse_duration);
    let (requests, tokens) = (reset("requests"), reset("tokens"));
    match (exhausted("requests"), exhausted("tokens")) {
        (true, false) if requests.is_some() => requests,
        (false, true) if tokens.is_some() => tokens,
        _ => requests.max(tokens),
    }
}

/// A Go-style duration (`1s`, `6m0s`, `20ms`, `1h2m3.5s`, `250us`), or plain seconds (`7`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut rest = text;
    let mut total = 0.0_f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    (total.is_finite() && !text.is_empty()).then(|| Duration::from_secs_f64(total))
}

/// What failed in an HTTP exchange with an upstream.
#[derive(Debug)]
pub(crate) enum Transport {
    /// Connecting (TCP, TLS, a proxy's tunnel) or sending the request, up to the response head,
    /// through the pooled client.
    Request(hyper_util::client::legacy::Error),
    /// Opening a connection of the direct pool (an `http://` upstream without a proxy).
    Connect(crate::upstream::BoxError),
    /// Sending the request on a connection of the direct pool, up to the response head.
    Send(hyper::Error),
    /// Reading the body after the head.
    Body(hyper::Error),
}

/// A connector's boxed error, as an error to keep as a source.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ConnectFailed(#[source] crate::upstream::BoxError);

/// The error for a failure of the HTTP exchange itself (connect, TLS, a reset mid-body).
///
/// The causes name no URL (the client's errors carry none), since a base URL may carry
/// credentials in its query; only `base_url` as configured is named for a failed connection.
pub(crate) fn error_from_transport(
    provider: &str,
    base_url: &str,
    connect_timeout: Duration,
    err: Transport,
) -> Error {
    let connect_failed = |err: &(dyn std::error::Error + 'static)| {
        if caused_by_timeout(err) {
            Error::timeout(format!(
                "could not connect to provider `{provider}` at {base_url} within {} ms \
                     (connect timeout)",
                connect_timeout.as_millis()
            ))
        } else {
            Error::transport(format!(
                "could not connect to provider `{provider}` at {base_url}: {}",
                root_cause(err)
            ))
        }
    };
    let request_failed = || Error::transport(format!("request to provider `{provider}` failed"));
    match err {
        Transport::Request(err) if err.is_connect() => connect_failed(&err).with_source(err),
        Transport::Connect(err) => {
            let err = ConnectFailed(err);
            connect_failed(&err).with_source(err)
        }
        Transport::Request(err) => request_failed().with_source(err),
        Transport::Send(err) => request_failed().with_source(err),
        Transport::Body(err) => Error::transport(format!(
            "connection to provider `{provider}` broke while reading the answer"
        ))
        .with_source(err),
    }
}

/// Whether a connect timeout is among the causes of `err`.
fn caused_by_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = err.source();
    }
    false
}

/// The innermost cause of `err` (connection refused, an unknown certificate issuer, ...): the
/// part an operator can act on.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut err = err;
    while let Some(source) = err.source() {
        err = source;
    }
    err.to_string()
}
