//! The error every model call returns, with a kind that every layer can act on.
//!
//! Retry decides "try again?" from [`Error::is_retryable`] and [`Error::retry_after`]; routing
//! decides "skip this deployment?" from the same facts; the gateway's HTTP edge alone decides
//! which status a user sees. Constructing an error never logs.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a caller can act on without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The upstream asked us to slow down (HTTP 429); may carry a retry-after.
    RateLimited,
    /// The upstream is overloaded or unavailable (HTTP 503, 529), or a local limit rejected the call.
    Overloaded,
    /// A deadline passed: connect, first token, idle gap or total.
    Timeout,
    /// The connection failed or broke (refused, reset, TLS, a stream cut mid-way).
    Transport,
    /// The upstream failed with a 5xx.
    ServerError,
    /// The request is malformed or unacceptable; retrying cannot help.
    BadRequest,
    /// The credentials were rejected (HTTP 401).
    Authentication,
    /// The credentials are valid but not allowed to do this (HTTP 403).
    PermissionDenied,
    /// The model or resource does not exist.
    NotFound,
    /// The prompt does not fit the model's context window.
    ContextWindowExceeded,
    /// The provider's safety system refused the content.
    ContentFiltered,
    /// The account's quota or credit is exhausted; waiting will not help.
    QuotaExceeded,
    /// A circuit breaker is open for this upstream; skip it.
    CircuitOpen,
    /// The caller went away or cancelled the call.
    Cancelled,
    /// A fault inside Bulkhead or an answer it could not understand.
    Internal,
}

impl ErrorKind {
    /// Whether another attempt (possibly elsewhere) may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::Overloaded
                | ErrorKind::Timeout
                | ErrorKind::Transport
                | ErrorKind::ServerError
        )
    }

    /// The snake_case name, used as the `outcome` metrics label and in error codes.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::ServerError => "server_error",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Authentication => "authentication",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::ContextWindowExceeded => "context_window_exceeded",
            ErrorKind::ContentFiltered => "content_filtered",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of a model call.
///
/// Holds its [`ErrorKind`], a message safe to show a client (never an API key), the upstream's
/// HTTP status when there was one, a retry-after hint, and the underlying cause.
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    status: Option<u16>,
    retry_after: Option<Duration>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            retry_after: None,
            source: None,
        }
    }

    /// Attach the upstream's HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Attach how long the upstream asked us to wait.
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Attach the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// A message safe to show a client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The upstream's HTTP status, when the error came from an HTTP answer.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether another attempt may succeed (see [`ErrorKind::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// How long the upstream asked us to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// A timeout error.
    pub fn timeout(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    /// A transport error.
    pub fn transport(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Transport, message)
    }

    /// A bad-request error.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// An internal error.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl Clone for Error {
    /// Clones kind, message, status and retry-after; the source, which need not be `Clone`,
    /// is kept as its message.
    fn clone(&self) -> Self {
        Self {
            kind: self.kind,
            message: self.message.clone(),
            status: self.status,
            retry_after: self.retry_after,
            source: self
                .source
                .as_ref()
                .map(|s| Box::new(SourceMessage(s.to_string())) as _),
        }
    }
}

#[derive(Debug)]
struct SourceMessage(String);

impl fmt::Display for SourceMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SourceMessage {}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(status) = self.status {
            d.field("status", &status);
        }
        if let Some(retry_after) = self.retry_after {
            d.field("retry_after", &retry_after);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_kinds_are_retryable_and_client_errors_are_not() {
        for kind in [
            ErrorKind::RateLimited,
            ErrorKind::Overloaded,
            ErrorKind::Timeout,
            ErrorKind::Transport,
            ErrorKind::ServerError,
        ] {
            assert!(kind.is_retryable(), "{kind} should be retryable");
        }
        for kind in [
            ErrorKind::BadRequest,
            ErrorKind::Authentication,
            ErrorKind::PermissionDenied,
            ErrorKind::NotFound,
            ErrorKind::ContextWindowExceeded,
            ErrorKind::ContentFiltered,
            ErrorKind::QuotaExceeded,
            ErrorKind::CircuitOpen,
            ErrorKind::Cancelled,
            ErrorKind::Internal,
        ] {
            assert!(!kind.is_retryable(), "{kind} should not be retried");
        }
    }

    #[test]
    fn retry_after_and_status_travel_with_the_error_and_its_clone() {
        let err = Error::new(ErrorKind::RateLimited, "slow down")
            .with_status(429)
            .with_retry_after(Duration::from_secs(7))
            .with_source(std::io::Error::other("socket"));
        let clone = err.clone();
        for e in [&err, &clone] {
            assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
            assert_eq!(e.status(), Some(429));
            assert!(e.is_retryable());
            assert_eq!(e.to_string(), "rate_limited: slow down");
            assert_eq!(
                std::error::Error::source(e).map(|s| s.to_string()),
                Some("socket".into())
            );
        }
    }
}
