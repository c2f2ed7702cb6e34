//! The resilience part of assembly: each provider wrapped, once at start-up, in
//! bulkhead-retry's decorators built from `[retry]` / `[circuit_breaker]` (or the provider's
//! own overrides), converted here field by field; the retry crate never sees the config types.
//!
//! Per provider, innermost first:
//!
//! ```text
//! provider -> CircuitBreaker -> Retry      (then the Router, outside)
//! ```
//!
//! - One policy, one budget and one circuit per provider, shared by every deployment (every
//!   `[[models]]` target) of it: they describe the upstream, not a model name.
//! - The Router sits outside `Retry`, so an open circuit ends the attempt at once with
//!   `CircuitOpen` (not retryable) and the router moves on to its next target or fallback.
//! - No `Timeout` layer: the OpenAI provider already bounds every attempt by its own
//!   `connect` / `first_token` / `idle` / `total` timeouts and by the request's `Deadline`,
//!   and `Retry` never sleeps past that deadline. A `Timeout` here would apply the same limit
//!   twice. The gateway sets no `Deadline` (INTERFACE.md has no key for one); an embedding
//!   user who inserts one gets it honoured by every layer.
//! - `x-bulkhead-attempts` counts requests that reached the upstream: `Retry` counts each of
//!   its attempts in the request's `CallReport`, except one the breaker refused
//!   (`CircuitOpen`), which never left the process.

use std::sync::Arc;

use bulkhead_core::{ChatModel, EmbeddingModel};
use bulkhead_retry::{
    BudgetConfig, Circuit, CircuitBreaker, CircuitConfig, ExponentialBackoff, Retry, RetryBudget,
    RetryConfig,
};

use crate::config::{CircuitBreakerSettings, RetrySettings};

/// Wrap one provider's chat and embedding models in its retry stack.
pub(crate) fn wrap(
    name: &str,
    chat: Arc<dyn ChatModel>,
    embeddings: Option<Arc<dyn EmbeddingModel>>,
    retry: &RetrySettings,
    breaker: &CircuitBreakerSettings,
) -> (Arc<dyn ChatModel>, Option<Arc<dyn EmbeddingModel>>) {
    let policy = Arc::new(ExponentialBackoff::new(retry_config(name, retry)));
    let budget = Arc::new(RetryBudget::new(budget_config(retry)));
    let circuit = Circuit::new(name, circuit_config(breaker));
    let chat = Retry::new(CircuitBreaker::new(chat, circuit.clone()), policy.clone())
        .with_budget(budget.clone())
        .with_provider(name);
    let embeddings = embeddings.map(|embeddings| {
        Arc::new(
            Retry::new(CircuitBreaker::new(embeddings, circuit), policy)
                .with_budget(budget)
                .with_provider(name),
        ) as Arc<dyn EmbeddingModel>
    });
    (Arc::new(chat), embeddings)
}

/// `[retry]` as bulkhead-retry's policy settings; the jitter seed differs per provider, so
/// providers that fail together do not retry in lock-step.
pub(crate) fn retry_config(name: &str, s: &RetrySettings) -> RetryConfig {
    RetryConfig {
        max_attempts: s.max_attempts,
        initial_backoff: s.initial_backoff,
        max_backoff: s.max_backoff,
        retry_after_cap: s.retry_after_cap,
        seed: fnv1a(name.as_bytes()),
        ..RetryConfig::default()
    }
}

/// `budget_*` of `[retry]` as bulkhead-retry's budget settings.
pub(crate) fn budget_config(s: &RetrySettings) -> BudgetConfig {
    BudgetConfig {
        ratio: s.budget_ratio,
        min_per_sec: s.budget_min_per_sec,
        ..BudgetConfig::default()
    }
}

/// `[circuit_breaker]` as bulkhead-retry's circuit settings (half-open probes: its default).
pub(crate) fn circuit_config(s: &CircuitBreakerSettings) -> CircuitConfig {
    CircuitConfig {
        failure_ratio: s.failure_ratio,
        min_requests: s.min_requests,
        window: s.window,
        open: s.open,
        ..CircuitConfig::default()
    }
}

/// A stable 64-bit FNV-1a hash (std's hasher is not promised to stay the same across releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_per_provider_and_stay_put() {
        let s = RetrySettings::default();
        assert_ne!(retry_config("a", &s).seed, retry_config("b", &s).seed);
        assert_eq!(retry_config("a", &s).seed, fnv1a(b"a"));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn settings_convert_field_by_field() {
        let s = RetrySettings::default();
        let r = retry_config("p", &s);
        assert_eq!(
            (
                r.max_attempts,
                r.initial_backoff,
                r.max_backoff,
                r.retry_after_cap
            ),
            (3, s.initial_backoff, s.max_backoff, s.retry_after_cap)
        );
        assert_eq!(budget_config(&s).ratio, 0.2);
        let c = circuit_config(&CircuitBreakerSettings::default());
        assert_eq!((c.failure_ratio, c.min_requests), (0.5, 20));
    }
}
