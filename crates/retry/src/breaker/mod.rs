//! The circuit breaker: stop calling an upstream that is failing, and probe it back to health.
//!
//! While an upstream is down, every call to it costs a timeout and adds load to its recovery;
//! failing at once (with `ErrorKind::CircuitOpen`, which the router reads as "skip me") is
//! faster for the caller and kinder to the upstream. [`Circuit`] is the state machine, one per
//! upstream and shared by every call to it; [`CircuitBreaker`] applies it to a model.
//!
//! - **Closed**: calls pass; outcomes are counted over a sliding `window`. Once at least
//!   `min_requests` outcomes are in the window and the share of failures reaches
//!   `failure_ratio`, the circuit opens.
//! - **Open**: calls are rejected at once, for `open` time.
//! - **Half-open**: up to `half_open_probes` calls are let through. When that many have
//!   succeeded the circuit closes (with a fresh window); the first probe to fail reopens it.
//!
//! Failures are what [`Retryable::is_upstream_failure`] says (for Bulkhead's errors: the
//! retryable, server-side kinds); a rejected bad request proves the upstream is up, and a
//! cancelled call proves nothing, so it is not counted.

mod model;
mod permit;
mod window;

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::{Retryable, telemetry};
use window::Window;

pub use model::{CircuitBreaker, CircuitBreakerLayer};
pub use permit::Permit;

/// Settings of a [`Circuit`]. `Default` matches the `[circuit_breaker]` example of the
/// configuration file, with 3 half-open probes.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitConfig {
    /// The share of failures (0.0 to 1.0) that opens the circuit.
    pub failure_ratio: f64,
    /// Outcomes that must be in the window before the ratio is judged.
    pub min_requests: u32,
    /// How far back outcomes are counted.
    pub window: Duration,
    /// How long the circuit stays open before probing.
    pub open: Duration,
    /// Calls let through while half-open; that many successes close the circuit.
    pub half_open_probes: u32,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        Self {
            failure_ratio: 0.5,
            min_requests: 20,
            window: Duration::from_secs(30),
            open: Duration::from_secs(15),
            half_open_probes: 3,
        }
    }
}

/// The observable state of a circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls pass and are counted.
    Closed,
    /// Calls are rejected at once.
    Open,
    /// A bounded number of probe calls pass.
    HalfOpen,
}

impl CircuitState {
    /// The value of the `bulkhead_circuit_state` gauge: 0 closed, 1 open, 2 half-open.
    pub fn as_gauge(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::Open => 1.0,
            CircuitState::HalfOpen => 2.0,
        }
    }
}

/// A call refused because the circuit is open (or half-open with every probe taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// How long until the circuit half-opens, when it is open.
    pub retry_in: Option<Duration>,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("circuit open")
    }
}

impl std::error::Error for Rejected {}

/// The error of [`Circuit::call`].
#[derive(Debug)]
pub enum CircuitError<E> {
    /// The circuit refused the call; the operation did not run.
    Rejected(Rejected),
    /// The operation ran and failed.
    Failed(E),
}

/// One upstream's circuit breaker state machine. Cloning shares the state.
#[derive(Debug, Clone)]
pub struct Circuit(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    config: CircuitConfig,
    provider: Arc<str>,
    state: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    window: Window,
    /// Bumped on every transition, so late outcomes of calls admitted earlier are ignored.
    generation: u64,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { admitted: u32, succeeded: u32 },
}

impl Circuit {
    /// A closed circuit for `provider` (the label of its `bulkhead_circuit_state` gauge).
    pub fn new(provider: impl Into<Arc<str>>, config: CircuitConfig) -> Self {
        let provider = provider.into();
        telemetry::circuit_state(&provider, CircuitState::Closed);
        Self(Arc::new(Shared {
            state: Mutex::new(Inner {
                phase: Phase::Closed,
                window: Window::new(config.window),
                generation: 0,
            }),
            config,
            provider,
        }))
    }

    /// The provider this circuit guards.
    pub fn provider(&self) -> &Arc<str> {
        &self.0.provider
    }

    /// The settings.
    pub fn config(&self) -> &CircuitConfig {
        &self.0.config
    }

    /// The state now (an open circuit whose time is up reads as half-open).
    pub fn state(&self) -> CircuitState {
        let mut inner = self.lock();
        self.expire(&mut inner, Instant::now());
        match inner.phase {
            Phase::Closed => CircuitState::Closed,
            Phase::Open { .. } => CircuitState::Open,
            Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// Ask to make a call: a [`Permit`] to report its outcome with, or [`Rejected`].
    pub fn try_acquire(&self) -> Result<Permit, Rejected> {
        let now = Instant::now();
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        let probe = match &mut inner.phase {
            Phase::Closed => false,
            Phase::Open { until } => {
                return Err(Rejected {
                    retry_in: Some(until.duration_since(now)),
                });
            }
            Phase::HalfOpen {
                admitted,
                succeeded,
            } => {
                if *admitted + *succeeded >= self.0.config.half_open_probes {
                    return Err(Rejected { retry_in: None });
                }
                *admitted += 1;
                true
            }
        };
        Ok(Permit::new(self.clone(), inner.generation, probe))
    }

    /// Run `operation` through the circuit, counting its outcome.
    pub async fn call<T, E, Fut>(&self, operation: Fut) -> Result<T, CircuitError<E>>
    where
        E: Retryable,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire().map_err(CircuitError::Rejected)?;
        let result = operation.await;
        permit.record(&result);
        result.map_err(CircuitError::Failed)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn expire(&self, inner: &mut Inner, now: Instant) {
        if let Phase::Open { until } = inner.phase
            && now >= until
        {
            let phase = Phase::HalfOpen {
                admitted: 0,
                succeeded: 0,
            };
            self.transition(inner, phase);
        }
    }

    fn transition(&self, inner: &mut Inner, phase: Phase) {
        inner.phase = phase;
        inner.generation += 1;
        let state = match phase {
            Phase::Closed => CircuitState::Closed,
            Phase::Open { .. } => CircuitState::Open,
            Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        };
        telemetry::circuit_state(&self.0.provider, state);
    }

    pub(super) fn finish(&self, generation: u64, probe: bool, outcome: Option<bool>) {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        let config = &self.0.config;
        match (inner.phase, outcome) {
            (Phase::Closed, Some(failure)) => {
                inner.window.record(now, failure);
                let (total, failures) = inner.window.counts(now);
                if total >= u64::from(config.min_requests)
                    && failures as f64 >= config.failure_ratio * total as f64
                {
                    self.open(&mut inner, now);
                }
            }
            (Phase::HalfOpen { .. }, Some(true)) if probe => self.open(&mut inner, now),
            (
                Phase::HalfOpen {
                    admitted,
                    succeeded,
                },
                outcome,
            ) if probe => {
                let succeeded = succeeded + u32::from(outcome == Some(false));
                if succeeded >= config.half_open_probes {
                    inner.window.clear();
                    self.transition(&mut inner, Phase::Closed);
                } else {
                    inner.phase = Phase::HalfOpen {
                        admitted: admitted - 1,
                        succeeded,
                    };
                }
            }
            _ => {}
        }
    }

    fn open(&self, inner: &mut Inner, now: Instant) {
        let until = now + self.0.config.open;
        self.transition(inner, Phase::Open { until });
    }
}
