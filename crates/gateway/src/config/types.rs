//! The configuration as the gateway uses it: plain values, environment already substituted.
//!
//! These types are what [`Config::from_toml_str`](crate::Config::from_toml_str) produces and
//! what [`Gateway::build`](crate::Gateway::build) consumes; they can also be built in code.
//! They know nothing of TOML, and provider crates know nothing of them: the gateway converts
//! them explicitly into each provider's own config struct.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use super::sections::{CacheSettings, KeyConfig, LimitsSettings, PriceConfig, TelemetrySettings};

/// The whole gateway configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The HTTP server's settings.
    pub server: ServerConfig,
    /// Upstream providers, each constructed once with its own pooled client.
    pub providers: Vec<ProviderConfig>,
    /// The model names clients may send, each mapped to a provider and upstream model.
    pub models: Vec<ModelConfig>,
    /// `[retry]`: how every provider without its own `retry` retries.
    pub retry: RetrySettings,
    /// `[circuit_breaker]`: the circuit of every provider without its own `circuit_breaker`.
    pub circuit_breaker: CircuitBreakerSettings,
    /// `[cache]`.
    pub cache: CacheSettings,
    /// `[[keys]]`: the virtual keys. None configured: the gateway is open to every caller.
    pub keys: Vec<KeyConfig>,
    /// `[limits]`.
    pub limits: LimitsSettings,
    /// `[pricing."model"]`: prices that replace or add to the built-in table.
    pub pricing: BTreeMap<String, PriceConfig>,
    /// `[telemetry]`.
    pub telemetry: TelemetrySettings,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where to listen; default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The largest request body accepted; larger bodies get 413. Default 4 MiB.
    pub max_body_bytes: usize,
    /// The largest request head (request line and headers) accepted; larger heads get 431.
    /// Default 64 KiB.
    pub max_header_bytes: usize,
    /// How long a client may take to send a request's head; slower connections are closed
    /// (slowloris). Default 10 s.
    pub header_read_timeout: Duration,
    /// After SIGTERM, how long in-flight requests and streams may run before the process
    /// exits anyway. Default 30 s.
    pub shutdown_grace: Duration,
    /// How many threads serve connections, each running its own single-threaded runtime with
    /// its own upstream connections; `None` (the default) means one per CPU core available to
    /// the process. See [`ServerConfig::workers`].
    pub workers: Option<NonZeroUsize>,
}

impl ServerConfig {
    /// The default listen address, `127.0.0.1:8080`.
    pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        8080,
    ));
    /// The default body limit, 4 MiB.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
    /// The default request head limit, 64 KiB.
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
    /// The default time allowed for a request head, 10 s.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default shutdown grace period, 30 s.
    pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
    /// The most worker threads a configuration may ask for.
    pub const MAX_WORKERS: usize = 1024;

    /// The worker threads to serve on: `workers` if set, else one per CPU core available to
    /// the process (its CPU quota and affinity counted), else one.
    pub fn workers(&self) -> NonZeroUsize {
        self.workers
            .or_else(|| std::thread::available_parallelism().ok())
            .unwrap_or(NonZeroUsize::MIN)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: Self::DEFAULT_LISTEN,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            max_header_bytes: Self::DEFAULT_MAX_HEADER_BYTES,
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            shutdown_grace: Self::DEFAULT_SHUTDOWN_GRACE,
            workers: None,
        }
    }
}

/// `[[providers]]`: one upstream, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// The name targets refer to, and the `x-bulkhead-provider` response header.
    pub name: String,
    /// What kind of upstream it is, with that kind's settings.
    pub kind: ProviderKind,
    /// This provider's retry settings; `None` uses [`Config::retry`]. (In a file,
    /// `retry = { ... }` is merged key by key over `[retry]`, so this is always complete.)
    pub retry: Option<RetrySettings>,
    /// This provider's circuit breaker; `None` uses [`Config::circuit_breaker`].
    pub circuit_breaker: Option<CircuitBreakerSettings>,
}

