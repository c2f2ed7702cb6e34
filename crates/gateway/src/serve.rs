//! Serving over TCP: the limits a public endpoint needs, a router that can be replaced while
//! serving (hot reload), and a graceful shutdown.
//!
//! `axum::serve` is fine for a demo but exposes none of hyper's connection settings, and a
//! gateway facing the internet needs two of them:
//!
//! - **`header_read_timeout`**: a client gets this long to send a request head. Slowloris
//!   clients (open many connections, trickle one header byte at a time) are cut off instead
//!   of holding a task and a socket each forever.
//! - **The head limit**: a request head larger than `max_header_bytes` is answered 431 before
//!   it reaches the router, and hyper's read buffer (`max_buf_size`) is bounded by the same
//!   number, so a client cannot make the server hold more than that of an unfinished head.
//!
//! Bodies are limited by the router (413), and responses are written with backpressure: a
//! client that reads slowly holds at most hyper's write buffer, because a streamed body is
//! polled for its next chunk only once the previous one was written. Nothing is buffered per
//! connection beyond that.
//!
//! [`LiveRouter`] is what is served: each request runs on the router current when it
//! arrived, so [`LiveRouter::replace`] swaps configurations atomically and a request (or a
//! stream) that started on the old one finishes on it.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::response::{IntoResponse as _, Response};
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::{Service, ServiceExt as _};

use crate::config::ServerConfig;
use crate::http::GatewayService;
use crate::http::error::ApiError;

pub use crate::reload::{POLL as RELOAD_POLL, watch_config};

/// What is served, replaceable while serving: a [`GatewayService`] (as the reference server
/// serves it), or any cloneable service of axum requests, such as a `Router` of your own.
pub struct LiveRouter<S = GatewayService>(Arc<ArcSwap<S>>);

impl<S> LiveRouter<S> {
    /// Serve `service` until it is replaced.
    pub fn new(service: S) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(service)))
    }

    /// Serve `service` from the next request on; requests in flight finish on the old one.
    pub fn replace(&self, service: S) {
        self.0.store(Arc::new(service));
    }

    fn current(&self) -> S
    where
        S: Clone,
    {
        S::clone(&self.0.load())
    }
}

impl<S> Clone for LiveRouter<S> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<S> fmt::Debug for LiveRouter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveRouter").finish_non_exhaustive()
    }
}

/// Serve `router` on `listener` until `shutdown` resolves, then stop accepting, let requests
/// and streams in flight finish for up to `server.shutdown_grace`, and return.
///
/// Uses `server`'s `max_header_bytes`, `header_read_timeout` and `shutdown_grace`; sets
/// `TCP_NODELAY` on every connection (without it, reused connections stall ~40 ms per
/// response on delayed ACKs).
pub async fn serve<S>(
    listener: TcpListener,
    router: LiveRouter<S>,
    server: &ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(server.header_read_timeout)
        .max_buf_size(server.max_header_bytes);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let router = router.clone();
        let head_limit = server.max_header_bytes;
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let router = router.current();
            async move {
                if head_size(&request) > head_limit {
                    return Ok(ApiError::head_too_large(head_limit).into_response());
                }
                let response = router.oneshot(request.map(Body::new)).await;
                Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
            }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
        tokio::spawn(async move {
            // Clients that vanish, time out sending their head or send garbage end here;
            // that is their problem, not the server's.
            if let Err(e) = connection.await {
                tracing::debug!("connection ended with an error: {e}");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(server.shutdown_grace) => tracing::warn!(
            "requests still in flight after the {:?} grace period; stopping anyway",
            server.shutdown_grace
        ),
    }
    Ok(())
}

/// The size of a request's head as sent: request line and header lines. hyper bounds its read
/// buffer by `max_buf_size`, but a head that arrives whole within one read can pass that
/// check, so the exact limit is enforced here, before the router.
fn head_size<B>(request: &Request<B>) -> usize {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(1, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    let line = request.method().as_str().len() + target + 12;
    request.headers().iter().fold(line, |size, (name, value)| {
        size + name.as_str().len() + value.len() + 4
    })
}

/// After a failed `accept`: out of file descriptors and the like pass, so wait a little and
/// go on rather than spin or stop serving everyone.
async fn accept_failed(error: &io::Error) {
    tracing::warn!("accepting a connection failed: {error}");
    tokio::time::sleep(Duration::from_millis(50)).await;
}
