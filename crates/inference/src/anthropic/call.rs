//! One HTTP exchange with Anthropic under the provider's deadlines: send, check the status,
//! read a bounded body.
//!
//! The `Clock` is the OpenAI provider's, copied because that one is private to its module;
//! the two should move to one shared `deadline` module (see the report of issue 4). Deadlines
//! use `tokio::time`, so tests can drive them on a paused clock.

use bulkhead_core::{Deadline, Error, Result};
use http::Extensions;
use http::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Response, Url};
use serde::de::DeserializeOwned;
use tokio::time::{Instant, timeout_at};

use super::{Inner, MAX_JSON_BODY};
use crate::Timeouts;
use crate::error::{UpstreamError, error_from_event, error_from_response, error_from_transport};

/// The most of an error body read to find the upstream's message.
const MAX_ERROR_BODY: usize = 64 * 1024;

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
pub(super) struct Clock {
    first_token_at: Instant,
    total_at: Instant,
    /// Whether `total_at` is the request's own [`Deadline`], earlier than the total timeout.
    total_is_request_deadline: bool,
    timeouts: Timeouts,
}

impl Clock {
    /// Start the clock now; a [`Deadline`] extension on the request shortens the total.
    pub(super) fn start(timeouts: &Timeouts, extensions: &Extensions) -> Self {
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

impl Inner {
    /// Send `body` to `url` and wait for the response headers (bounded by the first-token and
    /// total deadlines).
    pub(super) async fn send(
        &self,
        url: &Url,
        body: Vec<u8>,
        stream: bool,
        clock: &Clock,
    ) -> Result<Response> {
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, accept)
            .body(body)
            .send();
        let limit = if stream {
            Limit::FirstToken
        } else {
            Limit::Headers
        };
        let (deadline, limit) = clock.first(limit);
        match timeout_at(deadline, request).await {
            Err(_) => Err(clock.expired(limit, &self.name)),
            Ok(Err(e)) => Err(self.transport(e)),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Pass a success through; turn any other status into the mapped error.
    pub(super) async fn check_status(&self, response: Response, clock: &Clock) -> Result<Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        // The body only refines the error: a body that cannot be read still leaves the status.
        let body = self
            .read_body(response, clock, MAX_ERROR_BODY, true)
            .await
            .unwrap_or_default();
        Err(error_from_response(
            &self.name,
            status.as_u16(),
            &headers,
            &body,
        ))
    }

    /// Read the body, at most `cap` bytes; past that, either stop there (`truncate`) or fail.
    pub(super) async fn read_body(
        &self,
        mut response: Response,
        clock: &Clock,
        cap: usize,
        truncate: bool,
    ) -> Result<Vec<u8>> {
        let hint = response.content_length().unwrap_or(0).min(cap as u64) as usize;
        let mut body = Vec::with_capacity(hint);
        loop {
            let (deadline, limit) = clock.idle_after(Instant::now());
            let bytes = match timeout_at(deadline, response.chunk()).await {
                Err(_) => return Err(clock.expired(limit, &self.name)),
                Ok(Err(e)) => return Err(self.transport(e)),
                Ok(Ok(None)) => return Ok(body),
                Ok(Ok(Some(bytes))) => bytes,
            };
            if body.len() + bytes.len() > cap {
                if truncate {
                    body.extend_from_slice(&bytes[..cap - body.len()]);
                    return Ok(body);
                }
                return Err(Error::internal(format!(
                    "provider `{}`: answer larger than {cap} bytes",
                    self.name
                )));
            }
            body.extend_from_slice(&bytes);
        }
    }

    /// POST a JSON body and parse a JSON answer.
    pub(super) async fn json_call<T: DeserializeOwned>(
        &self,
        url: &Url,
        body: Vec<u8>,
        clock: &Clock,
    ) -> Result<T> {
        let response = self.send(url, body, false, clock).await?;
        let response = self.check_status(response, clock).await?;
        let body = self
            .read_body(response, clock, MAX_JSON_BODY, false)
            .await?;
        serde_json::from_slice(&body).map_err(|e| {
            // Some servers answer 200 with an error body.
            match UpstreamError::parse(&body) {
                Some(upstream) => error_from_event(&self.name, &upstream),
                None => Error::internal(format!(
                    "provider `{}`: could not parse the answer: {e}",
                    self.name
                )),
            }
        })
    }

    /// The error for a stream request answered with a JSON body instead of events.
    pub(super) async fn unexpected_json(&self, response: Response, clock: &Clock) -> Error {
        let body = match self.read_body(response, clock, MAX_ERROR_BODY, true).await {
            Ok(body) => body,
            Err(error) => return error,
        };
        match UpstreamError::parse(&body) {
            Some(upstream) => error_from_event(&self.name, &upstream),
            None => Error::internal(format!(
                "provider `{}` answered a stream request with JSON, not an event stream",
                self.name
            )),
        }
    }

    pub(super) fn transport(&self, err: reqwest::Error) -> Error {
        error_from_transport(&self.name, &self.base_url, self.timeouts.connect, err)
    }
}
