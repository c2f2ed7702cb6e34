//! Which target of an alias to try next: the [`Strategy`] trait and the built-in strategies.
//!
//! A strategy only chooses; the router does everything else (health, failover, recording). It
//! is asked once per attempt with a [`Candidates`] view of the targets not yet tried and not
//! cooling down, so failover order is simply "ask again with one fewer candidate". Picking
//! runs on every request: the built-ins read atomics, never lock, and never allocate.
//!
//! | strategy | picks | use it when |
//! |---|---|---|
//! | [`Weighted`] (default) | at random, in proportion to `weight` | shares should follow weights (canaries, quotas split by contract) |
//! | [`RoundRobin`] | each target in turn, ignoring weights | identical deployments, predictable spread |
//! | [`LeastInFlight`] | fewest requests in flight per unit of weight | long, uneven requests on capacity-bound backends (self-hosted vLLM) |
//! | [`P2c`] | the cheaper of two random targets by peak-EWMA latency x (in flight + 1) | deployments whose speed differs or changes |

mod least_in_flight;
mod p2c;
mod rng;
mod round_robin;
mod weighted;

use std::fmt;
use std::time::Duration;

use bulkhead_core::Deployment;

pub use least_in_flight::LeastInFlight;
pub use p2c::P2c;
pub use round_robin::RoundRobin;
pub use weighted::Weighted;

pub(crate) use rng::Rng;

use crate::router::Slot;

/// Chooses which target serves the next attempt.
///
/// Implement it to plug in your own balancing; `pick` must return the index of an available
/// candidate, or `None` when there is none. The router never asks with zero candidates.
pub trait Strategy: Send + Sync + fmt::Debug {
    /// The index (into the alias's targets) of the target to try next.
    fn pick(&self, candidates: &Candidates<'_>) -> Option<usize>;
}

/// The targets of one alias as a strategy sees them for one pick: all targets with their live
/// load, and which of them may be chosen now.
#[derive(Debug)]
pub struct Candidates<'a> {
    slots: &'a [Slot],
    available: u64,
    now_ns: u64,
}

impl<'a> Candidates<'a> {
    pub(crate) fn new(slots: &'a [Slot], available: u64, now_ns: u64) -> Self {
        Self {
            slots,
            available,
            now_ns,
        }
    }

    /// How many targets the alias has, available or not; indices run below this.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the alias has no targets at all.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// How many targets may be chosen now.
    pub fn available_count(&self) -> usize {
        self.available.count_ones() as usize
    }

    /// Whether target `i` may be chosen now (not tried yet for this request, not cooling down).
    pub fn is_available(&self, i: usize) -> bool {
        i < 64 && self.available & (1 << i) != 0
    }

    /// The indices that may be chosen, in order.
    pub fn available(&self) -> impl Iterator<Item = usize> + '_ {
        let mut bits = self.available;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(i)
        })
    }

    /// The `n`-th available index (0-based), if there are that many.
    pub fn nth_available(&self, n: usize) -> Option<usize> {
        self.available().nth(n)
    }

    /// Target `i`'s configured weight.
    pub fn weight(&self, i: usize) -> u32 {
        self.slots[i].target.weight
    }

    /// Requests (and open streams) target `i` is serving right now.
    pub fn in_flight(&self, i: usize) -> u32 {
        self.slots[i]
            .stats
            .in_flight
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Target `i`'s peak-EWMA latency estimate, decayed to now; zero before any sample.
    pub fn latency(&self, i: usize) -> Duration {
        Duration::from_nanos(self.latency_nanos(i) as u64)
    }

    /// [`latency`](Self::latency) in nanoseconds as a float, for cheap comparisons.
    pub fn latency_nanos(&self, i: usize) -> f64 {
        self.slots[i].stats.latency.get(self.now_ns)
    }

    /// Target `i`'s deployment.
    pub fn deployment(&self, i: usize) -> &Deployment {
        &self.slots[i].target.deployment
    }
}
