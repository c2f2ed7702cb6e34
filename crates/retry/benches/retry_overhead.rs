//! `retry_overhead`: what the retry decorators add to a call that succeeds at once.
//!
//! Every request pays for its resilience layers even when nothing fails, so this is their
//! cost on the happy path. The inner model, `bulkhead_testkit::Immediate`, answers immediately
//! (a clone of a prepared response, or a stream of prepared chunks), and each group measures
//! side by side in one run:
//!
//! - `bare`: the model called directly;
//! - `retry`: [`Retry`] with the default [`ExponentialBackoff`] and no budget;
//! - `retry_budget`: the same with a shared [`RetryBudget`] (each request deposits credit);
//! - `stack`: the whole stack the gateway builds per provider, `Retry` (with budget and
//!   provider label) around [`CircuitBreaker`] around the model: a circuit permit and an
//!   outcome recorded in its sliding window on every call.
//!
//! `retry_overhead/chat/*` times one `chat` call; `retry_overhead/stream/*` times `stream`
//! plus draining its chunks (Retry and the breaker both wait for the first chunk). No metrics
//! recorder is installed, so the `metrics` macros cost what they cost in a library user's
//! process without one; with the gateway's Prometheus recorder add its per-counter cost.
//!
//! ```text
//! cargo bench -p bulkhead-retry --bench retry_overhead
//! # a quick look:
//! cargo bench -p bulkhead-retry --bench retry_overhead -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::sync::Arc;

use bulkhead_core::{CallReport, ChatModel, ChatRequest, Message};
use bulkhead_retry::{
    Circuit, CircuitBreaker, CircuitConfig, ExponentialBackoff, Retry, RetryBudget,
};
use bulkhead_testkit::{Immediate, drain_stream};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// A request as the gateway hands it down: with a `CallReport` for the attempts.
fn request() -> ChatRequest {
    let mut request = ChatRequest::new("m", vec![Message::user("Say hello")]);
    request.extensions.insert(CallReport::new());
    request
}

/// The variants measured, innermost model shared.
fn models() -> Vec<(&'static str, Arc<dyn ChatModel>)> {
    let model = Immediate::new("m");
    let budget = Arc::new(RetryBudget::default());
    let circuit = Circuit::new("bench", CircuitConfig::default());
    vec![
        ("bare", Arc::new(model.clone())),
        (
            "retry",
            Arc::new(Retry::new(model.clone(), ExponentialBackoff::default())),
        ),
        (
            "retry_budget",
            Arc::new(
                Retry::new(model.clone(), ExponentialBackoff::default())
                    .with_budget(budget.clone()),
            ),
        ),
        (
            "stack",
            Arc::new(
                Retry::new(
                    CircuitBreaker::new(model, circuit),
                    ExponentialBackoff::default(),
                )
                .with_budget(budget)
                .with_provider("bench"),
            ),
        ),
    ]
}

fn retry_overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let models = models();
    for (name, model) in &models {
        let chunks = runtime.block_on(drain_stream(&**model, request()));
        assert_eq!(chunks, 3, "{name}: every chunk passes");
        runtime
            .block_on(model.chat(request()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }

    let mut group = c.benchmark_group("retry_overhead/chat");
    for (name, model) in &models {
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter_batched(
                request,
                |request| async { black_box(model.chat(request).await) },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    let mut group = c.benchmark_group("retry_overhead/stream");
    for (name, model) in &models {
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter_batched(
                request,
                |request| async { black_box(drain_stream(&**model, request).await) },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, retry_overhead);
criterion_main!(benches);
