//! May this request be served without calling a model, and from where?
//!
//! [`Cache`] is a `ChatModel` and `EmbeddingModel` decorator that answers from a [`Store`]
//! when it may and otherwise calls the model it wraps, storing what came back. Its rules:
//!
//! - **Never one tenant's answer to another.** The [`Tenant`](bulkhead_core::Tenant) extension
//!   is part of every key ([`chat_key`], [`embedding_key`]); requests without one share a single
//!   anonymous namespace.
//! - **Never a failure stored.** Errors, streams cut mid-way or ended without a
//!   `finish_reason`, and calls every client abandoned write nothing.
//! - **Never a hundred upstream calls for a hundred identical requests.** Requests with the
//!   same key in flight at the same time share one call; a stream's late joiners get the chunks
//!   already produced, then the rest.
//! - **Any answer served either way.** A stream is stored as the response it adds up to; a hit
//!   is one response for a JSON request and replayed chunks for a streaming one.
//!
//! Keys are SHA-256 over a canonical encoding of every output-relevant field, unknown
//! passthrough fields included, insensitive to JSON key order and to `stream`,
//! `stream_options` and `user` (see [`key`](chat_key)). Stores: [`MemoryStore`] (moka, per-entry TTL,
//! capacity in bytes), [`RedisStore`] (shared by replicas; each call bounded by a short
//! timeout, so a Redis outage is a miss, never an error; reconnects by itself) and
//! [`TieredStore`] (memory in front of Redis, filled on Redis hits).
//!
//! What a request may do is decided by its [`CacheDirective`] (from `Cache-Control`, put in the
//! request's extensions by the gateway) and the [`Cacheability`] policy ([`CacheAll`] by
//! default, or [`DeterministicOnly`]). The outcome (hit, miss, bypass) is written to the
//! request's `CallReport` for `x-bulkhead-cache` and counted in
//! [`bulkhead_cache_requests_total`](telemetry::CACHE_REQUESTS_TOTAL).
//!
//! ```
//! use std::sync::Arc;
//! use bulkhead_cache::{Cache, CacheConfig};
//! # use bulkhead_core::{ChatModel, ChatRequest, ChatResponse, ChatStream, Result, async_trait};
//! # struct Provider;
//! # #[async_trait] impl ChatModel for Provider {
//! #     async fn chat(&self, _: ChatRequest) -> Result<ChatResponse> { Err(bulkhead_core::Error::internal("example")) }
//! #     async fn stream(&self, _: ChatRequest) -> Result<ChatStream> { Err(bulkhead_core::Error::internal("example")) }
//! # }
//! let config = CacheConfig::default(); // the gateway fills this from `[cache]`
//! let store = config.build_store().expect("valid config");
//! let model = Cache::new(Provider, store).with_ttl(config.ttl);
//! # let _ = model;
//! ```

mod cache;
mod config;
mod directive;
mod entry;
mod flight;
mod key;
mod policy;
mod store;
pub mod telemetry;

pub use cache::{Cache, DEFAULT_TTL};
pub use config::{CacheConfig, CacheError};
pub use directive::CacheDirective;
pub use entry::{CachedEmbedding, CachedValue, Entry, now_ms};
pub use key::{CacheKey, EmbeddingItem, chat_key, embedding_key};
pub use policy::{CacheAll, Cacheability, DeterministicOnly};
pub use store::{
    FAILURES_BEFORE_COOLDOWN, MemoryStore, RedisOptions, RedisStore, Store, TieredStore,
};
