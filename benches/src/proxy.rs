//! A bare reverse proxy, the floor any Rust gateway on the same stack could reach: axum in
//! front, one pooled reqwest client behind, bytes passed through untouched (no parsing, no
//! routing, no headers of its own). What it adds over direct is the cost of the extra hop
//! itself: two more sockets, two more wake-ups, an HTTP/1 server and client. What the gateway
//! adds beyond it is Bulkhead's own work.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use reqwest::{Client, Url};

#[derive(Debug)]
struct Proxy {
    client: Client,
    chat: Url,
}

/// A router forwarding `POST /v1/chat/completions` to `{upstream}/chat/completions`, where
/// `upstream` is an API root such as `http://127.0.0.1:9101/v1`.
pub fn router(upstream: &str) -> anyhow::Result<Router> {
    let chat = format!("{}/chat/completions", upstream.trim_end_matches('/')).parse()?;
    bulkhead_inference::install_crypto_provider();
    let client = Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(64)
        .build()?;
    Ok(Router::new()
        .route("/v1/chat/completions", post(forward))
        .with_state(Arc::new(Proxy { client, chat })))
}

async fn forward(State(proxy): State<Arc<Proxy>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut request = proxy.client.post(proxy.chat.clone()).body(body);
    if let Some(content_type) = headers.get(CONTENT_TYPE) {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let Ok(upstream) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = upstream.status();
    let content_type = upstream.headers().get(CONTENT_TYPE).cloned();
    let mut response = Response::new(Body::from_stream(upstream.bytes_stream()));
    *response.status_mut() = status;
    if let Some(content_type) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
}
