//! Turning an upstream's failure into a [`bulkhead_core::Error`] whose kind every layer acts on.
//!
//! OpenAI-compatible servers disagree on the error body (`{"error": {...}}`, `{"error": "..."}`,
//! `{"message": ...}`, `{"detail": ...}`) and on the status of a few cases, so the kind comes
//! from the status refined by the body's `code`/`type` (quota, context window, content filter).
//! Anthropic's body (`{"type": "error", "error": {"type", "message"}}`) is the first shape, with
//! its `type` names (`overloaded_error`, `rate_limit_error`, `billing_error`, ...) understood
//! for mid-stream error events that carry no status. Messages carry the provider's name and
//! never an API key.

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
        if self.code_or_type_is(&["context_length_exceeded", "string_above_max_length"]) {
            return true;
        }
        self.message.as_deref().is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("maximum context length")
                || m.contains("context window")
                || m.contains("context length")
                || m.contains("prompt is too long")
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
    if let Some(wait) = retry_after(headers, SystemTime::now()) {
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

/// The error for a failure of the HTTP exchange itself (connect, TLS, a reset mid-body).
///
/// The URL is stripped from the cause, since a base URL may carry credentials in its query.
pub fn error_from_transport(
    provider: &str,
    base_url: &str,
    connect_timeout: Duration,
    err: reqwest::Error,
) -> Error {
    let message = if err.is_connect() && err.is_timeout() {
        return Error::timeout(format!(
            "could not connect to provider `{provider}` at {base_url} within {} ms (connect timeout)",
            connect_timeout.as_millis()
        ))
        .with_source(err.without_url());
    } else if err.is_connect() {
        format!("could not connect to provider `{provider}` at {base_url}")
    } else if err.is_timeout() {
        return Error::timeout(format!("provider `{provider}` timed out"))
            .with_source(err.without_url());
    } else if err.is_body() || err.is_decode() {
        format!("connection to provider `{provider}` broke while reading the answer")
    } else {
        format!("request to provider `{provider}` failed")
    };
    Error::transport(message).with_source(err.without_url())
}
