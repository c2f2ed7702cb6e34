//! `bulkhead-server`: the Bulkhead gateway as a process.
//!
//! Parses arguments, loads the configuration (a TOML file, or the embedded default that serves
//! the simulated model on 127.0.0.1:8080), installs the log subscriber, and serves the gateway's
//! router until SIGTERM or Ctrl-C, letting in-flight requests finish.
//!
//! Exit codes: 0 after a clean shutdown, 1 when serving fails (the port is taken, ...), 2 when
//! the configuration is invalid.

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use bulkhead_gateway::{Config, Gateway};
use clap::Parser;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

/// How long in-flight requests may run after a shutdown signal before the process exits anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

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

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

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
    let gateway = match Gateway::build(&config) {
        Ok(gateway) => gateway,
        Err(e) => return config_error(&e),
    };
    match serve(&config, &origin, gateway).await {
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

async fn serve(config: &Config, origin: &str, gateway: Gateway) -> anyhow::Result<()> {
    // Listen for signals before accepting anything, so an early SIGTERM is a clean stop.
    let (stop, stopped) = watch::channel(false);
    let signal = shutdown_signal()?;
    tokio::spawn(async move {
        signal.await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
        let _ = stop.send(true);
    });

    let addr = config.server.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (is another process using it?)"))?;
    let listener = listener.tap_io(|tcp| {
        // Without it, reused connections stall ~40 ms per response on delayed ACKs.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });
    let models: Vec<&str> = config.models.iter().map(|m| m.name.as_str()).collect();
    tracing::info!(
        "bulkhead-server listening on http://{addr}/v1, serving models [{}], config: {origin}",
        models.join(", ")
    );

    let mut graceful = stopped.clone();
    let server = axum::serve(listener, gateway.router())
        .with_graceful_shutdown(async move {
            let _ = graceful.wait_for(|stop| *stop).await;
        })
        .into_future();
    let mut draining = stopped;
    let drain_limit = async move {
        let _ = draining.wait_for(|stop| *stop).await;
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    tokio::select! {
        result = server => result.context("the server failed")?,
        () = drain_limit => tracing::warn!("requests still in flight after {DRAIN_TIMEOUT:?}; exiting"),
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
