//! The limiter: admits a request for a key or says which limit stopped it and for how long.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bulkhead_core::ChatRequest;
use tokio::task::AbortHandle;

use crate::clock::{Clock, SystemClock};
use crate::denied::{Denied, LimitKind, ceil_secs};
use crate::estimate::TokenEstimator;
use crate::gcra::Gcra;
use crate::limits::Limits;
use crate::period::Period;
use crate::permit::Permit;
use crate::store::{
    Admission, BudgetCheck, ConcurrencyCheck, Lease, MemoryStore, RedisStore, Store, StoreError,
    Verdict,
};

/// What to do when the store cannot answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Admit, log a warning (at most every 10 s) and count
    /// `bulkhead_limits_store_errors_total`: an outage of the limits store does not become an
    /// outage of the gateway. The default.
    #[default]
    Open,
    /// Deny with [`LimitKind::Unavailable`] and a retry-after of one second.
    Closed,
}

/// How the limiter turns limits into arithmetic, and how it treats its store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterConfig {
    /// Burst of the requests-per-minute limit, as a duration's worth of the rate (at least one
    /// request). Default 1 s: `rpm = 600` admits 10 at once. See [`crate::gcra`].
    pub request_burst: Duration,
    /// Burst of the tokens-per-minute limit. Default 60 s: a whole minute's tokens.
    pub token_burst: Duration,
    /// The longest an admission, settlement or renewal may wait for the store. Default 100 ms.
    pub store_timeout: Duration,
    /// What to do when the store fails or times out. Default [`FailMode::Open`].
    pub fail_mode: FailMode,
    /// How long a concurrency slot in a shared store lives unless renewed (renewed every third
    /// of it while the request runs). Default 30 s: a crashed replica's slots free within it.
    pub lease_ttl: Duration,
    /// The retry-after of a concurrency denial (when a slot frees is unknowable). Default 1 s.
    pub concurrency_retry_after: Duration,
    /// How requests are estimated by [`Limiter::admit_chat`].
    pub estimator: TokenEstimator,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self {
            request_burst: Duration::from_secs(1),
            token_burst: Duration::from_secs(60),
            store_timeout: Duration::from_millis(100),
            fail_mode: FailMode::Open,
            lease_ttl: Duration::from_secs(30),
            concurrency_retry_after: Duration::from_secs(1),
            estimator: TokenEstimator::default(),
        }
    }
}

/// Admits requests per key against their [`Limits`]. Cheap to clone; clones share the store.
///
/// ```
/// # async fn demo() {
/// use bulkhead_limits::{Limiter, Limits};
///
/// let limiter = Limiter::in_memory();
/// let limits = Limits { rpm: Some(600), max_concurrent: Some(50), ..Limits::default() };
/// match limiter.admit("team-a", &limits, 1_000).await {
///     Ok(permit) => {
///         // ... serve the request, then report what it really used and cost:
///         permit.finish(None, 0.002).await;
///     }
///     Err(denied) => eprintln!("429, Retry-After: {}: {}", denied.retry_after_secs(), denied),
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Limiter {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: LimiterConfig,
    last_warning_us: AtomicU64,
}

