//! Every "try again?" decision of Bulkhead, and nowhere else.
//!
//! The core is generic: [`retry`] runs any async operation whose error is [`Retryable`],
//! under a [`RetryPolicy`] (default [`ExponentialBackoff`]: capped exponential backoff with
//! jitter, `Retry-After` honoured up to a cap, non-retryable errors tried once), a deadline
//! it never sleeps across, and a shared [`Budget`] (default [`RetryBudget`]) that keeps
//! retries from multiplying load while an upstream is down. A [`Circuit`] per upstream stops
//! calling it while it fails. None of it needs Bulkhead's AI types.
//!
//! On top sit decorators for `ChatModel` and `EmbeddingModel`, each one behaviour, each with a
//! `...Layer` (tower-layer's `Layer` trait):
//!
//! - [`Retry`]: the retry loop per request; streams are retried only before their first chunk;
//!   each attempt is counted in the request's `CallReport`.
//! - [`CircuitBreaker`]: fails at once with `ErrorKind::CircuitOpen` while the circuit is open.
//! - [`Timeout`]: a per-attempt limit, bounded by the request's `Deadline`.
//! - [`ConcurrencyLimit`]: rejects with `ErrorKind::Overloaded` instead of queueing.
//!
//! A typical stack per upstream, outermost first:
//! `Retry -> ConcurrencyLimit -> CircuitBreaker -> Timeout -> provider`, so every attempt is
//! limited, counted by the breaker and timed, while an open circuit stops the retries at once.
//!
//! Metrics go through the `metrics` facade: see [`telemetry`].
//!
//! ```
//! use std::sync::Arc;
//! use bulkhead_retry::{ExponentialBackoff, Retry, RetryBudget, RetryConfig};
//! # use bulkhead_core::{ChatModel, ChatRequest, ChatResponse, ChatStream, Result, async_trait};
//! # struct Provider;
//! # #[async_trait] impl ChatModel for Provider {
//! #     async fn chat(&self, _: ChatRequest) -> Result<ChatResponse> { Err(bulkhead_core::Error::internal("example")) }
//! #     async fn stream(&self, _: ChatRequest) -> Result<ChatStream> { Err(bulkhead_core::Error::internal("example")) }
//! # }
//! let model = Retry::new(Provider, ExponentialBackoff::new(RetryConfig::default()))
//!     .with_budget(Arc::new(RetryBudget::default()))
//!     .with_provider("openai");
//! # let _ = model;
//! ```

mod breaker;
mod budget;
mod classify;
mod limit;
mod policy;
mod retry;
mod rng;
mod stream;
pub mod telemetry;
mod timeout;

pub use breaker::{
    Circuit, CircuitBreaker, CircuitBreakerLayer, CircuitConfig, CircuitError, CircuitState,
    Permit, Rejected,
};
pub use budget::{Budget, BudgetConfig, RetryBudget, Unlimited};
pub use classify::Retryable;
pub use limit::{ConcurrencyLimit, ConcurrencyLimitLayer, Limiter, Slot};
pub use policy::{
    Decision, ExponentialBackoff, Failure, Jitter, RetryConfig, RetryPolicy, StopReason,
};
pub use retry::{Retry, RetryLayer, retry, retry_until};
pub use timeout::{Timeout, TimeoutLayer, deadline_in};
