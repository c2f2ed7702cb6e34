//! The pooled HTTP client under every HTTP provider: hyper-util's pooled client over TCP
//! (no Nagle delay, keep-alive probes), TLS by rustls (ALPN offers HTTP/2 and HTTP/1.1), and
//! the proxy the environment names for the upstream; for an `http://` upstream reached
//! directly, a pool of HTTP/1.1 connections of our own over the same connector (see `h1`).
//!
//! Nothing more: it follows no redirect and retries nothing (retries are bulkhead-retry's,
//! decided in one place), and it parses no URL per request.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http::uri::Scheme;
use http_body_util::Full;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{ConfigBuilderExt, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::runtime::RuntimeFlavor;
use tower_service::Service;

use super::h1::{Body, DirectPool};
use crate::error::Transport;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The pooled client of one upstream.
pub(crate) type HttpClient = Client<HttpsConnector<Connector>, Full<Bytes>>;

/// How an upstream is reached: the TLS settings, and the proxies to consider.
pub(crate) struct Reach {
    tls: rustls::ClientConfig,
    proxies: Matcher,
}

impl Reach {
    /// What a deployed gateway uses: the platform's certificate verifier (the system's roots),
    /// and the proxies named by `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`
    /// (or their lower-case forms), read as curl reads them.
    pub(crate) fn from_platform() -> Result<Self, rustls::Error> {
        crate::install_crypto_provider();
        let tls = rustls::ClientConfig::builder()
            .try_with_platform_verifier()?
            .with_no_client_auth();
        Ok(Self::new(tls, Matcher::from_env()))
    }

    /// `tls` and `proxies` as given (tests use their own roots and proxies).
    pub(crate) fn new(tls: rustls::ClientConfig, proxies: Matcher) -> Self {
        Self { tls, proxies }
    }

    /// The proxy for `target`, if one applies. Only `http://` proxies are supported: a proxy
    /// spoken to over TLS, or SOCKS, is refused with a message naming its scheme and host (never
    /// its credentials).
    pub(crate) fn proxy_for(&self, target: &Uri) -> Result<Option<Proxy>, String> {
        let Some(intercept) = self.proxies.intercept(target) else {
            return Ok(None);
        };
        Proxy::from_intercept(&intercept).map(Some)
    }
}

/// The HTTP proxy an upstream is reached through.
#[derive(Debug, Clone)]
pub(crate) struct Proxy {
    uri: Uri,
    /// `Proxy-Authorization`, from the credentials in the proxy's URL.
    pub(crate) auth: Option<http::HeaderValue>,
}

impl Proxy {
    fn from_intercept(intercept: &Intercept) -> Result<Self, String> {
        let uri = intercept.uri();
        let scheme = uri.scheme_str().unwrap_or("");
        if scheme != "http" {
            let host = uri.host().unwrap_or("");
            return Err(format!(
                "the proxy `{scheme}://{host}` named by the environment is not supported: only \
                 http:// proxies are (HTTPS upstreams are reached through them with CONNECT)"
            ));
        }
        let mut auth = intercept.basic_auth().cloned();
        if let Some(auth) = &mut auth {
            auth.set_sensitive(true);
        }
        Ok(Self {
            uri: uri.clone(),
            auth,
        })
    }
}

/// The pooled clients of one upstream: one per single-threaded runtime that calls it, and one
/// shared by the rest (multi-threaded runtimes).
///
/// A gateway served thread per core runs a single-threaded runtime on each worker thread. A
/// pooled connection is driven by a task on the runtime that opened it, so with one shared pool
/// a request on one worker often rides a connection driven by another: every read and write
/// then wakes the other thread. With a pool per such runtime the connection, its task and its
/// requests stay on one thread. The pools are built on first use, so a thread that never calls
/// the upstream holds no connection to it; each keeps its idle connections as the shared one does.
///
/// An `http://` upstream reached without a proxy is called through a [`DirectPool`] of
/// HTTP/1.1 connections instead, kept per runtime alike.
pub(crate) enum Pools {
    /// An `http://` upstream reached directly.
    Direct(Arc<DirectPool>),
    /// hyper-util's pooled clients (HTTPS, or through a proxy).
    Clients(Box<Clients>),
}

/// hyper-util's pooled clients: the shared one, and one per single-threaded runtime.
pub(crate) struct Clients {
    connector: HttpsConnector<Connector>,
    shared: HttpClient,
    per_runtime: Box<[OnceLock<HttpClient>]>,
}

/// How many single-threaded runtimes get a pool of their own; more share them round-robin.
pub(super) const RUNTIME_POOLS: usize = 32;

thread_local! {
    /// This thread's pool: `UNKNOWN` until it calls an upstream from a runtime, then `SHARED`
    /// or the index of its own.
    static POOL: Cell<usize> = const { Cell::new(UNKNOWN) };
}
const UNKNOWN: usize = usize::MAX;
pub(super) const SHARED: usize = usize::MAX - 1;

/// The pool of the calling thread, decided on its first call from a runtime.
pub(super) fn thread_pool() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    POOL.with(|pool| {
        if pool.get() == UNKNOWN {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return SHARED;
            };
            pool.set(match runtime.runtime_flavor() {
                RuntimeFlavor::CurrentThread => {
                    NEXT.fetch_add(1, Ordering::Relaxed) % RUNTIME_POOLS
                }
                _ => SHARED,
            });
        }
        pool.get()
    })
}

