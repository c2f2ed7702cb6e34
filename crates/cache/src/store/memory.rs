//! The in-process store: moka's concurrent cache, bounded in bytes, with per-entry expiry.

use std::time::{Duration, Instant};

use bulkhead_core::async_trait;
use moka::Expiry;
use moka::future::Cache;

use crate::entry::now_ms;
use crate::{CacheKey, Entry, Store};

/// Bytes charged per entry on top of its encoded size: the key, moka's bookkeeping, the `Arc`.
const ENTRY_OVERHEAD: u32 = 128;

/// An in-memory [`Store`] holding at most `max_bytes` of entries (by encoded size), each
/// until its own expiry; least-recently-used entries give way when it is full.
#[derive(Clone)]
pub struct MemoryStore {
    cache: Cache<CacheKey, Entry>,
    max_bytes: u64,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_bytes", &self.max_bytes)
            .field("entries", &self.cache.entry_count())
            .field("weighted_bytes", &self.cache.weighted_size())
            .finish()
    }
}

/// Expire each entry at its own expiry time.
struct EntryExpiry;

impl Expiry<CacheKey, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &CacheKey, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.remaining_at(now_ms()))
    }

    fn expire_after_update(
        &self,
        _: &CacheKey,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.remaining_at(now_ms()))
    }
}

impl MemoryStore {
    /// A store of at most `max_bytes`.
    pub fn new(max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_: &CacheKey, entry: &Entry| entry.size().saturating_add(ENTRY_OVERHEAD))
            .expire_after(EntryExpiry)
            .build();
        MemoryStore { cache, max_bytes }
    }

    /// The number of entries (approximate until moka's pending maintenance has run).
    pub fn entry_count(&self) -> u64 {
        self.cache.entry_count()
    }

    /// The bytes charged for the entries held (approximate, like [`entry_count`](Self::entry_count)).
    pub fn weighted_bytes(&self) -> u64 {
        self.cache.weighted_size()
    }

    /// Run moka's pending maintenance (evictions, counts) now; for tests and reports.
    pub async fn sync(&self) {
        self.cache.run_pending_tasks().await;
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &CacheKey) -> Option<Entry> {
        let entry = self.cache.get(key).await?;
        // moka expires on its own (real) clock; checking here as well keeps the rule exact
        // and lets tests move time with tokio's paused clock.
        if entry.is_expired_at(now_ms()) {
            self.cache.invalidate(key).await;
            return None;
        }
        Some(entry)
    }

    async fn put(&self, key: &CacheKey, entry: Entry) {
        if entry.is_expired_at(now_ms()) {
            return;
        }
        self.cache.insert(*key, entry).await;
    }
}
