//! A denial: which limit stopped a request, when to come back, and what to tell the client.

use std::fmt;
use std::time::Duration;

use bulkhead_core::{Error, ErrorKind};

/// Which limit denied a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// Requests per minute.
    Requests,
    /// Tokens per minute.
    Tokens,
    /// Requests in flight.
    Concurrency,
    /// The USD budget of the period is spent.
    Budget,
    /// The shared store could not be reached and the limiter fails closed.
    Unavailable,
}

impl LimitKind {
    /// `rpm`, `tpm`, `concurrency`, `budget`, `unavailable`: the `limit` metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Requests => "rpm",
            LimitKind::Tokens => "tpm",
            LimitKind::Concurrency => "concurrency",
            LimitKind::Budget => "budget",
            LimitKind::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A denied admission: which limit, when to come back, and a message for the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Denied {
    /// The limit that denied it.
    pub limit: LimitKind,
    /// When the same request could pass (for `Retry-After`).
    pub retry_after: Duration,
    /// A message safe to show the client: names the key's name, never its secret.
    pub message: String,
}

impl Denied {
    /// `retry_after` in whole seconds, rounded up and at least 1: the `Retry-After` header.
    pub fn retry_after_secs(&self) -> u64 {
        ceil_secs(self.retry_after)
    }
}

/// Whole seconds, rounded up, at least 1.
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Denied {}

impl From<Denied> for Error {
    /// A `RateLimited` error with status 429 and the retry-after.
    fn from(d: Denied) -> Self {
        Error::new(ErrorKind::RateLimited, d.message)
            .with_status(429)
            .with_retry_after(d.retry_after)
    }
}
