//! Bulkhead's OpenAI-compatible HTTP API as an embeddable axum [`Router`](axum::Router), the
//! TOML config file, and the assembly of a gateway from it.
//!
//! Three ways in, from most to least batteries included:
//!
//! ```no_run
//! use axum::serve::ListenerExt as _;
//! use bulkhead_gateway::{Config, Gateway};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::load("bulkhead.toml".as_ref())?;     // or Config::embedded_default()
//! let gateway = Gateway::build(&config)?;                     // providers constructed once
//! let listener = tokio::net::TcpListener::bind(config.server.listen)
//!     .await?
//!     // Without TCP_NODELAY, Linux's delayed ACK stalls reused connections ~40 ms.
//!     .tap_io(|tcp| {
//!         let _ = tcp.set_nodelay(true);
//!     });
//! axum::serve(listener, gateway.router()).await?;
//! # Ok(()) }
//! ```
//!
//! - [`Config`] reads the file: unknown keys and sections are errors, `${VAR}` comes from the
//!   environment, and every problem is reported as `file:line:column: message`
//!   ([`ConfigError`]). The format is documented in the [`config`] module.
//! - [`Gateway::build`] turns a config into providers (one pooled client each) and routes.
//! - [`Gateway::builder`] skips the file: serve any [`ChatModel`](bulkhead_core::ChatModel)
//!   you built yourself under a model name.
//!
//! # HTTP API
//!
//! `POST /v1/chat/completions` (JSON, or SSE with `"stream": true`), `POST /v1/embeddings`,
//! `GET /v1/models`, `GET /v1/models/{id}`, `GET /healthz`, `GET /readyz`. Every response
//! carries `x-request-id` (the client's when sane, else a fresh one); answers and upstream
//! errors also carry `x-bulkhead-provider` and `x-bulkhead-model` (the upstream model, which
//! is also the body's `model`). Errors use OpenAI's body shape and the statuses tabled in the
//! `http::error` module docs: 400 bad request, 404 unknown model, 413 body too large, 429
//! rate limited (with `Retry-After`), 502 upstream failed, 503 overloaded, 504 timed out.
//!
//! A streamed answer's status is sent only after its first chunk, so failures before it get
//! their real status; a failure after it ends the stream with an error event and no
//! `data: [DONE]`, so a truncated answer is never mistaken for a whole one.

pub mod config;

mod build;
mod gateway;
mod http;
mod reload;
mod resilience;
pub mod serve;

pub use config::{
    BudgetPeriod, CacheSettings, KeyConfig, LimitsSettings, LogFormat, PriceConfig,
    TelemetrySettings,
};
pub use config::{
    CircuitBreakerSettings, Config, ConfigError, Diagnostic, HttpProviderConfig, ModelConfig,
    ProviderConfig, ProviderKind, RetrySettings, ServerConfig, SimulatedFault, SimulatedFaultKind,
    SimulatedProviderConfig, StrategyKind, TargetConfig, TimeoutsConfig,
};
pub use gateway::{Gateway, GatewayBuilder, ModelRoute};
pub use http::{GatewayFuture, GatewayService};
