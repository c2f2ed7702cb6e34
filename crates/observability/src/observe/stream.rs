//! An observed stream: notes each chunk and records the call when the stream ends, fails, or
//! is dropped unfinished (outcome `cancelled`).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bulkhead_core::{ChatChunk, ChatStream, Result};
use futures_core::Stream;

use super::record::Recorder;
use crate::names::OK;

/// The inner stream and the recorder of its call.
pub(super) struct Observed {
    inner: ChatStream,
    recorder: Recorder,
}

impl Observed {
    pub(super) fn new(inner: ChatStream, recorder: Recorder) -> Self {
        Self { inner, recorder }
    }
}

impl Stream for Observed {
    type Item = Result<ChatChunk>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = {
            let _entered = this.recorder.span().enter();
            ready!(this.inner.as_mut().poll_next(cx))
        };
        match &item {
            Some(Ok(chunk)) => this.recorder.on_chunk(chunk),
            Some(Err(error)) => this.recorder.finish(error.kind().as_str()),
            None => this.recorder.finish(OK),
        }
        Poll::Ready(item)
    }
}
