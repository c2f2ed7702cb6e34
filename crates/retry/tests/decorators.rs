//! Timeout, concurrency limit, the call report, layers and metrics.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulkhead_core::{CallReport, ChatModel, ErrorKind};
use bulkhead_retry::telemetry::{CIRCUIT_STATE, RETRIES_TOTAL, UPSTREAM_ATTEMPTS_TOTAL};
use bulkhead_retry::{
    Circuit, CircuitBreakerLayer, CircuitConfig, CircuitState, ConcurrencyLimit,
    ConcurrencyLimitLayer, ExponentialBackoff, Limiter, Retry, RetryLayer, Timeout, TimeoutLayer,
};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use support::{Scripted, Step, request, unavailable};
use tower_layer::Layer;

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_times_out_and_is_retried() {
    let upstream = Scripted::new([]).with_latency(Duration::from_secs(5));
    let model = Retry::new(
        Timeout::new(upstream.clone(), Duration::from_secs(1)),
        ExponentialBackoff::default(),
    );
    let start = tokio::time::Instant::now();
    let err = model
        .chat(request())
        .await
        .expect_err("the call should fail");
    assert_eq!((err.kind(), upstream.calls()), (ErrorKind::Timeout, 3));
    assert!(start.elapsed() < Duration::from_millis(3_600));
}

#[tokio::test(start_paused = true)]
async fn the_concurrency_limit_rejects_at_once_and_streams_hold_their_slot() {
    let upstream = Scripted::new([]).with_latency(Duration::from_secs(1));
    let model = Arc::new(ConcurrencyLimit::new(upstream.clone(), Limiter::new(1)));
    let busy = tokio::spawn({
        let model = model.clone();
        async move { model.chat(request()).await }
    });
    tokio::task::yield_now().await;
    let start = tokio::time::Instant::now();
    let err = model
        .chat(request())
        .await
        .expect_err("the call should fail");
    assert_eq!(
        (err.kind(), start.elapsed()),
        (ErrorKind::Overloaded, Duration::ZERO)
    );
    busy.await.expect("task").expect("the first call succeeds");
    let stream = model.stream(request()).await.expect("the call succeeds");
    assert!(
        model.chat(request()).await.is_err(),
        "the open stream holds the slot"
    );
    drop(stream);
    assert!(model.chat(request()).await.is_ok());
}

/// A recorder that keeps counter and gauge values by name and labels.
#[derive(Debug, Default, Clone)]
struct Capture(Arc<Mutex<HashMap<String, Arc<AtomicU64>>>>);

impl Capture {
    fn slot(&self, key: &Key) -> Arc<AtomicU64> {
        let mut labels: Vec<_> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        self.0
            .lock()
            .expect("lock")
            .entry(name)
            .or_default()
            .clone()
    }

    fn get(&self, name: &str) -> u64 {
        self.0
            .lock()
            .expect("metrics")
            .get(name)
            .map_or(0, |v| v.load(Ordering::SeqCst))
    }
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.slot(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        // Gauges store f64 bits; `AtomicU64` implements `GaugeFn` that way.
        Gauge::from_arc(self.slot(key))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[test]
fn layers_report_attempts_and_emit_metrics() {
    let capture = Capture::default();
    metrics::with_local_recorder(&capture, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let upstream = Scripted::new([Step::Fail(unavailable()), Step::Fail(unavailable())]);
            let breaker = CircuitBreakerLayer::new("sim", CircuitConfig::default());
            let model = RetryLayer::new(ExponentialBackoff::default())
                .with_provider("sim")
                .layer(ConcurrencyLimitLayer::new(8).layer(
                    breaker.layer(TimeoutLayer::new(Duration::from_secs(30)).layer(upstream)),
                ));
            let report = CallReport::new();
            let mut req = request();
            req.extensions.insert(report.clone());
            model.chat(req).await.expect("the call succeeds");
            assert_eq!(report.attempts(), 3);

            let circuit = Circuit::new("down", CircuitConfig::default());
            for _ in 0..20 {
                circuit.try_acquire().expect("closed").failure();
            }
            assert_eq!(circuit.state(), CircuitState::Open);
        });
    });
    let gauge = |provider: &str| {
        f64::from_bits(capture.get(&format!("{CIRCUIT_STATE}{{provider={provider}}}")))
    };
    assert_eq!((gauge("down"), gauge("sim")), (1.0, 0.0));
    let attempts = |outcome| {
        capture.get(&format!(
            "{UPSTREAM_ATTEMPTS_TOTAL}{{outcome={outcome},provider=sim}}"
        ))
    };
    assert_eq!((attempts("ok"), attempts("overloaded")), (1, 2));
    assert_eq!(capture.get(&format!("{RETRIES_TOTAL}{{provider=sim}}")), 2);
}
