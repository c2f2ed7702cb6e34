//! A deployment a router may send a request to, and the live facts strategies read about it.
//!
//! The facts (requests in flight, a peak-EWMA latency estimate, a health cool-down) are kept
//! in atomics next to each target, so a pick reads a few integers and never takes a lock:
//! picking happens on every request, and contention there would cost more than the
//! occasional lost update in a load estimate.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use bulkhead_core::{ChatModel, Deployment, EmbeddingModel};
use tokio::time::Instant;

use crate::ewma::PeakEwma;

/// One deployment of a model alias: what answers, and its share of the traffic.
#[derive(Clone)]
pub struct Target {
    /// The provider and upstream model; written to the request's `CallReport` and sent as the
    /// request's `model`.
    pub deployment: Deployment,
    /// Answers chat requests (usually a provider wrapped in retry and observability).
    pub chat: Arc<dyn ChatModel>,
    /// Answers embedding requests, when this deployment can.
    pub embeddings: Option<Arc<dyn EmbeddingModel>>,
    /// Relative share of traffic; must be at least 1.
    pub weight: u32,
}

impl Target {
    /// A chat-only target with weight 1.
    pub fn new(
        provider: impl Into<Arc<str>>,
        model: impl Into<Arc<str>>,
        chat: Arc<dyn ChatModel>,
    ) -> Self {
        Self {
            deployment: Deployment {
                provider: provider.into(),
                model: model.into(),
            },
            chat,
            embeddings: None,
            weight: 1,
        }
    }

    /// Set the weight.
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Also serve embeddings with `embeddings`.
    pub fn embeddings(mut self, embeddings: Arc<dyn EmbeddingModel>) -> Self {
        self.embeddings = Some(embeddings);
        self
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.deployment.provider)
            .field("model", &self.deployment.model)
            .field("weight", &self.weight)
            .field("embeddings", &self.embeddings.is_some())
            .finish_non_exhaustive()
    }
}

/// What the router knows about one target right now.
#[derive(Debug)]
pub(crate) struct Stats {
    pub(crate) in_flight: AtomicU32,
    pub(crate) latency: PeakEwma,
    /// Nanoseconds since `epoch` before which the target is skipped; 0 when healthy.
    cool_until: AtomicU64,
}

impl Stats {
    pub(crate) fn new(decay: Duration) -> Self {
        Self {
            in_flight: AtomicU32::new(0),
            latency: PeakEwma::new(decay),
            cool_until: AtomicU64::new(0),
        }
    }

    pub(crate) fn is_cooling(&self, now_ns: u64) -> bool {
        self.cool_until.load(Ordering::Relaxed) > now_ns
    }

    /// How long the target stays out of rotation after `now_ns`, if it is cooling down.
    pub(crate) fn cooling_for(&self, now_ns: u64) -> Option<Duration> {
        let until = self.cool_until.load(Ordering::Relaxed);
        (until > now_ns).then(|| Duration::from_nanos(until - now_ns))
    }

    pub(crate) fn cool_down(&self, until_ns: u64) {
        self.cool_until.fetch_max(until_ns, Ordering::Relaxed);
    }

    /// Count a call in flight until the guard is dropped (a stream holds it until it ends).
    pub(crate) fn start(self: &Arc<Self>, epoch: Instant) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            stats: self.clone(),
            epoch,
            started: Instant::now(),
            recorded: false,
        }
    }
}

/// A call in flight on one target: decrements the count when dropped, and records the
/// call's latency once it is known.
#[derive(Debug)]
pub(crate) struct InFlight {
    stats: Arc<Stats>,
    epoch: Instant,
    started: Instant,
    recorded: bool,
}

impl InFlight {
    /// Record how long the call took (to its answer, or to a stream's first chunk).
    pub(crate) fn observe(&mut self, failed: bool) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let now = Instant::now();
        let rtt = now.saturating_duration_since(self.started);
        self.stats
            .latency
            .observe(rtt, failed, nanos_since(self.epoch, now));
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Nanoseconds from `epoch` to `now`, saturating.
pub(crate) fn nanos_since(epoch: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}
