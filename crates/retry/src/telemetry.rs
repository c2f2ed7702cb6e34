//! The metrics this crate emits, through the `metrics` facade (the application installs the
//! exporter). Labels stay low-cardinality: the provider name and an outcome, never a request.

use std::sync::{Arc, OnceLock};

use bulkhead_core::Result;
use metrics::{Counter, Key, Label, Level, Metadata};

use crate::CircuitState;

/// Counter: retries sent (attempts after the first); label `provider`.
pub const RETRIES_TOTAL: &str = "bulkhead_retries_total";
/// Counter: upstream attempts; labels `provider`, `outcome` (`ok` or the error kind).
pub const UPSTREAM_ATTEMPTS_TOTAL: &str = "bulkhead_upstream_attempts_total";
/// Gauge: circuit state per `provider`: 0 closed, 1 open, 2 half-open.
pub const CIRCUIT_STATE: &str = "bulkhead_circuit_state";

/// What `metrics::counter!` would pass for a counter registered in this module.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// One provider's per-attempt counters: keys built once, handles registered once per recorder.
///
/// `counter!` with a runtime label allocates the label list, hashes the key and has the
/// recorder look it up on every call; `Retry` counts every attempt, so it keeps the keys of
/// its common cases (a retry, a successful attempt) and the handles the recorder gave for
/// them, with which recorder that was. The current recorder is still looked up on each call,
/// exactly as `counter!` does, and registered afresh when it is another one, so a recorder
/// installed later (or a test's local one) is honoured.
#[derive(Debug, Clone)]
pub(crate) struct AttemptMetrics {
    provider: Arc<str>,
    retries: Key,
    attempts_ok: Key,
    registered: Arc<OnceLock<Registered>>,
}

/// The handles of [`AttemptMetrics`]' keys, and the address of the recorder that gave them.
#[derive(Debug)]
struct Registered {
    recorder: usize,
    retries: Counter,
    attempts_ok: Counter,
}

impl AttemptMetrics {
    pub(crate) fn new(provider: Arc<str>) -> Self {
        let label = || Label::new("provider", provider.clone());
        Self {
            retries: Key::from_parts(RETRIES_TOTAL, vec![label()]),
            attempts_ok: Key::from_parts(
                UPSTREAM_ATTEMPTS_TOTAL,
                vec![label(), Label::new("outcome", "ok")],
            ),
            provider,
            registered: Arc::default(),
        }
    }

    /// Increment the counter `pick` chooses, with the current recorder's handle.
    fn increment(&self, pick: impl Fn(&Registered) -> &Counter) {
        metrics::with_recorder(|recorder| {
            let id = std::ptr::from_ref(recorder).cast::<()>() as usize;
            let register = || Registered {
                recorder: id,
                retries: recorder.register_counter(&self.retries, &METADATA),
                attempts_ok: recorder.register_counter(&self.attempts_ok, &METADATA),
            };
            let registered = self.registered.get_or_init(register);
            if registered.recorder == id {
                pick(registered).increment(1);
            } else {
                pick(&register()).increment(1);
            }
        });
    }

    /// Count one retry (an attempt after the first).
    pub(crate) fn retry(&self) {
        self.increment(|r| &r.retries);
    }

    /// Count one attempt, by its outcome.
    pub(crate) fn attempt<T>(&self, result: &Result<T>) {
        match result {
            Ok(_) => self.increment(|r| &r.attempts_ok),
            Err(error) => metrics::counter!(
                UPSTREAM_ATTEMPTS_TOTAL,
                "provider" => self.provider.clone(),
                "outcome" => error.kind().as_str()
            )
            .increment(1),
        }
    }
}

pub(crate) fn circuit_state(provider: &Arc<str>, state: CircuitState) {
    metrics::gauge!(CIRCUIT_STATE, "provider" => provider.clone()).set(state.as_gauge());
}
