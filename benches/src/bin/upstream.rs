//! `bulkhead-bench-upstream`: the static OpenAI-compatible upstream, as its own process, for
//! `benches/load/run.sh` and for trying loads by hand.
//!
//! Run: `cargo run --release -p bulkhead-benches --bin bulkhead-bench-upstream -- --listen 127.0.0.1:9101 --chunks 20`
//!
//! Answers `POST /v1/chat/completions` with a precomputed `chat.completion`, or with
//! `--chunks` precomputed `chat.completion.chunk` events and `data: [DONE]` when the request
//! body has `"stream":true` (with `--chunk-interval-ms N`, each event its own body frame, N ms
//! apart, so that streams stay open like a model's); `POST /v1/embeddings` with a precomputed list. Prints
//! `listening on ADDR` once bound (use port 0 to let the OS choose).
//!
//! With `--proxy-to API_ROOT` it serves the bare reverse proxy of `bulkhead_benches::proxy`
//! instead (the reference for what any extra hop costs on this stack), forwarding with
//! reqwest or, with `--proxy-client hyper`, hyper-util's client alone.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use bulkhead_benches::proxy;
use bulkhead_benches::upstream::{self, UpstreamConfig};
use clap::Parser;

/// A static OpenAI-compatible upstream for benchmarks.
#[derive(Debug, Parser)]
#[command(name = "bulkhead-bench-upstream")]
struct Args {
    /// The address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// `chat.completion.chunk` events in a streamed answer.
    #[arg(long, default_value_t = 20)]
    chunks: usize,
    /// Send each event as its own body frame instead of one body.
    #[arg(long)]
    frames: bool,
    /// Pace a streamed answer: each event its own body frame, this many milliseconds apart
    /// (at most 10000; 0, the default, sends them all at once).
    #[arg(long, default_value_t = 0, value_name = "N")]
    chunk_interval_ms: u64,
    /// Be a bare reverse proxy to this API root (e.g. http://127.0.0.1:9101/v1) instead.
    #[arg(long, value_name = "URL")]
    proxy_to: Option<String>,
    /// The client the proxy forwards with.
    #[arg(long, value_enum, default_value_t = proxy::ProxyClient::Reqwest, requires = "proxy_to")]
    proxy_client: proxy::ProxyClient,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "--listen must be a loopback address: this server is for benchmarks on this machine"
    );
    anyhow::ensure!(
        args.chunk_interval_ms <= 10_000,
        "--chunk-interval-ms must be at most 10000"
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("listening on {}", listener.local_addr()?);
    let router = match &args.proxy_to {
        Some(upstream) => proxy::router_with(upstream, args.proxy_client)?,
        None => upstream::router(UpstreamConfig {
            chunks: args.chunks,
            separate_frames: args.frames,
            chunk_interval: Duration::from_millis(args.chunk_interval_ms),
        }),
    };
    bulkhead_benches::serve(listener, router).await?;
    Ok(())
}
