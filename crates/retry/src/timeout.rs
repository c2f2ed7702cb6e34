//! Time limits: a per-attempt timeout, and the request's deadline carried in its extensions.
//!
//! A deadline is absolute and travels with the request, so every layer spends from the same
//! allowance instead of each adding its own fixed timeout; an attempt never outlives it.
//! Deadlines are read against tokio's clock (so tests on a paused clock see them pass); in
//! production that clock is the system's monotonic clock, the one `Deadline::after` uses.

use std::future::Future;
use std::time::Duration;

use bulkhead_core::{
    ChatModel, ChatRequest, ChatResponse, ChatStream, Deadline, EmbeddingModel, EmbeddingRequest,
    EmbeddingResponse, Error, Result, async_trait,
};
use http::Extensions;
use tokio::time::Instant;

use crate::stream::first_chunk;

/// A [`Deadline`] `timeout` from now on tokio's clock (which a paused test clock controls).
pub fn deadline_in(timeout: Duration) -> Deadline {
    Deadline((Instant::now() + timeout).into_std())
}

/// The request's deadline, if it carries one, on tokio's clock.
pub(crate) fn request_deadline(extensions: &Extensions) -> Option<Instant> {
    extensions
        .get::<Deadline>()
        .map(|deadline| Instant::from_std(deadline.0))
}

/// Run `future`, failing with `Timeout` if `deadline` passes first.
pub(crate) async fn within<T>(
    deadline: Option<Instant>,
    what: &'static str,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    match deadline {
        None => future.await,
        Some(deadline) => tokio::time::timeout_at(deadline, future)
            .await
            .unwrap_or_else(|_| Err(Error::timeout(what))),
    }
}

/// Bounds each call to the inner model by `timeout` and by the request's [`Deadline`].
///
/// For `stream`, the limit covers the wait for the first chunk (time to first token); the
/// rest of the stream is the provider's idle timeout's business.
#[derive(Debug, Clone)]
pub struct Timeout<M> {
    inner: M,
    timeout: Duration,
}

impl<M> Timeout<M> {
    /// Wrap `inner` with a per-call `timeout`.
    pub fn new(inner: M, timeout: Duration) -> Self {
        Self { inner, timeout }
    }

    /// The wrapped model.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    fn limit(&self, extensions: &Extensions) -> (Instant, &'static str) {
        let own = Instant::now() + self.timeout;
        match request_deadline(extensions) {
            Some(deadline) if deadline < own => (deadline, "request deadline exceeded"),
            _ => (own, "upstream attempt timed out"),
        }
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for Timeout<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let (at, what) = self.limit(&request.extensions);
        within(Some(at), what, self.inner.chat(request)).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let (at, what) = self.limit(&request.extensions);
        within(Some(at), what, async {
            first_chunk(self.inner.stream(request).await?).await
        })
        .await
    }
}

#[async_trait]
impl<M: EmbeddingModel> EmbeddingModel for Timeout<M> {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        let (at, what) = self.limit(&request.extensions);
        within(Some(at), what, self.inner.embed(request)).await
    }
}

/// Builds [`Timeout`] around a model.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    timeout: Duration,
}

impl TimeoutLayer {
    /// A layer with a per-call `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<M> tower_layer::Layer<M> for TimeoutLayer {
    type Service = Timeout<M>;

    fn layer(&self, inner: M) -> Timeout<M> {
        Timeout::new(inner, self.timeout)
    }
}
