//! The metrics this crate emits, through the `metrics` facade (the application installs the
//! exporter). Labels stay low-cardinality: the provider name and an outcome, never a request.

use std::sync::Arc;

use bulkhead_core::Result;

use crate::CircuitState;

/// Counter: retries sent (attempts after the first); label `provider`.
pub const RETRIES_TOTAL: &str = "bulkhead_retries_total";
/// Counter: upstream attempts; labels `provider`, `outcome` (`ok` or the error kind).
pub const UPSTREAM_ATTEMPTS_TOTAL: &str = "bulkhead_upstream_attempts_total";
/// Gauge: circuit state per `provider`: 0 closed, 1 open, 2 half-open.
pub const CIRCUIT_STATE: &str = "bulkhead_circuit_state";

pub(crate) fn retry(provider: &Arc<str>) {
    metrics::counter!(RETRIES_TOTAL, "provider" => provider.clone()).increment(1);
}

pub(crate) fn attempt<T>(provider: &Arc<str>, result: &Result<T>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(error) => error.kind().as_str(),
    };
    metrics::counter!(UPSTREAM_ATTEMPTS_TOTAL, "provider" => provider.clone(), "outcome" => outcome)
        .increment(1);
}

pub(crate) fn circuit_state(provider: &Arc<str>, state: CircuitState) {
    metrics::gauge!(CIRCUIT_STATE, "provider" => provider.clone()).set(state.as_gauge());
}
