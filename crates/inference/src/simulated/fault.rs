//! Scripted failures of the simulated provider, drawn per call from a seeded generator.
//!
//! The draw depends only on the seed and the call's number, so a test that sets
//! `probability: 0.3` sees the same calls fail on every run.

use std::time::Duration;

use bulkhead_core::{Error, ErrorKind};

use super::rng::SplitMix64;

/// One kind of failure the simulated provider can inject, with how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// The chance, from 0.0 to 1.0, that a call fails this way.
    pub probability: f64,
}

impl Fault {
    /// A fault of `kind` with the given probability.
    pub fn new(kind: FaultKind, probability: f64) -> Self {
        Self { kind, probability }
    }

    /// A fault that hits every call.
    pub fn always(kind: FaultKind) -> Self {
        Self::new(kind, 1.0)
    }
}

/// What an injected fault does to a call.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// `Err(RateLimited)` with status 429 and this retry-after.
    RateLimited {
        /// The wait the "upstream" asks for.
        retry_after: Duration,
    },
    /// `Err(ServerError)` with status 500.
    ServerError,
    /// `Err(Overloaded)` with status 503.
    Unavailable,
    /// `Err(Timeout)`, at once (no time is spent waiting).
    Timeout,
    /// A stream yields this many chunks, then `Err(Transport)`; a JSON call fails with
    /// `Transport`.
    StreamCut {
        /// Chunks delivered before the cut, the role chunk included.
        after_chunks: usize,
    },
}

/// The fault that hits call number `call`, if any: each fault in order gets one draw against
/// its probability, and the first that hits wins.
pub(super) fn draw(faults: &[Fault], seed: u64, call: u64) -> Option<&FaultKind> {
    if faults.is_empty() {
        return None;
    }
    let mut rng = SplitMix64::new(seed ^ call.wrapping_mul(0xd1b5_4a32_d192_ed03));
    faults
        .iter()
        .find(|fault| rng.next_f64() < fault.probability)
        .map(|fault| &fault.kind)
}

/// The error a fault produces for a call that is not a stream cut mid-way.
pub(super) fn fault_error(kind: &FaultKind, provider: &str) -> Error {
    let message = |what: &str| format!("provider `{provider}`: {what} (simulated fault)");
    match kind {
        FaultKind::RateLimited { retry_after } => {
            Error::new(ErrorKind::RateLimited, message("rate limit reached"))
                .with_status(429)
                .with_retry_after(*retry_after)
        }
        FaultKind::ServerError => {
            Error::new(ErrorKind::ServerError, message("internal server error")).with_status(500)
        }
        FaultKind::Unavailable => {
            Error::new(ErrorKind::Overloaded, message("service unavailable")).with_status(503)
        }
        FaultKind::Timeout => Error::timeout(message("timed out")),
        FaultKind::StreamCut { .. } => Error::transport(message("connection cut")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_are_honoured_roughly_and_deterministically() {
        let faults = [Fault::new(FaultKind::ServerError, 0.3)];
        let hits = |seed| {
            (0..10_000)
                .filter(|&call| draw(&faults, seed, call).is_some())
                .count()
        };
        let first = hits(7);
        assert_eq!(first, hits(7));
        assert!((2_700..3_300).contains(&first), "{first} hits");
        assert!(draw(&[Fault::new(FaultKind::Timeout, 0.0)], 1, 1).is_none());
        assert!(draw(&[Fault::always(FaultKind::Timeout)], 1, 1).is_some());
    }
}
