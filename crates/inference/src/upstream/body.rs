//! The body of a streamed answer under the first-token, idle and total deadlines: the part of
//! every provider's SSE stream that only moves bytes and watches the clock. What the bytes
//! mean (decoding, translation, when the stream is complete) stays with each provider.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bulkhead_core::Error;
use bytes::Bytes;
use hyper::body::Body as _;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep_until};

use super::h1::Body;
use super::{Clock, Limit, Response};

pin_project! {
    /// A response body read under a [`Clock`]: the first-token deadline until
    /// [`first_token`](Self::first_token), the idle deadline after, the total throughout.
    pub(crate) struct TimedBody {
        body: Body,
        clock: Clock,
        // Armed at a deadline no later than the real one; when it fires, the real deadline is
        // recomputed from `last_read`, so a read costs an `Instant::now()`, not a timer reset.
        #[pin]
        timer: Sleep,
        started: bool,
        last_read: Instant,
    }
}

impl TimedBody {
    pub(crate) fn new(response: Response, clock: Clock) -> Self {
        let (deadline, _) = clock.first(Limit::FirstToken);
        Self {
            body: response.into_body(),
            clock,
            timer: sleep_until(deadline),
            started: false,
            last_read: Instant::now(),
        }
    }

    /// A chunk is going out: from the first one on, the idle deadline applies.
    pub(crate) fn first_token(self: Pin<&mut Self>) {
        let this = self.project();
        if !*this.started {
            // Move the timer onto the idle deadline.
            *this.started = true;
            let now = Instant::now();
            *this.last_read = now;
            this.timer.reset(this.clock.idle_after(now).0);
        }
    }

    /// Read more of the body. Any bytes after the first token reset the idle clock (SSE
    /// comments, keep-alives, included).
    pub(crate) fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, hyper::Error>>> {
        let this = self.project();
        loop {
            let bytes = match ready!(Pin::new(&mut *this.body).poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(bytes) => bytes,
                    // Trailers carry nothing a stream needs.
                    Err(_) => continue,
                },
            };
            if *this.started {
                *this.last_read = Instant::now();
            }
            return Poll::Ready(Some(Ok(bytes)));
        }
    }

    /// Wait while no deadline has passed; then the timeout error naming the one that did.
    pub(crate) fn poll_expired(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        provider: &str,
    ) -> Poll<Error> {
        let mut this = self.project();
        loop {
            ready!(this.timer.as_mut().poll(cx));
            let (deadline, limit) = if *this.started {
                this.clock.idle_after(*this.last_read)
            } else {
                this.clock.first(Limit::FirstToken)
            };
            if deadline <= Instant::now() {
                return Poll::Ready(this.clock.expired(limit, provider));
            }
            this.timer.as_mut().reset(deadline);
        }
    }

    /// After the stream's last event, read what is already buffered (usually the body's end) so
    /// that an HTTP/1.1 connection goes back to the pool instead of being closed.
    pub(crate) fn drain(self: Pin<&mut Self>, cx: &mut Context<'_>) {
        let body = self.project().body;
        for _ in 0..4 {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(Some(Ok(_))) => continue,
                _ => return,
            }
        }
    }
}
