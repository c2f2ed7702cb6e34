//! The settings the gateway builds from `[cache]`, and the store they describe.

use std::sync::Arc;
use std::time::Duration;

use crate::{MemoryStore, RedisOptions, RedisStore, Store, TieredStore};

/// The cache's settings, as the gateway's `[cache]` section gives them (the gateway parses the
/// file and fills this in; this crate reads no configuration files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Whether the gateway caches at all (`false`: do not wrap the stack in a `Cache`).
    pub enabled: bool,
    /// How long an entry lives (`ttl_secs`).
    pub ttl: Duration,
    /// Capacity of the in-memory store, in bytes of encoded entries (`max_bytes`).
    pub max_bytes: u64,
    /// A Redis shared by every replica (`redis_url`); the in-memory store becomes its L1.
    pub redis_url: Option<String>,
    /// Timeout and key prefix of Redis calls.
    pub redis: RedisOptions,
}

impl Default for CacheConfig {
    /// Enabled, one hour, 256 MiB in memory, no Redis.
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            ttl: Duration::from_secs(3600),
            max_bytes: 256 * 1024 * 1024,
            redis_url: None,
            redis: RedisOptions::default(),
        }
    }
}

/// Why a cache could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// `redis_url` is not a Redis URL.
    #[error("invalid redis_url: {0}")]
    RedisUrl(String),
}

impl CacheConfig {
    /// The store these settings describe: a [`MemoryStore`] of `max_bytes`, or, with a
    /// `redis_url`, a [`TieredStore`] of that memory store in front of a [`RedisStore`].
    ///
    /// Building never connects: a Redis that is down at start-up is a miss until it is up.
    ///
    /// # Errors
    ///
    /// [`CacheError::RedisUrl`] when `redis_url` cannot be parsed.
    pub fn build_store(&self) -> Result<Arc<dyn Store>, CacheError> {
        let memory = MemoryStore::new(self.max_bytes);
        Ok(match &self.redis_url {
            None => Arc::new(memory),
            Some(url) => {
                let redis = RedisStore::new(url, self.redis.clone())?;
                Arc::new(TieredStore::new(memory, Arc::new(redis)))
            }
        })
    }
}
