//! The TOML file's shape, as serde reads it.
//!
//! Every table denies unknown fields, so a typo (`max_body_byte`) or a section this version
//! does not know (`[cahce]`) is an error at its line and column instead of a setting
//! silently ignored. Values are kept [`Spanned`] so later checks can point at them too, and
//! strings are kept raw: `${VAR}` substitution happens in `resolve`, where every missing
//! variable can be reported, not only the first.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::sections::{CacheFile, KeyFile, LimitsFile, PriceFile, TelemetryFile};

type S<T> = Spanned<T>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    #[serde(default)]
    pub(crate) server: Option<Server>,
    #[serde(default)]
    pub(crate) providers: Vec<S<Provider>>,
    #[serde(default)]
    pub(crate) models: Vec<S<Model>>,
    pub(crate) retry: Option<S<Retry>>,
    pub(crate) circuit_breaker: Option<S<CircuitBreaker>>,
    pub(crate) cache: Option<CacheFile>,
    #[serde(default)]
    pub(crate) keys: Vec<S<KeyFile>>,
    pub(crate) limits: Option<LimitsFile>,
    #[serde(default)]
    pub(crate) pricing: BTreeMap<S<String>, S<PriceFile>>,
    pub(crate) telemetry: Option<TelemetryFile>,
}

/// `[retry]`, and a provider's `retry = { ... }`: every key optional, merged over defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Retry {
    pub(crate) max_attempts: Option<S<u64>>,
    pub(crate) initial_backoff_ms: Option<S<u64>>,
    pub(crate) max_backoff_ms: Option<S<u64>>,
    pub(crate) retry_after_cap_ms: Option<S<u64>>,
    pub(crate) budget_ratio: Option<S<f64>>,
    pub(crate) budget_min_per_sec: Option<S<f64>>,
}

/// `[circuit_breaker]`, and a provider's `circuit_breaker = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CircuitBreaker {
    pub(crate) failure_ratio: Option<S<f64>>,
    pub(crate) min_requests: Option<S<u64>>,
    pub(crate) window_secs: Option<S<u64>>,
    pub(crate) open_secs: Option<S<u64>>,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Server {
    pub(crate) listen: Option<S<String>>,
    pub(crate) max_body_bytes: Option<S<u64>>,
    pub(crate) max_header_bytes: Option<S<u64>>,
    pub(crate) header_read_timeout_ms: Option<S<u64>>,
    pub(crate) shutdown_grace_secs: Option<S<u64>>,
    pub(crate) workers: Option<S<u64>>,
}

/// `[[providers]]`: the fields of every kind; `resolve` rejects those that do not apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Provider {
    pub(crate) name: S<String>,
    pub(crate) kind: S<String>,
    // kind = "openai"
    pub(crate) preset: Option<S<String>>,
    pub(crate) base_url: Option<S<String>>,
    pub(crate) api_key: Option<S<String>>,
    pub(crate) headers: Option<S<BTreeMap<S<String>, S<String>>>>,
    pub(crate) timeouts: Option<S<Timeouts>>,
    // kind = "simulated"
    pub(crate) latency_ms: Option<S<u64>>,
    pub(crate) time_to_first_token_ms: Option<S<u64>>,
    pub(crate) tokens_per_second: Option<S<f64>>,
    pub(crate) seed: Option<S<u64>>,
    pub(crate) embedding_dimensions: Option<S<u64>>,
    pub(crate) faults: Option<S<Vec<S<Fault>>>>,
    // any kind
    pub(crate) retry: Option<S<Retry>>,
    pub(crate) circuit_breaker: Option<S<CircuitBreaker>>,
}

/// `timeouts = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Timeouts {
    pub(crate) connect_ms: Option<S<u64>>,
    pub(crate) first_token_ms: Option<S<u64>>,
    pub(crate) idle_ms: Option<S<u64>>,
    pub(crate) total_ms: Option<S<u64>>,
}

/// One of `faults = [ ... ]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fault {
    pub(crate) kind: S<String>,
    pub(crate) probability: S<f64>,
    pub(crate) retry_after_ms: Option<S<u64>>,
    pub(crate) after_chunks: Option<S<u64>>,
}

/// `[[models]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Model {
    pub(crate) name: S<String>,
    pub(crate) strategy: Option<S<String>>,
    pub(crate) targets: Option<S<Vec<S<Target>>>>,
    pub(crate) fallbacks: Option<S<Vec<S<String>>>>,
    pub(crate) on_context_window_exceeded: Option<S<String>>,
}

/// One of `targets = [ ... ]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Target {
    pub(crate) provider: S<String>,
    pub(crate) model: S<String>,
    pub(crate) weight: Option<S<u64>>,
}
