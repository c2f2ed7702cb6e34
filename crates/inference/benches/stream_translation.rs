//! `stream_translation`: what turning a provider's stream into `ChatChunk` values costs, per
//! chunk.
//!
//! - `openai_sse`: a realistic 200-chunk OpenAI stream
//!   (`bulkhead_testkit::fixtures::realistic_stream`), in 1400-byte pieces, through the steps
//!   the OpenAI provider takes per event: [`SseDecoder`], trim, `[DONE]` check,
//!   `serde_json::from_str::<ChatChunk>`. (The provider's own `interpret` is private; these are
//!   the same public steps, without the HTTP body and timers around them.)
//! - `simulated`: [`SimulatedProvider::stream`] with zero latency, drained: the whole call,
//!   including planning the answer, per chunk it yields.
//!
//! Throughput is in chunks, so criterion prints chunks/s.
//!
//! ```text
//! cargo bench -p bulkhead-inference --bench stream_translation
//! # a quick look:
//! cargo bench -p bulkhead-inference --bench stream_translation -- --warm-up-time 1 --measurement-time 3
//! # before and after a change:
//! cargo bench -p bulkhead-inference --bench stream_translation -- --save-baseline before
//! cargo bench -p bulkhead-inference --bench stream_translation -- --baseline before
//! ```

use std::hint::black_box;

use bulkhead_core::{ChatChunk, ChatModel as _, ChatRequest, Message, StreamOptions};
use bulkhead_inference::{SimulatedConfig, SimulatedProvider, SseDecoder};
use bulkhead_testkit::fixtures;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt as _;

/// SSE bytes to chunks, as the OpenAI provider's stream does; returns the chunks parsed.
fn translate(pieces: &[&[u8]]) -> usize {
    let mut decoder = SseDecoder::new();
    let mut chunks = 0;
    for piece in pieces {
        decoder.push(piece);
        while let Some(event) = decoder.next_event().expect("the stream is well formed") {
            let data = event.data.trim();
            if data == "[DONE]" {
                return chunks;
            }
            if data.is_empty() || event.event.as_deref() == Some("error") {
                continue;
            }
            let chunk: ChatChunk = serde_json::from_str(data).expect("a valid chunk");
            black_box(chunk);
            chunks += 1;
        }
    }
    chunks
}

/// One zero-latency simulated stream, drained; returns the chunks it yielded.
async fn drain(provider: &SimulatedProvider, request: ChatRequest) -> usize {
    let mut stream = provider
        .stream(request)
        .await
        .expect("no faults configured");
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        black_box(chunk.expect("no faults configured"));
        chunks += 1;
    }
    chunks
}

fn request() -> ChatRequest {
    let mut request = ChatRequest::new(
        "simulated-1",
        vec![
            Message::system("You are a concise assistant for an operations team."),
            Message::user("How does the gateway keep per-request overhead low when streaming?"),
        ],
    );
    request.stream = Some(true);
    request.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..StreamOptions::default()
    });
    request
}

fn stream_translation(c: &mut Criterion) {
    let body = fixtures::realistic_stream();
    let segments: Vec<&[u8]> = body.chunks(fixtures::TCP_SEGMENT).collect();
    assert_eq!(translate(&segments), fixtures::REALISTIC_STREAM_CHUNKS);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let provider = SimulatedProvider::new(SimulatedConfig::default());
    let request = request();
    let simulated_chunks = runtime.block_on(drain(&provider, request.clone()));

    let mut group = c.benchmark_group("stream_translation");
    group.throughput(Throughput::Elements(
        fixtures::REALISTIC_STREAM_CHUNKS as u64,
    ));
    group.bench_function("openai_sse", |b| b.iter(|| translate(black_box(&segments))));
    group.throughput(Throughput::Elements(simulated_chunks as u64));
    group.bench_function(format!("simulated/{simulated_chunks}_chunks"), |b| {
        b.to_async(&runtime).iter_batched(
            || request.clone(),
            |request| drain(&provider, request),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, stream_translation);
criterion_main!(benches);
