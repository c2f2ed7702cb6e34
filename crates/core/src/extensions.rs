//! Typed request extensions defined by core.
//!
//! Each crate reads only the extension types it or core defines; nothing is stringly typed.
//! Insert them with `request.extensions.insert(RequestId::new("..."))`.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The id of a request, echoed in `x-request-id` and attached to its spans.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// Wrap an id.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self(id.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tenant a request is served for (a virtual key's name); caches never cross tenants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(Arc<str>);

impl Tenant {
    /// Wrap a tenant name.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self(name.into())
    }

    /// The tenant's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The instant by which the whole request must be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(pub Instant);

impl Deadline {
    /// A deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        Self(Instant::now() + timeout)
    }

    /// Time left before the deadline (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

/// Facts the stack reports back about how a request was served: which deployment answered and
/// how many upstream attempts were made.
///
/// The caller (the gateway) puts one in the request's extensions before calling the stack, and
/// keeps a clone; layers that know a fact write it in (routing the deployment, retry each
/// attempt, the cache its status, observability the cost). Clones share one record, so a fact written deep in the stack reaches the HTTP
/// edge, which turns it into `x-bulkhead-provider`, `x-bulkhead-model` and
/// `x-bulkhead-attempts`.
#[derive(Debug, Clone, Default)]
pub struct CallReport(Arc<CallReportInner>);

#[derive(Debug, Default)]
struct CallReportInner {
    attempts: AtomicU32,
    facts: Mutex<Facts>,
}

#[derive(Debug, Default)]
struct Facts {
    deployment: Option<Deployment>,
    cache: Option<CacheStatus>,
    cost_usd: Option<f64>,
}

/// How the cache dealt with a request, as `x-bulkhead-cache` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheStatus {
    /// Served from the cache without calling a model.
    Hit,
    /// Looked up, not found; the model was called.
    Miss,
    /// The lookup was skipped (`Cache-Control: no-cache` / `no-store`, or policy).
    Bypass,
}

impl CacheStatus {
    /// `hit`, `miss` or `bypass`: the header value and metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Bypass => "bypass",
        }
    }
}

/// A provider and the upstream model it was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Deployment {
    /// The provider's configured name.
    pub provider: Arc<str>,
    /// The model name sent upstream.
    pub model: Arc<str>,
}

impl CallReport {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Count one upstream attempt.
    pub fn record_attempt(&self) {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// Upstream attempts counted so far.
    pub fn attempts(&self) -> u32 {
        self.0.attempts.load(Ordering::Relaxed)
    }

    /// Record the deployment now serving the request; the last one recorded is the one that
    /// answered.
    pub fn set_deployment(&self, deployment: Deployment) {
        self.facts().deployment = Some(deployment);
    }

    /// The deployment recorded last, if any.
    pub fn deployment(&self) -> Option<Deployment> {
        self.facts().deployment.clone()
    }

    /// Record how the cache dealt with the request.
    pub fn set_cache(&self, status: CacheStatus) {
        self.facts().cache = Some(status);
    }

    /// How the cache dealt with the request; `None` when no cache layer saw it.
    pub fn cache(&self) -> Option<CacheStatus> {
        self.facts().cache
    }

    /// Record the request's cost in US dollars, computed from reported usage.
    pub fn set_cost_usd(&self, cost: f64) {
        self.facts().cost_usd = Some(cost);
    }

    /// The request's cost in US dollars, when a layer computed one.
    pub fn cost_usd(&self) -> Option<f64> {
        self.facts().cost_usd
    }

    fn facts(&self) -> std::sync::MutexGuard<'_, Facts> {
        self.0.facts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_report_and_the_last_deployment_wins() {
        let report = CallReport::new();
        let deep = report.clone();
        deep.record_attempt();
        deep.set_deployment(Deployment {
            provider: "primary".into(),
            model: "a".into(),
        });
        deep.record_attempt();
        deep.set_deployment(Deployment {
            provider: "fallback".into(),
            model: "b".into(),
        });
        assert_eq!(report.attempts(), 2);
        assert_eq!(
            report.deployment().map(|d| d.provider),
            Some(Arc::from("fallback"))
        );
    }
}
