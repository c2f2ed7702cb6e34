//! [`Router`]: one model alias served by several weighted targets, failing over between them.
//!
//! For each attempt the router asks its [`Strategy`] for a target among those not yet tried
//! and not cooling down, rewrites the request's `model` to that target's upstream model,
//! records the target in the request's [`CallReport`](bulkhead_core::CallReport) (so the last
//! one recorded is the one that answered), and calls it. What happens on an error is decided
//! by its [`ErrorKind`] alone, in [`disposition`]: try the next target, jump to the
//! long-context alias, or stop. A target that answered `CircuitOpen`, `Overloaded` or
//! `RateLimited` with a retry-after is skipped without waiting until that time has passed.
//!
//! A `Router` is a [`ChatModel`](bulkhead_core::ChatModel) and an
//! [`EmbeddingModel`](bulkhead_core::EmbeddingModel) by itself; fallbacks to other aliases
//! need the [`Routes`](crate::Routes) registry.

mod attempt;
mod op;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bulkhead_core::ErrorKind;
use tokio::time::Instant;

use crate::error::BuildError;
use crate::strategy::{Strategy, Weighted};
use crate::target::{Stats, Target};

pub(crate) use attempt::{Attempts, Outcome};
pub(crate) use op::{Chat, Embed, Op, Stream};

/// The most targets one alias may have (the router tracks them in a 64-bit set).
pub const MAX_TARGETS: usize = 64;

/// The default half-life-like decay of the P2C latency estimate (see the `ewma` module).
pub const DEFAULT_LATENCY_DECAY: Duration = Duration::from_secs(10);

/// A target and what the router knows about it.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) target: Target,
    pub(crate) stats: Arc<Stats>,
}

/// Serves one model alias from weighted targets; see the module docs.
///
/// ```
/// use std::sync::Arc;
/// use bulkhead_inference::{SimulatedConfig, SimulatedProvider};
/// use bulkhead_orchestration::{P2c, Router, Target};
///
/// let sim = Arc::new(SimulatedProvider::new(SimulatedConfig::default()));
/// let router = Router::builder("chat")
///     .target(Target::new("east", "sim-1", sim.clone()).weight(3))
///     .target(Target::new("west", "sim-1", sim))
///     .strategy(P2c::new())
///     .build()
///     .unwrap();
/// assert_eq!(router.name(), "chat");
/// ```
pub struct Router {
    pub(crate) name: Arc<str>,
    pub(crate) slots: Box<[Slot]>,
    pub(crate) strategy: Arc<dyn Strategy>,
    pub(crate) epoch: Instant,
    /// Targets that serve embeddings.
    pub(crate) embeddable: u64,
    /// Every target.
    pub(crate) all: u64,
}

impl Router {
    /// Start building the router of alias `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> RouterBuilder {
        RouterBuilder {
            name: name.into(),
            targets: Vec::new(),
            strategy: None,
            decay: DEFAULT_LATENCY_DECAY,
        }
    }

    /// The alias this router serves.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The targets, in the order they were added.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.slots.iter().map(|s| &s.target)
    }

    /// Whether any target serves embeddings.
    pub fn has_embeddings(&self) -> bool {
        self.embeddable != 0
    }

    /// Pick a target the way the next request's first attempt would, without calling it:
    /// for benchmarks and diagnostics. `None` when every target is cooling down.
    pub fn pick(&self) -> Option<usize> {
        let now_ns = crate::target::nanos_since(self.epoch, Instant::now());
        let available = self.all & !self.cooling(now_ns);
        if available == 0 {
            return None;
        }
        self.strategy.pick(&crate::strategy::Candidates::new(
            &self.slots,
            available,
            now_ns,
        ))
    }

    /// The set of targets cooling down at `now_ns`.
    pub(crate) fn cooling(&self, now_ns: u64) -> u64 {
        let mut set = 0;
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.stats.is_cooling(now_ns) {
                set |= 1 << i;
            }
        }
        set
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("name", &self.name)
            .field(
                "targets",
                &self.slots.iter().map(|s| &s.target).collect::<Vec<_>>(),
            )
            .field("strategy", &self.strategy)
            .finish()
    }
}

/// Builds a [`Router`].
#[derive(Debug)]
pub struct RouterBuilder {
    name: Arc<str>,
    targets: Vec<Target>,
    strategy: Option<Arc<dyn Strategy>>,
    decay: Duration,
}

impl RouterBuilder {
    /// Add a target.
    pub fn target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    /// Balance with `strategy` (default [`Weighted`]).
    pub fn strategy(mut self, strategy: impl Strategy + 'static) -> Self {
        self.strategy = Some(Arc::new(strategy));
        self
    }

    /// Balance with a shared strategy.
    pub fn strategy_arc(mut self, strategy: Arc<dyn Strategy>) -> Self {
        self.strategy = Some(strategy);
        self
    }

    /// How fast the latency estimate forgets (default [`DEFAULT_LATENCY_DECAY`]): shorter
    /// reacts faster to a recovered target, longer is steadier.
    pub fn latency_decay(mut self, decay: Duration) -> Self {
        self.decay = decay;
        self
    }

    /// The router. Fails with no targets, more than [`MAX_TARGETS`], or a zero weight.
    pub fn build(self) -> Result<Router, BuildError> {
        let alias = self.name.to_string();
        if self.targets.is_empty() {
            return Err(BuildError::NoTargets { alias });
        }
        if self.targets.len() > MAX_TARGETS {
            return Err(BuildError::TooManyTargets {
                alias,
                count: self.targets.len(),
            });
        }
        let mut embeddable = 0;
        for (i, t) in self.targets.iter().enumerate() {
            if t.weight == 0 {
                return Err(BuildError::ZeroWeight {
                    alias,
                    deployment: format!("{}/{}", t.deployment.provider, t.deployment.model),
                });
            }
            if t.embeddings.is_some() {
                embeddable |= 1 << i;
            }
        }
        let all = u64::MAX >> (64 - self.targets.len());
        let decay = self.decay;
        Ok(Router {
            name: self.name,
            slots: self
                .targets
                .into_iter()
                .map(|target| Slot {
                    target,
                    stats: Arc::new(Stats::new(decay)),
                })
                .collect(),
            strategy: self.strategy.unwrap_or_else(|| Arc::new(Weighted::new())),
            epoch: Instant::now(),
            embeddable,
            all,
        })
    }
}

/// What the router does after a target failed with an error of some kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Another deployment may succeed: try the next target, then the fallback aliases.
    NextTarget,
    /// Only a model with a larger context can help: jump to `on_context_window_exceeded`.
    ContextWindow,
    /// The request itself is the problem (or the caller left): answer with this error.
    Stop,
}

/// How the router treats each error kind.
///
/// Transient and health errors (rate limited, overloaded, timeout, transport, 5xx, circuit
/// open) and an exhausted quota (which belongs to one account, not the request) move on to
/// the next deployment. The client's own mistakes (bad request, content filtered), errors of
/// the gateway's configuration (authentication, permission, not found), cancellation and
/// internal faults stop: another deployment would reject the request the same way, or the
/// fault must be seen rather than hidden by a fallback.
pub fn disposition(kind: ErrorKind) -> Disposition {
    match kind {
        ErrorKind::RateLimited
        | ErrorKind::Overloaded
        | ErrorKind::Timeout
        | ErrorKind::Transport
        | ErrorKind::ServerError
        | ErrorKind::CircuitOpen
        | ErrorKind::QuotaExceeded => Disposition::NextTarget,
        ErrorKind::ContextWindowExceeded => Disposition::ContextWindow,
        _ => Disposition::Stop,
    }
}
