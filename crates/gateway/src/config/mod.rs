//! The TOML config file: reading it, substituting `${VAR}`, and checking it.
//!
//! Reading happens in three steps, each in its own module: `file` is the file's shape as
//! serde sees it (unknown keys and sections are errors); `resolve` substitutes environment
//! variables and checks each value; `validate` checks across entries (unique names, targets
//! that exist). Every problem is reported with its line and column, and all of them are
//! reported at once where the file could be parsed at all.
//!
//! The format, as implemented by this version:
//!
//! ```toml
//! [server]                            # optional
//! listen = "127.0.0.1:8080"           # default
//! max_body_bytes = 4194304            # default; larger request bodies get 413
//!
//! [[providers]]
//! name = "openai"
//! kind = "openai"                     # "openai" | "simulated"
//! base_url = "https://api.openai.com/v1"   # required for "openai"
//! api_key = "${OPENAI_API_KEY}"       # optional
//! headers = { "OpenAI-Organization" = "org-123" }   # optional
//! timeouts = { connect_ms = 2000, first_token_ms = 15000, idle_ms = 30000, total_ms = 120000 }
//!
//! [[providers]]
//! name = "sim"
//! kind = "simulated"                  # every key below is optional
//! latency_ms = 20
//! time_to_first_token_ms = 50
//! tokens_per_second = 200.0
//! seed = 7
//! embedding_dimensions = 256
//! faults = [
//!   { kind = "rate_limited", probability = 0.1, retry_after_ms = 2000 },
//!   { kind = "stream_cut", probability = 0.05, after_chunks = 3 },
//!   # also "server_error", "unavailable", "timeout"
//! ]
//!
//! [[models]]
//! name = "chat"                       # what clients send as "model"
//! strategy = "weighted"               # default; "round_robin" | "least_in_flight" | "p2c"
//! targets = [                         # 1 to 64 deployments; weight >= 1, default 1
//!   { provider = "openai", model = "gpt-4o-mini", weight = 3 },
//!   { provider = "sim", model = "sim-1" },
//! ]
//! fallbacks = ["chat-big"]            # optional: tried in order when every target failed
//! on_context_window_exceeded = "chat-long"   # optional: where too-long prompts go
//!
//! [retry]                             # optional; defaults for every provider (shown)
//! max_attempts = 3                    # 1 to 100; 1 disables retries
//! initial_backoff_ms = 200            # > 0
//! max_backoff_ms = 10000              # >= initial_backoff_ms
//! retry_after_cap_ms = 60000          # > 0
//! budget_ratio = 0.2                  # 0 to 1
//! budget_min_per_sec = 10             # >= 0
//!
//! [circuit_breaker]                   # optional (defaults shown)
//! failure_ratio = 0.5                 # above 0, at most 1
//! min_requests = 20                   # >= 1
//! window_secs = 30                    # > 0
//! open_secs = 15                      # > 0
//! ```
//!
//! Any `[[providers]]` entry may also hold `retry = { ... }` and `circuit_breaker = { ... }`
//! with the same keys; each key given there replaces the section's value for that provider.
//!
//! Fallbacks and `on_context_window_exceeded` name other `[[models]]`; an unknown name, a
//! model naming itself, or a cycle (`a -> b -> a`) is an error at the name that closes it.
//! What the strategies do and when a fallback is taken is documented in
//! `bulkhead-orchestration`.

mod error;
mod file;
mod interpolate;
mod resolve;
mod resolve_provider;
mod resolve_resilience;
mod sections;
mod types;
mod validate;

use std::path::Path;

pub use error::{ConfigError, Diagnostic};
pub use sections::{
    BudgetPeriod, CacheSettings, KeyConfig, LimitsSettings, LogFormat, PriceConfig,
    TelemetrySettings,
};
pub use types::{
    CircuitBreakerSettings, Config, HttpProviderConfig, ModelConfig, ProviderConfig, ProviderKind,
    RetrySettings, ServerConfig, SimulatedFault, SimulatedFaultKind, SimulatedProviderConfig,
    StrategyKind, TargetConfig, TimeoutsConfig,
};

pub(crate) use validate::cross_check;

use error::Diagnostics;

const EMBEDDED_DEFAULT: &str = include_str!("../default.toml");

impl Config {
    /// The configuration `bulkhead-server` runs with when given none: one provider and one
    /// model, both named `simulated` (upstream model `simulated-1`). No keys, no network.
    pub fn embedded_default() -> Config {
        match Self::from_toml_str_with_env(EMBEDDED_DEFAULT, "<embedded default>", &|_| None) {
            Ok(config) => config,
            // The embedded file is checked by this crate's tests; reaching this is a build
            // that shipped a broken default, which no caller could recover from.
            Err(e) => panic!("the embedded default configuration is invalid: {e}"),
        }
    }

    /// Parse and check a TOML config; `origin` names it in error messages (usually its path).
    /// `${VAR}` is replaced from the process environment.
    pub fn from_toml_str(source: &str, origin: &str) -> Result<Config, ConfigError> {
        Self::from_toml_str_with_env(source, origin, &|name| std::env::var(name).ok())
    }

    /// Like [`from_toml_str`](Self::from_toml_str), with `${VAR}` looked up through `env`
    /// instead of the process environment: for tests, and for secrets kept elsewhere.
    pub fn from_toml_str_with_env(
        source: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut diags = Diagnostics::new(source);
        let file: file::File = match toml::from_str(source) {
            Ok(file) => file,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                diags.at(span, parse_message(e.message()));
                return Err(ConfigError::new(origin, diags.finish()));
            }
        };
        let (config, places) = resolve::Resolver {
            diags: &mut diags,
            env,
        }
        .resolve(file);
        cross_check(&config, Some(&places), &mut |place, message| match place {
            Some(span) => diags.at(span, message),
            None => diags.at(0..0, message),
        });
        if diags.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::new(origin, diags.finish()))
        }
    }

    /// Read and check the config file at `path`; errors name the path.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| ConfigError::io(&origin, e))?;
        Self::from_toml_str(&source, &origin)
    }
}

/// toml's message, on one line.
fn parse_message(message: &str) -> String {
    message.trim_end().replace('\n', "; ")
}
