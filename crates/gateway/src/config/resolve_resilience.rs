//! The `[retry]` and `[circuit_breaker]` parts of resolving, for the sections and for each
//! provider's `retry = { ... }` / `circuit_breaker = { ... }` override. A key left out keeps
//! the value underneath it: a section's keys fall back to the documented defaults, and a
//! provider's keys to the section's, so an override names only what differs.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::file;
use super::resolve::Resolver;
use super::types::{CircuitBreakerSettings, RetrySettings};

/// The most attempts a config may ask for; more is a typo, not a policy.
const MAX_ATTEMPTS: u64 = 100;

impl Resolver<'_, '_> {
    /// `base` with the keys of `r` applied, each checked.
    pub(super) fn retry(&mut self, base: RetrySettings, r: &file::Retry) -> RetrySettings {
        let mut out = base;
        if let Some(v) = &r.max_attempts {
            match *v.get_ref() {
                n @ 1..=MAX_ATTEMPTS => out.max_attempts = n as u32,
                _ => self.diags.at(
                    v.span(),
                    format!(
                        "`max_attempts` must be between 1 and {MAX_ATTEMPTS} (1 disables retries)"
                    ),
                ),
            }
        }
        if let Some(v) = &r.initial_backoff_ms {
            out.initial_backoff =
                self.positive_millis(v, "initial_backoff_ms", base.initial_backoff);
        }
        if let Some(v) = &r.max_backoff_ms {
            out.max_backoff = self.positive_millis(v, "max_backoff_ms", base.max_backoff);
        }
        if let Some(v) = &r.retry_after_cap_ms {
            out.retry_after_cap =
                self.positive_millis(v, "retry_after_cap_ms", base.retry_after_cap);
        }
        if out.max_backoff < out.initial_backoff {
            // Only a key written here can have caused it: the base was already consistent.
            let place = span(&r.max_backoff_ms).or_else(|| span(&r.initial_backoff_ms));
            if let Some(place) = place {
                self.diags.at(
                    place,
                    format!(
                        "`max_backoff_ms` ({}) must not be less than `initial_backoff_ms` ({})",
                        out.max_backoff.as_millis(),
                        out.initial_backoff.as_millis()
                    ),
                );
            }
        }
        if let Some(v) = &r.budget_ratio {
            let value = *v.get_ref();
            if (0.0..=1.0).contains(&value) {
                out.budget_ratio = value;
            } else {
                self.diags
                    .at(v.span(), "`budget_ratio` must be between 0 and 1");
            }
        }
        if let Some(v) = &r.budget_min_per_sec {
            let value = *v.get_ref();
            if value.is_finite() && value >= 0.0 {
                out.budget_min_per_sec = value;
            } else {
                self.diags
                    .at(v.span(), "`budget_min_per_sec` must be a number, 0 or more");
            }
        }
        out
    }

    /// `base` with the keys of `c` applied, each checked.
    pub(super) fn circuit_breaker(
        &mut self,
        base: CircuitBreakerSettings,
        c: &file::CircuitBreaker,
    ) -> CircuitBreakerSettings {
        let mut out = base;
        if let Some(v) = &c.failure_ratio {
            let value = *v.get_ref();
            // 0 would open the circuit on min_requests successes.
            if value > 0.0 && value <= 1.0 {
                out.failure_ratio = value;
            } else {
                self.diags.at(
                    v.span(),
                    "`failure_ratio` must be greater than 0 and at most 1",
                );
            }
        }
        if let Some(v) = &c.min_requests {
            match u32::try_from(*v.get_ref()) {
                Ok(n) if n > 0 => out.min_requests = n,
                _ => self
                    .diags
                    .at(v.span(), "`min_requests` must be between 1 and 4294967295"),
            }
        }
        if let Some(v) = &c.window_secs {
            out.window = self.positive_secs(v, "window_secs", base.window);
        }
        if let Some(v) = &c.open_secs {
            out.open = self.positive_secs(v, "open_secs", base.open);
        }
        out
    }

    fn positive_millis(&mut self, v: &Spanned<u64>, what: &str, keep: Duration) -> Duration {
        if *v.get_ref() == 0 {
            self.diags
                .at(v.span(), format!("`{what}` must be greater than 0"));
            keep
        } else {
            Duration::from_millis(*v.get_ref())
        }
    }

    fn positive_secs(&mut self, v: &Spanned<u64>, what: &str, keep: Duration) -> Duration {
        if *v.get_ref() == 0 {
            self.diags
                .at(v.span(), format!("`{what}` must be greater than 0"));
            keep
        } else {
            Duration::from_secs(*v.get_ref())
        }
    }
}

fn span<T>(value: &Option<Spanned<T>>) -> Option<Range<usize>> {
    value.as_ref().map(Spanned::span)
}