impl Limiter {
    /// A limiter over `store` with the default config and the system clock.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_config(store, LimiterConfig::default())
    }

    /// A limiter over `store` with `config` and the system clock.
    pub fn with_config(store: Arc<dyn Store>, config: LimiterConfig) -> Self {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    /// A limiter reading time from `clock` (tests move a [`crate::ManualClock`]).
    pub fn with_clock(store: Arc<dyn Store>, config: LimiterConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                config,
                last_warning_us: AtomicU64::new(0),
            }),
        }
    }

    /// A limiter counting in this process only.
    pub fn in_memory() -> Self {
        Self::new(Arc::new(MemoryStore::new()))
    }

    /// A limiter whose counters every replica shares through the Redis at `url`
    /// (`[limits] redis_url`). Does no I/O; must be called within a Tokio runtime.
    pub fn redis(url: &str, config: LimiterConfig) -> Result<Self, StoreError> {
        let store = RedisStore::new(url, config.store_timeout)?;
        Ok(Self::with_config(Arc::new(store), config))
    }

    /// The config in force.
    pub fn config(&self) -> &LimiterConfig {
        &self.inner.config
    }

    /// Whether the store answers within [`LimiterConfig::store_timeout`]: for `/readyz` when
    /// `[limits] redis_url` is set. (Admissions fail open meanwhile, unless configured closed.)
    pub async fn check_store(&self) -> Result<(), StoreError> {
        match tokio::time::timeout(self.inner.config.store_timeout, self.inner.store.ping()).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::new("timed out")),
        }
    }

    /// Estimate `request`'s tokens (only when the key has a `tpm` limit) and admit it.
    pub async fn admit_chat(
        &self,
        key: &str,
        limits: &Limits,
        request: &ChatRequest,
    ) -> Result<Permit, Denied> {
        let estimate = if limits.tpm.is_some() {
            self.inner.config.estimator.estimate(request)
        } else {
            0
        };
        self.admit(key, limits, estimate).await
    }

    /// Admit one request of `key` (its configured name) estimated at `estimated_tokens`.
    ///
    /// Either every limit passes and every counter moves (the permit holds a concurrency slot
    /// until it drops), or nothing moves and the denial says which limit and for how long. Never
    /// waits longer than [`LimiterConfig::store_timeout`] for the store.
    pub async fn admit(
        &self,
        key: &str,
        limits: &Limits,
        estimated_tokens: u32,
    ) -> Result<Permit, Denied> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let now_us = now.as_micros() as f64;
        let mut permit = Permit {
            limiter: self.clone(),
            key: Arc::from(key),
            lease: None,
            estimated_tokens,
            tokens: None,
            budget: None,
            renewal: None,
        };
        if limits.is_unlimited() {
            return Ok(permit);
        }
        let period = limits
            .budget
            .map(|b| (b, Period::containing(b.period, now)));
        let budget = period.as_ref().map(|(b, p)| BudgetCheck {
            period_label: p.label.clone(),
            period_start_secs: p.start_secs,
            keep_for: p.remaining(now) + Duration::from_secs(86_400),
            limit_usd: b.usd,
        });
        let tokens = limits
            .tpm
            .map(|tpm| Gcra::per_minute(tpm, inner.config.token_burst));
        let concurrency = limits.max_concurrent.map(|max| ConcurrencyCheck {
            max,
            // Only a shared store needs ids unique across replicas.
            lease: if inner.store.leases_expire() {
                Lease::new()
            } else {
                Lease::none()
            },
            lease_ttl: inner.config.lease_ttl,
        });
        let admission = Admission {
            key,
            now_us,
            requests: limits
                .rpm
                .map(|rpm| Gcra::per_minute(u64::from(rpm), inner.config.request_burst)),
            tokens: tokens.map(|g| (g, estimated_tokens)),
            concurrency,
            budget,
        };
        let verdict =
            tokio::time::timeout(inner.config.store_timeout, inner.store.admit(&admission)).await;
        let verdict = match verdict {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return self.store_failed("admit", &e.to_string(), permit),
            Err(_) => return self.store_failed("admit", "timed out", permit),
        };
        permit.tokens = tokens;
        permit.budget = admission.budget;
        match verdict {
            Verdict::Admitted => {
                if let Some(c) = admission.concurrency {
                    if inner.store.leases_expire() {
                        permit.renewal = Some(self.spawn_renewal(key, &c.lease));
                    }
                    permit.lease = Some(c.lease);
                }
                Ok(permit)
            }
            Verdict::Denied { limit, retry_after } => {
                // Nothing was taken: the permit must not release or settle anything.
                permit.tokens = None;
                permit.budget = None;
                let (retry_after, message) = match limit {
                    LimitKind::Requests => (
                        retry_after,
                        format!(
                            "rate limit of {} requests per minute reached for key '{key}'",
                            limits.rpm.unwrap_or(0)
                        ),
                    ),
                    LimitKind::Tokens => (
                        retry_after,
                        format!(
                            "rate limit of {} tokens per minute reached for key '{key}' \
                             (this request is estimated at {estimated_tokens} tokens)",
                            limits.tpm.unwrap_or(0)
                        ),
                    ),
                    LimitKind::Concurrency => (
                        inner.config.concurrency_retry_after,
                        format!(
                            "concurrency limit of {} requests in flight reached for key '{key}'",
                            limits.max_concurrent.unwrap_or(0)
                        ),
                    ),
                    LimitKind::Budget => match &period {
                        Some((b, p)) => (
                            p.remaining(now),
                            format!(
                                "budget of ${:.2} per {} spent for key '{key}'; resets at {}",
                                b.usd,
                                b.period,
                                p.end_rfc3339()
                            ),
                        ),
                        None => (retry_after, format!("budget spent for key '{key}'")),
                    },
                    LimitKind::Unavailable => (
                        Duration::from_secs(1),
                        "rate-limit store unavailable".to_owned(),
                    ),
                };
                metrics::counter!(
                    "bulkhead_rate_limited_total",
                    "key" => key.to_owned(),
                    "limit" => limit.as_str(),
                )
                .increment(1);
                let message = format!("{message}; retry after {}s", ceil_secs(retry_after));
                Err(Denied {
                    limit,
                    retry_after,
                    message,
                })
            }
        }
    }

    fn store_failed(
        &self,
        op: &'static str,
        error: &str,
        permit: Permit,
    ) -> Result<Permit, Denied> {
        metrics::counter!("bulkhead_limits_store_errors_total", "op" => op).increment(1);
        let fail_open = self.inner.config.fail_mode == FailMode::Open;
        self.warn(op, error, fail_open);
        if fail_open {
            return Ok(permit);
        }
        let key = permit.key.clone();
        drop(permit);
        metrics::counter!(
            "bulkhead_rate_limited_total",
            "key" => key.to_string(),
            "limit" => LimitKind::Unavailable.as_str(),
        )
        .increment(1);
        Err(Denied {
            limit: LimitKind::Unavailable,
            retry_after: Duration::from_secs(1),
            message: "rate limits cannot be checked right now; retry after 1s".to_owned(),
        })
    }

    /// A warning at most every 10 s, so an outage does not flood the log.
    pub(crate) fn warn(&self, op: &'static str, error: &str, fail_open: bool) {
        let now_us = self.inner.clock.now().as_micros() as u64;
        let last = self.inner.last_warning_us.load(Ordering::Relaxed);
        if now_us.saturating_sub(last) < 10_000_000 && last != 0 {
            return;
        }
        if self
            .inner
            .last_warning_us
            .compare_exchange(last, now_us.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            let action = if fail_open { "admitting" } else { "denying" };
            tracing::warn!(
                op,
                error,
                "limits store failed; {action} requests meanwhile"
            );
        }
    }

    fn spawn_renewal(&self, key: &str, lease: &Lease) -> AbortHandle {
        let store = self.inner.store.clone();
        let ttl = self.inner.config.lease_ttl;
        let timeout = self.inner.config.store_timeout;
        let key = key.to_owned();
        let lease = lease.clone();
        let task = tokio::spawn(async move {
            let every = ttl / 3;
            loop {
                tokio::time::sleep(every).await;
                if let Ok(Err(e)) =
                    tokio::time::timeout(timeout, store.renew(&key, &lease, ttl)).await
                {
                    metrics::counter!("bulkhead_limits_store_errors_total", "op" => "renew")
                        .increment(1);
                    tracing::debug!(error = %e, "limits: lease renewal failed");
                }
            }
        });
        task.abort_handle()
    }
}
