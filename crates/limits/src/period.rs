//! UTC calendar periods for budgets: which period a moment falls in, when it ends, its label.
//!
//! Written out here rather than pulling in a date library: it is two conversions (Howard
//! Hinnant's `days_from_civil` / `civil_from_days`, public-domain and exact for the proleptic
//! Gregorian calendar) and the tests pin the boundaries that matter (month ends, leap years,
//! New Year).

use std::fmt;
use std::time::Duration;

use crate::limits::BudgetPeriod;

/// One concrete period: `[start, end)` in seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// Seconds since the epoch at which it starts.
    pub start_secs: i64,
    /// Seconds since the epoch at which the next period starts.
    pub end_secs: i64,
    /// `2026-11` for a month, `2026-11-30` for a day: used in store keys.
    pub label: String,
}

impl Period {
    /// The period of `kind` that contains `now` (time since the epoch).
    pub fn containing(kind: BudgetPeriod, now: Duration) -> Self {
        let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let days = secs.div_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        match kind {
            BudgetPeriod::Day => Period {
                start_secs: days * 86_400,
                end_secs: (days + 1) * 86_400,
                label: format!("{y:04}-{m:02}-{d:02}"),
            },
            BudgetPeriod::Month => {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                Period {
                    start_secs: days_from_civil(y, m, 1) * 86_400,
                    end_secs: days_from_civil(ny, nm, 1) * 86_400,
                    label: format!("{y:04}-{m:02}"),
                }
            }
        }
    }

    /// Time from `now` until the period ends.
    pub fn remaining(&self, now: Duration) -> Duration {
        let end = Duration::from_secs(u64::try_from(self.end_secs).unwrap_or(0));
        end.saturating_sub(now)
    }

    /// The end as RFC 3339 in UTC, e.g. `2026-12-01T00:00:00Z`.
    pub fn end_rfc3339(&self) -> impl fmt::Display + use<> {
        Rfc3339(self.end_secs)
    }
}

struct Rfc3339(i64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let rem = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

/// Days since 1970-01-01 of the civil date `y-m-d`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is 1..=31 and m 1..=12 by construction.
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, m: u32, d: u32, hms: (i64, i64, i64)) -> Duration {
        let secs = days_from_civil(y, m, d) * 86_400 + hms.0 * 3600 + hms.1 * 60 + hms.2;
        Duration::from_secs(u64::try_from(secs).expect("after 1970"))
    }

    #[test]
    fn known_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // 2026-11-30 is 20_787 days after the epoch.
        assert_eq!(days_from_civil(2026, 11, 30), 20_787);
        for z in [-1, 0, 59, 365, 11_016, 11_017, 20_787, 47_541, 100_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn month_ends_at_the_first_of_the_next_month() {
        let p = Period::containing(BudgetPeriod::Month, at(2026, 11, 30, (23, 59, 59)));
        assert_eq!(p.label, "2026-11");
        assert_eq!(p.end_rfc3339().to_string(), "2026-12-01T00:00:00Z");
        let dec = Period::containing(BudgetPeriod::Month, at(2026, 12, 31, (12, 0, 0)));
        assert_eq!(dec.end_rfc3339().to_string(), "2027-01-01T00:00:00Z");
        let feb = Period::containing(BudgetPeriod::Month, at(2028, 2, 29, (0, 0, 0)));
        assert_eq!(feb.label, "2028-02");
        assert_eq!(feb.end_secs - feb.start_secs, 29 * 86_400);
        assert_eq!(
            Period::containing(BudgetPeriod::Month, at(2026, 2, 1, (0, 0, 0))).end_secs
                - Period::containing(BudgetPeriod::Month, at(2026, 2, 1, (0, 0, 0))).start_secs,
            28 * 86_400
        );
    }

    #[test]
    fn day_runs_midnight_to_midnight_utc() {
        let now = at(2026, 11, 30, (9, 58, 0));
        let p = Period::containing(BudgetPeriod::Day, now);
        assert_eq!(p.label, "2026-11-30");
        assert_eq!(p.end_rfc3339().to_string(), "2026-12-01T00:00:00Z");
        assert_eq!(p.remaining(now), Duration::from_secs(14 * 3600 + 2 * 60));
        let next = Period::containing(BudgetPeriod::Day, at(2026, 12, 1, (0, 0, 0)));
        assert_eq!(next.label, "2026-12-01");
        assert_eq!(next.start_secs, p.end_secs);
    }
}
