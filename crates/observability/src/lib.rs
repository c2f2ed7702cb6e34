//! Cost, latency and health of every model call, without any other crate knowing how they are
//! exported.
//!
//! - [`Observe`]: a decorator for any [`ChatModel`](bulkhead_core::ChatModel) or
//!   [`EmbeddingModel`](bulkhead_core::EmbeddingModel), used around the whole request
//!   ([`Observe::request`]) and around each upstream attempt ([`Observe::attempt`]). It emits
//!   through the `tracing` and `metrics` facades: metrics named in [`names`], and
//!   `gen_ai.request` / `gen_ai.attempt` spans with OpenTelemetry GenAI attributes.
//! - [`Pricing`]: a dated price table; the request scope computes each request's cost from the
//!   usage it reports and writes it into the request's
//!   [`CallReport`](bulkhead_core::CallReport).
//! - For applications only: [`install_prometheus`] (the exporter with LLM-sized histogram
//!   buckets; render `/metrics` from its handle) and [`telemetry::init`] (JSON or pretty logs,
//!   OTLP trace export with the `otlp` feature).
//! - [`Redacted`]: keeps secrets out of `Debug` output.
//!
//! Prompts and completions are recorded only with [`Observe::log_prompts`]; headers and
//! credentials never pass through this crate. Metric labels are low-cardinality: model and
//! provider names from the configuration and a closed set of outcomes.
//!
//! ```
//! use bulkhead_core::{ChatModel, ChatRequest, ChatResponse, ChatStream, Result, async_trait};
//! use bulkhead_observability::Observe;
//! # use bulkhead_core::Error;
//!
//! struct Echo;
//! #[async_trait]
//! impl ChatModel for Echo {
//!     async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
//!         # return Err(Error::internal("doc"));
//!     }
//!     async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
//!         # return Err(Error::internal("doc"));
//!     }
//! }
//!
//! // Innermost around the provider, outermost around the whole stack.
//! let stack = Observe::request(Observe::attempt(Echo, "echo"));
//! # let _: &dyn ChatModel = &stack;
//! ```

pub mod names;
mod observe;
#[cfg(feature = "otlp")]
pub mod otlp;
mod overhead;
mod pricing;
mod prometheus;
mod redact;
pub mod telemetry;

pub use names::describe_metrics;
pub use observe::{Observe, ObserveLayer};
pub use overhead::UpstreamTime;
pub use pricing::{PRICES_AS_OF, Price, Pricing};
pub use prometheus::{
    CHUNK_BUCKETS, LATENCY_BUCKETS, OVERHEAD_BUCKETS, TOKEN_BUCKETS, UPKEEP_INTERVAL,
    install_prometheus, prometheus_builder, upkeep,
};
pub use redact::Redacted;

/// Re-exported so the application names the handle type without depending on the exporter.
pub use metrics_exporter_prometheus::{BuildError as PrometheusBuildError, PrometheusHandle};
