//! Outcome counts over a sliding time window, kept in a ring of time slots.
//!
//! A slot is reused once it is a full window old, so the counts cover the last `window`
//! to within one slot's length, in constant memory however busy the upstream is.

use std::time::Duration;

use tokio::time::Instant;

const SLOTS: u32 = 10;

#[derive(Debug)]
pub(super) struct Window {
    slot_len: Duration,
    origin: Instant,
    slots: [Slot; SLOTS as usize],
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    epoch: u64,
    total: u64,
    failures: u64,
}

impl Window {
    pub(super) fn new(window: Duration) -> Self {
        Self {
            slot_len: (window / SLOTS).max(Duration::from_millis(1)),
            origin: Instant::now(),
            slots: [Slot::default(); SLOTS as usize],
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        (now.duration_since(self.origin).as_nanos() / self.slot_len.as_nanos()) as u64
    }

    /// Count one outcome at `now`.
    pub(super) fn record(&mut self, now: Instant, failure: bool) {
        let epoch = self.epoch(now);
        let slot = &mut self.slots[(epoch % u64::from(SLOTS)) as usize];
        if slot.epoch != epoch {
            *slot = Slot {
                epoch,
                ..Slot::default()
            };
        }
        slot.total += 1;
        slot.failures += u64::from(failure);
    }

    /// Outcomes and failures within the window ending at `now`.
    pub(super) fn counts(&self, now: Instant) -> (u64, u64) {
        let epoch = self.epoch(now);
        self.slots
            .iter()
            .filter(|slot| slot.total > 0 && epoch - slot.epoch < u64::from(SLOTS))
            .fold((0, 0), |(t, f), slot| (t + slot.total, f + slot.failures))
    }

    /// Forget every outcome (on closing after a recovery).
    pub(super) fn clear(&mut self) {
        self.slots = [Slot::default(); SLOTS as usize];
    }
}
