//! The HTTP plumbing shared by the HTTP providers (OpenAI-compatible, Anthropic): the pooled
//! client, one exchange under the provider's deadlines (send, check the status, read a bounded
//! body), and the timed body of a streamed answer.
//!
//! A provider builds its own auth headers and endpoint URLs and keeps its own wire format;
//! everything that only moves bytes and watches the clock lives here.

mod body;
mod client;
mod deadline;
mod h1;
mod redact;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use bulkhead_core::{ChatRequest, Error, ErrorKind, Result};
use bytes::Bytes;
use http::header::{
    ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, PROXY_AUTHORIZATION,
    USER_AGENT,
};
use http::{Extensions, Request, Uri};
use http_body_util::{BodyExt, Full};
use serde::de::DeserializeOwned;
use tokio::time::{Instant, timeout_at};

pub(crate) use body::TimedBody;
pub(crate) use client::BoxError;
use client::Pools;
pub(crate) use client::Reach;
pub(crate) use deadline::Clock;
use deadline::Limit;
pub(crate) use redact::{ConfigFields, sensitive};

use crate::Timeouts;
use crate::error::{
    Transport, UpstreamError, error_from_event, error_from_response, error_from_transport,
};

/// A response whose body is still to be read.
pub(crate) type Response = http::Response<h1::Body>;

/// The most of an error body read to find the upstream's message.
const MAX_ERROR_BODY: usize = 64 * 1024;

const USER_AGENT_VALUE: &str = concat!("bulkhead/", env!("CARGO_PKG_VERSION"));

/// The endpoint `{base_url}{path}` of provider `name`; a query in `base_url` (Azure's
/// `api-version`) stays at the end.
pub(crate) fn endpoint(name: &str, base_url: &str, path: &str) -> Result<Uri> {
    parse_url(&endpoint_text(base_url, path)).map_err(|e| {
        Error::bad_request(format!(
            "provider `{name}`: invalid base_url `{base_url}`: {e}"
        ))
    })
}

/// `text` as an absolute `http://` or `https://` URL with a host.
pub(crate) fn parse_url(text: &str) -> std::result::Result<Uri, String> {
    let uri = Uri::try_from(text).map_err(|e| e.to_string())?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(format!("scheme `{other}` is not http or https")),
        None => return Err("not an absolute URL (no http:// or https://)".to_owned()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("no host".to_owned());
    }
    Ok(uri)
}

/// `{base_url}{path}` as text, the query of `base_url` moved after `path`.
pub(crate) fn endpoint_text(base_url: &str, path: &str) -> String {
    match base_url.split_once('?') {
        Some((root, query)) => format!("{}{path}?{query}", root.trim_end_matches('/')),
        None => format!("{}{path}", base_url.trim_end_matches('/')),
    }
}

/// The platform's TLS roots and the environment's proxies, for provider `name`.
fn platform_reach(name: &str) -> Result<Reach> {
    Reach::from_platform().map_err(|e| {
        Error::internal(format!(
            "provider `{name}`: could not set up TLS with the system's certificates"
        ))
        .with_source(e)
    })
}

/// One HTTP upstream: its name (for errors), base URL, deadlines and pooled client.
pub(crate) struct Upstream {
    pub(crate) name: Arc<str>,
    pub(crate) base_url: String,
    pub(crate) timeouts: Timeouts,
    /// Sent with every request.
    headers: HeaderMap,
    pools: Pools,
}

impl Upstream {
    /// Build the pooled client for `target` (one of the upstream's endpoints, which all share a
    /// host), reached through the platform's TLS roots and the environment's proxies. Every
    /// request carries the user agent, `auth` (the provider's own headers), and the configured
    /// `extra` headers, which win over both; `invalid_header` is the error for an extra header
    /// that cannot be sent. Extra header values are marked sensitive, as credentials may hide
    /// there.
    pub(crate) fn new(
        name: &str,
        base_url: &str,
        target: &Uri,
        timeouts: Timeouts,
        auth: HeaderMap,
        extra: &[(String, String)],
        invalid_header: impl Fn(&str) -> Error,
    ) -> Result<Self> {
        let reach = platform_reach(name)?;
        Self::with_reach(
            name,
            base_url,
            target,
            timeouts,
            reach,
            auth,
            extra,
            invalid_header,
        )
    }

