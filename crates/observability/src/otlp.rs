//! OTLP/HTTP (protobuf) trace export, behind the `otlp` feature.
//!
//! HTTP rather than gRPC keeps the dependency tree small (no tonic, no second HTTP stack: the
//! exporter uses the workspace's reqwest). Spans leave in batches from the SDK's own thread.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use crate::telemetry::TelemetryError;

/// `endpoint` with `/v1/traces` appended, unless it ends with it already.
pub fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// A tracer provider exporting batches of spans to `endpoint` over OTLP/HTTP, with
/// `service.name` = `service_name`. Call `shutdown` on it (or drop the
/// [`TelemetryGuard`](crate::telemetry::TelemetryGuard)) to flush.
pub fn tracer_provider(
    endpoint: &str,
    service_name: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    // The workspace's reqwest brings rustls without a default crypto provider; install ring
    // (a no-op when the application already installed one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url(endpoint))
        .build()
        .map_err(|e| TelemetryError(format!("cannot build the OTLP exporter: {e}")))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        )
        .build())
}

/// A `tracing` layer that turns spans into OpenTelemetry spans of `provider`; span fields
/// become attributes (`gen_ai.request.model`, ...), `otel.name` the span name.
pub fn layer<S>(provider: &SdkTracerProvider) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("bulkhead"))
        .boxed()
}
