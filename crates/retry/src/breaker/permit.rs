//! [`Permit`]: one admitted call, and how its outcome is reported back to the circuit.

use super::Circuit;
use crate::Retryable;

/// Permission to make one call; report how it went with [`record`](Permit::record),
/// [`success`](Permit::success) or [`failure`](Permit::failure). Dropping it unreported
/// (a cancelled call) counts nothing and frees a half-open probe slot.
#[derive(Debug)]
pub struct Permit {
    circuit: Circuit,
    generation: u64,
    probe: bool,
    done: bool,
}

impl Permit {
    pub(super) fn new(circuit: Circuit, generation: u64, probe: bool) -> Self {
        Self {
            circuit,
            generation,
            probe,
            done: false,
        }
    }

    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call succeeded.
    pub fn success(self) {
        self.report(Some(false));
    }

    /// The call failed in a way that says the upstream is unhealthy.
    pub fn failure(self) {
        self.report(Some(true));
    }

    /// Classify and report a call's result (see the module docs for what counts).
    pub fn record<T, E: Retryable>(self, result: &Result<T, E>) {
        match result {
            Ok(_) => self.success(),
            Err(error) if error.is_neutral() => drop(self),
            Err(error) if error.is_upstream_failure() => self.failure(),
            Err(_) => self.success(),
        }
    }

    fn report(mut self, outcome: Option<bool>) {
        self.done = true;
        self.circuit.finish(self.generation, self.probe, outcome);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done {
            self.circuit.finish(self.generation, self.probe, None);
        }
    }
}
