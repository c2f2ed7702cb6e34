//! [`CircuitBreaker`]: a [`Circuit`] applied to a `ChatModel` / `EmbeddingModel`.

use bulkhead_core::{
    ChatModel, ChatRequest, ChatResponse, ChatStream, EmbeddingModel, EmbeddingRequest,
    EmbeddingResponse, Error, ErrorKind, Result, async_trait,
};

use super::{Circuit, CircuitConfig, CircuitState, Rejected};
use crate::stream::first_chunk;

/// Fails calls at once with `ErrorKind::CircuitOpen` while its [`Circuit`] is open, and
/// counts the outcome of every call it lets through.
///
/// A stream counts by how it starts: `stream` failing or its first item being an error is a
/// failure; a first chunk is a success.
#[derive(Debug, Clone)]
pub struct CircuitBreaker<M> {
    inner: M,
    circuit: Circuit,
}

impl<M> CircuitBreaker<M> {
    /// Guard `inner` with `circuit` (share one circuit among everything calling an upstream).
    pub fn new(inner: M, circuit: Circuit) -> Self {
        Self { inner, circuit }
    }

    /// The circuit.
    pub fn circuit(&self) -> &Circuit {
        &self.circuit
    }

    /// The circuit's state now.
    pub fn state(&self) -> CircuitState {
        self.circuit.state()
    }

    /// The wrapped model.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    fn rejected(&self, rejected: Rejected) -> Error {
        let error = Error::new(
            ErrorKind::CircuitOpen,
            format!("circuit open for provider `{}`", self.circuit.provider()),
        )
        .with_source(rejected);
        match rejected.retry_in {
            Some(wait) => error.with_retry_after(wait),
            None => error,
        }
    }

    async fn guarded<T>(&self, call: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let permit = self.circuit.try_acquire().map_err(|r| self.rejected(r))?;
        let result = call.await;
        permit.record(&result);
        result
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for CircuitBreaker<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.guarded(self.inner.chat(request)).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        self.guarded(async { first_chunk(self.inner.stream(request).await?).await })
            .await
    }
}

#[async_trait]
impl<M: EmbeddingModel> EmbeddingModel for CircuitBreaker<M> {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        self.guarded(self.inner.embed(request)).await
    }
}

/// Builds [`CircuitBreaker`]s that share one [`Circuit`].
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer {
    circuit: Circuit,
}

impl CircuitBreakerLayer {
    /// A layer with a new circuit for `provider`.
    pub fn new(provider: impl Into<std::sync::Arc<str>>, config: CircuitConfig) -> Self {
        Self {
            circuit: Circuit::new(provider, config),
        }
    }

    /// The shared circuit, to observe its state.
    pub fn circuit(&self) -> &Circuit {
        &self.circuit
    }
}

impl<M> tower_layer::Layer<M> for CircuitBreakerLayer {
    type Service = CircuitBreaker<M>;

    fn layer(&self, inner: M) -> CircuitBreaker<M> {
        CircuitBreaker::new(inner, self.circuit.clone())
    }
}
