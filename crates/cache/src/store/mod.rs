//! Where cached answers live: one [`Store`] trait, three implementations.
//!
//! [`MemoryStore`] (moka: per-entry TTL, capacity in bytes) serves one process; [`RedisStore`]
//! is shared by every replica; [`TieredStore`] puts the first in front of the second. A store
//! never fails a request: an unreachable backend is a miss and a skipped write.

mod memory;
mod redis;
mod tiered;

use std::fmt;

use bulkhead_core::async_trait;

use crate::{CacheKey, Entry};

pub use memory::MemoryStore;
pub use redis::{FAILURES_BEFORE_COOLDOWN, RedisOptions, RedisStore};
pub use tiered::TieredStore;

/// A key-value store for cached answers.
///
/// Both operations are infallible by design: a cache that cannot answer is a miss, and a write
/// that cannot be made is skipped. Implementations bound their own latency.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// The live entry under `key`, if any. An entry past its expiry is never returned.
    async fn get(&self, key: &CacheKey) -> Option<Entry>;

    /// Keep `entry` under `key` until its expiry ([`Entry::expires_ms`]).
    async fn put(&self, key: &CacheKey, entry: Entry);

    /// Whether the backend answers right now (for readiness reports; a store that is not
    /// reachable still never fails a request). Default: yes.
    async fn reachable(&self) -> bool {
        true
    }
}

#[async_trait]
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    async fn get(&self, key: &CacheKey) -> Option<Entry> {
        (**self).get(key).await
    }

    async fn put(&self, key: &CacheKey, entry: Entry) {
        (**self).put(key, entry).await
    }

    async fn reachable(&self) -> bool {
        (**self).reachable().await
    }
}
