//! What the gateway adds to a request over loopback, measured end to end in one process.
//!
//! Run: `cargo bench -p bulkhead-benches --bench gateway_overhead`
//! (`BENCH_SECS=10 BENCH_CONCURRENCY=64 BENCH_RATE=200 BENCH_THREADS=1` change the defaults:
//! 5 s, 32 in flight, 200/s, 2 tokio workers per server).
//!
//! Starts the static upstream (`bulkhead_benches::upstream`), a gateway built with
//! `Config::from_toml_str` (one `openai` provider pointing at the upstream) and a bare
//! passthrough proxy (`bulkhead_benches::proxy`, the floor for an extra hop on this stack),
//! each served with axum and `TCP_NODELAY` from a 2-worker runtime of its own on
//! 127.0.0.1:0. One pooled reqwest client then loads DIRECT (the upstream), VIA GATEWAY and
//! VIA BARE PROXY alike, in interleaved ABBA rounds, for BENCH_SECS each:
//!
//! - (a) JSON at a fixed 200 req/s (open loop): p50/p99 latency and what each hop added;
//! - (b) a 20-chunk stream at 200 req/s: p50/p99 time to the last byte;
//! - (c) JSON and (d) stream closed loop with BENCH_CONCURRENCY in flight: req/s and the
//!   ratio to direct ((d) without the bare proxy). The load generator shares the 2 cores with
//!   the servers, as wrk would.
//!
//! Prints a markdown table with the targets (≤ 0.1 ms p50 / ≤ 0.5 ms p99 added for JSON,
//! ≤ 0.2 ms p50 to the last byte for streams, ≥ 35% of direct throughput); about 1 minute.
//! Unknown arguments (`--bench`, `--save-baseline main`, ...) are ignored; without `--bench`
//! (as under `cargo test --benches`) it runs a 0.2 s smoke pass per scenario instead.

use std::time::Duration;

use anyhow::Context as _;
use bulkhead_benches::load::{self, Request, Shape};
use bulkhead_benches::report::{self, Comparison, Target};
use bulkhead_benches::upstream::{self, UpstreamConfig};
use bulkhead_benches::{proxy, spawn_server};
use bulkhead_gateway::{Config, Gateway};

const CHUNKS: usize = 20;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bench = std::env::args().any(|a| a == "--bench");
    let secs = env_f64("BENCH_SECS").unwrap_or(if bench { 5.0 } else { 0.2 });
    let concurrency = env_f64("BENCH_CONCURRENCY").map_or(32, |c| c.max(1.0) as usize);
    let rate = env_f64("BENCH_RATE").unwrap_or(200.0);
    let threads = env_f64("BENCH_THREADS").map_or(2, |n| n.max(1.0) as usize);
    let t = Duration::from_secs_f64(secs);

    let upstream = spawn_server("upstream", threads, || {
        upstream::router(UpstreamConfig {
            chunks: CHUNKS,
            separate_frames: false,
            chunk_interval: Duration::ZERO,
        })
    })?;
    let config = Config::from_toml_str(&bulkhead_benches::gateway_config(upstream), "<bench>")?;
    let gateway = Gateway::build(&config)?;
    let gateway = spawn_server("gateway", threads, move || gateway.router())?;
    let bare = proxy::router(&format!("http://{upstream}/v1"))?;
    let bare = spawn_server("bare-proxy", threads, move || bare)?;
    println!(
        "upstream {upstream}, gateway {gateway}, bare proxy {bare}: {secs} s per target, \
         {rate}/s, concurrency {concurrency}, {threads} workers per server\n"
    );

    let client = load::client(concurrency * 2)?;
    let url = |addr| format!("http://{addr}/v1/chat/completions").parse::<reqwest::Url>();
    let urls = [url(upstream)?, url(gateway)?, url(bare)?];
    let json = urls.clone().map(|u| Request::chat(u, "chat", false));
    let stream = urls.map(|u| Request::chat(u, "chat", true));
    for request in json.iter().chain(&stream) {
        load::once(&client, request)
            .await
            .with_context(|| format!("a first request to {} failed", request.url))?;
    }
    let [jd, jg, jb] = &json;
    let [sd, sg, sb] = &stream;
    let (fixed, closed) = (Shape::FixedRate(rate), Shape::Closed(concurrency));
    let (half, one) = (Duration::from_millis(500), Duration::from_secs(1));
    let c = &client;
    let a = load::compare(c, &[jd, jg, jb], fixed, t, half).await;
    let b = load::compare(c, &[sd, sg, sb], fixed, t, half).await;
    let json_max = load::compare(c, &[jd, jg, jb], closed, t, one).await;
    let stream_max = load::compare(c, &[sd, sg], closed, t, one).await;
    let [a, b, json_max, stream_max] = [a, b, json_max, stream_max].map(Comparison::from_results);
    print_table(rate, concurrency, a, b, json_max, stream_max);
    Ok(())
}

fn print_table(
    rate: f64,
    concurrency: usize,
    mut a: Comparison,
    mut b: Comparison,
    c: Comparison,
    d: Comparison,
) {
    let labels = [
        format!("JSON, {rate:.0} req/s"),
        format!("stream ({CHUNKS} chunks), {rate:.0} req/s"),
        format!("JSON, max (c={concurrency})"),
        format!("stream, max (c={concurrency})"),
    ];
    let mut rows = report::latency_rows(
        &labels[0],
        "latency",
        &mut a,
        Target::AddedAtMostMs(0.1),
        Target::AddedAtMostMs(0.5),
    );
    rows.extend(report::latency_rows(
        &labels[1],
        "to last byte",
        &mut b,
        Target::AddedAtMostMs(0.2),
        Target::None,
    ));
    rows.push(report::throughput_row(
        &labels[2],
        &c,
        Target::RatioAtLeast(0.35),
    ));
    rows.push(report::throughput_row(&labels[3], &d, Target::None));
    println!("{}", report::render(&rows));
    for (label, result) in labels.iter().zip([&a, &b, &c, &d]) {
        println!("{}", report::counts(label, result));
    }
}

fn env_f64(name: &str) -> Option<f64> {
    std::env::var(name).ok()?.trim().parse().ok()
}
