//! Stream helpers shared by the decorators: wait for the first chunk, and hold a permit for
//! a stream's lifetime.
//!
//! Waiting for the first chunk before handing a stream on is what lets retry, the breaker and
//! the timeout treat "failed before the answer started" like a failed JSON call. It adds no
//! delay a client could see: nothing can be sent before the first chunk exists.

use std::pin::Pin;
use std::task::{Context, Poll};

use bulkhead_core::{ChatChunk, ChatStream, Result};
use futures_core::Stream;
use futures_util::StreamExt;

/// Await the stream's first item: an `Err` becomes the call's error; otherwise the returned
/// stream yields that chunk and then the rest unchanged.
pub(crate) async fn first_chunk(mut stream: ChatStream) -> Result<ChatStream> {
    match stream.next().await {
        Some(Ok(chunk)) => Ok(Box::pin(
            futures_util::stream::iter([Ok(chunk)]).chain(stream),
        )),
        Some(Err(error)) => Err(error),
        None => Ok(stream),
    }
}

/// A stream that keeps `guard` alive until the stream is dropped.
pub(crate) fn holding<G: Send + Unpin + 'static>(stream: ChatStream, guard: G) -> ChatStream {
    Box::pin(Holding {
        stream,
        _guard: guard,
    })
}

struct Holding<G> {
    stream: ChatStream,
    _guard: G,
}

impl<G: Unpin> Stream for Holding<G> {
    type Item = Result<ChatChunk>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}
