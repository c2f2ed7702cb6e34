//! A bare reverse proxy, the floor any Rust gateway on the same stack could reach: axum in
//! front, one pooled HTTP client behind, bytes passed through untouched (no parsing, no
//! routing, no headers of its own). What it adds over direct is the cost of the extra hop
//! itself: two more sockets, two more wake-ups, an HTTP/1 server and client. What the gateway
//! adds beyond it is Bulkhead's own work.
//!
//! The client is reqwest, as in the gateway's providers ([`router`]), or hyper-util's pooled
//! client with no layers around it ([`ProxyClient::Hyper`]): the difference between the two is
//! what reqwest's own layers cost per request.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use http_body_util::Full;
use hyper_util::client::legacy::{self, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use reqwest::{Client, Url};

/// The client a bare proxy forwards with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProxyClient {
    /// reqwest, built as for the gateway's providers.
    #[default]
    Reqwest,
    /// hyper-util's pooled client, plain HTTP only.
    Hyper,
}

#[derive(Debug)]
struct Proxy {
    client: Client,
    chat: Url,
}

/// A router forwarding `POST /v1/chat/completions` to `{upstream}/chat/completions` with
/// reqwest, where `upstream` is an API root such as `http://127.0.0.1:9101/v1`.
pub fn router(upstream: &str) -> anyhow::Result<Router> {
    router_with(upstream, ProxyClient::Reqwest)
}

/// [`router`], forwarding with `client`.
pub fn router_with(upstream: &str, client: ProxyClient) -> anyhow::Result<Router> {
    let chat = format!("{}/chat/completions", upstream.trim_end_matches('/'));
    Ok(match client {
        ProxyClient::Reqwest => {
            bulkhead_inference::install_crypto_provider();
            let client = Client::builder()
                .tcp_nodelay(true)
                .pool_max_idle_per_host(64)
                .build()?;
            let chat = chat.parse()?;
            Router::new()
                .route("/v1/chat/completions", post(forward))
                .with_state(Arc::new(Proxy { client, chat }))
        }
        ProxyClient::Hyper => {
            let chat: Uri = chat.parse()?;
            anyhow::ensure!(
                chat.scheme() == Some(&http::uri::Scheme::HTTP),
                "the hyper proxy client speaks plain http:// only"
            );
            let mut connector = HttpConnector::new();
            connector.set_nodelay(true);
            let client = legacy::Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(64)
                .build(connector);
            Router::new()
                .route("/v1/chat/completions", post(forward_hyper))
                .with_state(Arc::new(HyperProxy { client, chat }))
        }
    })
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
    passed_through(
        status,
        content_type,
        Body::from_stream(upstream.bytes_stream()),
    )
}

/// The upstream's status, content type and body, and nothing else.
fn passed_through(status: StatusCode, content_type: Option<HeaderValue>, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Some(content_type) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
}

struct HyperProxy {
    client: legacy::Client<HttpConnector, Full<Bytes>>,
    chat: Uri,
}

async fn forward_hyper(
    State(proxy): State<Arc<HyperProxy>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = http::Request::post(proxy.chat.clone());
    if let Some(content_type) = headers.get(CONTENT_TYPE) {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let Ok(request) = request.body(Full::new(body)) else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let Ok(upstream) = proxy.client.request(request).await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let (mut parts, body) = upstream.into_parts();
    let content_type = parts.headers.remove(CONTENT_TYPE);
    passed_through(parts.status, content_type, Body::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::{self, UpstreamConfig};

    async fn post(client: &Client, root: &str, body: &'static str) -> (StatusCode, Bytes) {
        let response = client
            .post(format!("{root}/chat/completions"))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("an answer");
        let status = response.status();
        (status, response.bytes().await.expect("the body"))
    }

    #[tokio::test]
    async fn both_clients_pass_answers_and_streams_through_unchanged() {
        let upstream = crate::spawn_server("proxy-test-upstream", 1, || {
            upstream::router(UpstreamConfig {
                chunks: 3,
                ..UpstreamConfig::default()
            })
        })
        .expect("a loopback upstream");
        let direct = format!("http://{upstream}/v1");
        let client = crate::load::client(1).expect("a client");
        for kind in [ProxyClient::Reqwest, ProxyClient::Hyper] {
            let root = direct.clone();
            let proxy = crate::spawn_server("proxy-test", 1, move || {
                router_with(&root, kind).expect("a proxy")
            })
            .expect("a loopback proxy");
            let via = format!("http://{proxy}/v1");
            for body in [r#"{"model":"m"}"#, r#"{"model":"m","stream":true}"#] {
                let expected = post(&client, &direct, body).await;
                assert_eq!(expected.0, StatusCode::OK);
                assert_eq!(post(&client, &via, body).await, expected, "{kind:?} {body}");
            }
        }
    }

    #[test]
    fn the_hyper_client_refuses_https() {
        let error = router_with("https://127.0.0.1:1/v1", ProxyClient::Hyper)
            .expect_err("https is not spoken");
        assert!(error.to_string().contains("plain http"), "{error}");
    }
}
