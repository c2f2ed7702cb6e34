//! The Prometheus exporter, configured with buckets that suit LLM traffic.
//!
//! Only the application installs it (`bulkhead-server` does at start-up); the gateway renders
//! `GET /metrics` from the returned [`PrometheusHandle`]. No HTTP listener of the exporter's own
//! is started: `/metrics` is served by the gateway's router, on the gateway's port.

use std::time::Duration;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::names;

/// Latency buckets, in seconds, from 1 ms to 10 minutes: a cached answer takes milliseconds,
/// a long reasoning answer several minutes.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0,
    160.0, 320.0, 600.0,
];

/// Buckets, in seconds, for the time between two chunks of a stream (1 ms to 2.5 s).
pub const CHUNK_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5,
];

/// Buckets, in seconds, for Bulkhead's own overhead per request (10 µs to 1 s).
pub const OVERHEAD_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 1.0,
];

/// Token-count buckets (powers of four, as the OpenTelemetry GenAI conventions advise).
pub const TOKEN_BUCKETS: &[f64] = &[
    1.0,
    4.0,
    16.0,
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
];

/// How often [`upkeep`] should run: drains histogram samples nobody scraped, so memory stays
/// bounded when `/metrics` is not scraped for a long time.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// A [`PrometheusBuilder`] with this crate's buckets set for its histograms; add your own
/// settings (global labels, more buckets) before building it.
pub fn prometheus_builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(names::OPERATION_DURATION.into()),
            LATENCY_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(names::TIME_TO_FIRST_CHUNK.into()),
            LATENCY_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(names::TIME_PER_OUTPUT_CHUNK.into()),
            CHUNK_BUCKETS,
        )?
        .set_buckets_for_metric(Matcher::Full(names::TOKEN_USAGE.into()), TOKEN_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full(names::GATEWAY_OVERHEAD.into()),
            OVERHEAD_BUCKETS,
        )
}

/// Build the Prometheus recorder with this crate's buckets, install it as the process's global
/// `metrics` recorder, describe every metric, and return the handle `/metrics` renders from.
///
/// Call once, in the application. Fails if a global recorder is already installed. Spawn
/// [`upkeep`] next to it.
pub fn install_prometheus() -> Result<PrometheusHandle, BuildError> {
    let handle = prometheus_builder()?.install_recorder()?;
    names::describe_metrics();
    Ok(handle)
}

/// Run the exporter's upkeep every [`UPKEEP_INTERVAL`], forever: `tokio::spawn(upkeep(handle))`.
pub async fn upkeep(handle: PrometheusHandle) {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_ascend_and_latency_spans_a_millisecond_to_minutes() {
        for buckets in [
            LATENCY_BUCKETS,
            CHUNK_BUCKETS,
            OVERHEAD_BUCKETS,
            TOKEN_BUCKETS,
        ] {
            assert!(buckets.windows(2).all(|w| w[0] < w[1]));
        }
        assert_eq!(LATENCY_BUCKETS[0], 0.001);
        assert!(LATENCY_BUCKETS[LATENCY_BUCKETS.len() - 1] >= 300.0);
    }
}
