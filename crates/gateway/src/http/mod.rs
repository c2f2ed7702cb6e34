//! The OpenAI-compatible HTTP API: routes, and the glue between HTTP and the model traits.
//!
//! Each endpoint has its module; `error` is the one place errors become statuses and bodies,
//! `sse` the one place chunks become bytes on the wire.

mod admit;
mod answer_json;
pub(crate) mod auth;
mod chat;
mod chunk_json;
mod embeddings;
pub(crate) mod error;
mod messages;
pub(crate) mod models;
mod request_id;
pub(crate) mod secrets;
mod sse;

use std::convert::Infallible;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bulkhead_core::{CacheStatus, CallReport, ChatResponse};
use bulkhead_observability::PrometheusHandle;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use http_body_util::LengthLimitError;
use serde::Serialize;
use tower::Service;

use crate::gateway::{Gateway, Route};
use error::ApiError;
use secrets::Secrets;

pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub(crate) const X_BULKHEAD_PROVIDER: HeaderName = HeaderName::from_static("x-bulkhead-provider");
pub(crate) const X_BULKHEAD_MODEL: HeaderName = HeaderName::from_static("x-bulkhead-model");
pub(crate) const X_BULKHEAD_ATTEMPTS: HeaderName = HeaderName::from_static("x-bulkhead-attempts");
pub(crate) const X_BULKHEAD_CACHE: HeaderName = HeaderName::from_static("x-bulkhead-cache");
pub(crate) const X_BULKHEAD_COST_USD: HeaderName = HeaderName::from_static("x-bulkhead-cost-usd");

/// The paths that need a key when keys are configured (the `/v1` API; probes never do).
const CHAT: &str = "/v1/chat/completions";
const EMBEDDINGS: &str = "/v1/embeddings";
pub(crate) const MESSAGES: &str = "/v1/messages";
const MODELS: &str = "/v1/models";

/// Whether `path` is one of the API's routes, which need a key when keys are configured.
pub(crate) fn needs_key(path: &str) -> bool {
    matches!(path, CHAT | EMBEDDINGS | MESSAGES | MODELS)
        || path
            .strip_prefix(MODELS)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The routes of a gateway, and `GET /metrics` when given the exporter's handle.
fn routes(gateway: &Gateway, metrics: Option<PrometheusHandle>) -> Router {
    let routes = Router::new()
        .route(CHAT, post(chat::handle))
        .route(EMBEDDINGS, post(embeddings::handle))
        .route(MESSAGES, post(messages::handle))
        .route(MODELS, get(models::list))
        .route("/v1/models/{*id}", get(models::retrieve))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    let routes = match metrics {
        Some(handle) => routes.route(METRICS, get(move || render_metrics(handle.clone()))),
        None => routes,
    };
    routes
        .fallback(unknown_url)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(gateway.clone())
}

/// Where `GET /metrics` is served, when it is.
const METRICS: &str = "/metrics";

/// `GET /metrics`: the exporter's Prometheus text.
async fn render_metrics(handle: PrometheusHandle) -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    )
        .into_response()
}

/// The gateway's HTTP API as a plain `tower` service: the request id and the key check
/// around the routes.
///
/// They wrap the routes from outside, once, instead of as `Router::layer`s, which axum applies
/// to every route by boxing it once more: each layer there costs an allocation and a boxed
/// future per request. The body limit is applied where the body is read ([`RequestBody`]) for
/// the same reason. What is served is this service itself; [`router`] puts it in an axum
/// `Router` for apps that nest or merge it, at the cost of that router's own dispatch.
pub(crate) fn service(gateway: &Gateway, metrics: Option<PrometheusHandle>) -> GatewayService {
    GatewayService(request_id::SetRequestId(auth::Authenticate {
        gateway: gateway.clone(),
        inner: routes(gateway, metrics),
    }))
}

/// The router of a gateway: [`service`] as an axum `Router`'s fallback.
pub(crate) fn router(gateway: &Gateway, metrics: Option<PrometheusHandle>) -> Router {
    Router::new().fallback_service(service(gateway, metrics))
}

