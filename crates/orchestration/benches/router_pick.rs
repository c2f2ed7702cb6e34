//! `router_pick`: what choosing a deployment costs, per strategy, and what the router adds to
//! a call.
//!
//! - `router_pick/<strategy>`: [`Router::pick`] over four targets, the choice every request's
//!   first attempt makes (a clock read, the cool-down check, the strategy). Before measuring,
//!   every target has served calls, so P2C reads real (decaying) latency estimates rather than
//!   the zeros of unmeasured targets, which skip the exponential.
//! - `router_chat/<strategy>`: a whole `chat` call through the router to a model that answers
//!   at once, and `router_chat/bare` the same model called directly, side by side: the
//!   difference is the router's overhead per request (pick, request rewrite, in-flight count,
//!   latency sample, `CallReport` entry).
//!
//! ```text
//! cargo bench -p bulkhead-orchestration --bench router_pick
//! # a quick look:
//! cargo bench -p bulkhead-orchestration --bench router_pick -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::sync::Arc;

use bulkhead_core::{
    CallReport, ChatModel, ChatRequest, ChatResponse, ChatStream, Message, Result, async_trait,
};
use bulkhead_orchestration::{LeastInFlight, P2c, RoundRobin, Router, Strategy, Target, Weighted};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// Answers every chat at once with a clone of one prepared response.
#[derive(Debug)]
struct Immediate(ChatResponse);

impl Immediate {
    fn new() -> Self {
        let response = serde_json::from_value(serde_json::json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }))
        .expect("a valid response");
        Self(response)
    }
}

#[async_trait]
impl ChatModel for Immediate {
    async fn chat(&self, _request: ChatRequest) -> Result<ChatResponse> {
        Ok(self.0.clone())
    }

    async fn stream(&self, _request: ChatRequest) -> Result<ChatStream> {
        Err(bulkhead_core::Error::bad_request(
            "this bench model only answers chat",
        ))
    }
}

fn request() -> ChatRequest {
    let mut request = ChatRequest::new("chat", vec![Message::user("hi")]);
    request.extensions.insert(CallReport::new());
    request
}

fn strategies() -> Vec<(&'static str, Arc<dyn Strategy>)> {
    vec![
        ("weighted", Arc::new(Weighted::new())),
        ("round_robin", Arc::new(RoundRobin::new())),
        ("least_in_flight", Arc::new(LeastInFlight::new())),
        ("p2c", Arc::new(P2c::new())),
    ]
}

/// Four targets with weights 4, 3, 2, 1, all answering at once.
fn router(strategy: Arc<dyn Strategy>, model: &Arc<Immediate>) -> Router {
    let mut builder = Router::builder("chat").strategy_arc(strategy);
    for (i, weight) in [4, 3, 2, 1].into_iter().enumerate() {
        builder = builder.target(
            Target::new(
                format!("provider-{i}"),
                "m",
                model.clone() as Arc<dyn ChatModel>,
            )
            .weight(weight),
        );
    }
    builder.build().expect("a valid router")
}

fn router_pick(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let model = Arc::new(Immediate::new());

    let mut group = c.benchmark_group("router_pick");
    for (name, strategy) in strategies() {
        let router = router(strategy, &model);
        // Every target serves a few calls first, so its latency estimate is real.
        runtime.block_on(async {
            for _ in 0..64 {
                router.chat(request()).await.expect("answers");
            }
        });
        group.bench_function(name, |b| b.iter(|| black_box(router.pick())));
    }
    group.finish();

    let mut group = c.benchmark_group("router_chat");
    group.bench_function("bare", |b| {
        b.to_async(&runtime).iter_batched(
            request,
            |request| async { black_box(model.chat(request).await) },
            BatchSize::SmallInput,
        )
    });
    for (name, strategy) in strategies() {
        let router = router(strategy, &model);
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_batched(
                request,
                |request| async { black_box(router.chat(request).await) },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, router_pick);
criterion_main!(benches);
