//! `bulkhead-bench-soak`: the gateway's memory under sustained load, against the benchmarks
//! issue's target for the release `bulkhead-server` process: RSS ≤ 40 MiB after 100,000
//! requests, and flat across a 10-minute run of 200 concurrent streams.
//!
//! Run: `bash benches/load/soak.sh` (starts a pacing upstream and the gateway, then this), or
//! by hand against a gateway already running:
//! `cargo run --release -p bulkhead-benches --bin bulkhead-bench-soak -- \
//!   --gateway http://127.0.0.1:9102/v1 --pid $(pgrep -x bulkhead-server)`
//!
//! Two phases, both by default; `--requests 0` or `--soak-secs 0` skips one:
//! 1. `--requests` JSON requests (default 100,000), closed loop with `--concurrency` (32) in
//!    flight; then the gateway's RSS (`VmRSS` of `/proc/PID/status`) and peak (`VmHWM`).
//! 2. The soak: for `--soak-secs` (default 600, at most 900), `--streams` (200) streamed
//!    requests in flight, closed loop, each read to its `data: [DONE]`; the RSS is sampled at
//!    the start, every `--sample-secs` (30) and at the end. For the streams to overlap, the
//!    upstream must pace them (`bulkhead-bench-upstream --chunk-interval-ms 50`); each request
//!    must finish within the client's 10 s timeout.
//!
//! Any failed request (transport error, status other than 200, body cut short) counts as an
//! error; the target allows none.
//!
//! The verdict is "met" when no request failed, the RSS after phase 1 is ≤ 40 MiB, and the soak
//! is flat. Flat: the first `--warm-up-secs` of the soak (default 60 s, or a fifth of a shorter
//! soak) are warm-up; the base is the first sample at or after it; the last sample may be at
//! most max(10% of the base, 4 MiB) above the base (a fall is fine). The max over the samples
//! and the growth per minute (a least-squares fit over the samples from the base on) are
//! reported beside it, to judge by eye: a slow leak shows in the slope before it crosses the
//! allowance. A run shorter than the target's (fewer requests, a shorter soak) is marked so.
//!
//! Prints progress on stderr; markdown tables and a last `verdict: ...` line on stdout. Exits
//! 0 whatever the verdict, 1 when it cannot measure (bad arguments, the gateway not answering
//! a first request, its process gone).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, ensure};
use bulkhead_benches::load::{self, Failure, Request};
use bulkhead_benches::memory::{FLAT_MIN_MIB, Sample, read_memory, trend};
use clap::Parser;
use reqwest::Client;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The target's RSS after its 100,000 requests.
const RSS_TARGET_MIB: f64 = 40.0;
/// The target's request count and soak length, to mark shorter runs.
const TARGET_REQUESTS: u64 = 100_000;
const TARGET_SOAK_SECS: u64 = 600;
const MAX_SOAK_SECS: u64 = 900;
const DEFAULT_WARM_UP_SECS: u64 = 60;
/// After a failed request a worker pauses this long, so that a gateway refusing connections
/// is not hammered in a busy loop.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// Measure the gateway's memory after many requests and across a long run of streams.
#[derive(Debug, Parser)]
#[command(name = "bulkhead-bench-soak")]
struct Args {
    /// The gateway's API root, e.g. http://127.0.0.1:9102/v1 (loopback only).
    #[arg(long)]
    gateway: String,
    /// The model name sent (the gateway must serve it).
    #[arg(long, default_value = "chat")]
    model: String,
    /// The gateway's process id, whose /proc/PID/status is sampled.
    #[arg(long)]
    pid: u32,
    /// JSON requests of phase 1 (0 skips it; at most 10,000,000).
    #[arg(long, default_value_t = TARGET_REQUESTS)]
    requests: u64,
    /// Requests in flight during phase 1 (1 to 1024).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds of the soak, phase 2 (0 skips it; at most 900).
    #[arg(long, default_value_t = TARGET_SOAK_SECS)]
    soak_secs: u64,
    /// Streams in flight during the soak (1 to 2000).
    #[arg(long, default_value_t = 200)]
    streams: usize,
    /// Seconds between RSS samples during the soak (at least 1).
    #[arg(long, default_value_t = 30)]
    sample_secs: u64,
    /// Seconds of warm-up at the start of the soak (default 60, or a fifth of a shorter soak).
    #[arg(long)]
    warm_up_secs: Option<u64>,
}

