//! `cache_key`: the cost of a canonical cache key, paid on every cacheable request.
//!
//! - `chat_key/agent_turn`: [`chat_key`] of a realistic ~2 KB agent request (system prompt, a
//!   tool call and its result, two function tools with JSON schemas, sampling options:
//!   `bulkhead_testkit::fixtures::realistic_request`); throughput in request bytes.
//! - `chat_key/short`: a one-line question, the common chat-UI case.
//! - `chat_key/long_conversation`: a ~40 KB twelve-turn conversation
//!   (`bulkhead_testkit::fixtures::long_conversation_request`): the key's cost per byte of
//!   prompt.
//! - `embedding_key/one_input`: one input of an embeddings request.
//!
//! ```text
//! cargo bench -p bulkhead-cache --bench cache_key
//! cargo bench -p bulkhead-cache --bench cache_key -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use bulkhead_cache::{EmbeddingItem, chat_key, embedding_key};
use bulkhead_core::{ChatRequest, EmbeddingRequest, Tenant};
use bulkhead_testkit::fixtures;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SHORT: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is the capital of France?"}]}"#;

fn bench(c: &mut Criterion) {
    let tenant = Tenant::new("team-a");
    let mut group = c.benchmark_group("chat_key");
    let long = fixtures::long_conversation_request();
    for (name, json) in [
        ("agent_turn", fixtures::realistic_request()),
        ("short", SHORT),
        ("long_conversation", long.as_str()),
    ] {
        let request: ChatRequest = serde_json::from_str(json).expect("valid request");
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| chat_key(Some(black_box(&tenant)), black_box(&request)))
        });
    }
    group.finish();

    let request: EmbeddingRequest = serde_json::from_str(
        r#"{"model":"text-embedding-3-small","input":["The quick brown fox jumps over the lazy dog."],"dimensions":256}"#,
    )
    .expect("valid request");
    c.bench_function("embedding_key/one_input", |b| {
        b.iter(|| {
            embedding_key(
                Some(black_box(&tenant)),
                black_box(&request),
                EmbeddingItem::Text("The quick brown fox jumps over the lazy dog."),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
