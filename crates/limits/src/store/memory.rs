//! Counters in this process's memory: exact and fast, but each replica counts alone.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bulkhead_core::async_trait;

use super::{Admission, Lease, Settlement, Store, StoreError, Verdict};
use crate::denied::LimitKind;
use crate::gcra::GcraResult;

/// Per-key counters behind one mutex, held for a few arithmetic operations per admission.
///
/// Concurrency slots are a plain count (a process cannot outlive its own slots), so
/// [`Store::leases_expire`] is false and no renewal task runs.
#[derive(Debug, Default)]
pub struct MemoryStore {
    keys: Mutex<HashMap<String, KeyState>>,
}

#[derive(Debug, Default)]
struct KeyState {
    requests_tat_us: f64,
    tokens_tat_us: f64,
    in_flight: u32,
    budget_period_start: i64,
    spent_usd: f64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_key<R>(&self, key: &str, f: impl FnOnce(&mut KeyState) -> R) -> R {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(state) = keys.get_mut(key) {
            return f(state);
        }
        f(keys.entry(key.to_owned()).or_default())
    }

    /// Admission, synchronously (the async trait method only wraps this).
    pub fn admit_now(&self, a: &Admission<'_>) -> Verdict {
        self.with_key(a.key, |s| {
            if let Some(budget) = &a.budget {
                if s.budget_period_start != budget.period_start_secs {
                    s.budget_period_start = budget.period_start_secs;
                    s.spent_usd = 0.0;
                }
                if s.spent_usd >= budget.limit_usd {
                    return Verdict::Denied {
                        limit: LimitKind::Budget,
                        retry_after: Duration::ZERO,
                    };
                }
            }
            if let Some(c) = &a.concurrency
                && s.in_flight >= c.max
            {
                return Verdict::Denied {
                    limit: LimitKind::Concurrency,
                    retry_after: Duration::ZERO,
                };
            }
            let mut denied: Option<(LimitKind, f64)> = None;
            let mut requests_tat = None;
            if let Some(g) = &a.requests {
                match g.check(s.requests_tat_us, a.now_us, 1.0) {
                    GcraResult::Allow { new_tat_us } => requests_tat = Some(new_tat_us),
                    GcraResult::Deny { retry_after_us } => {
                        denied = Some((LimitKind::Requests, retry_after_us));
                    }
                }
            }
            let mut tokens_tat = None;
            if let Some((g, cost)) = &a.tokens {
                match g.check(s.tokens_tat_us, a.now_us, f64::from(*cost)) {
                    GcraResult::Allow { new_tat_us } => tokens_tat = Some(new_tat_us),
                    GcraResult::Deny { retry_after_us } => {
                        if denied.is_none_or(|(_, r)| retry_after_us > r) {
                            denied = Some((LimitKind::Tokens, retry_after_us));
                        }
                    }
                }
            }
            if let Some((limit, retry_after_us)) = denied {
                return Verdict::Denied {
                    limit,
                    retry_after: Duration::from_micros(retry_after_us.ceil() as u64),
                };
            }
            if let Some(t) = requests_tat {
                s.requests_tat_us = t;
            }
            if let Some(t) = tokens_tat {
                s.tokens_tat_us = t;
            }
            if a.concurrency.is_some() {
                s.in_flight += 1;
            }
            Verdict::Admitted
        })
    }

    /// Settlement, synchronously.
    pub fn settle_now(&self, st: &Settlement<'_>) {
        self.with_key(st.key, |s| {
            if let Some((g, delta)) = &st.tokens {
                s.tokens_tat_us = g.adjust(s.tokens_tat_us, st.now_us, *delta as f64);
            }
            if let Some((budget, cost)) = &st.budget {
                if s.budget_period_start != budget.period_start_secs {
                    s.budget_period_start = budget.period_start_secs;
                    s.spent_usd = 0.0;
                }
                s.spent_usd += cost;
            }
        });
    }

    /// Slots of `key` in use now.
    pub fn in_flight(&self, key: &str) -> u32 {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(key).map_or(0, |s| s.in_flight)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn admit(&self, admission: &Admission<'_>) -> Result<Verdict, StoreError> {
        Ok(self.admit_now(admission))
    }

    async fn settle(&self, settlement: &Settlement<'_>) -> Result<(), StoreError> {
        self.settle_now(settlement);
        Ok(())
    }

    fn release(&self, key: &str, _lease: &Lease) {
        self.with_key(key, |s| s.in_flight = s.in_flight.saturating_sub(1));
    }
}
