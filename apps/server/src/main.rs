//! `bulkhead-server`: the Bulkhead gateway as a process.
//!
//! Parses arguments, loads the configuration (a TOML file, or the embedded default that serves
//! the simulated model on 127.0.0.1:8080), installs the log subscriber, and serves the gateway's
//! router until SIGTERM or Ctrl-C, letting in-flight requests finish (up to `[server]
//! shutdown_grace_secs`). A config file is reloaded when it changes and on SIGHUP.
//!
//! Requests are served thread per core (`[server] workers`, one per CPU core by default; see
//! [`serve::serve_workers`]); the main thread's own single-threaded runtime keeps what is not
//! per request: signals, the config watcher, the metrics upkeep and the OTLP exporter.
//!
//! Exit codes: 0 after a clean shutdown, 1 when serving fails (the port is taken, ...), 2 when
//! the configuration is invalid.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use bulkhead_gateway::serve::{self, LiveRouter};
use bulkhead_gateway::{Config, Gateway};
use bulkhead_observability::telemetry::{self, LogFormat, TelemetryConfig};
use bulkhead_observability::{PrometheusHandle, install_prometheus, upkeep};
use clap::Parser;

/// The allocator (the `mimalloc` feature, on by default; see Cargo.toml).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run the Bulkhead gateway: an OpenAI-compatible API in front of your model providers.
#[derive(Debug, Parser)]
#[command(name = "bulkhead-server", version)]
struct Args {
    /// The TOML configuration file. Without it, an embedded default serves the simulated model.
    #[arg(long, env = "BULKHEAD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The address to listen on, overriding `[server] listen`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let (mut config, origin) = match &args.config {
        None => (Config::embedded_default(), "embedded default".to_owned()),
        Some(path) => match Config::load(path) {
            Ok(config) => (config, path.display().to_string()),
            Err(e) => return config_error(&e),
        },
    };
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    let _telemetry = match telemetry::init(&TelemetryConfig {
        log_format: match config.telemetry.log_format {
            bulkhead_gateway::LogFormat::Json => LogFormat::Json,
            bulkhead_gateway::LogFormat::Pretty => LogFormat::Pretty,
        },
        otlp_endpoint: config.telemetry.otlp_endpoint.clone(),
        ..TelemetryConfig::default()
    }) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let metrics = match install_prometheus() {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("error: cannot install the Prometheus exporter: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::spawn(upkeep(metrics.clone()));
    let gateway = match Gateway::build(&config) {
        Ok(gateway) => gateway,
        Err(e) => return config_error(&e),
    };
    match serve(config, &origin, args.config, gateway, metrics).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_error(error: &bulkhead_gateway::ConfigError) -> ExitCode {
    eprintln!("{error}");
    ExitCode::from(2)
}

async fn serve(
    config: Config,
    origin: &str,
    path: Option<PathBuf>,
    gateway: Gateway,
    metrics: PrometheusHandle,
) -> anyhow::Result<()> {
    // Listen for signals before accepting anything, so an early SIGTERM is a clean stop.
    let signal = shutdown_signal()?;
    let addr = config.server.listen;
    let listeners = serve::Listeners::bind(addr, config.server.workers())
        .with_context(|| format!("cannot listen on {addr} (is another process using it?)"))?;
    let models: Vec<&str> = gateway.model_names().collect();
    tracing::info!(
        "bulkhead-server listening on http://{}/v1 ({} worker threads), serving models [{}], config: {origin}",
        listeners.local_addr(),
        listeners.workers(),
        models.join(", ")
    );
    if !gateway.requires_keys() {
        tracing::warn!("no [[keys]] configured: the gateway is open to every caller");
    }

    let live = LiveRouter::new(gateway.service_with_metrics(metrics.clone()));
    let server_settings = config.server.clone();
    let watcher = path.map(|path| {
        tracing::info!("reloading {} on change and on SIGHUP", path.display());
        let router = move |g: &Gateway| g.service_with_metrics(metrics.clone());
        tokio::spawn(serve::watch_config(
            path,
            live.clone(),
            config,
            gateway,
            router,
        ))
    });
    let stop = async move {
        signal.await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
    };
    serve::serve_workers(listeners, live, &server_settings, stop)
        .await
        .context("the server failed")?;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    tracing::info!("bulkhead-server stopped");
    Ok(())
}

/// A future that resolves on Ctrl-C or (on Unix) SIGTERM; the handlers are installed now.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    Ok(async move {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async move {
            terminate.recv().await;
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {}
            () = terminate => {}
        }
    })
}