impl ProviderConfig {
    /// A provider with the gateway-wide retry and circuit breaker settings.
    pub fn new(name: impl Into<String>, kind: ProviderKind) -> Self {
        Self {
            name: name.into(),
            kind,
            retry: None,
            circuit_breaker: None,
        }
    }
}

/// `[retry]`: retries of failed upstream attempts. `Default` is the documented example
/// (3 attempts, 200 ms initial backoff, 10 s cap, `Retry-After` up to 60 s, budget 20% + 10/s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrySettings {
    /// Attempts in all, the first included (at least 1); 1 disables retries.
    pub max_attempts: u32,
    /// The ceiling of the first backoff; later ceilings double (`initial_backoff_ms`).
    pub initial_backoff: Duration,
    /// No backoff exceeds this (`max_backoff_ms`).
    pub max_backoff: Duration,
    /// The longest upstream `Retry-After` waited for; a longer one returns the error at once
    /// (`retry_after_cap_ms`).
    pub retry_after_cap: Duration,
    /// Retries may add at most this share (0 to 1) of the provider's request rate...
    pub budget_ratio: f64,
    /// ...plus this many per second.
    pub budget_min_per_sec: f64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            retry_after_cap: Duration::from_secs(60),
            budget_ratio: 0.2,
            budget_min_per_sec: 10.0,
        }
    }
}

/// `[circuit_breaker]`: when a provider stops being called. `Default` is the documented
/// example (opens at 50% failures over 30 s once 20 calls are in, stays open 15 s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircuitBreakerSettings {
    /// The share of failed calls (0 to 1) that opens the circuit.
    pub failure_ratio: f64,
    /// Calls that must be in the window before the ratio is judged (at least 1).
    pub min_requests: u32,
    /// How far back calls are counted (`window_secs`).
    pub window: Duration,
    /// How long the circuit stays open before probing (`open_secs`).
    pub open: Duration,
}

impl Default for CircuitBreakerSettings {
    fn default() -> Self {
        Self {
            failure_ratio: 0.5,
            min_requests: 20,
            window: Duration::from_secs(30),
            open: Duration::from_secs(15),
        }
    }
}

/// The kind of a provider (`kind = "..."` in the file) and its settings.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProviderKind {
    /// `"openai"`: any OpenAI-compatible API (OpenAI, vLLM, Ollama, Groq, ...).
    OpenAi(HttpProviderConfig),
    /// `"anthropic"`: the Anthropic Messages API (chat only; Anthropic has no embeddings).
    Anthropic(HttpProviderConfig),
    /// `"simulated"`: an in-process model with scripted latency and faults; no network.
    Simulated(SimulatedProviderConfig),
}

impl ProviderKind {
    /// The name used for `kind` in the file.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProviderKind::OpenAi(_) => "openai",
            ProviderKind::Anthropic(_) => "anthropic",
            ProviderKind::Simulated(_) => "simulated",
        }
    }
}

/// Settings of a provider reached over HTTP (`openai` and `anthropic` kinds).
#[derive(Clone, PartialEq)]
pub struct HttpProviderConfig {
    /// The API root, e.g. `https://api.openai.com/v1` or `https://api.anthropic.com`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer ...` (openai) or `x-api-key` (anthropic); never printed
    /// by `Debug`.
    pub api_key: Option<String>,
    /// Extra headers sent with every request; values are never printed by `Debug`.
    pub headers: Vec<(String, String)>,
    /// Deadlines; unset ones keep the provider's defaults.
    pub timeouts: TimeoutsConfig,
}

impl HttpProviderConfig {
    /// Settings for `base_url` with no key, no headers and default timeouts.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            headers: Vec::new(),
            timeouts: TimeoutsConfig::default(),
        }
    }
}

