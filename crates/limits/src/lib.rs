//! Per-key rate limits and budgets for Bulkhead: requests and tokens per minute, requests in
//! flight, and USD spend per UTC day or month, counted in memory or shared by every replica
//! through Redis.
//!
//! The gateway authenticates a key, then asks a [`Limiter`] to admit the request under the key's
//! [`Limits`]. An admission either takes everything at once (a request slot, the estimated
//! tokens, a concurrency slot) and returns a [`Permit`], or takes nothing and returns a
//! [`Denied`] naming the limit and the retry-after for a `429` with `Retry-After`. When the
//! answer is complete the gateway calls [`Permit::finish`] with the reported usage and the cost;
//! dropping the permit releases the concurrency slot.
//!
//! - Rates use GCRA ([`gcra`] explains the choice and the burst).
//! - Tokens are estimated with tiktoken's `o200k_base` ([`estimate`]) and corrected after.
//! - Budgets follow UTC calendar days and months and are charged after each request, so the
//!   requests in flight when a budget runs out may overshoot it by their cost.
//! - Concurrency is capped without queueing: over the cap, the request is denied at once.
//!   [`MemoryStore`] counts per process; [`RedisStore`] counts across replicas with leases that
//!   expire, so a crashed replica cannot hold slots forever.
//! - A store that fails or is slower than [`LimiterConfig::store_timeout`] (100 ms) fails open
//!   by default: the request is admitted, a warning is logged and
//!   `bulkhead_limits_store_errors_total{op}` counts it ([`FailMode`]).
//! - Every denial counts `bulkhead_rate_limited_total{key, limit}`, `key` being the key's
//!   configured name (never the secret) and `limit` one of `rpm`, `tpm`, `concurrency`,
//!   `budget`, `unavailable`.
//!
//! This crate knows nothing of config files or HTTP: it takes plain [`Limits`].

mod clock;
mod denied;
pub mod estimate;
pub mod gcra;
mod limiter;
mod limits;
pub mod period;
mod permit;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use denied::{Denied, LimitKind};
pub use estimate::{TokenEstimator, estimate_tokens};
pub use limiter::{FailMode, Limiter, LimiterConfig};
pub use limits::{Budget, BudgetPeriod, Limits};
pub use permit::Permit;
pub use store::{MemoryStore, RedisStore, Store, StoreError};
