//! The mock upstream server: binds loopback, records every request, and performs the next
//! scripted [`Step`] with the responder of the wire format the path belongs to.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::serve::ListenerExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::Value;
use tokio::sync::watch;

use crate::anthropic;
use crate::fixtures;
use crate::openai;
use crate::respond::{self, End, Framing, Shutdown};
use crate::step::Step;

/// A request the mock upstream received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: Method,
    /// The path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The query string, without `?`, if any.
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The body as JSON: `Null` when empty, a JSON string holding the raw text when the body was
    /// not valid JSON.
    pub body: Value,
}

impl RecordedRequest {
    /// The value of header `name`, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A real HTTP server on `127.0.0.1` speaking the OpenAI and Anthropic wire formats, following a
/// script of [`Step`]s.
///
/// It serves `POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models` and, in
/// Anthropic's format, `POST /v1/messages`; any other path gets a 404 OpenAI error without consuming a step. Every request, on any path, is counted
/// and recorded before it is answered. Dropping the mock shuts it down: it stops accepting,
/// hanging requests and paced streams are cut, and idle connections close.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

struct Shared {
    script: Mutex<VecDeque<Step>>,
    requests: Mutex<Vec<RecordedRequest>>,
    calls: AtomicUsize,
    shutdown: Shutdown,
}

/// Lock a mutex, ignoring poisoning: a panicking test thread must not hide the recording.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MockUpstream {
    /// Bind `127.0.0.1:0` and start serving on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound.
    pub async fn start() -> MockUpstream {
        let (shutdown, receiver) = watch::channel(false);
        let shared = Arc::new(Shared {
            script: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
            shutdown: Shutdown(receiver.clone()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("mock upstream: bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("mock upstream: a bound listener has an address");
        let listener = listener.tap_io(|tcp| {
            // Without it, reused connections stall on delayed ACKs and timings lie.
            let _ = tcp.set_nodelay(true);
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let mut stop = Shutdown(receiver);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.wait().await })
                .await;
        });
        MockUpstream {
            addr,
            shared,
            shutdown,
        }
    }

    /// The base URL clients use: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The API root without `/v1` (`http://127.0.0.1:PORT`), as Anthropic clients take it:
    /// they append `/v1/messages` themselves.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Append a step to the script; steps are used first in, first out.
    pub fn push(&self, step: Step) {
        lock(&self.shared.script).push_back(step);
    }

    /// How many scripted steps have not been used yet.
    pub fn pending_steps(&self) -> usize {
        lock(&self.shared.script).len()
    }

    /// How many requests arrived, on any path.
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }
}

impl fmt::Debug for MockUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockUpstream")
            .field("addr", &self.addr)
            .field("calls", &self.calls())
            .field("pending_steps", &self.pending_steps())
            .finish()
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// The wire format a path belongs to, and the endpoint within it.
#[derive(Debug, Clone, Copy)]
enum Route {
    OpenAi(openai::Endpoint),
    Anthropic(anthropic::Endpoint),
}

impl Route {
    fn of(method: &Method, path: &str) -> Option<Route> {
        openai::Endpoint::route(method, path)
            .map(Route::OpenAi)
            .or_else(|| anthropic::Endpoint::route(method, path).map(Route::Anthropic))
    }

    fn reply(self, body: &Value, seq: usize, shutdown: Shutdown) -> Response {
        match self {
            Route::OpenAi(endpoint) => endpoint.reply(body, seq, shutdown),
            Route::Anthropic(endpoint) => endpoint.reply(body, seq, shutdown),
        }
    }

    fn cut(self, body: &Value, seq: usize, after_chunks: usize, shutdown: Shutdown) -> Response {
        match self {
            Route::OpenAi(endpoint) => endpoint.cut(body, seq, after_chunks, shutdown),
            Route::Anthropic(endpoint) => endpoint.cut(body, seq, after_chunks, shutdown),
        }
    }

    /// A scripted stream, framed the way this format frames events.
    fn stream(self, events: Vec<String>, delay: Duration, shutdown: Shutdown) -> Response {
        let framing = match self {
            Route::OpenAi(_) => Framing::Data,
            Route::Anthropic(_) => Framing::Named,
        };
        respond::event_stream(events, framing, delay, End::Clean, shutdown)
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let path = parts.uri.path().to_owned();
    let seq = {
        let mut requests = lock(&shared.requests);
        requests.push(RecordedRequest {
            method: parts.method.clone(),
            path: path.clone(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body: body.clone(),
        });
        shared.calls.fetch_add(1, Ordering::SeqCst) + 1
    };

    let mut response = match Route::of(&parts.method, &path) {
        None => respond::json(
            StatusCode::NOT_FOUND,
            &fixtures::error_body(
                &format!("Unknown request URL: {} {path}", parts.method),
                "invalid_request_error",
                Some("unknown_url"),
            ),
        ),
        Some(route) => {
            let step = lock(&shared.script).pop_front().unwrap_or(Step::Reply);
            perform(step, route, &body, seq, shared.shutdown.clone()).await
        }
    };
    if let Ok(id) = HeaderValue::from_str(&format!("req_mock_{seq}")) {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

async fn perform(
    mut step: Step,
    route: Route,
    body: &Value,
    seq: usize,
    mut shutdown: Shutdown,
) -> Response {
    loop {
        step = match step {
            Step::Delay(delay, inner) => {
                tokio::select! {
                    () = tokio::time::sleep(delay) => *inner,
                    () = shutdown.wait() => return aborted(shutdown),
                }
            }
            Step::Reply => return route.reply(body, seq, shutdown),
            Step::Json(value) => return respond::json(StatusCode::OK, &value),
            Step::Stream { events, delay } => {
                return route.stream(events, delay, shutdown);
            }
            Step::Error {
                status,
                body,
                headers,
            } => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = respond::json(status, &body);
                for (name, value) in headers {
                    if let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(name.as_bytes()),
                        HeaderValue::from_str(&value),
                    ) {
                        response.headers_mut().append(name, value);
                    }
                }
                return response;
            }
            Step::Hang => {
                shutdown.wait().await;
                return aborted(shutdown);
            }
            Step::StreamCut { after_chunks } => {
                return route.cut(body, seq, after_chunks, shutdown);
            }
        };
    }
}

/// What a hanging or delayed request gets when the mock shuts down: a body that breaks at once.
fn aborted(shutdown: Shutdown) -> Response {
    axum::response::IntoResponse::into_response(respond::paced_body(
        Vec::new(),
        Duration::ZERO,
        End::Cut,
        shutdown,
    ))
}
