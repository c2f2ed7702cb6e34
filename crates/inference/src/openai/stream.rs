//! The chunk stream of a streamed chat completion: body bytes -> SSE events -> `ChatChunk`s,
//! under the first-token, idle and total deadlines.
//!
//! A stream that stops without `data: [DONE]` is an error, never a short success: a cut
//! connection must not look like a complete answer to the cache or the client.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bulkhead_core::{ChatChunk, Error, Result};
use futures_core::Stream;
use pin_project_lite::pin_project;

use super::ChunkDecoder;
use super::Inner;
use crate::error::{Transport, UpstreamError, error_from_event};
use crate::sse::{SseDecoder, SseEventRef};
use crate::upstream::{Clock, Response, TimedBody};

pin_project! {
    /// Chat chunks decoded from an SSE response body.
    pub(super) struct SseChunkStream {
        #[pin]
        body: TimedBody,
        decoder: SseDecoder,
        chunks: ChunkDecoder,
        inner: Arc<Inner>,
        done: bool,
    }
}

impl SseChunkStream {
    pub(super) fn new(response: Response, inner: Arc<Inner>, clock: Clock) -> Self {
        Self {
            body: TimedBody::new(response, clock),
            decoder: SseDecoder::new(),
            chunks: ChunkDecoder::default(),
            inner,
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

fn interpret(event: SseEventRef<'_>, chunks: &mut ChunkDecoder, provider: &str) -> Step {
    let data = event.data.trim();
    if data == "[DONE]" {
        return Step::Done;
    }
    if data.is_empty() {
        return Step::Skip;
    }
    if event.event != Some("error")
        && let Ok(chunk) = chunks.decode(data)
    {
        return Step::Chunk(chunk);
    }
    // Not a chunk: an error object (`data: {"error": {...}}`), or something we cannot read.
    let value = serde_json::from_str::<serde_json::Value>(data).ok();
    match value.as_ref().and_then(UpstreamError::from_value) {
        Some(upstream) => Step::Fail(error_from_event(provider, &upstream)),
        None if event.event == Some("error") => Step::Fail(error_from_event(
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
        let upstream = &this.inner.upstream;
        let provider = &*upstream.name;
        loop {
            // 1. Hand out what is already decoded.
            match this.decoder.next_event_ref() {
                Err(e) => {
                    *this.done = true;
                    let message =
                        format!("provider `{provider}` sent a malformed event stream: {e}");
                    return Poll::Ready(Some(Err(Error::transport(message).with_source(e))));
                }
                Ok(Some(event)) => match interpret(event, this.chunks, provider) {
                    Step::Skip => continue,
                    Step::Done => {
                        *this.done = true;
                        this.body.as_mut().drain(cx);
                        return Poll::Ready(None);
                    }
                    Step::Fail(error) => {
                        *this.done = true;
                        return Poll::Ready(Some(Err(error)));
                    }
                    Step::Chunk(chunk) => {
                        this.body.as_mut().first_token();
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                },
                Ok(None) => {}
            }
            // 2. Read more of the body.
            match this.body.as_mut().poll_read(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    this.decoder.push(&bytes);
                    continue;
                }
                Poll::Ready(Some(Err(e))) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(upstream.transport(Transport::Body(e)))));
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
            let error = ready!(this.body.as_mut().poll_expired(cx, provider));
            *this.done = true;
            return Poll::Ready(Some(Err(error)));
        }
    }
}