impl Args {
    /// Check the bounds; the chat completions URL to load.
    fn check(&self) -> anyhow::Result<reqwest::Url> {
        let root = self.gateway.trim_end_matches('/');
        let url: reqwest::Url = format!("{root}/chat/completions")
            .parse()
            .with_context(|| format!("--gateway: invalid URL {root}"))?;
        ensure!(
            load::is_loopback(&url),
            "--gateway {root}: only loopback targets are allowed"
        );
        ensure!(
            self.requests > 0 || self.soak_secs > 0,
            "--requests 0 and --soak-secs 0 leave nothing to run"
        );
        ensure!(
            self.requests <= 10_000_000,
            "--requests must be at most 10000000"
        );
        ensure!(
            (1..=1024).contains(&self.concurrency),
            "--concurrency must be in 1..=1024"
        );
        ensure!(
            self.soak_secs <= MAX_SOAK_SECS,
            "--soak-secs must be at most {MAX_SOAK_SECS}"
        );
        ensure!(
            (1..=2000).contains(&self.streams),
            "--streams must be in 1..=2000"
        );
        ensure!(self.sample_secs >= 1, "--sample-secs must be at least 1");
        if self.soak_secs > 0 {
            ensure!(
                self.warm_up() + self.sample_secs <= self.soak_secs,
                "the soak ({} s) must leave at least one --sample-secs ({} s) after the warm-up \
                 ({} s), for two samples to compare",
                self.soak_secs,
                self.sample_secs,
                self.warm_up()
            );
        }
        Ok(url)
    }

    fn warm_up(&self) -> u64 {
        self.warm_up_secs
            .unwrap_or(DEFAULT_WARM_UP_SECS.min(self.soak_secs / 5))
    }
}

/// The requests of one phase so far, shared by its workers and the sampler.
#[derive(Debug, Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    first_error: OnceLock<String>,
}

impl Tally {
    /// Count one request; whether it failed.
    fn record(&self, outcome: Result<Duration, Failure>) -> bool {
        match outcome {
            Ok(_) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                let _ = self.first_error.set(e.to_string());
                true
            }
        }
    }

    fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// Send `request` and count it; pause after a failure.
async fn send_counted(client: &Client, request: &Request, tally: &Tally) {
    if tally.record(load::send(client, request).await) {
        tokio::time::sleep(ERROR_PAUSE).await;
    }
}

async fn join_all(mut workers: JoinSet<()>) -> anyhow::Result<()> {
    while let Some(joined) = workers.join_next().await {
        joined.context("a load worker failed")?;
    }
    Ok(())
}

/// Phase 1: `total` requests with `concurrency` in flight; the tally and how long it took.
async fn requests(
    client: &Client,
    request: &Request,
    total: u64,
    concurrency: usize,
) -> anyhow::Result<(Arc<Tally>, Duration)> {
    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (client, request) = (client.clone(), request.clone());
        let (tally, next) = (tally.clone(), next.clone());
        workers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                send_counted(&client, &request, &tally).await;
            }
        });
    }
    join_all(workers).await?;
    Ok((tally, start.elapsed()))
}

/// Phase 2: `streams` streamed requests in flight for `length`, sampling the gateway's memory
/// at the start, every `every` and at the end. The samples, and the tally once every stream
/// begun has ended.
async fn soak(
    client: &Client,
    request: &Request,
    pid: u32,
    streams: usize,
    length: Duration,
    every: Duration,
) -> anyhow::Result<(Vec<Sample>, Arc<Tally>)> {
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let deadline = start + length;
    let mut workers = JoinSet::new();
    for _ in 0..streams {
        let (client, request, tally) = (client.clone(), request.clone(), tally.clone());
        workers.spawn(async move {
            while Instant::now() < deadline {
                send_counted(&client, &request, &tally).await;
            }
        });
    }
    let mut samples: Vec<Sample> = Vec::new();
    for k in 0u32.. {
        let at = every.saturating_mul(k).min(length);
        tokio::time::sleep_until(start + at).await;
        let sample = Sample {
            at,
            completed: tally.ok(),
            errors: tally.errors(),
            memory: read_memory(pid)?,
        };
        let per_sec = samples.last().map_or(0.0, |prev| {
            (sample.completed - prev.completed) as f64 / (at - prev.at).as_secs_f64()
        });
        eprintln!(
            "   {:>4} s: {} streams completed ({per_sec:.0}/s), {} errors, RSS {:.1} MiB",
            at.as_secs(),
            sample.completed,
            sample.errors,
            sample.memory.rss_mib()
        );
        samples.push(sample);
        if at >= length {
            break;
        }
    }
    join_all(workers).await?;
    Ok((samples, tally))
}

/// The summary table's rows and the verdict's clauses.
#[derive(Debug, Default)]
struct Report {
    rows: Vec<[String; 4]>,
    met: Vec<String>,
    missed: Vec<String>,
    short: Vec<String>,
}

