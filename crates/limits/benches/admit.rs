//! `admit`: what the limits cost a request in the gateway, with the in-memory store.
//!
//! - `admit_finish/memory`: one admission of a key with rpm, tpm, max_concurrent and a monthly
//!   budget (every limit passing), then `finish` with usage and a cost, then the permit's drop
//!   (slot released): the whole per-request cost, on a current-thread Tokio runtime.
//! - `admit_finish/unlimited`: the same call for a key with no limits (the fast path).
//! - `admit_finish/redis`: the same with the Redis store, against a `redis-server` started on
//!   loopback for the bench (skipped with a message when there is none): two script round
//!   trips (admit, settle) plus the background release.
//! - `estimate/chat_request`: the tiktoken estimate of a ~1 KB chat request with a tool.
//!
//! ```text
//! cargo bench -p bulkhead-limits --bench admit
//! cargo bench -p bulkhead-limits --bench admit -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use bulkhead_core::{ChatRequest, Usage};
use bulkhead_limits::{Budget, BudgetPeriod, Limiter, LimiterConfig, Limits, estimate_tokens};
use bulkhead_testkit::redis::RedisServer;
use criterion::{Criterion, criterion_group, criterion_main};

const REQUEST: &str = r#"{
  "model": "gpt-4o-mini",
  "messages": [
    {"role": "system", "content": "You are a concise assistant for a weather service. Answer in one or two sentences and call the tool when the user asks about current conditions."},
    {"role": "user", "content": "What is the weather in Lisbon right now, and should I take an umbrella to the office this afternoon?"}
  ],
  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}}, "required": ["city"]}}}],
  "max_tokens": 256
}"#;

/// One request's whole cost: admit 300 estimated tokens, then finish with `usage` and a cost
/// (the permit's drop releases the slot).
async fn admit_finish(limiter: &Limiter, key: &str, limits: &Limits, usage: &Usage) {
    let permit = limiter
        .admit(black_box(key), limits, 300)
        .await
        .expect("admitted");
    permit.finish(Some(usage), 0.0001).await;
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let limiter = Limiter::in_memory();
    // Generous limits, so every iteration is admitted and walks every check.
    let limits = Limits {
        rpm: Some(u32::MAX),
        tpm: Some(u64::MAX),
        max_concurrent: Some(1_000),
        budget: Some(Budget {
            usd: 1e12,
            period: BudgetPeriod::Month,
        }),
    };
    let usage: Usage =
        serde_json::from_str(r#"{"prompt_tokens":120,"completion_tokens":80,"total_tokens":200}"#)
            .expect("usage");

    let mut group = c.benchmark_group("admit_finish");
    group.bench_function("memory", |b| {
        b.to_async(&rt)
            .iter(|| admit_finish(&limiter, "team-a", &limits, &usage));
    });
    let none = Limits::default();
    group.bench_function("unlimited", |b| {
        b.to_async(&rt)
            .iter(|| admit_finish(&limiter, "team-b", &none, &usage));
    });
    if let Some(server) = RedisServer::try_start() {
        let config = LimiterConfig {
            store_timeout: std::time::Duration::from_secs(1),
            ..LimiterConfig::default()
        };
        let redis = rt.block_on(async { Limiter::redis(&server.url(), config).expect("url") });
        group.bench_function("redis", |b| {
            b.to_async(&rt)
                .iter(|| admit_finish(&redis, "team-a", &limits, &usage));
        });
        drop(redis);
        drop(server);
    }
    group.finish();

    let request: ChatRequest = serde_json::from_str(REQUEST).expect("request");
    // Load the encoding once, outside the measurement.
    black_box(estimate_tokens(&request));
    c.bench_function("estimate/chat_request", |b| {
        b.iter(|| estimate_tokens(black_box(&request)));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
