//! The markdown table both the bench and `bulkhead-bench-load` print: each figure direct, via
//! the gateway and (when measured) via the bare reverse proxy, what each added, the target,
//! and whether the gateway met it.

use std::fmt::Write as _;

use crate::stats::{Samples, added_ms, ms};

/// The samples of one scenario, per target.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Straight to the upstream.
    pub direct: Samples,
    /// Through the gateway.
    pub gateway: Samples,
    /// Through the bare reverse proxy ([`crate::proxy`]), when it was measured.
    pub bare: Option<Samples>,
}

impl Comparison {
    /// From [`load::compare`](crate::load::compare)'s results for `[direct, gateway]` or
    /// `[direct, gateway, bare]`.
    pub fn from_results(results: Vec<Samples>) -> Self {
        let mut it = results.into_iter();
        Self {
            direct: it.next().unwrap_or_default(),
            gateway: it.next().unwrap_or_default(),
            bare: it.next(),
        }
    }
}

/// What the gateway's figure is held to.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Added latency at most this many milliseconds.
    AddedAtMostMs(f64),
    /// Gateway throughput at least this fraction of direct.
    RatioAtLeast(f64),
    /// Reported, not judged.
    None,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    cells: [String; 9],
}

/// The p50 and p99 rows of a latency comparison (added = via − direct at each quantile);
/// `what` names the latency, e.g. "latency" or "to last byte".
pub fn latency_rows(
    scenario: &str,
    what: &str,
    result: &mut Comparison,
    p50: Target,
    p99: Target,
) -> Vec<Row> {
    [("p50", 0.5, p50), ("p99", 0.99, p99)]
        .into_iter()
        .map(|(name, q, target)| {
            let (d, g) = (result.direct.quantile(q), result.gateway.quantile(q));
            let added = added_ms(d, g);
            let (bare, bare_added) = match result.bare.as_mut() {
                Some(b) => {
                    let b = b.quantile(q);
                    (ms(b), format!("{:+.3} ms", added_ms(d, b)))
                }
                None => ("—".to_owned(), "—".to_owned()),
            };
            let (target, verdict) = judge(target, added, 0.0);
            Row {
                cells: [
                    scenario.to_owned(),
                    format!("{name} {what} (ms)"),
                    ms(d),
                    ms(g),
                    format!("{added:+.3} ms"),
                    bare,
                    bare_added,
                    target,
                    verdict,
                ],
            }
        })
        .collect()
}

/// The throughput row of a closed-loop comparison (ratio = via / direct).
pub fn throughput_row(scenario: &str, result: &Comparison, target: Target) -> Row {
    let d = result.direct.throughput();
    let ratio = |via: f64| if d > 0.0 { via / d } else { 0.0 };
    let g = result.gateway.throughput();
    let (bare, bare_ratio) = match &result.bare {
        Some(b) => {
            let b = b.throughput();
            (
                format!("{b:.0}"),
                format!("{:.1}% of direct", ratio(b) * 100.0),
            )
        }
        None => ("—".to_owned(), "—".to_owned()),
    };
    let (target, verdict) = judge(target, 0.0, ratio(g));
    Row {
        cells: [
            scenario.to_owned(),
            "throughput (req/s)".to_owned(),
            format!("{d:.0}"),
            format!("{g:.0}"),
            format!("{:.1}% of direct", ratio(g) * 100.0),
            bare,
            bare_ratio,
            target,
            verdict,
        ],
    }
}

fn judge(target: Target, added_ms: f64, ratio: f64) -> (String, String) {
    match target {
        Target::AddedAtMostMs(limit) => (
            format!("≤ {limit:.3} ms added"),
            if added_ms <= limit {
                "met".to_owned()
            } else {
                format!("**missed by {:.3} ms**", added_ms - limit)
            },
        ),
        Target::RatioAtLeast(min) => (
            format!("≥ {:.0}% of direct", min * 100.0),
            match (min - ratio) * 100.0 {
                short if short <= 0.0 => "met".to_owned(),
                short if short < 0.05 => "**missed by < 0.1 points**".to_owned(),
                short => format!("**missed by {short:.1} points**"),
            },
        ),
        Target::None => ("—".to_owned(), String::new()),
    }
}

/// The rows as a markdown table.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | figure | direct | via gateway | gateway added | via bare proxy | bare proxy added | target (gateway) | result |\n\
         |---|---|--:|--:|--:|--:|--:|---|---|\n",
    );
    for row in rows {
        let _ = writeln!(out, "| {} |", row.cells.join(" | "));
    }
    out
}

/// One line per comparison with the request and error counts behind its figures.
pub fn counts(scenario: &str, result: &Comparison) -> String {
    let mut line = format!(
        "{scenario}: direct {} ok / {} failed, via gateway {} ok / {} failed",
        result.direct.ok(),
        result.direct.errors,
        result.gateway.ok(),
        result.gateway.errors
    );
    if let Some(bare) = &result.bare {
        let _ = write!(
            line,
            ", via bare proxy {} ok / {} failed",
            bare.ok(),
            bare.errors
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_judged_unrounded_and_shown_to_a_tenth_of_a_point() {
        let (target, verdict) = judge(Target::RatioAtLeast(0.60), 0.0, 0.595);
        assert_eq!(target, "≥ 60% of direct");
        assert_eq!(verdict, "**missed by 0.5 points**");
        assert_eq!(judge(Target::RatioAtLeast(0.35), 0.0, 0.35).1, "met");
        assert_eq!(
            judge(Target::RatioAtLeast(0.35), 0.0, 0.3499).1,
            "**missed by < 0.1 points**"
        );
    }

    #[test]
    fn added_latency_is_judged_against_its_limit() {
        assert_eq!(judge(Target::AddedAtMostMs(0.1), 0.1, 0.0).1, "met");
        assert_eq!(
            judge(Target::AddedAtMostMs(0.1), 0.119, 0.0).1,
            "**missed by 0.019 ms**"
        );
    }
}
