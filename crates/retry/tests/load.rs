//! Acceptance: transient faults, a full outage with and without a budget, permanent errors.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bulkhead_core::{CallReport, ChatModel, Error, ErrorKind};
use bulkhead_inference::{Fault, FaultKind, SimulatedConfig, SimulatedProvider};
use bulkhead_retry::{Budget, BudgetConfig, ExponentialBackoff, Retry, RetryBudget, RetryConfig};
use support::{Scripted, request};

fn simulated(probability: f64, seed: u64) -> SimulatedProvider {
    SimulatedProvider::new(SimulatedConfig {
        faults: vec![Fault::new(FaultKind::Unavailable, probability)],
        seed,
        ..SimulatedConfig::default()
    })
}

#[tokio::test(start_paused = true)]
async fn five_percent_503s_with_three_attempts() {
    let upstream = simulated(0.05, 2024);
    let model = Retry::new(upstream.clone(), ExponentialBackoff::default())
        .with_budget(Arc::new(RetryBudget::default()));
    let mut ok = 0;
    for _ in 0..10_000 {
        ok += u32::from(model.chat(request()).await.is_ok());
    }
    let per_request = upstream.calls() as f64 / 10_000.0;
    eprintln!("5% 503s: {ok}/10000 ok, {per_request} upstream calls per request");
    assert!(ok >= 9_995, "{ok} of 10000 succeeded");
    assert!(
        per_request <= 1.07,
        "{per_request} upstream calls per request"
    );
}

/// 100 calls per second for 30 s against an upstream that always answers 503.
async fn outage(budget: Option<Arc<dyn Budget>>) -> f64 {
    let upstream = simulated(1.0, 1);
    let policy = ExponentialBackoff::new(RetryConfig {
        seed: 3,
        ..RetryConfig::default()
    });
    let mut model = Retry::new(upstream.clone(), policy);
    if let Some(budget) = budget {
        model = model.with_budget(budget);
    }
    let model = Arc::new(model);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..3_000_u64 {
        let model = model.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start + Duration::from_millis(10 * i)).await;
            model.chat(request()).await
        }));
    }
    for task in tasks {
        assert!(task.await.expect("the call succeeds").is_err());
    }
    upstream.calls() as f64 / 3_000.0
}

#[tokio::test(start_paused = true)]
async fn full_outage_budget_caps_retries_at_ratio_plus_floor() {
    let budget = Arc::new(RetryBudget::new(BudgetConfig {
        ratio: 0.2,
        min_per_sec: 10.0,
        ..BudgetConfig::default()
    }));
    let with_budget = outage(Some(budget)).await;
    let without = outage(None).await;
    eprintln!("outage: {with_budget} calls per request with a budget, {without} without");
    assert!(
        with_budget <= 1.3,
        "with a budget: {with_budget} calls per request"
    );
    assert!(
        with_budget >= 1.2,
        "the budget should still be spent: {with_budget}"
    );
    assert!(
        without >= 2.9,
        "without a budget: {without} calls per request"
    );
}

#[tokio::test(start_paused = true)]
async fn non_retryable_kinds_are_tried_exactly_once() {
    for kind in [
        ErrorKind::BadRequest,
        ErrorKind::Authentication,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::ContextWindowExceeded,
        ErrorKind::ContentFiltered,
        ErrorKind::QuotaExceeded,
        ErrorKind::CircuitOpen,
    ] {
        let upstream = Scripted::failing_forever(Error::new(kind, "no"));
        let model = Retry::new(upstream.clone(), ExponentialBackoff::default());
        let mut once = 0;
        for _ in 0..1_000 {
            let report = CallReport::new();
            let mut req = request();
            req.extensions.insert(report.clone());
            let before = upstream.calls();
            assert_eq!(
                model
                    .chat(req)
                    .await
                    .expect_err("the call should fail")
                    .kind(),
                kind
            );
            // `CircuitOpen` says the attempt never left the process, so it is not counted.
            let counted = u32::from(kind != ErrorKind::CircuitOpen);
            once += u32::from(upstream.calls() - before == 1 && report.attempts() == counted);
        }
        assert_eq!(once, 1_000, "{kind}");
    }
}