impl fmt::Debug for HttpProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("HttpProviderConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("headers", &headers)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// `timeouts = { connect_ms, first_token_ms, idle_ms, total_ms }`; `None` keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeoutsConfig {
    /// Establishing the connection.
    pub connect: Option<Duration>,
    /// Until the first streamed chunk, or the response headers of a JSON call.
    pub first_token: Option<Duration>,
    /// The longest gap between two reads of the response body.
    pub idle: Option<Duration>,
    /// The whole call.
    pub total: Option<Duration>,
}

/// Settings of the simulated provider; `None` keeps the provider's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimulatedProviderConfig {
    /// Delay before the answer starts.
    pub latency: Option<Duration>,
    /// Delay until the first streamed chunk.
    pub time_to_first_token: Option<Duration>,
    /// Streaming pace.
    pub tokens_per_second: Option<f64>,
    /// Seed of the fault dice and the generated text.
    pub seed: Option<u64>,
    /// Length of the generated embedding vectors.
    pub embedding_dimensions: Option<usize>,
    /// Faults injected at random.
    pub faults: Vec<SimulatedFault>,
}

/// One fault the simulated provider injects, with its probability per call.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedFault {
    /// What goes wrong.
    pub kind: SimulatedFaultKind,
    /// The chance, from 0 to 1, that a call suffers it.
    pub probability: f64,
}

/// What goes wrong in a [`SimulatedFault`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimulatedFaultKind {
    /// `"rate_limited"`: a 429 with this retry-after (`retry_after_ms`, default 1000).
    RateLimited {
        /// The retry-after the fault carries.
        retry_after: Duration,
    },
    /// `"server_error"`: a 500.
    ServerError,
    /// `"unavailable"`: a 503.
    Unavailable,
    /// `"timeout"`: the call times out.
    Timeout,
    /// `"stream_cut"`: the stream breaks after `after_chunks` chunks.
    StreamCut {
        /// Chunks delivered before the cut.
        after_chunks: usize,
    },
}

/// `[[models]]`: a name clients send as `model`, and where it is served.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// What clients send as `"model"`.
    pub name: String,
    /// How requests are spread over the targets (`strategy = "..."`, default `"weighted"`).
    pub strategy: StrategyKind,
    /// The deployments that serve the model, each with its weight.
    pub targets: Vec<TargetConfig>,
    /// Other models tried in order when every target failed or is unhealthy.
    pub fallbacks: Vec<String>,
    /// The model a prompt too long for this one goes to (and only there).
    pub on_context_window_exceeded: Option<String>,
}

impl ModelConfig {
    /// A model served by `targets` with the default strategy and no fallbacks.
    pub fn new(name: impl Into<String>, targets: Vec<TargetConfig>) -> Self {
        Self {
            name: name.into(),
            strategy: StrategyKind::default(),
            targets,
            fallbacks: Vec::new(),
            on_context_window_exceeded: None,
        }
    }
}

/// `strategy = "..."` of a model: how its targets share the traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StrategyKind {
    /// `"weighted"` (default): at random in proportion to `weight`. The default because it is
    /// the one whose outcome an operator can predict from the file alone.
    #[default]
    Weighted,
    /// `"round_robin"`: each target in turn, ignoring weights.
    RoundRobin,
    /// `"least_in_flight"`: fewest requests in flight per unit of weight.
    LeastInFlight,
    /// `"p2c"`: power of two choices over peak-EWMA latency.
    P2c,
}

impl StrategyKind {
    /// Every strategy, by its name in the file.
    pub const ALL: [(&'static str, StrategyKind); 4] = [
        ("weighted", StrategyKind::Weighted),
        ("round_robin", StrategyKind::RoundRobin),
        ("least_in_flight", StrategyKind::LeastInFlight),
        ("p2c", StrategyKind::P2c),
    ];
}

/// One deployment of a model: a provider and the model name upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetConfig {
    /// The provider's name.
    pub provider: String,
    /// The model name sent upstream, and the `x-bulkhead-model` response header.
    pub model: String,
    /// Relative share of traffic (at least 1); default 1.
    pub weight: u32,
}