/// A gateway's HTTP API as a `tower` service (see [`Gateway::service`]). Cheap to clone: a
/// clone shares the gateway's routes.
#[derive(Clone)]
pub struct GatewayService(request_id::SetRequestId<auth::Authenticate<Router>>);

impl fmt::Debug for GatewayService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayService").finish_non_exhaustive()
    }
}

impl Service<Request> for GatewayService {
    type Response = Response;
    type Error = Infallible;
    type Future = GatewayFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> GatewayFuture {
        GatewayFuture {
            inner: self.0.call(request),
        }
    }
}

type InnerFuture =
    <request_id::SetRequestId<auth::Authenticate<Router>> as Service<Request>>::Future;

pin_project_lite::pin_project! {
    /// The response future of [`GatewayService`].
    pub struct GatewayFuture {
        #[pin]
        inner: InnerFuture,
    }
}

impl Future for GatewayFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The gateway is built and serving; the cache's and the limits' stores are reported alongside.
///
/// Always 200 once serving: no store is required, because each degrades on its own (a cache
/// whose Redis is down answers misses; limits fail open). Taking every replica out of a load
/// balancer because a shared Redis blinked would turn a degraded cache into an outage. The
/// body says which stores are degraded, for dashboards and humans.
async fn readyz(State(gateway): State<Gateway>) -> Response {
    let cache = match &gateway.inner.cache_store {
        None => "off",
        Some(store) if store.reachable().await => "ok",
        Some(_) => "degraded",
    };
    let limits = if gateway.inner.limiter.check_store().await.is_ok() {
        "ok"
    } else {
        "degraded"
    };
    let body = format!(r#"{{"status":"ready","cache":"{cache}","limits":"{limits}"}}"#);
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

async fn unknown_url(method: Method, uri: Uri) -> Response {
    ApiError::unknown_url(&method, uri.path()).into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::method_not_allowed(&method, uri.path()).into_response()
}

/// Who answered a request: the deployment the request's [`CallReport`] names (the router
/// records each one it tries, the last one answered), else the route's static upstream; and
/// how many upstream attempts it took.
///
/// `attempts` becomes `x-bulkhead-attempts` on every answer and error of a request that
/// reached a model: the requests sent upstream over every target, retries and fallbacks
/// included, 0 when none left the gateway (every circuit open). A request rejected before any
/// model is chosen (bad body, unknown model) carries no such header. It is read when the
/// response head is built; a stream's is final by then, because retries stop at its first
/// chunk.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    pub(crate) provider: Option<Arc<str>>,
    pub(crate) provider_header: Option<HeaderValue>,
    pub(crate) model_header: Option<HeaderValue>,
    pub(crate) attempts: u32,
    /// How the cache dealt with the request (`x-bulkhead-cache`); `None` without a cache.
    pub(crate) cache: Option<CacheStatus>,
    /// The request's cost (`x-bulkhead-cost-usd`); known for JSON answers only, since a
    /// stream's headers leave before its usage arrives.
    pub(crate) cost_usd: Option<f64>,
    /// What no error body may contain.
    pub(crate) secrets: Arc<Secrets>,
}

impl Origin {
    pub(crate) fn of(route: &Route, report: &CallReport) -> Self {
        match report.deployment() {
            Some(d) => Origin {
                provider_header: HeaderValue::from_str(&d.provider).ok(),
                model_header: HeaderValue::from_str(&d.model).ok(),
                provider: Some(d.provider),
                attempts: report.attempts(),
                cache: report.cache(),
                cost_usd: report.cost_usd(),
                secrets: route.secrets.clone(),
            },
            None => Origin {
                provider: route.provider.clone(),
                provider_header: route.provider_header.clone(),
                model_header: route.model_header.clone(),
                attempts: report.attempts(),
                cache: report.cache(),
                cost_usd: report.cost_usd(),
                secrets: route.secrets.clone(),
            },
        }
    }
}

/// Set the provider and model headers of an answer.
fn set_origin_headers(response: &mut Response, origin: &Origin) {
    let headers = response.headers_mut();
    if let Some(v) = &origin.provider_header {
        headers.insert(X_BULKHEAD_PROVIDER, v.clone());
    }
    if let Some(v) = &origin.model_header {
        headers.insert(X_BULKHEAD_MODEL, v.clone());
    }
    headers.insert(X_BULKHEAD_ATTEMPTS, HeaderValue::from(origin.attempts));
    if let Some(status) = origin.cache {
        headers.insert(X_BULKHEAD_CACHE, HeaderValue::from_static(status.as_str()));
    }
    if let Some(cost) = origin.cost_usd {
        // Room for a typical cost (`0.0000351`), so the string does not grow as it is written.
        let mut text = String::with_capacity(32);
        let _ = write!(text, "{cost}");
        if let Ok(value) = HeaderValue::from_str(&text) {
            headers.insert(X_BULKHEAD_COST_USD, value);
        }
    }
}

/// A request's body, read up to the gateway's `max_body_bytes`: the bytes, or the status
/// saying why they could not be read (413 over the limit, 400 for a broken body). Handlers
/// take it last, after the extractors that may refuse the request from its head.
pub(crate) struct RequestBody(Result<Bytes, StatusCode>);

impl FromRequest<Gateway> for RequestBody {
    type Rejection = Infallible;

    async fn from_request(request: Request, gateway: &Gateway) -> Result<Self, Infallible> {
        let limit = gateway.inner.max_body_bytes;
        let read = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|e| {
                if e.into_inner().downcast_ref::<LengthLimitError>().is_some() {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                }
            });
        Ok(Self(read))
    }
}

