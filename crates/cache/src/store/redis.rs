//! The shared store: Redis, through a connection manager that reconnects on its own.
//!
//! Every call is bounded by a short timeout, and a Redis that is down, slow or answering
//! nonsense is a miss and a skipped write, never an error: a cache outage must cost latency of
//! at most one timeout per request, not availability. The connection is made lazily on first
//! use, so building the store neither fails nor waits when Redis is down at start-up, and the
//! manager reconnects after an outage (the first calls after Redis comes back trigger it).
//! After a few failures in a row Redis is left alone for a short cool-down, so during an outage
//! requests pay a few timeouts per cool-down, not one each.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use bulkhead_core::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::entry::now_ms;
use crate::{CacheError, CacheKey, Entry, Store};

/// How a [`RedisStore`] talks to Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Upper bound on every Redis call (connect, `GET`, `SET`); past it the call is a miss or
    /// a skipped write. Default 150 ms.
    pub timeout: Duration,
    /// Prefix of every key, so several caches (or a cache and other data) share one Redis.
    /// Default `bulkhead:cache:`.
    pub prefix: String,
    /// After [`FAILURES_BEFORE_COOLDOWN`] failed or timed-out calls in a row, Redis is
    /// skipped (every lookup a miss, every write dropped, at no cost) for this long before it
    /// is tried again. Default 1 s: an outage costs requests nothing after the first few
    /// timeouts, an overloaded Redis gets room to recover, and a recovered Redis is back
    /// within about this long.
    pub cooldown: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            timeout: Duration::from_millis(150),
            prefix: "bulkhead:cache:".to_owned(),
            cooldown: Duration::from_secs(1),
        }
    }
}

/// Consecutive failures that start a [`RedisOptions::cooldown`]: one slow call under load is
/// not an outage.
pub const FAILURES_BEFORE_COOLDOWN: u32 = 3;

/// A [`Store`] in Redis: entries in their compact encoding ([`Entry::encode`]) under
/// `prefix + hex(key)`, written with `SET ... EX ttl`.
pub struct RedisStore {
    client: redis::Client,
    options: RedisOptions,
    manager: OnceLock<ConnectionManager>,
    /// Unix milliseconds until which Redis is skipped after a failure.
    skip_until: AtomicU64,
    /// Failures in a row since the last success.
    failures: AtomicU32,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: show only where it points.
        let info = self.client.get_connection_info();
        f.debug_struct("RedisStore")
            .field("addr", &info.addr().to_string())
            .field("options", &self.options)
            .field("connected_once", &self.manager.get().is_some())
            .finish()
    }
}

impl RedisStore {
    /// A store for the Redis at `url` (`redis://host:port/db`). Only the URL is checked here:
    /// no connection is made until the first call, so a Redis that is down at start-up does
    /// not stop the gateway from starting.
    ///
    /// # Errors
    ///
    /// [`CacheError::RedisUrl`] when the URL cannot be parsed.
    pub fn new(url: &str, options: RedisOptions) -> Result<Self, CacheError> {
        let client = redis::Client::open(url).map_err(|e| CacheError::RedisUrl(e.to_string()))?;
        Ok(RedisStore {
            client,
            options,
            manager: OnceLock::new(),
            skip_until: AtomicU64::new(0),
            failures: AtomicU32::new(0),
        })
    }

    /// The options in use.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    fn redis_key(&self, key: &CacheKey) -> String {
        let mut k = String::with_capacity(self.options.prefix.len() + 64);
        k.push_str(&self.options.prefix);
        k.push_str(&key.to_hex());
        k
    }

    /// The connection manager, created on first use (it needs a running tokio runtime).
    fn manager(&self) -> Option<ConnectionManager> {
        if let Some(manager) = self.manager.get() {
            return Some(manager.clone());
        }
        let timeout = self.options.timeout;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // Few, quick reconnection attempts: when they run out the next call starts new
            // ones, so a Redis that comes back is found within a second or so.
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        match ConnectionManager::new_lazy_with_config(self.client.clone(), config) {
            Ok(manager) => Some(self.manager.get_or_init(|| manager).clone()),
            Err(error) => {
                tracing::warn!(%error, "redis cache: cannot create a connection manager");
                None
            }
        }
    }

    /// Whether Redis is being skipped after a recent failure.
    pub fn cooling_down(&self) -> bool {
        now_ms() < self.skip_until.load(Ordering::Relaxed)
    }

    fn failed(&self) {
        if self.failures.fetch_add(1, Ordering::Relaxed) + 1 < FAILURES_BEFORE_COOLDOWN {
            return;
        }
        self.failures.store(0, Ordering::Relaxed);
        let cooldown = u64::try_from(self.options.cooldown.as_millis()).unwrap_or(u64::MAX);
        self.skip_until
            .store(now_ms().saturating_add(cooldown), Ordering::Relaxed);
    }

    /// Run `cmd` within the timeout; `None` on any failure, or without trying while cooling
    /// down after one.
    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd, what: &str) -> Option<T> {
        if self.cooling_down() {
            return None;
        }
        let mut conn = self.manager()?;
        match tokio::time::timeout(self.options.timeout, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(value)) => {
                self.failures.store(0, Ordering::Relaxed);
                Some(value)
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, op = what, "redis cache: call failed; treated as a miss");
                self.failed();
                None
            }
            Err(_) => {
                tracing::debug!(op = what, timeout = ?self.options.timeout, "redis cache: call timed out; treated as a miss");
                self.failed();
                None
            }
        }
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn get(&self, key: &CacheKey) -> Option<Entry> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.redis_key(key));
        let bytes: Option<Vec<u8>> = self.run(cmd, "get").await?;
        let entry = Entry::decode(&bytes?)?;
        (!entry.is_expired_at(now_ms())).then_some(entry)
    }

    async fn put(&self, key: &CacheKey, entry: Entry) {
        let remaining = entry.remaining_at(now_ms());
        if remaining.is_zero() {
            return;
        }
        // Whole seconds, rounded up: Redis may keep an entry a little longer than its TTL,
        // and `get` drops it by its own expiry time.
        let secs = remaining.as_millis().div_ceil(1000).max(1);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.redis_key(key))
            .arg(entry.encode())
            .arg("EX")
            .arg(u64::try_from(secs).unwrap_or(u64::MAX));
        let _: Option<()> = self.run(cmd, "set").await;
    }

    /// `PING` within the timeout (ignoring the cool-down, so a recovered Redis shows at once).
    async fn reachable(&self) -> bool {
        let Some(mut conn) = self.manager() else {
            return false;
        };
        let ping = redis::cmd("PING");
        matches!(
            tokio::time::timeout(self.options.timeout, ping.query_async::<String>(&mut conn)).await,
            Ok(Ok(_))
        )
    }
}
