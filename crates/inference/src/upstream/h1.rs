//! A pool of HTTP/1.1 connections of our own, for an `http://` upstream reached directly (no
//! proxy): vLLM, Ollama or any OpenAI-compatible server beside the gateway, where the hop
//! itself is most of what the gateway adds.
//!
//! hyper's connection API, with the connections opened by the same connector as the pooled
//! client's (name resolution, connect timeout, no Nagle delay, keep-alive probes), one idle
//! list per single-threaded runtime (see [`Pools`](super::client::Pools)) and one shared by
//! the rest. An upstream is one host, so a list needs no key: hyper-util's pool hashes its
//! (scheme, authority) key with SipHash several times per request and wraps each call in
//! futures of its own. Measured with callgrind (`benches/load/instructions.sh`), the gateway's
//! proxied JSON request went from 105k to 94k instructions with this pool, a 20-chunk stream
//! from 277k to 269k.
//!
//! A connection goes back to its list when its answer's body has been read to the end or
//! dropped; a checkout takes only a connection that is ready for a request, so one still
//! draining the rest of a dropped answer waits, and one hyper closed (an answer dropped with
//! much left unread) is dropped. Idle connections are kept 90 s, at most 64 per list, most
//! recently used first. A request that finds its pooled connection closed before any of it was
//! written is sent again on a new one, as the pooled client does; every other failure goes to
//! bulkhead-retry.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HOST, HeaderValue};
use http::{Request, Uri};
use http_body_util::Full;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_rustls::HttpsConnector;
use tower_service::Service;

use super::client::{Connector, RUNTIME_POOLS, SHARED, thread_pool};
use crate::error::Transport;

/// How long an idle connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// The most idle connections one list keeps.
const MAX_IDLE: usize = 64;

type Sender = SendRequest<Full<Bytes>>;

/// The idle connections of one `http://` upstream, per runtime.
pub(crate) struct DirectPool {
    connector: HttpsConnector<Connector>,
    /// What connections are opened to: the upstream's scheme and authority.
    target: Uri,
    /// Its `Host` header.
    host: HeaderValue,
    /// One list per single-threaded runtime, then the shared one.
    lists: Box<[Mutex<Vec<Idle>>]>,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

impl DirectPool {
    pub(crate) fn new(connector: HttpsConnector<Connector>, target: &Uri) -> Self {
        let mut parts = http::uri::Parts::default();
        parts.scheme = target.scheme().cloned();
        parts.authority = target.authority().cloned();
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        let host = target
            .authority()
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
            .unwrap_or_else(|| HeaderValue::from_static("localhost"));
        Self {
            connector,
            target: Uri::from_parts(parts).unwrap_or_else(|_| target.clone()),
            host,
            lists: (0..=RUNTIME_POOLS)
                .map(|_| Mutex::new(Vec::new()))
                .collect(),
        }
    }

    /// Send `request` (to this upstream's host) on an idle connection of this runtime's list,
    /// or on a new one; its target goes in origin form, the host in `Host`.
    pub(crate) async fn send(
        self: &Arc<Self>,
        mut request: Request<Full<Bytes>>,
    ) -> Result<http::Response<Body>, Transport> {
        if let Some(path) = request.uri().path_and_query().cloned() {
            *request.uri_mut() = Uri::from(path);
        }
        // A `Host` among the configured headers wins, as with the pooled client.
        request
            .headers_mut()
            .entry(HOST)
            .or_insert_with(|| self.host.clone());
        let list = match thread_pool() {
            SHARED => RUNTIME_POOLS,
            index => index,
        };
        while let Some(mut sender) = self.checkout(list) {
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.lease(response, list, sender)),
                Err(mut failed) => match failed.take_message() {
                    // Closed before any of it was written: the upstream never saw it.
                    Some(unsent) => request = unsent,
                    None => return Err(Transport::Send(failed.into_error())),
                },
            }
        }
        let io = self
            .connector
            .clone()
            .call(self.target.clone())
            .await
            .map_err(Transport::Connect)?;
        let (mut sender, connection) = http1::handshake(io).await.map_err(Transport::Send)?;
        tokio::spawn(async move {
            // Its errors reach the request being answered, or nobody (an idle connection the
            // upstream closed).
            let _ = connection.await;
        });
        let response = sender
            .send_request(request)
            .await
            .map_err(Transport::Send)?;
        Ok(self.lease(response, list, sender))
    }

    fn lease(
        self: &Arc<Self>,
        response: http::Response<Incoming>,
        list: usize,
        sender: Sender,
    ) -> http::Response<Body> {
        let lease = Lease {
            pool: Arc::clone(self),
            list,
            sender,
        };
        response.map(|incoming| Body {
            incoming,
            lease: Some(lease),
        })
    }

    /// The most recently used idle connection that can take a request; closed and expired
    /// ones are dropped on the way.
    fn checkout(&self, list: usize) -> Option<Sender> {
        let mut idle = self.lists[list]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let mut at = idle.len();
        while at > 0 {
            at -= 1;
            let entry = &idle[at];
            if entry.sender.is_closed() || now.duration_since(entry.since) > IDLE_TIMEOUT {
                idle.remove(at);
            } else if entry.sender.is_ready() {
                return Some(idle.remove(at).sender);
            }
            // Otherwise still finishing its last answer: left for a later request.
        }
        None
    }

    fn checkin(&self, list: usize, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lists[list]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push(Idle {
            sender,
            since: Instant::now(),
        });
    }

    /// The idle connections of every list (tests).
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.lists
            .iter()
            .map(|list| list.lock().map_or(0, |idle| idle.len()))
            .sum()
    }
}

/// A connection lent to one answer, back in its list once the answer's body is read.
struct Lease {
    pool: Arc<DirectPool>,
    list: usize,
    sender: Sender,
}

/// An answer's body: read to its end or dropped, its connection (if pooled here) goes back to
/// the pool.
pub(crate) struct Body {
    incoming: Incoming,
    lease: Option<Lease>,
}

impl Body {
    /// A body whose connection is not ours to pool (the pooled client's).
    pub(crate) fn plain(incoming: Incoming) -> Self {
        Self {
            incoming,
            lease: None,
        }
    }
}

impl Drop for Body {
    /// Dropped before its end (a stream ends at its last event, which may come just before the
    /// body's own end): the connection goes back all the same. hyper reads what is left of the
    /// answer if it is already there and the connection becomes ready again, or closes it;
    /// [`DirectPool::checkout`] takes only a ready one and drops a closed one.
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.pool.checkin(lease.list, lease.sender);
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = ready!(Pin::new(&mut self.incoming).poll_frame(cx));
        // After the last frame, or at the end (when the length was not known before it).
        if (frame.is_none() || self.incoming.is_end_stream())
            && let Some(lease) = self.lease.take()
        {
            lease.pool.checkin(lease.list, lease.sender);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
