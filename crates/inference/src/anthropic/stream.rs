//! The HTTP side of a streamed answer: body bytes into the [`StreamTranslator`], chunks out,
//! under the first-token, idle and total deadlines.
//!
//! All meaning lives in the translator; this file only moves bytes and watches the clock, the
//! same way the OpenAI provider's stream does.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bulkhead_core::{ChatChunk, Error, Result};
use bytes::Bytes;
use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep_until};

use super::Inner;
use super::call::{Clock, Limit};
use super::translate::{Progress, StreamTranslator};

type BodyStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

pin_project! {
    /// Chat chunks translated from an Anthropic SSE response body.
    pub(super) struct MessageStream {
        body: BodyStream,
        translator: StreamTranslator,
        ready: VecDeque<ChatChunk>,
        scratch: Vec<ChatChunk>,
        inner: Arc<Inner>,
        clock: Clock,
        // Armed no later than the real deadline; re-computed from `last_read` when it fires.
        #[pin]
        timer: Sleep,
        started: bool,
        last_read: Instant,
        // The translator saw message_stop: hand out what is left, then end.
        complete: bool,
        // An error the translator returned, handed out after the chunks before it.
        failed: Option<Error>,
        done: bool,
    }
}

impl MessageStream {
    pub(super) fn new(
        response: reqwest::Response,
        inner: Arc<Inner>,
        clock: Clock,
        include_usage: bool,
    ) -> Self {
        let (deadline, _) = clock.first(Limit::FirstToken);
        let translator = StreamTranslator::new(inner.name.clone(), include_usage);
        Self {
            body: Box::pin(response.bytes_stream()),
            translator,
            ready: VecDeque::new(),
            scratch: Vec::new(),
            inner,
            clock,
            timer: sleep_until(deadline),
            started: false,
            last_read: Instant::now(),
            complete: false,
            failed: None,
            done: false,
        }
    }
}

impl Stream for MessageStream {
    type Item = Result<ChatChunk>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            // 1. Hand out what is already translated.
            if let Some(chunk) = this.ready.pop_front() {
                if !*this.started {
                    // From now on the idle deadline applies; move the timer onto it.
                    *this.started = true;
                    let now = Instant::now();
                    *this.last_read = now;
                    this.timer.as_mut().reset(this.clock.idle_after(now).0);
                }
                return Poll::Ready(Some(Ok(chunk)));
            }
            if *this.done {
                return Poll::Ready(None);
            }
            if let Some(error) = this.failed.take() {
                *this.done = true;
                return Poll::Ready(Some(Err(error)));
            }
            if *this.complete {
                *this.done = true;
                drain(this.body, cx);
                return Poll::Ready(None);
            }
            // 2. Read more of the body.
            match this.body.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    if *this.started {
                        *this.last_read = Instant::now();
                    }
                    let result = this.translator.push_bytes(&bytes, this.scratch);
                    this.ready.extend(this.scratch.drain(..));
                    match result {
                        Ok(Progress::Done) => *this.complete = true,
                        Ok(Progress::More) => {}
                        // Chunks before the error still go out; the error ends the stream.
                        Err(error) => *this.failed = Some(error),
                    }
                    continue;
                }
                Poll::Ready(Some(Err(e))) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(this.inner.transport(e))));
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready(this.translator.finish().err().map(Err));
                }
                Poll::Pending => {}
            }
            // 3. Nothing to read: wait, unless a deadline has passed.
            loop {
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let (deadline, limit) = if *this.started {
                    this.clock.idle_after(*this.last_read)
                } else {
                    this.clock.first(Limit::FirstToken)
                };
                if deadline <= Instant::now() {
                    *this.done = true;
                    return Poll::Ready(Some(Err(this.clock.expired(limit, &this.inner.name))));
                }
                this.timer.as_mut().reset(deadline);
            }
        }
    }
}

/// After `message_stop`, read what is already buffered (usually the body's end) so that an
/// HTTP/1.1 connection goes back to the pool instead of being closed.
fn drain(body: &mut BodyStream, cx: &mut Context<'_>) {
    for _ in 0..4 {
        match body.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(_))) => continue,
            _ => return,
        }
    }
}
