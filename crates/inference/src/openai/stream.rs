//! The chunk stream of a streamed chat completion: body bytes -> SSE events -> `ChatChunk`s,
//! under the first-token, idle and total deadlines.
//!
//! A stream that stops without `data: [DONE]` is an error, never a short success: a cut
//! connection must not look like a complete answer to the cache or the client.

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
use crate::error::{UpstreamError, error_from_event};
use crate::sse::{SseDecoder, SseEvent};

type BodyStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

pin_project! {
    /// Chat chunks decoded from an SSE response body.
    pub(super) struct SseChunkStream {
        body: BodyStream,
        decoder: SseDecoder,
        inner: Arc<Inner>,
        clock: Clock,
        // Armed at a deadline no later than the real one; when it fires, the real deadline is
        // recomputed from `last_read`, so a read costs an `Instant::now()`, not a timer reset.
        #[pin]
        timer: Sleep,
        started: bool,
        last_read: Instant,
        done: bool,
    }
}

impl SseChunkStream {
    pub(super) fn new(response: reqwest::Response, inner: Arc<Inner>, clock: Clock) -> Self {
        let (deadline, _) = clock.first(Limit::FirstToken);
        Self {
            body: Box::pin(response.bytes_stream()),
            decoder: SseDecoder::new(),
            inner,
            clock,
            timer: sleep_until(deadline),
            started: false,
            last_read: Instant::now(),
            done: false,
        }
    }
}

/// What one event means for the stream.
enum Step {
    Chunk(ChatChunk),
    Done,
    Skip,
    Fail(Error),
}

fn interpret(event: &SseEvent, provider: &str) -> Step {
    let data = event.data.trim();
    if data == "[DONE]" {
        return Step::Done;
    }
    if data.is_empty() {
        return Step::Skip;
    }
    if event.event.as_deref() != Some("error")
        && let Ok(chunk) = serde_json::from_str::<ChatChunk>(data)
    {
        return Step::Chunk(chunk);
    }
    // Not a chunk: an error object (`data: {"error": {...}}`), or something we cannot read.
    let value = serde_json::from_str::<serde_json::Value>(data).ok();
    match value.as_ref().and_then(UpstreamError::from_value) {
        Some(upstream) => Step::Fail(error_from_event(provider, &upstream)),
        None if event.event.as_deref() == Some("error") => Step::Fail(error_from_event(
            provider,
            &UpstreamError {
                message: Some(data.to_owned()),
                ..UpstreamError::default()
            },
        )),
        None => Step::Fail(Error::internal(format!(
            "provider `{provider}` sent a chunk that could not be parsed"
        ))),
    }
}

impl Stream for SseChunkStream {
    type Item = Result<ChatChunk>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let provider = &*this.inner.name;
        loop {
            // 1. Hand out what is already decoded.
            match this.decoder.next_event() {
                Err(e) => {
                    *this.done = true;
                    let message =
                        format!("provider `{provider}` sent a malformed event stream: {e}");
                    return Poll::Ready(Some(Err(Error::transport(message).with_source(e))));
                }
                Ok(Some(event)) => match interpret(&event, provider) {
                    Step::Skip => continue,
                    Step::Done => {
                        *this.done = true;
                        drain(this.body, cx);
                        return Poll::Ready(None);
                    }
                    Step::Fail(error) => {
                        *this.done = true;
                        return Poll::Ready(Some(Err(error)));
                    }
                    Step::Chunk(chunk) => {
                        if !*this.started {
                            // From now on the idle deadline applies; move the timer onto it.
                            *this.started = true;
                            let now = Instant::now();
                            *this.last_read = now;
                            this.timer.as_mut().reset(this.clock.idle_after(now).0);
                        }
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                },
                Ok(None) => {}
            }
            // 2. Read more of the body.
            match this.body.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    this.decoder.push(&bytes);
                    if *this.started {
                        *this.last_read = Instant::now();
                    }
                    continue;
                }
                Poll::Ready(Some(Err(e))) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(this.inner.transport(e))));
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(Error::transport(format!(
                        "stream from provider `{provider}` ended before [DONE]"
                    )))));
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
                    return Poll::Ready(Some(Err(this.clock.expired(limit, provider))));
                }
                this.timer.as_mut().reset(deadline);
            }
        }
    }
}

/// After `[DONE]`, read what is already buffered (usually the body's end) so that an HTTP/1.1
/// connection goes back to the pool instead of being closed.
fn drain(body: &mut BodyStream, cx: &mut Context<'_>) {
    for _ in 0..4 {
        match body.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(_))) => continue,
            _ => return,
        }
    }
}
