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
//!
//! [`serve`] accepts on the caller's runtime. [`serve_workers`] is how the reference server
//! serves: thread per core, each worker thread running its own single-threaded runtime that
//! accepts on its own listening socket ([`Listeners`]), so a connection, its requests, and the
//! upstream connections they use (one pool per such runtime, see bulkhead-inference) stay on
//! one thread: no task moves between cores and no wake-up crosses threads on the hot path.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
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
use tokio::sync::{mpsc, watch};
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

/// What [`serve`] and [`serve_workers`] serve: a cloneable service of axum requests that never
/// fails (a [`GatewayService`], an axum `Router`, ...).
pub trait Servable:
    Service<Request<Body>, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> Servable for S where
    S: Service<Request<Body>, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static
{
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
    S: Servable,
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

/// The listening sockets of [`serve_workers`], one per worker, all on one address, listening
/// from the moment [`bind`](Self::bind) returns.
///
/// On Linux each worker gets its own socket bound with `SO_REUSEPORT`, so the kernel spreads
/// incoming connections evenly over the workers and no accept wakes more than one thread.
/// The address is first bound once without that option, so an address another process holds
/// is refused ("address in use") as with a single socket, rather than silently shared.
/// Elsewhere the workers accept from clones of one socket.
#[derive(Debug)]
pub struct Listeners {
    addr: SocketAddr,
    sockets: Vec<std::net::TcpListener>,
}

impl Listeners {
    /// The queue of connections not yet accepted, per socket.
    #[cfg(target_os = "linux")]
    const BACKLOG: i32 = 1024;

    /// Bind `workers` listening sockets to `addr` (port 0 picks one free port for all).
    ///
    /// # Errors
    /// When `addr` cannot be bound: taken by another process, not a local address, a port
    /// below 1024 without the privilege.
    pub fn bind(addr: SocketAddr, workers: std::num::NonZeroUsize) -> io::Result<Self> {
        let first = std::net::TcpListener::bind(addr)?;
        let addr = first.local_addr()?;
        #[cfg(target_os = "linux")]
        let sockets = {
            use socket2::{Domain, Protocol, Socket, Type};
            drop(first);
            (0..workers.get())
                .map(|_| {
                    let socket =
                        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
                    socket.set_reuse_address(true)?;
                    socket.set_reuse_port(true)?;
                    socket.set_nonblocking(true)?;
                    socket.bind(&addr.into())?;
                    socket.listen(Self::BACKLOG)?;
                    Ok(socket.into())
                })
                .collect::<io::Result<_>>()?
        };
        #[cfg(not(target_os = "linux"))]
        let sockets = {
            first.set_nonblocking(true)?;
            let mut sockets = Vec::with_capacity(workers.get());
            for _ in 1..workers.get() {
                sockets.push(first.try_clone()?);
            }
            sockets.push(first);
            sockets
        };
        Ok(Self { addr, sockets })
    }

    /// The address bound (with the port picked, when `addr` named port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many workers these sockets are for.
    pub fn workers(&self) -> usize {
        self.sockets.len()
    }
}

/// [`serve`] `router` thread per core: one worker thread per socket of `listeners`, each
/// running its own single-threaded tokio runtime that accepts connections on its socket and
/// serves them to the end. When `shutdown` resolves every worker stops accepting and lets its
/// requests and streams finish (up to `server.shutdown_grace`); this returns once all have.
///
/// What a request spawns (a cache fill, a lease renewal, an upstream connection's task) runs
/// on its worker's runtime; a worker's runtime is kept running until every worker is done, as
/// requests on other workers may still be using what it holds (a shared Redis connection).
/// Everything that is not per request (signals, the config watcher, exporters) stays on the
/// caller's runtime.
///
/// # Errors
/// When a worker cannot start (no thread or runtime can be created, a socket cannot listen):
/// the workers already started are stopped first.
pub async fn serve_workers<S>(
    listeners: Listeners,
    router: LiveRouter<S>,
    server: &ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: Servable,
{
    let (stop, stopped) = watch::channel(false);
    let (finish, finished) = watch::channel(false);
    let (report, mut reports) = mpsc::unbounded_channel();
    let mut threads = Vec::with_capacity(listeners.sockets.len());
    let mut failure = None;
    for (index, socket) in listeners.sockets.into_iter().enumerate() {
        let worker = Worker {
            index,
            router: router.clone(),
            server: server.clone(),
            stopped: stopped.clone(),
            finished: finished.clone(),
            report: report.clone(),
        };
        match worker.start(socket) {
            Ok(thread) => threads.push(thread),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    drop(report);
    let mut running = threads.len();
    if failure.is_none() {
        tracing::debug!("serving on {running} worker threads");
        let mut shutdown = std::pin::pin!(shutdown);
        tokio::select! {
            () = &mut shutdown => {}
            // Workers report only once stopped: one that reports now could not start.
            first = reports.recv() => {
                running -= 1;
                failure = Some(match first {
                    Some(Err(e)) => e,
                    Some(Ok(())) => io::Error::other("a worker stopped serving unasked"),
                    None => worker_panicked(),
                });
            }
        }
    }
    stop.send_replace(true);
    while running > 0 {
        let result = reports
            .recv()
            .await
            .unwrap_or_else(|| Err(worker_panicked()));
        running -= 1;
        if let Err(e) = result {
            failure.get_or_insert(e);
        }
    }
    finish.send_replace(true);
    let joined = tokio::task::spawn_blocking(move || {
        for thread in threads {
            let _ = thread.join();
        }
    });
    let _ = joined.await;
    failure.map_or(Ok(()), Err)
}

/// One worker of [`serve_workers`], before its thread starts.
struct Worker<S> {
    index: usize,
    router: LiveRouter<S>,
    server: ServerConfig,
    /// Turns true when the workers are to stop accepting.
    stopped: watch::Receiver<bool>,
    /// Turns true once every worker has finished its requests.
    finished: watch::Receiver<bool>,
    /// Where the worker's outcome goes once it stopped serving.
    report: mpsc::UnboundedSender<io::Result<()>>,
}

impl<S> Worker<S>
where
    S: Servable,
{
    fn start(self, socket: std::net::TcpListener) -> io::Result<std::thread::JoinHandle<()>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(format!("bulkhead-worker-{}", self.index))
            .spawn(move || self.run(&runtime, socket))
    }

    fn run(self, runtime: &tokio::runtime::Runtime, socket: std::net::TcpListener) {
        let Self {
            router,
            server,
            mut stopped,
            mut finished,
            report,
            ..
        } = self;
        let served = std::panic::catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(async {
                let stop = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                match TcpListener::from_std(socket) {
                    Ok(listener) => serve(listener, router, &server, stop).await,
                    Err(e) => Err(e),
                }
            })
        }));
        let _ = report.send(served.unwrap_or_else(|_| Err(worker_panicked())));
        runtime.block_on(async {
            let _ = finished.wait_for(|done| *done).await;
        });
    }
}

fn worker_panicked() -> io::Error {
    io::Error::other("a worker thread panicked")
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
