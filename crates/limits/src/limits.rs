//! What a key may do: the plain numbers the gateway converts its `[[keys]]` entries into.

use std::fmt;

/// The limits of one key. Every field is optional; `Limits::default()` limits nothing.
///
/// This struct knows nothing of TOML: the gateway converts its config into it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Requests per minute (GCRA; see [`crate::gcra`] for the burst this allows).
    pub rpm: Option<u32>,
    /// Tokens per minute, prompt and completion together: estimated before the call and
    /// corrected with the reported usage after it.
    pub tpm: Option<u64>,
    /// Requests in flight at once (a stream counts until it ends).
    pub max_concurrent: Option<u32>,
    /// USD spend allowed per calendar period.
    pub budget: Option<Budget>,
}

impl Limits {
    /// Whether no limit is set, so admission has nothing to check.
    pub fn is_unlimited(&self) -> bool {
        self.rpm.is_none()
            && self.tpm.is_none()
            && self.max_concurrent.is_none()
            && self.budget.is_none()
    }
}

/// A USD budget per UTC calendar period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// The spend allowed per period, in US dollars.
    pub usd: f64,
    /// The period after which the spend starts again from zero.
    pub period: BudgetPeriod,
}

/// A UTC calendar period: a budget resets at 00:00 UTC of the next day or the 1st of the next
/// month, not 24 hours or 30 days after the first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BudgetPeriod {
    /// From 00:00:00 UTC to the next 00:00:00 UTC.
    Day,
    /// From the 1st of a month, 00:00:00 UTC, to the 1st of the next.
    Month,
}

impl BudgetPeriod {
    /// `"day"` or `"month"`, as in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Month => "month",
        }
    }
}

impl fmt::Display for BudgetPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