/// Read a JSON request body with `parse` (`serde_json::from_str`, or a reader with exactly
/// its results such as [`bulkhead_core::json::read_chat_request`]): a body over the limit or
/// broken, or malformed JSON, becomes the error response the client gets.
fn parse_body<T>(
    body: RequestBody,
    max_body_bytes: usize,
    parse: fn(&str) -> serde_json::Result<T>,
) -> Result<T, Box<ApiError>> {
    let body = body
        .0
        .map_err(|status| Box::new(ApiError::body_rejected(status, max_body_bytes)))?;
    // JSON is UTF-8 (RFC 8259). Checking the whole body once and parsing it as a `str` is
    // cheaper than `from_slice`, which validates every string it meets on its own.
    let text =
        bulkhead_core::json::from_utf8(&body).map_err(|e| Box::new(ApiError::body_not_utf8(&e)))?;
    parse(text).map_err(|e| Box::new(ApiError::invalid_body(&e)))
}

/// Room for every header an answer carries: its content type (and the SSE ones), the
/// `x-bulkhead-*` headers, the request id and the length. A `HeaderMap` starts with room for
/// six and would otherwise grow, rehashing, on every answer.
const ANSWER_HEADERS: usize = 12;

/// An answer's response, its header map sized for [`ANSWER_HEADERS`].
pub(crate) fn answer_response(body: Body) -> Response {
    let mut response = Response::new(body);
    *response.headers_mut() = http::HeaderMap::with_capacity(ANSWER_HEADERS);
    response
}

/// Room for a typical answer up front: `to_vec` would start at 128 bytes and grow by copying.
const ANSWER_CAPACITY: usize = 1024;

/// A successful JSON answer, with the headers naming the deployment that gave it.
fn json_answer<T: Serialize>(answer: &T, origin: &Origin) -> Response {
    let mut json = Vec::with_capacity(ANSWER_CAPACITY);
    match serde_json::to_writer(&mut json, answer) {
        Ok(()) => json_response(json, origin),
        Err(_) => ApiError::internal("could not serialize the answer").into_response(),
    }
}

/// [`json_answer`] for a chat completion, encoded by [`answer_json`].
fn chat_answer(answer: &ChatResponse, origin: &Origin) -> Response {
    match answer_json::encode(answer) {
        Ok(json) => json_response(json, origin),
        Err(_) => ApiError::internal("could not serialize the answer").into_response(),
    }
}

fn json_response(json: Vec<u8>, origin: &Origin) -> Response {
    let mut response = answer_response(Body::from(json));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    set_origin_headers(&mut response, origin);
    response
}
