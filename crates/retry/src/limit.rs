//! A concurrency limit per upstream that rejects at once instead of queueing.
//!
//! A queue in front of a saturated upstream only turns overload into latency and then into
//! timeouts; rejecting with `ErrorKind::Overloaded` right away lets the caller (the router, a
//! retry with backoff, or the client) go elsewhere or come back later.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bulkhead_core::{
    ChatModel, ChatRequest, ChatResponse, ChatStream, EmbeddingModel, EmbeddingRequest,
    EmbeddingResponse, Error, ErrorKind, Result, async_trait,
};

use crate::stream::holding;

/// Counts calls in flight against a maximum; lock-free, shared by clones.
#[derive(Debug, Clone)]
pub struct Limiter {
    max: usize,
    in_flight: Arc<AtomicUsize>,
}

/// One admitted call; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl Limiter {
    /// At most `max` calls at once.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A slot, or `None` when `max` calls are already in flight.
    pub fn try_acquire(&self) -> Option<Slot> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.in_flight.clone()))
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

/// Rejects calls beyond `max` in flight with `ErrorKind::Overloaded`. A stream holds its slot
/// until it is dropped.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimit<M> {
    inner: M,
    limiter: Limiter,
}

impl<M> ConcurrencyLimit<M> {
    /// Limit `inner` with `limiter` (share one limiter among everything calling an upstream).
    pub fn new(inner: M, limiter: Limiter) -> Self {
        Self { inner, limiter }
    }

    /// The wrapped model.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    fn acquire(&self) -> Result<Slot> {
        self.limiter.try_acquire().ok_or_else(|| {
            Error::new(
                ErrorKind::Overloaded,
                format!("{} calls already in flight", self.limiter.max),
            )
        })
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for ConcurrencyLimit<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let _slot = self.acquire()?;
        self.inner.chat(request).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let slot = self.acquire()?;
        Ok(holding(self.inner.stream(request).await?, slot))
    }
}

#[async_trait]
impl<M: EmbeddingModel> EmbeddingModel for ConcurrencyLimit<M> {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        let _slot = self.acquire()?;
        self.inner.embed(request).await
    }
}

/// Builds [`ConcurrencyLimit`]s that share one [`Limiter`].
#[derive(Debug, Clone)]
pub struct ConcurrencyLimitLayer {
    limiter: Limiter,
}

impl ConcurrencyLimitLayer {
    /// At most `max` calls at once, across every model this layer wraps.
    pub fn new(max: usize) -> Self {
        Self {
            limiter: Limiter::new(max),
        }
    }
}

impl<M> tower_layer::Layer<M> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<M>;

    fn layer(&self, inner: M) -> ConcurrencyLimit<M> {
        ConcurrencyLimit::new(inner, self.limiter.clone())
    }
}