    /// [`new`](Self::new), reached as `reach` says instead of through the platform's roots and
    /// the environment's proxies.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn with_reach(
        name: &str,
        base_url: &str,
        target: &Uri,
        timeouts: Timeouts,
        reach: Reach,
        auth: HeaderMap,
        extra: &[(String, String)],
        invalid_header: impl Fn(&str) -> Error,
    ) -> Result<Self> {
        let proxy = reach
            .proxy_for(target)
            .map_err(|e| Error::bad_request(format!("provider `{name}`: {e}")))?;
        let mut headers = HeaderMap::new();
        if let Some(auth) = proxy.as_ref().and_then(|p| p.auth.clone())
            && target.scheme_str() == Some("http")
        {
            // A plain HTTP request through a proxy carries the proxy's credentials itself (an
            // HTTPS one sends them in the CONNECT that opens the tunnel).
            headers.insert(PROXY_AUTHORIZATION, auth);
        }
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        headers.extend(auth);
        for (header, value) in extra {
            let header_name =
                HeaderName::try_from(header.as_str()).map_err(|_| invalid_header(header))?;
            let value = sensitive(value).ok_or_else(|| invalid_header(header))?;
            headers.insert(header_name, value);
        }

        // The client never follows a redirect: following one would send the provider's key
        // to whatever host the `Location` names. A redirect is a configuration error instead.
        let pools = Pools::new(timeouts.connect, reach, proxy, target);
        Ok(Self {
            name: Arc::from(name),
            base_url: base_url.to_owned(),
            timeouts,
            headers,
            pools,
        })
    }

    /// `value` as a JSON request body.
    pub(crate) fn to_json(&self, value: &impl serde::Serialize) -> Result<Vec<u8>> {
        serde_json::to_vec(value).map_err(|e| self.not_encoded(e))
    }

    /// `request` as the JSON body of a chat call, written by hand
    /// ([`bulkhead_core::json::write_chat_request`]: the same bytes as serde_json, faster).
    pub(crate) fn chat_json(&self, request: &ChatRequest) -> Result<Vec<u8>> {
        let mut body =
            Vec::with_capacity(bulkhead_core::json::messages_size_hint(&request.messages));
        bulkhead_core::json::write_chat_request(&mut body, request)
            .map_err(|e| self.not_encoded(e))?;
        Ok(body)
    }

    fn not_encoded(&self, e: serde_json::Error) -> Error {
        Error::internal(format!(
            "provider `{}`: could not encode the request",
            self.name
        ))
        .with_source(e)
    }

    /// Start the deadlines of one call now; a [`Deadline`](bulkhead_core::Deadline) among the
    /// request's `extensions` shortens the total.
    pub(crate) fn clock(&self, extensions: &Extensions) -> Clock {
        Clock::start(&self.timeouts, extensions)
    }

    /// POST a JSON body and parse a JSON answer of at most `max_body` bytes.
    pub(crate) async fn json_call<T: DeserializeOwned>(
        &self,
        url: &Uri,
        body: Vec<u8>,
        max_body: usize,
        clock: &Clock,
    ) -> Result<T> {
        self.json_call_with(url, body, max_body, clock, |text| {
            serde_json::from_str(text)
        })
        .await
    }

    /// [`json_call`](Self::json_call) with the answer's text parsed by `parse`, which must
    /// read it as `serde_json::from_str` does (a faster reader for a known type).
    pub(crate) async fn json_call_with<T: DeserializeOwned>(
        &self,
        url: &Uri,
        body: Vec<u8>,
        max_body: usize,
        clock: &Clock,
        parse: fn(&str) -> serde_json::Result<T>,
    ) -> Result<T> {
        let response = self.send(url, body, false, clock).await?;
        let response = self.check_status(url, response, clock).await?;
        let body = self.read_body(response, clock, max_body, false).await?;
        // Checked as UTF-8 once and parsed as a `str`: `from_slice` validates every string
        // again. JSON is UTF-8, so a body that is not is no answer either.
        let parsed = match bulkhead_core::json::from_utf8(&body) {
            Ok(text) => parse(text),
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
        url: &Uri,
        body: Vec<u8>,
        clock: &Clock,
    ) -> Result<Response> {
        let response = self.send(url, body, true, clock).await?;
        let response = self.check_status(url, response, clock).await?;
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
        url: &Uri,
        body: Vec<u8>,
        stream: bool,
        clock: &Clock,
    ) -> Result<Response> {
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = url.clone();
        let headers = request.headers_mut();
        *headers = self.headers.clone();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        let limit = if stream {
            Limit::FirstToken
        } else {
            Limit::Headers
        };
        let (deadline, limit) = clock.first(limit);
        match timeout_at(deadline, self.pools.send(request)).await {
            Err(_) => Err(clock.expired(limit, &self.name)),
            Ok(Err(e)) => Err(self.transport(e)),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Pass a success through; turn any other status into the mapped error.
    async fn check_status(&self, url: &Uri, response: Response, clock: &Clock) -> Result<Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status.is_redirection() {
            return Err(self.redirected(url, &response));
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
        response: Response,
        clock: &Clock,
        cap: usize,
        truncate: bool,
    ) -> Result<Vec<u8>> {
        let hint = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0)
            .min(cap as u64) as usize;
        let mut incoming = response.into_body();
        let mut body = Vec::with_capacity(hint);
        loop {
            let (deadline, limit) = clock.idle_after(Instant::now());
            let frame = match timeout_at(deadline, incoming.frame()).await {
                Err(_) => return Err(clock.expired(limit, &self.name)),
                Ok(Some(Err(e))) => return Err(self.transport(Transport::Body(e))),
                Ok(None) => return Ok(body),
                Ok(Some(Ok(frame))) => frame,
            };
            // Trailers carry nothing an answer needs.
            let Ok(bytes) = frame.into_data() else {
                continue;
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
    fn redirected(&self, url: &Uri, response: &Response) -> Error {
        let status = response.status();
        let target = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| Uri::try_from(v.as_bytes()).ok())
            .map(|location| {
                // A relative `Location` stays on the same host.
                location
                    .host()
                    .or_else(|| url.host())
                    .unwrap_or_default()
                    .to_owned()
            });
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
    pub(crate) fn transport(&self, err: Transport) -> Error {
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
