//! Provider clients for Bulkhead: the OpenAI-compatible HTTP provider, the SSE decoder it reads
//! streams with, and a deterministic simulated provider for tests, demos and benchmarks.
//!
//! Every provider implements [`bulkhead_core::ChatModel`] and [`bulkhead_core::EmbeddingModel`],
//! so it sits at the bottom of any Bulkhead stack or is used alone:
//!
//! ```
//! use bulkhead_core::{ChatModel, ChatRequest, Message};
//! use bulkhead_inference::{SimulatedConfig, SimulatedProvider};
//!
//! # async fn run() -> bulkhead_core::Result<()> {
//! let provider = SimulatedProvider::new(SimulatedConfig::default());
//! let answer = provider
//!     .chat(ChatRequest::new("sim-1", vec![Message::user("Hello there")]))
//!     .await?;
//! assert_eq!(answer.model, "sim-1");
//! # Ok(()) }
//! ```
//!
//! Vendors that speak the OpenAI wire format (vLLM, Ollama, Groq, Together, Mistral, DeepSeek,
//! OpenRouter, Azure OpenAI, ...) are data for [`OpenAiProvider`]: a base URL, a key, maybe
//! extra headers; [`openai::presets`] holds one row per vendor. Anthropic's Messages API is
//! [`AnthropicProvider`]: it translates OpenAI-shaped requests and answers (JSON and streams)
//! to and from Anthropic's wire format, and [`anthropic::ingress`] runs the same translation in
//! reverse for servers that accept Anthropic-format clients.
//!
//! Every upstream failure becomes a [`bulkhead_core::Error`] whose kind means the same thing
//! whichever vendor sent it; [`error`] documents the real-world bodies each kind is read from.
//! Upstream redirects are never followed, so a provider key is only ever sent to its
//! configured host.
//!
//! The SSE decoder and the stream translators are also exercised by proptest
//! (`tests/properties.rs`) and by cargo-fuzz targets in `fuzz/` (see `fuzz/README.md`).
//!
//! Providers know nothing of routing, retries or caching; those are decorators elsewhere.

pub mod anthropic;
pub mod error;
pub mod openai;
pub mod simulated;
pub mod sse;
pub mod timeouts;
mod upstream;

pub use anthropic::{AnthropicConfig, AnthropicProvider, StreamTranslator};
pub use openai::{OpenAiConfig, OpenAiProvider};
pub use simulated::{Fault, FaultKind, SimulatedConfig, SimulatedProvider};
pub use sse::{SseDecoder, SseError, SseEvent, SseEventRef};
pub use timeouts::Timeouts;

/// Install rustls' `ring` crypto provider as the process default, once.
///
/// rustls is built without a crypto provider chosen for it (so the workspace compiles one TLS
/// backend, not two), and building a TLS client without a process default panics. Calling this is
/// idempotent and cheap; [`OpenAiProvider::new`] calls it itself. If the application installed
/// another provider first, that one stays.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means a default is already installed, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
