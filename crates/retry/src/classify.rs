//! What the retry machinery needs to know about an error, and nothing more.
//!
//! Any error type can take part by answering two questions; Bulkhead's own [`Error`] answers
//! them from its [`ErrorKind`](bulkhead_core::ErrorKind), so retry, the circuit breaker and
//! routing all decide from the same facts.

use std::time::Duration;

use bulkhead_core::{Error, ErrorKind};

/// An error that can say whether another attempt may succeed, and when.
///
/// Implement it for your own error type to use [`retry`](crate::retry()) and
/// [`Circuit::call`](crate::Circuit::call) outside Bulkhead's model stack.
pub trait Retryable {
    /// Whether another attempt may succeed. `false` means the call is tried exactly once.
    fn is_retryable(&self) -> bool;

    /// How long the failed party asked us to wait (an HTTP `Retry-After`), if it said.
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// Whether the error says the upstream is unhealthy, so it counts against a circuit
    /// breaker. Defaults to [`is_retryable`](Self::is_retryable): a rejected request proves
    /// the upstream is up.
    fn is_upstream_failure(&self) -> bool {
        self.is_retryable()
    }

    /// Whether the outcome says nothing about the upstream at all (the caller cancelled, or a
    /// breaker further in rejected the call); such outcomes are not counted by a breaker.
    fn is_neutral(&self) -> bool {
        false
    }
}

impl Retryable for Error {
    fn is_retryable(&self) -> bool {
        Error::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        Error::retry_after(self)
    }

    fn is_neutral(&self) -> bool {
        matches!(self.kind(), ErrorKind::Cancelled | ErrorKind::CircuitOpen)
    }
}

impl<E: Retryable + ?Sized> Retryable for &E {
    fn is_retryable(&self) -> bool {
        (**self).is_retryable()
    }

    fn retry_after(&self) -> Option<Duration> {
        (**self).retry_after()
    }

    fn is_upstream_failure(&self) -> bool {
        (**self).is_upstream_failure()
    }

    fn is_neutral(&self) -> bool {
        (**self).is_neutral()
    }
}
