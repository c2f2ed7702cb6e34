//! Response bodies shared by every wire format: server-sent events with pauses, bodies cut
//! mid-way, and the shutdown signal that ends them when the mock is dropped.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use tokio::sync::watch;

/// Resolves once the mock upstream is dropped (its sender goes away).
#[derive(Debug, Clone)]
pub(crate) struct Shutdown(pub(crate) watch::Receiver<bool>);

impl Shutdown {
    /// Wait until the mock shuts down.
    pub(crate) async fn wait(&mut self) {
        // `Err` means the sender is gone, which is also a shutdown.
        let _ = self.0.wait_for(|down| *down).await;
    }
}

/// How a body ends after its last piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Normally: the client sees a complete body.
    Clean,
    /// With an error, so the server drops the connection mid-body.
    Cut,
}

/// How long a cut body waits after its last piece, so that piece reaches the client.
const FLUSH_PAUSE: Duration = Duration::from_millis(10);

/// An error that makes hyper abort the connection instead of finishing the body.
fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "mock upstream cut the body",
    )
}

/// A body that sends `pieces` in order, waiting `delay` before every piece but the first, then
/// ends as `end` says. A shutdown while waiting cuts the body.
pub(crate) fn paced_body(
    pieces: Vec<Bytes>,
    delay: Duration,
    end: End,
    shutdown: Shutdown,
) -> Body {
    struct State {
        pieces: VecDeque<Bytes>,
        first: bool,
        end: End,
        shutdown: Shutdown,
    }
    let state = State {
        pieces: pieces.into(),
        first: true,
        end,
        shutdown,
    };
    let stream = futures_util::stream::unfold(Some(state), move |state| async move {
        let mut state = state?;
        let Some(piece) = state.pieces.pop_front() else {
            return match state.end {
                End::Clean => None,
                End::Cut => {
                    // Let hyper flush what was sent before the connection drops; a real
                    // upstream that dies mid-answer has put those bytes on the wire.
                    tokio::time::sleep(FLUSH_PAUSE).await;
                    Some((Err(cut_error()), None))
                }
            };
        };
        if !state.first && !delay.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = state.shutdown.wait() => return Some((Err(cut_error()), None)),
            }
        }
        state.first = false;
        Some((Ok(piece), Some(state)))
    });
    Body::from_stream(stream)
}

/// How an event stream frames each payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `data: <payload>\n\n`, as OpenAI sends.
    Data,
    /// `event: <its "type">\ndata: <payload>\n\n`, as Anthropic sends (a payload with no
    /// `type` gets no `event:` line).
    Named,
}

impl Framing {
    fn frame(self, payload: &str) -> Bytes {
        let kind = match self {
            Framing::Data => None,
            Framing::Named => serde_json::from_str::<serde_json::Value>(payload)
                .ok()
                .and_then(|v| v["type"].as_str().map(str::to_owned)),
        };
        Bytes::from(match kind {
            Some(kind) => format!("event: {kind}\ndata: {payload}\n\n"),
            None => format!("data: {payload}\n\n"),
        })
    }
}

/// A `200 text/event-stream` response sending each payload framed as `framing` says, paced
/// and ended as [`paced_body`] does.
pub(crate) fn event_stream(
    events: Vec<String>,
    framing: Framing,
    delay: Duration,
    end: End,
    shutdown: Shutdown,
) -> Response {
    let pieces = events.iter().map(|e| framing.frame(e)).collect();
    let mut response = paced_body(pieces, delay, end, shutdown).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A JSON response with `status` and `body`.
pub(crate) fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A `200` JSON response of which only the first half of the bytes arrives before the
/// connection drops.
pub(crate) fn cut_json(body: &serde_json::Value, shutdown: Shutdown) -> Response {
    let bytes = Bytes::from(body.to_string());
    let half = bytes.slice(..bytes.len() / 2);
    let mut response = paced_body(vec![half], Duration::ZERO, End::Cut, shutdown).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
