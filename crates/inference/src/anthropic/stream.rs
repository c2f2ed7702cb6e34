//! The HTTP side of a streamed answer: body bytes into the [`StreamTranslator`], chunks out,
//! under the first-token, idle and total deadlines.
//!
//! All meaning lives in the translator; this file only moves bytes, and the clock is watched by
//! the [`TimedBody`] shared with the OpenAI provider's stream.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bulkhead_core::{ChatChunk, Error, Result};
use futures_core::Stream;
use pin_project_lite::pin_project;

use super::Inner;
use super::translate::{Progress, StreamTranslator};
use crate::error::Transport;
use crate::upstream::{Clock, Response, TimedBody};

pin_project! {
    /// Chat chunks translated from an Anthropic SSE response body.
    pub(super) struct MessageStream {
        #[pin]
        body: TimedBody,
        translator: StreamTranslator,
        ready: VecDeque<ChatChunk>,
        scratch: Vec<ChatChunk>,
        inner: Arc<Inner>,
        // The translator saw message_stop: hand out what is left, then end.
        complete: bool,
        // An error the translator returned, handed out after the chunks before it.
        failed: Option<Error>,
        done: bool,
    }
}

impl MessageStream {
    pub(super) fn new(
        response: Response,
        inner: Arc<Inner>,
        clock: Clock,
        include_usage: bool,
    ) -> Self {
        let translator = StreamTranslator::new(inner.upstream.name.clone(), include_usage);
        Self {
            body: TimedBody::new(response, clock),
            translator,
            ready: VecDeque::new(),
            scratch: Vec::new(),
            inner,
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
                this.body.as_mut().first_token();
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
                this.body.as_mut().drain(cx);
                return Poll::Ready(None);
            }
            // 2. Read more of the body.
            match this.body.as_mut().poll_read(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
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
                    return Poll::Ready(Some(Err(this
                        .inner
                        .upstream
                        .transport(Transport::Body(e)))));
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready(this.translator.finish().err().map(Err));
                }
                Poll::Pending => {}
            }
            // 3. Nothing to read: wait, unless a deadline has passed.
            let error = ready!(
                this.body
                    .as_mut()
                    .poll_expired(cx, &this.inner.upstream.name)
            );
            *this.done = true;
            return Poll::Ready(Some(Err(error)));
        }
    }
}
