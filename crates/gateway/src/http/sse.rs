//! Streamed answers: chunks to `text/event-stream` bytes.
//!
//! Two promises to the client shape this module:
//!
//! - **The status tells the truth.** The response head is sent only once the first chunk
//!   arrived, so a stream that fails before it starts (a first-token timeout, a 429, a refused
//!   connection) gets its real status (504, 429, 502) instead of a 200 with an error inside.
//! - **A truncated answer never looks whole.** A complete answer ends with `data: [DONE]`. A
//!   failure after the first chunk ends the body with `data: {"error": {...}}` and no
//!   `[DONE]`, so every OpenAI SDK raises instead of returning half an answer.
//!
//! The encoder is on the hot path (benchmarked at the whole stack's per-chunk overhead): each
//! chunk is serialized once, straight into one reused `BytesMut`, with no SSE builder and no
//! intermediate `String`; common chunks by the hand-written [`ChunkEncoder`] (a fraction of
//! serde_json's cost), the rest by serde_json. Chunks that are already waiting are coalesced
//! into one body frame, so a fast upstream costs fewer writes; nothing is ever held back
//! waiting for more. Dropping the body (the client went away) drops the upstream stream with
//! it, which closes the upstream connection.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bulkhead_core::{CallReport, ChatChunk, ChatModel as _, ChatRequest, ChatStream};
use bulkhead_limits::Permit;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

use super::admit::{Settled, settle};
use super::chunk_json::ChunkEncoder;
use super::error::ApiError;
use super::{Origin, answer_response, set_origin_headers};
use crate::gateway::Route;

/// Flush a frame once this many bytes are buffered, even if more chunks are ready.
const FRAME_BYTES: usize = 16 * 1024;
/// Room reserved before encoding a chunk; most chunks are a few hundred bytes.
const CHUNK_RESERVE: usize = 512;
/// The buffer's first allocation, reused across chunks once the frames sent are dropped.
const INITIAL_CAPACITY: usize = 8 * 1024;

const DONE: &[u8] = b"data: [DONE]\n\n";

/// Answer a streamed request: wait for the first chunk, then stream.
///
/// The headers name the deployment that produced the first chunk (from `report`); once it
/// is in, the router no longer fails over, so that deployment is the one that answers.
pub(crate) async fn respond(
    route: Arc<Route>,
    request: ChatRequest,
    report: CallReport,
    permit: Option<Permit>,
) -> Response {
    let mut stream = match route.chat.stream(request).await {
        Ok(stream) => Settled::wrap(stream, permit, &report),
        Err(e) => {
            settle(permit, None, &report);
            return ApiError::upstream(&e, &Origin::of(&route, &report)).into_response();
        }
    };
    let first = match stream.next().await {
        Some(Ok(chunk)) => Some(chunk),
        Some(Err(e)) => {
            return ApiError::upstream(&e, &Origin::of(&route, &report)).into_response();
        }
        // Ended cleanly before any chunk: an empty but complete answer.
        None => None,
    };
    let origin = Origin::of(&route, &report);
    streaming_response(first, stream, origin)
}

fn streaming_response(first: Option<ChatChunk>, stream: ChatStream, origin: Origin) -> Response {
    let mut response = event_stream_head(&origin);
    *response.body_mut() = Body::from_stream(SseBody::new(first, stream, origin));
    response
}

/// The head of a streamed answer, on either route: `text/event-stream`, no caching, no proxy
/// buffering, and the `x-bulkhead-*` headers of `origin`; the body is empty, for the caller
/// to set.
///
/// Head first, then body, so the caller can move `origin` into the body instead of cloning it
/// (its header values are `Bytes`, whose first clone allocates).
pub(crate) fn event_stream_head(origin: &Origin) -> Response {
    let mut response = answer_response(Body::empty());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Ask buffering reverse proxies (nginx) to pass events through as they come.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    set_origin_headers(&mut response, origin);
    response
}

/// The response body: SSE frames from a chunk stream.
pub(crate) struct SseBody {
    first: Option<ChatChunk>,
    /// `None` once the stream ended or failed; dropping it releases the upstream at once.
    upstream: Option<ChatStream>,
    origin: Origin,
    buf: BytesMut,
    encoder: ChunkEncoder,
}

impl SseBody {
    pub(crate) fn new(first: Option<ChatChunk>, upstream: ChatStream, origin: Origin) -> Self {
        Self {
            first,
            upstream: Some(upstream),
            origin,
            buf: BytesMut::with_capacity(INITIAL_CAPACITY),
            encoder: ChunkEncoder::default(),
        }
    }

    fn push_chunk(&mut self, chunk: &ChatChunk) {
        if let Err(e) = encode_chunk(&mut self.buf, &mut self.encoder, chunk) {
            let error = ApiError::internal(format!("could not encode a chunk: {e}"));
            encode_error(&mut self.buf, &error);
            self.upstream = None;
        }
    }
}

/// Append `data: {chunk}\n\n`; on failure `buf` is left as it was.
pub(crate) fn encode_chunk(
    buf: &mut BytesMut,
    encoder: &mut ChunkEncoder,
    chunk: &ChatChunk,
) -> serde_json::Result<()> {
    let start = buf.len();
    buf.reserve(CHUNK_RESERVE);
    buf.put_slice(b"data: ");
    if encoder.encode(buf, chunk) {
        buf.put_slice(b"\n\n");
        return Ok(());
    }
    match serde_json::to_writer(buf.writer(), chunk) {
        Ok(()) => {
            buf.put_slice(b"\n\n");
            Ok(())
        }
        Err(e) => {
            buf.truncate(start);
            Err(e)
        }
    }
}

/// Append the terminal `data: {"error": {...}}\n\n` event.
fn encode_error(buf: &mut BytesMut, error: &ApiError) {
    buf.put_slice(b"data: ");
    error.write_json(buf);
    buf.put_slice(b"\n\n");
}

impl Stream for SseBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            this.push_chunk(&first);
        }
        while this.buf.len() < FRAME_BYTES {
            let Some(upstream) = this.upstream.as_mut() else {
                break;
            };
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.push_chunk(&chunk),
                Poll::Ready(Some(Err(e))) => {
                    this.upstream = None;
                    let error = ApiError::upstream(&e, &this.origin);
                    encode_error(&mut this.buf, &error);
                }
                Poll::Ready(None) => {
                    this.upstream = None;
                    this.buf.put_slice(DONE);
                }
                Poll::Pending => break,
            }
        }
        if !this.buf.is_empty() {
            return Poll::Ready(Some(Ok(this.buf.split().freeze())));
        }
        if this.upstream.is_none() {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}