impl Report {
    fn row(&mut self, figure: impl Into<String>, value: impl Into<String>) {
        self.rows
            .push([figure.into(), value.into(), "—".to_owned(), String::new()]);
    }

    fn judged(&mut self, figure: String, value: String, target: String, ok: bool, clause: String) {
        let verdict = if ok { "met" } else { "**missed**" };
        self.rows.push([figure, value, target, verdict.to_owned()]);
        if ok {
            self.met.push(clause);
        } else {
            self.missed.push(clause);
        }
    }

    fn failures(&mut self, what: &str, tally: &Tally) {
        let errors = tally.errors();
        let sent = errors + tally.ok();
        let mut value = format!("{errors} of {sent}");
        if let Some(first) = tally.first_error.get() {
            let _ = write!(value, " (first: {first})");
        }
        self.judged(
            format!("{what}: failed"),
            value,
            "0".to_owned(),
            errors == 0,
            format!("{errors} failed {what}"),
        );
    }

    fn verdict(&self) -> String {
        let mut line = if !self.missed.is_empty() {
            format!("verdict: MISSED: {}", self.missed.join("; "))
        } else {
            format!("verdict: met: {}", self.met.join("; "))
        };
        if !self.missed.is_empty() && !self.met.is_empty() {
            let _ = write!(line, " (met: {})", self.met.join("; "));
        }
        if !self.short.is_empty() {
            let _ = write!(
                line,
                " [shorter than the target's run: {}]",
                self.short.join(", ")
            );
        }
        line
    }
}

fn mib(value: f64) -> String {
    format!("{value:.1} MiB")
}

fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map_or_else(|_| "?".to_owned(), |name| name.trim().to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = args.check()?;
    let at_start = read_memory(args.pid)?;
    let client = load::client(args.concurrency.max(args.streams))?;
    let json = Request::chat(url.clone(), &args.model, false);
    let stream = Request::chat(url, &args.model, true);
    let phases = [(args.requests > 0, &json), (args.soak_secs > 0, &stream)];
    for (_, request) in phases.iter().filter(|(run, _)| *run) {
        load::send(&client, request).await.with_context(|| {
            let kind = if request.stream { "streamed" } else { "JSON" };
            format!("a first {kind} request to {} failed", request.url)
        })?;
    }
    let name = process_name(args.pid);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!(
        "{name} (pid {}) at {}: RSS {} at the start",
        args.pid,
        json.url,
        mib(at_start.rss_mib())
    );

    let mut report = Report::default();
    report.row("RSS at the start", mib(at_start.rss_mib()));
    if args.requests > 0 {
        eprintln!(
            "== {} JSON requests, {} in flight",
            args.requests, args.concurrency
        );
        let (tally, took) = requests(&client, &json, args.requests, args.concurrency).await?;
        let after = read_memory(args.pid)?;
        eprintln!(
            "   {} ok, {} errors in {:.1} s; RSS {}",
            tally.ok(),
            tally.errors(),
            took.as_secs_f64(),
            mib(after.rss_mib())
        );
        let rss = after.rss_mib();
        report.judged(
            format!(
                "RSS after {} JSON requests (c={})",
                args.requests, args.concurrency
            ),
            mib(rss),
            format!("≤ {RSS_TARGET_MIB:.0} MiB"),
            rss <= RSS_TARGET_MIB,
            format!(
                "RSS after {} requests {} (≤ {RSS_TARGET_MIB:.0} MiB)",
                args.requests,
                mib(rss)
            ),
        );
        report.row("peak RSS (VmHWM) by then", mib(after.hwm_mib()));
        report.row(
            "JSON requests: throughput",
            format!(
                "{:.0} req/s over {:.1} s",
                args.requests as f64 / took.as_secs_f64(),
                took.as_secs_f64()
            ),
        );
        report.failures("JSON requests", &tally);
        if args.requests < TARGET_REQUESTS {
            report.short.push(format!("{} requests", args.requests));
        }
    }

    let mut samples = Vec::new();
    if args.soak_secs > 0 {
        let warm_up = Duration::from_secs(args.warm_up());
        eprintln!(
            "== soak: {} streams in flight for {} s, RSS every {} s (warm-up {} s)",
            args.streams,
            args.soak_secs,
            args.sample_secs,
            warm_up.as_secs()
        );
        let length = Duration::from_secs(args.soak_secs);
        let every = Duration::from_secs(args.sample_secs);
        let (taken, tally) = soak(&client, &stream, args.pid, args.streams, length, every).await?;
        samples = taken;
        let trend = trend(&samples, warm_up)
            .context("no sample after the warm-up (the arguments should have prevented this)")?;
        let (base, last) = (trend.base.memory.rss_mib(), trend.last.memory.rss_mib());
        report.row(
            format!("soak: RSS after warm-up (at {} s)", trend.base.at.as_secs()),
            mib(base),
        );
        report.judged(
            format!("soak: RSS at the end ({} s)", trend.last.at.as_secs()),
            format!("{} ({:+.1} MiB)", mib(last), last - base),
            format!(
                "≤ {} (base + max(10%, {FLAT_MIN_MIB:.0} MiB))",
                mib(base + trend.allowed_mib)
            ),
            trend.flat,
            format!(
                "soak flat: {} at {} s, {} at {} s ({:+.1} MiB, {:.1} allowed)",
                mib(base),
                trend.base.at.as_secs(),
                mib(last),
                trend.last.at.as_secs(),
                last - base,
                trend.allowed_mib
            ),
        );
        report.row("soak: max RSS over the samples", mib(trend.max_rss_mib));
        report.row(
            format!(
                "soak: growth (least squares over the samples from {} s)",
                trend.base.at.as_secs()
            ),
            trend
                .growth_per_min
                .map_or_else(|| "n/a".to_owned(), |g| format!("{g:+.3} MiB/min")),
        );
        report.row(
            "soak: streams completed",
            format!(
                "{} ({:.0}/s with {} in flight)",
                tally.ok(),
                tally.ok() as f64 / length.as_secs_f64(),
                args.streams
            ),
        );
        report.failures("streams", &tally);
        report.row(
            "peak RSS (VmHWM) at the end",
            mib(trend.last.memory.hwm_mib()),
        );
        if args.soak_secs < TARGET_SOAK_SECS {
            report.short.push(format!("a {} s soak", args.soak_secs));
        }
        if args.streams < 200 {
            report.short.push(format!("{} streams", args.streams));
        }
    }

    println!();
    println!(
        "bulkhead-bench-soak: {name} (pid {}) at {}, {cores} cores",
        args.pid, json.url
    );
    println!();
    println!("| figure | value | target | verdict |");
    println!("|---|--:|---|---|");
    for [figure, value, target, verdict] in &report.rows {
        println!("| {figure} | {value} | {target} | {verdict} |");
    }
    if !samples.is_empty() {
        println!();
        println!(
            "| elapsed (s) | streams completed | streams/s | errors | RSS (MiB) | peak (MiB) |"
        );
        println!("|--:|--:|--:|--:|--:|--:|");
        let mut prev: Option<&Sample> = None;
        for s in &samples {
            let rate = prev.map_or_else(
                || "—".to_owned(),
                |p| {
                    let secs = (s.at - p.at).as_secs_f64();
                    format!("{:.0}", (s.completed - p.completed) as f64 / secs)
                },
            );
            println!(
                "| {} | {} | {rate} | {} | {:.1} | {:.1} |",
                s.at.as_secs(),
                s.completed,
                s.errors,
                s.memory.rss_mib(),
                s.memory.hwm_mib()
            );
            prev = Some(s);
        }
    }
    println!();
    println!("{}", report.verdict());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_bounded() {
        let parse = |extra: &[&str]| {
            let mut argv = vec![
                "bulkhead-bench-soak",
                "--gateway",
                "http://127.0.0.1:9102/v1",
                "--pid",
                "1",
            ];
            argv.extend_from_slice(extra);
            Args::try_parse_from(argv).map_err(|e| e.to_string())
        };
        let ok = parse(&[]).expect("defaults parse");
        assert!(ok.check().is_ok());
        assert_eq!(ok.warm_up(), 60);
        let short = parse(&["--soak-secs", "60", "--sample-secs", "10"]).expect("parses");
        assert_eq!(short.warm_up(), 12);
        assert!(short.check().is_ok());
        for bad in [
            &["--soak-secs", "901"][..],
            &["--soak-secs", "60", "--warm-up-secs", "60"],
            &["--requests", "0", "--soak-secs", "0"],
            &["--streams", "0"],
            &["--sample-secs", "0"],
        ] {
            let args = parse(bad).expect("parses");
            assert!(args.check().is_err(), "{bad:?} should be refused");
        }
        let remote = Args::try_parse_from([
            "bulkhead-bench-soak",
            "--gateway",
            "http://10.0.0.1:8080/v1",
            "--pid",
            "1",
        ])
        .expect("parses");
        assert!(
            remote
                .check()
                .is_err_and(|e| e.to_string().contains("loopback"))
        );
        assert!(
            Args::try_parse_from(["bulkhead-bench-soak", "--gateway", "x", "--pid", "x"]).is_err()
        );
    }
}
