//! Logging and trace export for applications: one call installs the `tracing` subscriber.
//!
//! Library crates only emit; `bulkhead-server` calls [`init`] once at start-up with the
//! `[telemetry]` settings. Logs go to standard output as JSON lines or human-readable lines,
//! filtered by `RUST_LOG` syntax. With the `otlp` cargo feature and an `otlp_endpoint`, spans
//! are also exported over OTLP/HTTP (protobuf) to `{otlp_endpoint}/v1/traces`, in batches,
//! from a background thread.

use std::fmt;
use std::io::IsTerminal as _;
use std::str::FromStr;

use tracing_subscriber::filter::{FilterExt as _, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line, with the current span's fields: for log collectors.
    Json,
    /// One human-readable line per event, coloured on a terminal.
    #[default]
    Pretty,
}

impl FromStr for LogFormat {
    type Err = TelemetryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            other => Err(TelemetryError(format!(
                "unknown log_format `{other}` (expected \"json\" or \"pretty\")"
            ))),
        }
    }
}

/// The `[telemetry]` settings an application passes to [`init`].
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// JSON or human-readable logs.
    pub log_format: LogFormat,
    /// A filter in `RUST_LOG` syntax (`info`, `bulkhead=debug,info`); `RUST_LOG`, when set,
    /// wins over it.
    pub filter: String,
    /// Where to send spans over OTLP/HTTP, e.g. `http://127.0.0.1:4318`; `/v1/traces` is
    /// appended unless present. Needs the `otlp` feature; [`init`] fails without it.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute of exported spans.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::default(),
            filter: "info".to_owned(),
            otlp_endpoint: None,
            service_name: "bulkhead".to_owned(),
        }
    }
}

/// Telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("telemetry: {0}")]
pub struct TelemetryError(pub(crate) String);

/// Keep it alive for the life of the process: dropping it flushes and stops the OTLP export.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryGuard").finish_non_exhaustive()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = self.provider.take() {
            // Flushes the spans still queued; errors here have nowhere left to go.
            let _ = provider.shutdown();
        }
    }
}

/// The environment filter: `RUST_LOG` when set and valid, else `default`.
pub fn env_filter(default: &str) -> Result<EnvFilter, TelemetryError> {
    match EnvFilter::try_from_default_env() {
        Ok(filter) => Ok(filter),
        Err(_) => EnvFilter::try_new(default)
            .map_err(|e| TelemetryError(format!("invalid log filter `{default}`: {e}"))),
    }
}

/// A formatting layer writing `format` lines to `writer` (standard output in [`init`]; a
/// buffer in tests), without colours.
pub fn fmt_layer<S, W>(format: LogFormat, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    coloured_fmt_layer(format, writer, false)
}

fn coloured_fmt_layer<S, W>(
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed(),
    }
}

/// Whether `metadata` is one of `Observe`'s `gen_ai.*` spans.
fn is_gen_ai_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span() && metadata.target() == crate::observe::SPAN_TARGET
}

/// Install the process's `tracing` subscriber: logs in `config.log_format` filtered by
/// `config.filter` (or `RUST_LOG`), plus OTLP trace export when `config.otlp_endpoint` is set.
///
/// The logs carry `Observe`'s `gen_ai.*` spans (their fields on each line logged inside one)
/// only when the filter lets `debug` through. At `info` a served request logs nothing, and
/// keeping two spans per request, formatting their fields at every update, cost more than the
/// rest of the gateway's work on the request. The OTLP exporter always gets them. Colours are
/// used only when standard output is a terminal.
///
/// Fails when a subscriber is already installed, the filter is invalid, or an endpoint is set
/// but the crate was built without the `otlp` feature.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    // Each layer gets its own filter (per-layer filtering): the logs may leave out spans
    // the exporter keeps.
    let filter = env_filter(&config.filter)?;
    let spans_in_logs = filter
        .max_level_hint()
        .is_none_or(|max| max >= LevelFilter::DEBUG);
    let ansi = std::io::stdout().is_terminal();
    let logs = coloured_fmt_layer(config.log_format, std::io::stdout, ansi);
    let logs = if spans_in_logs {
        logs.with_filter(filter).boxed()
    } else {
        logs.with_filter(filter.and(filter_fn(|metadata| !is_gen_ai_span(metadata))))
            .boxed()
    };
    #[cfg_attr(not(feature = "otlp"), allow(unused_mut))]
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![logs];
    #[cfg(feature = "otlp")]
    let mut provider = None;
    if let Some(endpoint) = &config.otlp_endpoint {
        #[cfg(feature = "otlp")]
        {
            let built = crate::otlp::tracer_provider(endpoint, &config.service_name)?;
            let filter = env_filter(&config.filter)?;
            layers.push(crate::otlp::layer(&built).with_filter(filter).boxed());
            provider = Some(built);
        }
        #[cfg(not(feature = "otlp"))]
        return Err(TelemetryError(format!(
            "otlp_endpoint `{endpoint}` is set, but this build has no OTLP support \
             (build with the `otlp` feature)"
        )));
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| TelemetryError(format!("cannot install the subscriber: {e}")))?;
    Ok(TelemetryGuard {
        #[cfg(feature = "otlp")]
        provider,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_parse_and_unknown_ones_are_named() {
        assert_eq!("json".parse::<LogFormat>().ok(), Some(LogFormat::Json));
        assert_eq!("pretty".parse::<LogFormat>().ok(), Some(LogFormat::Pretty));
        let err = "xml".parse::<LogFormat>().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("`xml`")));
    }
}
