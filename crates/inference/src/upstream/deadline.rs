//! The deadlines of one provider call, fixed when it starts: first token (or response headers),
//! idle gap, total.
//!
//! Deadlines use `tokio::time`, so tests can drive them on a paused clock.

use bulkhead_core::{Deadline, Error};
use http::Extensions;
use tokio::time::Instant;

use crate::Timeouts;

/// Which deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Limit {
    /// Waiting for response headers (JSON calls).
    Headers,
    /// Waiting for the first chunk of a stream.
    FirstToken,
    /// Waiting for the next piece of the body.
    Idle,
    /// The whole call.
    Total,
}

/// The deadlines of one call, fixed when it starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    first_token_at: Instant,
    total_at: Instant,
    /// Whether `total_at` is the request's own [`Deadline`], earlier than the total timeout.
    total_is_request_deadline: bool,
    timeouts: Timeouts,
}

impl Clock {
    /// Start the clock now; a [`Deadline`] extension on the request shortens the total.
    pub(crate) fn start(timeouts: &Timeouts, extensions: &Extensions) -> Self {
        let now = Instant::now();
        let mut total_at = now + timeouts.total;
        let mut total_is_request_deadline = false;
        if let Some(deadline) = extensions.get::<Deadline>() {
            let at = Instant::from_std(deadline.0);
            if at < total_at {
                total_at = at;
                total_is_request_deadline = true;
            }
        }
        Self {
            first_token_at: now + timeouts.first_token,
            total_at,
            total_is_request_deadline,
            timeouts: *timeouts,
        }
    }

    /// The deadline before the first response headers or stream chunk, and which one it is.
    pub(super) fn first(&self, limit: Limit) -> (Instant, Limit) {
        if self.first_token_at < self.total_at {
            (self.first_token_at, limit)
        } else {
            (self.total_at, Limit::Total)
        }
    }

    /// The deadline for the next body read after activity at `last`.
    pub(super) fn idle_after(&self, last: Instant) -> (Instant, Limit) {
        let idle_at = last + self.timeouts.idle;
        if idle_at < self.total_at {
            (idle_at, Limit::Idle)
        } else {
            (self.total_at, Limit::Total)
        }
    }

    /// The error for an expired `limit`, naming it and its value.
    pub(super) fn expired(&self, limit: Limit, provider: &str) -> Error {
        let ms = |d: std::time::Duration| d.as_millis();
        Error::timeout(match limit {
            Limit::Headers => format!(
                "no response from provider `{provider}` within {} ms (first-token timeout)",
                ms(self.timeouts.first_token)
            ),
            Limit::FirstToken => format!(
                "no first token from provider `{provider}` within {} ms",
                ms(self.timeouts.first_token)
            ),
            Limit::Idle => format!(
                "provider `{provider}` sent nothing for {} ms (idle timeout)",
                ms(self.timeouts.idle)
            ),
            Limit::Total if self.total_is_request_deadline => {
                format!("provider `{provider}` did not finish before the request's deadline")
            }
            Limit::Total => format!(
                "provider `{provider}` did not finish within {} ms (total timeout)",
                ms(self.timeouts.total)
            ),
        })
    }
}
