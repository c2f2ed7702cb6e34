//! Two levels: a fast per-process L1 in front of a shared L2.

use std::sync::Arc;

use bulkhead_core::async_trait;

use crate::entry::now_ms;
use crate::{CacheKey, Entry, MemoryStore, Store};

/// L1 (a [`MemoryStore`]) in front of L2 (usually a [`RedisStore`](crate::RedisStore)).
///
/// A lookup tries L1, then L2; an L2 hit is copied into L1 for the rest of its life, so the
/// next identical request in this process never leaves it. Writes go to both.
#[derive(Debug, Clone)]
pub struct TieredStore {
    l1: MemoryStore,
    l2: Arc<dyn Store>,
}

impl TieredStore {
    /// `l1` in front of `l2`.
    pub fn new(l1: MemoryStore, l2: Arc<dyn Store>) -> Self {
        TieredStore { l1, l2 }
    }

    /// The first level.
    pub fn l1(&self) -> &MemoryStore {
        &self.l1
    }

    /// The second level.
    pub fn l2(&self) -> &Arc<dyn Store> {
        &self.l2
    }
}

#[async_trait]
impl Store for TieredStore {
    async fn get(&self, key: &CacheKey) -> Option<Entry> {
        if let Some(entry) = self.l1.get(key).await {
            return Some(entry);
        }
        let entry = self.l2.get(key).await?;
        if !entry.is_expired_at(now_ms()) {
            // The entry keeps its creation and expiry times: L1 never extends its life.
            self.l1.put(key, entry.clone()).await;
        }
        Some(entry)
    }

    async fn put(&self, key: &CacheKey, entry: Entry) {
        self.l1.put(key, entry.clone()).await;
        self.l2.put(key, entry).await;
    }

    async fn reachable(&self) -> bool {
        self.l2.reachable().await
    }
}
