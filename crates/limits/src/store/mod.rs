//! Where counters live: one trait, an in-memory store for one process and a Redis store shared
//! by every replica.
//!
//! A store decides a whole admission at once (budget, concurrency, requests, tokens) and commits
//! all of it or none of it, so a request denied for tokens does not consume a request slot and
//! concurrent admissions can never over-admit. The [`crate::Limiter`] turns limits into the
//! plain numbers of an [`Admission`]; a store only does the arithmetic and the bookkeeping.

mod memory;
mod redis;

use std::fmt;
use std::time::Duration;

use bulkhead_core::async_trait;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;
use crate::denied::LimitKind;
use crate::gcra::Gcra;

/// An opaque, unique id of one concurrency slot held by one request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease(String);

impl Lease {
    /// A fresh random id (128 bits, hex): unique across replicas.
    pub fn new() -> Self {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // No OS randomness: fall back to time and a counter, still unique in practice.
            use std::sync::atomic::{AtomicU64, Ordering};
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            bytes[..8].copy_from_slice(&n.to_le_bytes());
            bytes[8..].copy_from_slice(&(t as u64).to_le_bytes());
        }
        let mut id = String::with_capacity(32);
        for b in bytes {
            use fmt::Write;
            let _ = write!(id, "{b:02x}");
        }
        Lease(id)
    }

    /// An empty id, for stores that count slots instead of naming them
    /// ([`Store::leases_expire`] is false).
    pub fn none() -> Self {
        Lease(String::new())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Lease {
    fn default() -> Self {
        Self::new()
    }
}

/// The budget part of an admission or settlement: which period, how much.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetCheck {
    /// The period's label (`2026-11`, `2026-11-30`), part of the store key.
    pub period_label: String,
    /// The period's start, seconds since the epoch: the in-memory store resets when it changes.
    pub period_start_secs: i64,
    /// How long the store must keep the period's spend (until the period ends, plus slack).
    pub keep_for: Duration,
    /// The spend allowed in the period, USD.
    pub limit_usd: f64,
}

/// The concurrency part of an admission.
#[derive(Debug, Clone, PartialEq)]
pub struct ConcurrencyCheck {
    /// Requests allowed in flight.
    pub max: u32,
    /// The slot this request takes when admitted.
    pub lease: Lease,
    /// Stores whose slots can outlive a crashed process expire the lease after this long
    /// unless it is renewed.
    pub lease_ttl: Duration,
}

/// Everything one admission checks, for one key. `None` parts are not limited.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission<'a> {
    /// The key's configured name (never its secret).
    pub key: &'a str,
    /// Now, microseconds since the epoch, from the limiter's clock. The Redis store uses the
    /// Redis server's clock instead, so that replicas share one timeline.
    pub now_us: f64,
    /// Requests per minute: one unit per admission.
    pub requests: Option<Gcra>,
    /// Tokens per minute, and this request's estimated tokens.
    pub tokens: Option<(Gcra, u32)>,
    /// In-flight cap.
    pub concurrency: Option<ConcurrencyCheck>,
    /// Budget not yet spent.
    pub budget: Option<BudgetCheck>,
}

/// What happens after the answer: correct the token estimate, charge the cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement<'a> {
    /// The key's configured name.
    pub key: &'a str,
    /// Now, microseconds since the epoch (see [`Admission::now_us`]).
    pub now_us: f64,
    /// The tokens-per-minute limit and the correction: reported minus estimated tokens
    /// (negative refunds an over-estimate).
    pub tokens: Option<(Gcra, i64)>,
    /// The budget period and the cost to add to it, USD.
    pub budget: Option<(BudgetCheck, f64)>,
}

/// A store's decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Every limit passed and every counter was updated.
    Admitted,
    /// A limit failed; nothing was updated.
    Denied {
        /// Which limit.
        limit: LimitKind,
        /// When the same request could pass (zero when the store cannot tell).
        retry_after: Duration,
    },
}

/// A store could not be reached or answered nonsense.
#[derive(Debug)]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// An error with a message (never containing a secret).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "limits store: {}", self.message)
    }
}

impl std::error::Error for StoreError {}

/// Counters for admissions. Implement it to keep them elsewhere (a database, another cache).
///
/// `admit` must be atomic per key: all checks and all updates at once, so concurrent callers
/// (tasks, or processes sharing the store) never over-admit.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Check and, when everything passes, record one admission.
    async fn admit(&self, admission: &Admission<'_>) -> Result<Verdict, StoreError>;

    /// Correct the token charge and add the cost to the budget.
    async fn settle(&self, settlement: &Settlement<'_>) -> Result<(), StoreError>;

    /// Give back a concurrency slot. Synchronous so that a guard's `Drop` can call it; a remote
    /// store may send the release in the background.
    fn release(&self, key: &str, lease: &Lease);

    /// Whether slots expire unless renewed (a shared store, where a crashed process must not
    /// hold slots forever). When true, the limiter renews a held slot every third of its TTL.
    fn leases_expire(&self) -> bool {
        false
    }

    /// Whether the store answers, for a readiness probe. In-memory stores always do.
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Extend a held slot's expiry to `ttl` from now.
    async fn renew(&self, key: &str, lease: &Lease, ttl: Duration) -> Result<(), StoreError> {
        let _ = (key, lease, ttl);
        Ok(())
    }
}
