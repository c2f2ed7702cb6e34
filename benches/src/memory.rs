//! The soak's memory figures: a process's RSS from `/proc`, and whether samples of it over a
//! run stay flat (used by the `bulkhead-bench-soak` binary; the rule is in its docs).

use std::time::Duration;

use anyhow::{Context as _, anyhow};

/// Flat: the last sample at most this fraction of the base above it, or [`FLAT_MIN_MIB`].
pub const FLAT_FRACTION: f64 = 0.10;
/// Flat: the smallest allowance, in MiB.
pub const FLAT_MIN_MIB: f64 = 4.0;

/// The two figures of `/proc/PID/status` sampled, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most ever resident.
    pub hwm_kib: u64,
}

impl Memory {
    /// `VmRSS` in MiB.
    pub fn rss_mib(self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }

    /// `VmHWM` in MiB.
    pub fn hwm_mib(self) -> f64 {
        self.hwm_kib as f64 / 1024.0
    }
}

/// `VmRSS` and `VmHWM` from the text of a `/proc/PID/status` (lines like `VmRSS:\t 1234 kB`).
pub fn parse_status(status: &str) -> Result<Memory, String> {
    let field = |name: &str| {
        let value = status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .ok_or_else(|| format!("no {name} line (a zombie or kernel thread has none)"))?;
        let mut words = value.split_whitespace();
        match (
            words.next().map(str::parse::<u64>),
            words.next(),
            words.next(),
        ) {
            (Some(Ok(kib)), Some("kB"), None) => Ok(kib),
            _ => Err(format!("unexpected {name} value {:?}", value.trim())),
        }
    };
    Ok(Memory {
        rss_kib: field("VmRSS")?,
        hwm_kib: field("VmHWM")?,
    })
}

/// The memory of process `pid`, from its `/proc/PID/status`.
pub fn read_memory(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {path}: has process {pid} exited?"))?;
    parse_status(&status).map_err(|e| anyhow!("{path}: {e}"))
}

/// One RSS sample of the soak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When it was due, from the start of the soak.
    pub at: Duration,
    /// Streams completed and failed so far.
    pub completed: u64,
    /// Streams failed so far.
    pub errors: u64,
    /// The gateway's memory then.
    pub memory: Memory,
}

/// The least-squares slope of `points` (x, y); `None` for fewer than two distinct x.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// How far above the base (MiB) the last sample may be for the soak to count as flat.
pub fn flat_allowance_mib(base_mib: f64) -> f64 {
    (base_mib * FLAT_FRACTION).max(FLAT_MIN_MIB)
}

/// What the soak's samples say about memory.
#[derive(Debug, Clone, Copy)]
pub struct Trend {
    /// The first sample at or after the warm-up.
    pub base: Sample,
    /// The last sample.
    pub last: Sample,
    /// The largest RSS over every sample, warm-up included.
    pub max_rss_mib: f64,
    /// MiB per minute, fitted over the samples from the base on.
    pub growth_per_min: Option<f64>,
    /// How far above the base the last sample may be.
    pub allowed_mib: f64,
    /// Whether the last sample is within the allowance.
    pub flat: bool,
}

/// The trend of the soak's `samples` after `warm_up`; `None` when no sample comes after it.
pub fn trend(samples: &[Sample], warm_up: Duration) -> Option<Trend> {
    let from = samples.iter().position(|s| s.at >= warm_up)?;
    let (base, last) = (samples[from], *samples.last()?);
    let points: Vec<(f64, f64)> = samples[from..]
        .iter()
        .map(|s| (s.at.as_secs_f64() / 60.0, s.memory.rss_mib()))
        .collect();
    let allowed_mib = flat_allowance_mib(base.memory.rss_mib());
    Some(Trend {
        base,
        last,
        max_rss_mib: samples
            .iter()
            .map(|s| s.memory.rss_mib())
            .fold(0.0, f64::max),
        growth_per_min: slope(&points),
        allowed_mib,
        flat: last.memory.rss_mib() - base.memory.rss_mib() <= allowed_mib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tbulkhead-server\nUmask:\t0022\nState:\tS (sleeping)\n\
        VmPeak:\t  612340 kB\nVmSize:\t  547804 kB\nVmHWM:\t   21504 kB\nVmRSS:\t   18432 kB\n\
        RssAnon:\t    9216 kB\nThreads:\t3\n";

    #[test]
    fn reads_rss_and_peak_from_proc_status() {
        assert_eq!(
            parse_status(STATUS),
            Ok(Memory {
                rss_kib: 18_432,
                hwm_kib: 21_504
            })
        );
        assert_eq!(
            Memory {
                rss_kib: 18_432,
                hwm_kib: 0
            }
            .rss_mib(),
            18.0
        );
    }

    #[test]
    fn a_status_without_memory_lines_is_an_error_not_a_zero() {
        let zombie = "Name:\tbulkhead-server\nState:\tZ (zombie)\nThreads:\t1\n";
        assert!(parse_status(zombie).is_err_and(|e| e.contains("VmRSS")));
        let garbled = STATUS.replace("18432 kB", "lots");
        assert!(parse_status(&garbled).is_err_and(|e| e.contains("unexpected VmRSS")));
    }

    #[test]
    fn slope_is_the_least_squares_fit() {
        assert_eq!(slope(&[(1.0, 10.0), (2.0, 12.0), (3.0, 14.0)]), Some(2.0));
        // Noise around a flat line fits to a small slope.
        assert_eq!(
            slope(&[(1.0, 10.0), (2.0, 11.0), (3.0, 9.0), (4.0, 10.0)]),
            Some(-0.2)
        );
        assert_eq!(slope(&[(1.0, 10.0)]), None);
        assert_eq!(slope(&[(1.0, 10.0), (1.0, 12.0)]), None);
    }

    fn sample(secs: u64, rss_mib: u64) -> Sample {
        Sample {
            at: Duration::from_secs(secs),
            completed: secs * 200,
            errors: 0,
            memory: Memory {
                rss_kib: rss_mib * 1024,
                hwm_kib: rss_mib * 1024,
            },
        }
    }

    #[test]
    fn flat_allows_the_larger_of_ten_percent_and_four_mib_above_the_base() {
        assert_eq!(flat_allowance_mib(20.0), 4.0);
        assert_eq!(flat_allowance_mib(60.0), 6.0);
        // Warm-up growth (0 -> 30 s) is not counted; the base is the sample at 60 s.
        let samples = [
            sample(0, 10),
            sample(30, 20),
            sample(60, 22),
            sample(90, 26),
        ];
        let t = trend(&samples, Duration::from_secs(60)).expect("a sample after warm-up");
        assert_eq!((t.base.at.as_secs(), t.last.at.as_secs()), (60, 90));
        assert!(t.flat);
        assert_eq!(t.max_rss_mib, 26.0);
        assert_eq!(t.growth_per_min, Some(8.0));
        let leaking = [sample(0, 10), sample(60, 22), sample(90, 27)];
        assert!(!trend(&leaking, Duration::from_secs(60)).is_some_and(|t| t.flat));
        // A fall is fine.
        let falling = [sample(0, 10), sample(60, 22), sample(90, 12)];
        assert!(trend(&falling, Duration::from_secs(60)).is_some_and(|t| t.flat));
    }
}
