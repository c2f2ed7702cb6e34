//! End-to-end benchmarks of Bulkhead over loopback: what the gateway adds to a request, in
//! latency and in throughput, against the cheapest upstream that still speaks OpenAI.
//!
//! - [`upstream`]: the static upstream (also the `bulkhead-bench-upstream` binary), the
//!   "direct" baseline.
//! - [`load`]: the load generator: open-loop fixed rate and closed-loop max throughput,
//!   direct and via the gateway in interleaved rounds (also the `bulkhead-bench-load` binary).
//! - [`proxy`]: a bare reverse proxy (axum + reqwest, bytes passed through), the reference
//!   for what any extra hop costs on this stack.
//! - [`stats`] and [`report`]: percentiles and the markdown table.
//! - [`memory`]: a process's RSS, and whether it stays flat over a soak
//!   (`bulkhead-bench-soak`).
//!
//! The `gateway_overhead` bench runs everything in one process
//! (`cargo bench -p bulkhead-benches --bench gateway_overhead`); `benches/load/run.sh` runs the
//! release `bulkhead-server` as its own process and adds wrk, CPU and memory figures.

pub mod load;
pub mod memory;
pub mod proxy;
pub mod report;
pub mod stats;
pub mod upstream;

use std::io;
use std::net::SocketAddr;

use axum::Router;
use axum::serve::ListenerExt as _;

/// Serve `router` on `listener` with `TCP_NODELAY` on every accepted socket, as
/// `bulkhead-server` does (without it, reused connections stall ~40 ms on delayed ACKs).
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).await
}

/// Serve the router `make` builds on 127.0.0.1 (port chosen by the OS) from a thread of its
/// own running a `threads`-worker tokio runtime, as a separate server process would; returns
/// its address. The server runs until the process exits.
pub fn spawn_server(
    name: &str,
    threads: usize,
    make: impl FnOnce() -> Router + Send + 'static,
) -> io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name(name)
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let served = runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                serve(listener, make()).await
            });
            if let Err(e) = served {
                eprintln!("{addr}: serving failed: {e}");
            }
        })?;
    Ok(addr)
}

/// A gateway config serving model `chat` from one `openai`-kind provider at `upstream`.
pub fn gateway_config(upstream: SocketAddr) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"

[[providers]]
name = "upstream"
kind = "openai"
base_url = "http://{upstream}/v1"

[[models]]
name = "chat"
targets = [{{ provider = "upstream", model = "gpt-4o-mini" }}]
"#
    )
}
