//! What may be cached: the [`Cacheability`] policy.

use std::fmt;

use bulkhead_core::{ChatRequest, ChatResponse, EmbeddingRequest};

/// Decides which requests the cache may serve and store. The [`Cache`](crate::Cache) is the
/// mechanism (keys, stores, coalescing); this trait is the decision, for users to replace.
///
/// A request the policy refuses is passed straight to the inner model and reported as
/// `bypass`. Errors, and streams that did not end cleanly, are never stored whatever the
/// policy says.
pub trait Cacheability: Send + Sync + fmt::Debug {
    /// Whether a chat request may be looked up and its answer stored.
    fn chat_request(&self, request: &ChatRequest) -> bool;

    /// Whether a successful chat answer may be stored (default: yes).
    fn chat_response(&self, response: &ChatResponse) -> bool {
        let _ = response;
        true
    }

    /// Whether an embeddings request may be served from and stored in the cache (default:
    /// yes; embeddings are deterministic).
    fn embedding_request(&self, request: &EmbeddingRequest) -> bool {
        let _ = request;
        true
    }
}

/// The default: every successful answer is cached (caching is on, so the operator chose it).
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheAll;

impl Cacheability for CacheAll {
    fn chat_request(&self, _: &ChatRequest) -> bool {
        true
    }
}

/// Only requests whose answer is meant to be reproducible: `temperature` = 0, or a `seed`.
///
/// Sampled answers differ from call to call by design; serving one stored answer to every
/// caller would change what a client at temperature 0.8 observes. This policy keeps that
/// variety and caches only what is deterministic (or asked to be, with a seed).
#[derive(Debug, Clone, Copy, Default)]
pub struct DeterministicOnly;

impl Cacheability for DeterministicOnly {
    fn chat_request(&self, request: &ChatRequest) -> bool {
        let greedy = request
            .temperature
            .as_ref()
            .and_then(|t| t.as_f64())
            .is_some_and(|t| t == 0.0);
        greedy || request.seed.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> ChatRequest {
        serde_json::from_str(json).expect("valid request")
    }

    #[test]
    fn deterministic_only_wants_temperature_zero_or_a_seed() {
        let p = DeterministicOnly;
        assert!(p.chat_request(&req(r#"{"model":"m","messages":[],"temperature":0}"#)));
        assert!(p.chat_request(&req(r#"{"model":"m","messages":[],"temperature":0.0}"#)));
        assert!(p.chat_request(&req(
            r#"{"model":"m","messages":[],"seed":7,"temperature":1}"#
        )));
        assert!(!p.chat_request(&req(r#"{"model":"m","messages":[],"temperature":0.7}"#)));
        assert!(!p.chat_request(&req(r#"{"model":"m","messages":[]}"#)));
        assert!(CacheAll.chat_request(&req(r#"{"model":"m","messages":[]}"#)));
    }
}
