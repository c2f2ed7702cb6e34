//! `cache_hit`: a whole cache hit through the [`Cache`] decorator on a [`MemoryStore`]: key,
//! lookup, report, and the answer handed back (as one response, or replayed as chunks).
//!
//! - `cache_hit/json`: `Cache::chat` of a short request whose answer (~1 KB) is cached.
//! - `cache_hit/stream`: `Cache::stream` of the same, draining the replayed chunks.
//! - `memory_store/get`: the store lookup alone.
//!
//! ```text
//! cargo bench -p bulkhead-cache --bench cache_hit
//! cargo bench -p bulkhead-cache --bench cache_hit -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bulkhead_cache::{Cache, CachedValue, Entry, MemoryStore, Store, chat_key};
use bulkhead_core::{
    CallReport, ChatModel, ChatRequest, ChatResponse, ChatStream, Choice, Error, FinishReason,
    Message, Nullable, Result, Tenant, Usage, async_trait,
};
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::StreamExt;

/// An upstream that must never be reached: every request in this bench is a hit.
struct Unreachable;

#[async_trait]
impl ChatModel for Unreachable {
    async fn chat(&self, _: ChatRequest) -> Result<ChatResponse> {
        Err(Error::internal("the bench expected a cache hit"))
    }
    async fn stream(&self, _: ChatRequest) -> Result<ChatStream> {
        Err(Error::internal("the bench expected a cache hit"))
    }
}

fn answer() -> ChatResponse {
    ChatResponse {
        id: "chatcmpl-bench".into(),
        object: "chat.completion".into(),
        created: 1_700_000_000,
        model: "gpt-4o-mini".into(),
        choices: vec![Choice {
            index: 0,
            message: Message::assistant("Paris is the capital of France. ".repeat(32)),
            finish_reason: Some(FinishReason::Stop),
            logprobs: Nullable::Absent,
            extra: Default::default(),
        }],
        usage: Some(Usage {
            prompt_tokens: 14,
            completion_tokens: 224,
            total_tokens: 238,
            ..Default::default()
        }),
        service_tier: Nullable::Absent,
        system_fingerprint: Nullable::Absent,
        extra: Default::default(),
    }
}

fn request() -> ChatRequest {
    let mut request = ChatRequest::new(
        "gpt-4o-mini",
        vec![Message::user("What is the capital of France?")],
    );
    request.extensions.insert(Tenant::new("team-a"));
    request
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = Arc::new(MemoryStore::new(64 * 1024 * 1024));
    let key = chat_key(Some(&Tenant::new("team-a")), &request());
    rt.block_on(store.put(
        &key,
        Entry::new(CachedValue::Chat(answer()), Duration::from_secs(3600)),
    ));
    let cache = Cache::new(Unreachable, store.clone());

    let mut group = c.benchmark_group("cache_hit");
    group.bench_function("json", |b| {
        b.to_async(&rt).iter(|| async {
            let mut request = request();
            request.extensions.insert(CallReport::new());
            black_box(cache.chat(request).await.expect("hit"))
        })
    });
    group.bench_function("stream", |b| {
        b.to_async(&rt).iter(|| async {
            let mut request = request();
            request.stream = Some(true);
            let mut stream = cache.stream(request).await.expect("hit");
            let mut n = 0;
            while let Some(chunk) = stream.next().await {
                black_box(chunk.expect("chunk"));
                n += 1;
            }
            n
        })
    });
    group.finish();

    c.bench_function("memory_store/get", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(store.get(black_box(&key)).await.expect("hit")) })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