impl Pools {
    /// Connections time out after `connect_timeout`, idle ones are kept 90 s (at most 64 per
    /// host and pool), and TCP keep-alive probes start after 60 s of silence.
    /// `target` is one of the upstream's endpoints (they share its scheme and host).
    pub(crate) fn new(
        connect_timeout: Duration,
        reach: Reach,
        proxy: Option<Proxy>,
        target: &Uri,
    ) -> Self {
        let direct = proxy.is_none() && target.scheme() == Some(&Scheme::HTTP);
        let connector = connector(connect_timeout, reach, proxy);
        if direct {
            return Self::Direct(Arc::new(DirectPool::new(connector, target)));
        }
        Self::Clients(Box::new(Clients {
            shared: client(connector.clone()),
            connector,
            per_runtime: (0..RUNTIME_POOLS).map(|_| OnceLock::new()).collect(),
        }))
    }

    /// Send `request` and wait for the answer's head.
    pub(crate) async fn send(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Body>, Transport> {
        let clients = match self {
            Self::Direct(direct) => return direct.send(request).await,
            Self::Clients(clients) => clients,
        };
        match clients.client().request(request).await {
            Ok(response) => Ok(response.map(Body::plain)),
            Err(e) => Err(Transport::Request(e)),
        }
    }

    /// The pool of HTTP/1.1 connections, for an `http://` upstream reached directly (tests).
    #[cfg(test)]
    pub(crate) fn direct(&self) -> Option<&DirectPool> {
        match self {
            Self::Direct(direct) => Some(direct),
            Self::Clients(_) => None,
        }
    }
}

impl Clients {
    /// The client to call with from this thread.
    fn client(&self) -> &HttpClient {
        match thread_pool() {
            SHARED => &self.shared,
            index => self.per_runtime[index].get_or_init(|| client(self.connector.clone())),
        }
    }
}

fn connector(
    connect_timeout: Duration,
    reach: Reach,
    proxy: Option<Proxy>,
) -> HttpsConnector<Connector> {
    let mut http = HttpConnector::new();
    // The TLS layer above hands it `https://` addresses too.
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_keepalive(Some(Duration::from_secs(60)));
    http.set_connect_timeout(Some(connect_timeout));
    HttpsConnectorBuilder::new()
        .with_tls_config(reach.tls)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(Connector {
            http,
            proxy: proxy.map(Arc::new),
        })
}

fn client(connector: HttpsConnector<Connector>) -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(64)
        // Left on: a request is resent on a fresh connection only when a pooled one turned out
        // closed before any of it was written, so the upstream never saw it. Every other failure
        // goes to bulkhead-retry.
        .retry_canceled_requests(true)
        .build(connector)
}

/// Opens the TCP connections under TLS: to the upstream itself, or through the proxy (a
/// CONNECT tunnel for an HTTPS upstream; requests in absolute form for a plain HTTP one).
#[derive(Clone, Debug)]
pub(crate) struct Connector {
    http: HttpConnector,
    proxy: Option<Arc<Proxy>>,
}

type Connecting = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

impl Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Connecting {
        let Some(proxy) = self.proxy.as_deref() else {
            let connecting = self.http.call(dst);
            return Box::pin(async move { Ok(Conn::new(connecting.await?, false)) });
        };
        if dst.scheme() == Some(&Scheme::HTTPS) {
            let mut tunnel = Tunnel::new(proxy.uri.clone(), self.http.clone());
            if let Some(auth) = &proxy.auth {
                tunnel = tunnel.with_auth(auth.clone());
            }
            Box::pin(async move { Ok(Conn::new(tunnel.call(dst).await?, false)) })
        } else {
            let connecting = self.http.call(proxy.uri.clone());
            Box::pin(async move { Ok(Conn::new(connecting.await?, true)) })
        }
    }
}

/// A TCP connection, marked when it goes to an HTTP proxy (so requests name the whole URL).
#[derive(Debug)]
pub(crate) struct Conn {
    io: TokioIo<TcpStream>,
    to_http_proxy: bool,
}

impl Conn {
    fn new(io: TokioIo<TcpStream>, to_http_proxy: bool) -> Self {
        Self { io, to_http_proxy }
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.to_http_proxy)
    }
}

impl Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
