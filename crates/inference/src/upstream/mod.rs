//! The HTTP plumbing shared by the HTTP providers (OpenAI-compatible, Anthropic): the pooled
//! client, one exchange under the provider's deadlines (send, check the status, read a bounded
//! body), and the timed body of a streamed answer.
//!
//! A provider builds its own auth headers and endpoint URLs and keeps its own wire format;
//! everything that only moves bytes and watches the clock lives here.

mod body;
mod deadline;
mod redact;

use std::sync::Arc;
use std::time::Duration;

use bulkhead_core::{Error, ErrorKind, Result};
use http::Extensions;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::{Response, Url};
use serde::de::DeserializeOwned;
use tokio::time::{Instant, timeout_at};

pub(crate) use body::TimedBody;
pub(crate) use deadline::Clock;
use deadline::Limit;
pub(crate) use redact::{ConfigFields, sensitive};

use crate::Timeouts;
use crate::error::{UpstreamError, error_from_event, error_from_response, error_from_transport};

/// The most of an error body read to find the upstream's message.
const MAX_ERROR_BODY: usize = 64 * 1024;

const USER_AGENT_VALUE: &str = concat!("bulkhead/", env!("CARGO_PKG_VERSION"));

/// The endpoint `{base_url}{path}` of provider `name`; a query in `base_url` (Azure's
/// `api-version`) stays at the end.
pub(crate) fn endpoint(name: &str, base_url: &str, path: &str) -> Result<Url> {
    Url::parse(&endpoint_text(base_url, path)).map_err(|e| {
        Error::bad_request(format!(
            "provider `{name}`: invalid base_url `{base_url}`: {e}"
        ))
    })
}

/// `{base_url}{path}` as text, the query of `base_url` moved after `path`.
pub(crate) fn endpoint_text(base_url: &str, path: &str) -> String {
    match base_url.split_once('?') {
        Some((root, query)) => format!("{}{path}?{query}", root.trim_end_matches('/')),
        None => format!("{}{path}", base_url.trim_end_matches('/')),
    }
}

/// One HTTP upstream: its name (for errors), base URL, deadlines and pooled client.
pub(crate) struct Upstream {
    pub(crate) name: Arc<str>,
    pub(crate) base_url: String,
    pub(crate) timeouts: Timeouts,
    client: reqwest::Client,
}

impl Upstream {
    /// Build the pooled client. Every request carries the user agent, `auth` (the provider's own
    /// headers), and the configured `extra` headers, which win over both; `invalid_header`
    /// is the error for an extra header that cannot be sent. Extra header values are marked
    /// sensitive, as credentials may hide there.
    pub(crate) fn new(
        name: &str,
        base_url: &str,
        timeouts: Timeouts,
        auth: HeaderMap,
        extra: &[(String, String)],
        invalid_header: impl Fn(&str) -> Error,
    ) -> Result<Self> {
        crate::install_crypto_provider();
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        headers.extend(auth);
        for (header, value) in extra {
            let header_name =
                HeaderName::try_from(header.as_str()).map_err(|_| invalid_header(header))?;
            let value = sensitive(value).ok_or_else(|| invalid_header(header))?;
            headers.insert(header_name, value);
        }

        let client = reqwest::Client::builder()
            .default_headers(headers)
            // Never follow a redirect: following one would send the provider's key to
            // whatever host the `Location` names. A redirect is a configuration error instead.
            .redirect(reqwest::redirect::Policy::none())
            // Retries are bulkhead-retry's, decided in one place. reqwest's own (a refused
            // HTTP/2 stream, say) would be a second, unseen one, and to allow for it reqwest
            // copies every request's head before sending it.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .connect_timeout(timeouts.connect)
            .tcp_nodelay(true)
            .tcp_keepalive(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| {
                Error::internal(format!(
                    "provider `{name}`: could not build the HTTP client"
                ))
                .with_source(e)
            })?;

        Ok(Self {
            name: Arc::from(name),
            base_url: base_url.to_owned(),
            timeouts,
            client,
        })
    }

    /// `value` as a JSON request body.
    pub(crate) fn to_json(&self, value: &impl serde::Serialize) -> Result<Vec<u8>> {
        serde_json::to_vec(value).map_err(|e| {
            Error::internal(format!(
                "provider `{}`: could not encode the request",
                self.name
            ))
            .with_source(e)
        })
    }

    /// Start the deadlines of one call now; a [`Deadline`](bulkhead_core::Deadline) among the
    /// request's `extensions` shortens the total.
    pub(crate) fn clock(&self, extensions: &Extensions) -> Clock {
        Clock::start(&self.timeouts, extensions)
    }

    /// POST a JSON body and parse a JSON answer of at most `max_body` bytes.
    pub(crate) async fn json_call<T: DeserializeOwned>(
        &self,
        url: &Url,
        body: Vec<u8>,
        max_body: usize,
        clock: &Clock,
    ) -> Result<T> {
        let response = self.send(url, body, false, clock).await?;
        let response = self.check_status(response, clock).await?;
        let body = self.read_body(response, clock, max_body, false).await?;
        // Checked as UTF-8 once and parsed as a `str`: `from_slice` validates every string
        // again. JSON is UTF-8, so a body that is not is no answer either.
        let parsed = match std::str::from_utf8(&body) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(&body),
        };
        parsed.map_err(|e| {
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

    /// POST a JSON body asking for an event stream; the successful response, its body unread.
    pub(crate) async fn stream_call(
        &self,
        url: &Url,
        body: Vec<u8>,
        clock: &Clock,
    ) -> Result<Response> {
        let response = self.send(url, body, true, clock).await?;
        let response = self.check_status(response, clock).await?;
        if is_json(&response) {
            // A 200 with a JSON body instead of an event stream: an error in disguise.
            return Err(self.unexpected_json(response, clock).await);
        }
        Ok(response)
    }

    /// Send `body` to `url` and wait for the response headers (bounded by the first-token and
    /// total deadlines).
    async fn send(
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
    async fn check_status(&self, response: Response, clock: &Clock) -> Result<Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status.is_redirection() {
            return Err(self.redirected(&response));
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
    async fn read_body(
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

    /// The error for a stream request answered with a JSON body instead of events.
    async fn unexpected_json(&self, response: Response, clock: &Clock) -> Error {
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

    /// The error for a 3xx answer: the endpoint moved, so `base_url` needs fixing. The target
    /// is named only by its host, as a `Location` may carry tokens in its query.
    fn redirected(&self, response: &Response) -> Error {
        let status = response.status();
        let target = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| response.url().join(v).ok())
            .and_then(|url| url.host_str().map(str::to_owned));
        let to = target.map_or_else(String::new, |host| format!(" to host `{host}`"));
        Error::new(
            ErrorKind::NotFound,
            format!(
                "provider `{}` answered with a redirect (HTTP {}){to}; redirects are not \
                 followed, so that the API key is never sent elsewhere: point base_url at the \
                 final address",
                self.name,
                status.as_u16()
            ),
        )
        .with_status(status.as_u16())
    }

    /// The error for a failed connection, request or body read.
    pub(crate) fn transport(&self, err: reqwest::Error) -> Error {
        error_from_transport(&self.name, &self.base_url, self.timeouts.connect, err)
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
