//! [`Retry`]: the retry loop as a `ChatModel` / `EmbeddingModel` decorator.

use std::future::Future;
use std::sync::Arc;

use bulkhead_core::{
    CallReport, ChatModel, ChatRequest, ChatResponse, ChatStream, EmbeddingModel, EmbeddingRequest,
    EmbeddingResponse, ErrorKind, Result, async_trait,
};
use http::Extensions;

use crate::stream::first_chunk;
use crate::telemetry::AttemptMetrics;
use crate::timeout::{request_deadline, within};
use crate::{Budget, ExponentialBackoff, RetryPolicy, Unlimited};

/// Retries failed calls to the inner model, by a [`RetryPolicy`], within a [`Budget`] and the
/// request's [`Deadline`](bulkhead_core::Deadline).
///
/// - Each attempt gets a clone of the request. Each attempt sent upstream counts one in the
///   request's [`CallReport`] when it carries one (that is how the gateway learns
///   `x-bulkhead-attempts`); one an inner [`CircuitBreaker`](crate::CircuitBreaker) refused
///   (`CircuitOpen`) never left the process and is not counted.
/// - No attempt outlives the request's deadline: one still running then ends with `Timeout`.
/// - `stream` is retried only until the answer has started: when `stream` fails, or the
///   stream's first item is an error. Once a chunk has been handed on, a later error passes
///   through unchanged, because the client has already seen part of an answer.
/// - Emits `bulkhead_retries_total` and `bulkhead_upstream_attempts_total`, labelled with the
///   provider name.
#[derive(Debug, Clone)]
pub struct Retry<M> {
    inner: M,
    policy: Arc<dyn RetryPolicy>,
    budget: Arc<dyn Budget>,
    metrics: AttemptMetrics,
}

impl<M> Retry<M> {
    /// Retry `inner` by `policy`, with no budget, labelled provider `"unnamed"`.
    pub fn new(inner: M, policy: impl RetryPolicy + 'static) -> Self {
        Self {
            inner,
            policy: Arc::new(policy),
            budget: Arc::new(Unlimited),
            metrics: AttemptMetrics::new(Arc::from("unnamed")),
        }
    }

    /// Limit retries by `budget` (share one budget among every `Retry` of an upstream).
    pub fn with_budget(mut self, budget: Arc<dyn Budget>) -> Self {
        self.budget = budget;
        self
    }

    /// Label metrics with this provider name.
    pub fn with_provider(mut self, provider: impl Into<Arc<str>>) -> Self {
        self.metrics = AttemptMetrics::new(provider.into());
        self
    }

    /// The wrapped model.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    async fn run<T, F, Fut>(&self, extensions: &Extensions, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let report = extensions.get::<CallReport>();
        let deadline =
            crate::retry::effective_deadline(&*self.policy, request_deadline(extensions));
        let metrics = &self.metrics;
        let mut attempts = 0_u32;
        crate::retry::run(&*self.policy, &*self.budget, deadline, || {
            attempts += 1;
            if attempts > 1 {
                metrics.retry();
            }
            let call = attempt();
            async move {
                let result = within(deadline, "request deadline exceeded", call).await;
                metrics.attempt(&result);
                if let Some(report) = report
                    && left_the_process(&result)
                {
                    report.record_attempt();
                }
                result
            }
        })
        .await
    }
}

/// Whether an attempt that ended with `result` was sent to the upstream: every attempt is,
/// except one an open circuit refused (`CircuitOpen`) before it left the process.
fn left_the_process<T>(result: &Result<T>) -> bool {
    !matches!(result, Err(e) if e.kind() == ErrorKind::CircuitOpen)
}

impl Retry<()> {
    /// A [`RetryLayer`] with the default policy and no budget.
    pub fn layer() -> RetryLayer {
        RetryLayer::new(ExponentialBackoff::default())
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for Retry<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.run(&request.extensions, || self.inner.chat(request.clone()))
            .await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        self.run(&request.extensions, || {
            let request = request.clone();
            async move { first_chunk(self.inner.stream(request).await?).await }
        })
        .await
    }
}

#[async_trait]
impl<M: EmbeddingModel> EmbeddingModel for Retry<M> {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        self.run(&request.extensions, || self.inner.embed(request.clone()))
            .await
    }
}

/// Builds [`Retry`] around models, sharing one policy and one budget.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: Arc<dyn RetryPolicy>,
    budget: Arc<dyn Budget>,
    provider: Arc<str>,
}

impl RetryLayer {
    /// A layer retrying by `policy`, with no budget, labelled provider `"unnamed"`.
    pub fn new(policy: impl RetryPolicy + 'static) -> Self {
        Self {
            policy: Arc::new(policy),
            budget: Arc::new(Unlimited),
            provider: Arc::from("unnamed"),
        }
    }

    /// Limit retries by `budget`.
    pub fn with_budget(mut self, budget: Arc<dyn Budget>) -> Self {
        self.budget = budget;
        self
    }

    /// Label metrics with this provider name.
    pub fn with_provider(mut self, provider: impl Into<Arc<str>>) -> Self {
        self.provider = provider.into();
        self
    }
}

impl<M> tower_layer::Layer<M> for RetryLayer {
    type Service = Retry<M>;

    fn layer(&self, inner: M) -> Retry<M> {
        Retry {
            inner,
            policy: self.policy.clone(),
            budget: self.budget.clone(),
            metrics: AttemptMetrics::new(self.provider.clone()),
        }
    }
}
