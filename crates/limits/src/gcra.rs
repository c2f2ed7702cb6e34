//! The rate arithmetic: the generic cell rate algorithm (GCRA).
//!
//! Why GCRA rather than a sliding window: it stores one number per key and limit (the
//! "theoretical arrival time", TAT), decides in O(1) with no clean-up, is trivially atomic in a
//! Redis script (one `GET`, one `SET`), and gives an exact retry-after (the moment the next
//! request would conform) instead of the approximation a sliding-window counter gives. A
//! sliding-window log would be exact too but stores one entry per request.
//!
//! The model: each unit (a request, or a token) advances the TAT by the emission interval
//! `T = 60 s / rate`. A request costing `n` units conforms when
//! `max(TAT, now) + n·T − now ≤ τ`, the tolerance. `τ / T` is the burst: how many units an idle
//! key may spend at once. Over any window of length `W` at most `τ/T + W/T` units pass.
//!
//! - Requests per minute default to a burst of one second's worth of the rate (at least one
//!   request): `rpm = 600` admits 10 at once, then one every 100 ms, and at most 610 in any
//!   minute (+1.7%). A burst of a whole minute would admit up to 2 × rpm in a minute.
//! - Tokens per minute default to a burst of a whole minute (`tpm` tokens), because a single
//!   request's tokens vary over orders of magnitude and one large prompt must be able to pass.
//! - A request costing more than the whole tolerance would never conform; it is admitted when
//!   the key is idle (`TAT ≤ now`) and then pays its full cost, so the key waits afterwards.
//!
//! All arithmetic is in microseconds as `f64`, exactly as the Redis store's Lua script does it
//! (Lua numbers are doubles): microseconds since the epoch stay exact integers below 2^53.

use std::time::Duration;

/// One GCRA limit: the emission interval per unit and the tolerance, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gcra {
    /// Microseconds each unit advances the TAT (`60 s / rate`).
    pub interval_us: f64,
    /// How far ahead of now the TAT may run: `burst × interval`.
    pub tolerance_us: f64,
}

/// The outcome of one [`Gcra::check`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GcraResult {
    /// Conforms; store this new TAT (microseconds since the epoch).
    Allow {
        /// The new theoretical arrival time.
        new_tat_us: f64,
    },
    /// Does not conform; the same request would conform after this many microseconds.
    Deny {
        /// Microseconds until the request would conform.
        retry_after_us: f64,
    },
}

impl Gcra {
    /// `rate` units per minute, with a burst of `burst` worth of the rate (at least one unit).
    ///
    /// A rate of 0 is treated as 1 per minute rather than dividing by zero; the gateway's config
    /// validation should reject 0.
    pub fn per_minute(rate: u64, burst: Duration) -> Self {
        let interval_us = 60_000_000.0 / rate.max(1) as f64;
        let tolerance_us = (burst.as_secs_f64() * 1e6).max(interval_us);
        Self {
            interval_us,
            tolerance_us,
        }
    }

    /// How many units an idle key may spend at once.
    pub fn burst(&self) -> f64 {
        self.tolerance_us / self.interval_us
    }

    /// Decide a request of `cost` units at `now_us` against the stored `tat_us` (0 when none).
    pub fn check(&self, tat_us: f64, now_us: f64, cost: f64) -> GcraResult {
        let base = tat_us.max(now_us);
        let increment = cost * self.interval_us;
        let new_tat_us = base + increment;
        if increment > self.tolerance_us {
            // Larger than the whole burst: only an idle key may take it.
            if tat_us > now_us {
                return GcraResult::Deny {
                    retry_after_us: tat_us - now_us,
                };
            }
            return GcraResult::Allow { new_tat_us };
        }
        if new_tat_us - now_us > self.tolerance_us {
            return GcraResult::Deny {
                retry_after_us: new_tat_us - self.tolerance_us - now_us,
            };
        }
        GcraResult::Allow { new_tat_us }
    }

