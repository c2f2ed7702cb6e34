//! `bulkhead-bench-load`: the package's load generator as a command, comparing an upstream
//! reached directly with the same upstream reached through a gateway.
//!
//! Run: `cargo run --release -p bulkhead-benches --bin bulkhead-bench-load -- \
//!   --direct http://127.0.0.1:9101/v1 --gateway http://127.0.0.1:9102/v1 --rate 200 --secs 5`
//!
//! Open-loop fixed rate (`--rate`, the default) or closed loop (`--concurrency N`), JSON or
//! `--stream`, for `--secs` per target in interleaved ABBA rounds (a run takes that times the
//! number of targets, plus a short warm-up); `--bare URL` adds a bare reverse proxy as a
//! third target and `--nginx URL` an nginx reverse proxy as a fourth. Prints one line of
//! `key=value` figures (latencies in ms) for scripts such as `benches/load/run.sh`, or the
//! markdown table with `--markdown`.

use std::time::Duration;

use anyhow::Context as _;
use bulkhead_benches::load::{self, Request, Shape};
use bulkhead_benches::report::{self, Comparison, Target};
use bulkhead_benches::stats::{Samples, ms};
use clap::Parser;

/// Compare a direct upstream with a gateway in front of it, at the same load.
#[derive(Debug, Parser)]
#[command(name = "bulkhead-bench-load")]
struct Args {
    /// The upstream's API root, e.g. http://127.0.0.1:9101/v1.
    #[arg(long)]
    direct: String,
    /// The gateway's API root, e.g. http://127.0.0.1:9102/v1.
    #[arg(long)]
    gateway: String,
    /// Also load this API root (a bare reverse proxy, `bulkhead-bench-upstream --proxy-to`) as
    /// a third target, the reference for what any extra hop costs.
    #[arg(long, value_name = "URL")]
    bare: Option<String>,
    /// Also load this API root (nginx proxying to the same upstream, as `benches/load/run.sh`
    /// starts it): what a mature C reverse proxy adds on this machine. Its figures are printed
    /// as `nginx_*`; the markdown table leaves it out.
    #[arg(long, value_name = "URL")]
    nginx: Option<String>,
    /// The model name sent (the gateway must serve it).
    #[arg(long, default_value = "chat")]
    model: String,
    /// Requests per second, open loop.
    #[arg(long, default_value_t = 200.0, conflicts_with = "concurrency")]
    rate: f64,
    /// Closed loop with this many requests in flight, instead of a fixed rate.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Seconds of load per target (at most 60).
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Ask for a streamed answer.
    #[arg(long)]
    stream: bool,
    /// Send a ~40 KB, 25-message conversation instead of the small two-message prompt.
    #[arg(long)]
    long_prompt: bool,
    /// Print the markdown table instead of `key=value` figures.
    #[arg(long)]
    markdown: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.secs > 0.0 && args.secs <= 60.0,
        "--secs must be in (0, 60]"
    );
    let url = |root: &str| {
        let root = root.trim_end_matches('/');
        format!("{root}/chat/completions")
            .parse::<reqwest::Url>()
            .with_context(|| format!("invalid URL {root}"))
    };
    let request = if args.long_prompt {
        Request::long_chat
    } else {
        Request::chat
    };
    let direct = request(url(&args.direct)?, &args.model, args.stream);
    let gateway = request(url(&args.gateway)?, &args.model, args.stream);
    let mut targets = vec![direct, gateway];
    if let Some(bare) = &args.bare {
        targets.push(request(url(bare)?, &args.model, args.stream));
    }
    if let Some(nginx) = &args.nginx {
        targets.push(request(url(nginx)?, &args.model, args.stream));
    }
    for u in targets.iter().map(|t| &t.url) {
        let host = u.host_str().unwrap_or_default();
        anyhow::ensure!(
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback()),
            "{u}: only loopback targets are allowed"
        );
    }
    let (shape, round) = match args.concurrency {
        Some(n) => (Shape::Closed(n), Duration::from_secs(1)),
        None => (Shape::FixedRate(args.rate), Duration::from_millis(500)),
    };
    let client = load::client(args.concurrency.unwrap_or(32) * 2)?;
    for request in &targets {
        load::once(&client, request)
            .await
            .with_context(|| format!("a first request to {} failed", request.url))?;
    }
    let per_target = Duration::from_secs_f64(args.secs);
    let targets: Vec<&Request> = targets.iter().collect();
    let mut results = load::compare(&client, &targets, shape, per_target, round).await;
    // nginx was pushed last, so it comes off first and the rest stay [direct, gateway, bare].
    let mut nginx = if args.nginx.is_some() {
        results.pop()
    } else {
        None
    };
    let mut result = Comparison::from_results(results);

    if args.markdown {
        let kind = if args.stream { "stream" } else { "JSON" };
        let scenario = match shape {
            Shape::FixedRate(rate) => format!("{kind}, {rate:.0} req/s"),
            Shape::Closed(n) => format!("{kind}, max (c={n})"),
        };
        let rows = match shape {
            Shape::FixedRate(_) => {
                let what = if args.stream {
                    "to last byte"
                } else {
                    "latency"
                };
                report::latency_rows(&scenario, what, &mut result, Target::None, Target::None)
            }
            Shape::Closed(_) => vec![report::throughput_row(&scenario, &result, Target::None)],
        };
        println!("{}", report::render(&rows));
        println!("{}", report::counts(&scenario, &result));
        return Ok(());
    }
    let mut line = figures("direct", &mut result.direct);
    line.push_str(&figures("gateway", &mut result.gateway));
    if let Some(bare) = result.bare.as_mut() {
        line.push_str(&figures("bare", bare));
    }
    if let Some(nginx) = nginx.as_mut() {
        line.push_str(&figures("nginx", nginx));
    }
    println!("{}", line.trim_end());
    Ok(())
}

/// `name_p50_ms=... name_p99_ms=... name_rps=... name_ok=... name_errors=... name_sent=... `
fn figures(name: &str, samples: &mut Samples) -> String {
    format!(
        "{name}_p50_ms={} {name}_p99_ms={} {name}_rps={:.1} {name}_ok={} {name}_errors={} {name}_sent={} ",
        ms(samples.quantile(0.5)),
        ms(samples.quantile(0.99)),
        samples.throughput(),
        samples.ok(),
        samples.errors,
        samples.sent() + 1, // and the first, checking request
    )
}