    /// The TAT after charging `delta` more units (negative: a refund) at `now_us`.
    ///
    /// A refund never moves the TAT below now: an idle key cannot bank unused tokens beyond its
    /// burst.
    pub fn adjust(&self, tat_us: f64, now_us: f64, delta: f64) -> f64 {
        (tat_us.max(now_us) + delta * self.interval_us).max(now_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_000_000_000_000.0;

    #[test]
    fn idle_key_bursts_then_holds_the_steady_rate() {
        // 600 per minute: T = 100 ms, burst 1 s = 10 requests.
        let g = Gcra::per_minute(600, Duration::from_secs(1));
        assert_eq!(g.interval_us, 100_000.0);
        assert_eq!(g.burst(), 10.0);
        let mut tat = 0.0;
        for _ in 0..10 {
            match g.check(tat, NOW, 1.0) {
                GcraResult::Allow { new_tat_us } => tat = new_tat_us,
                GcraResult::Deny { .. } => panic!("burst must pass"),
            }
        }
        // The 11th at the same instant must wait exactly one interval.
        assert_eq!(
            g.check(tat, NOW, 1.0),
            GcraResult::Deny {
                retry_after_us: 100_000.0
            }
        );
        // One microsecond early is still too early; on time passes.
        assert!(matches!(
            g.check(tat, NOW + 99_999.0, 1.0),
            GcraResult::Deny { .. }
        ));
        assert!(matches!(
            g.check(tat, NOW + 100_000.0, 1.0),
            GcraResult::Allow { .. }
        ));
    }

    #[test]
    fn slow_rates_get_a_burst_of_one() {
        let g = Gcra::per_minute(30, Duration::from_secs(1));
        assert_eq!(g.burst(), 1.0);
    }

    #[test]
    fn oversized_cost_passes_only_when_idle_and_then_pays_in_full() {
        // 1000 tokens per minute with a burst of one minute: T = 60 ms per token.
        let g = Gcra::per_minute(1000, Duration::from_secs(60));
        let GcraResult::Allow { new_tat_us } = g.check(0.0, NOW, 3000.0) else {
            panic!("an idle key takes an oversized request");
        };
        assert_eq!(new_tat_us, NOW + 180_000_000.0);
        assert_eq!(
            g.check(new_tat_us, NOW + 1_000_000.0, 1.0),
            // Back within the tolerance 60 s after now - i.e. at TAT - 60 s + T.
            GcraResult::Deny {
                retry_after_us: 180_000_000.0 + 60_000.0 - 60_000_000.0 - 1_000_000.0
            }
        );
    }

    #[test]
    fn adjust_charges_and_refunds_without_banking() {
        let g = Gcra::per_minute(1000, Duration::from_secs(60));
        assert_eq!(g.adjust(NOW + 600_000.0, NOW, 10.0), NOW + 1_200_000.0);
        assert_eq!(g.adjust(NOW + 600_000.0, NOW, -5.0), NOW + 300_000.0);
        assert_eq!(g.adjust(NOW + 600_000.0, NOW, -500.0), NOW);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever the arrivals, the admitted requests in any interval `[a, b]` number at
            /// most `(τ + (b − a)) / T`: the burst plus the rate, never more.
            #[test]
            fn never_admits_more_than_burst_plus_rate(
                rate in 1u64..2_000,
                burst_ms in 0u64..5_000,
                mut gaps in proptest::collection::vec(0u64..200_000, 1..300),
            ) {
                let g = Gcra::per_minute(rate, Duration::from_millis(burst_ms));
                gaps.sort_unstable();
                let mut now = NOW;
                let mut tat = 0.0;
                let mut admitted = Vec::new();
                for gap in gaps {
                    now += gap as f64;
                    if let GcraResult::Allow { new_tat_us } = g.check(tat, now, 1.0) {
                        tat = new_tat_us;
                        admitted.push(now);
                    }
                }
                for i in 0..admitted.len() {
                    for j in i..admitted.len() {
                        let n = (j - i + 1) as f64;
                        let bound = (g.tolerance_us + admitted[j] - admitted[i]) / g.interval_us;
                        prop_assert!(n <= bound + 1e-6, "{n} admitted, bound {bound}");
                    }
                }
            }

            /// A denial's retry-after is exact: at that moment (rounded up to the microsecond,
            /// as the stores report it) the request passes, a microsecond before it does not.
            #[test]
            fn retry_after_is_exact(
                rate in 1u64..100_000,
                burst_ms in 0u64..60_000,
                ahead in 0u64..120_000_000,
                cost in 1u32..500,
            ) {
                let g = Gcra::per_minute(rate, Duration::from_millis(burst_ms));
                let tat = NOW + ahead as f64;
                if let GcraResult::Deny { retry_after_us } = g.check(tat, NOW, f64::from(cost)) {
                    prop_assert!(retry_after_us > 0.0);
                    let later = NOW + retry_after_us.ceil();
                    let allowed = matches!(
                        g.check(tat, later, f64::from(cost)),
                        GcraResult::Allow { .. }
                    );
                    prop_assert!(allowed);
                    if retry_after_us >= 2.0 {
                        let denied = matches!(
                            g.check(tat, NOW + retry_after_us - 1.0, f64::from(cost)),
                            GcraResult::Deny { .. }
                        );
                        prop_assert!(denied);
                    }
                }
            }
        }
    }
}
