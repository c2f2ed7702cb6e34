//! `chunk_decode`: how fast the OpenAI provider turns a stream's event data into `ChatChunk`s,
//! with its [`ChunkDecoder`] and, side by side, with serde_json alone; and `response_decode`, the
//! same for a non-streamed answer (`decode_response` against serde_json alone) on
//! `bulkhead_testkit::fixtures::realistic_response` (~1 KB, indented as OpenAI sends it), in
//! answers per second.
//!
//! The input is the `data` of each event of a realistic 200-chunk `chat.completion.chunk`
//! stream (role, content, `stop` finish, usage, and `"usage":null` on every chunk, as OpenAI
//! sends with `include_usage`; `bulkhead_testkit::fixtures::realistic_stream_events`). Each
//! iteration decodes the whole stream with a fresh decoder, as one upstream response does.
//! Throughput is in chunks, so criterion prints chunks/s.
//!
//! ```text
//! cargo bench -p bulkhead-inference --bench chunk_decode
//! # a quick look:
//! cargo bench -p bulkhead-inference --bench chunk_decode -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use bulkhead_core::{ChatChunk, ChatResponse};
use bulkhead_inference::openai::{ChunkDecoder, decode_response};
use bulkhead_testkit::fixtures;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn decoder(events: &[String]) -> usize {
    let mut decoder = ChunkDecoder::new();
    events
        .iter()
        .map(|data| {
            black_box(decoder.decode(data).expect("a chunk"))
                .choices
                .len()
        })
        .sum()
}

fn serde_json_alone(events: &[String]) -> usize {
    events
        .iter()
        .map(|data| {
            black_box(serde_json::from_str::<ChatChunk>(data).expect("a chunk"))
                .choices
                .len()
        })
        .sum()
}

fn chunk_decode(c: &mut Criterion) {
    let events = fixtures::realistic_stream_events();
    // Both read every chunk the same.
    let mut fast = ChunkDecoder::new();
    for data in &events {
        let chunk = fast.decode(data).expect("a chunk");
        assert_eq!(
            chunk,
            serde_json::from_str::<ChatChunk>(data).expect("a chunk")
        );
    }

    let mut group = c.benchmark_group("chunk_decode");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("chunk_decoder", |b| b.iter(|| decoder(black_box(&events))));
    group.bench_function("serde_json", |b| {
        b.iter(|| serde_json_alone(black_box(&events)))
    });
    group.finish();
}

fn response_decode(c: &mut Criterion) {
    let text = fixtures::realistic_response();
    let expected = serde_json::from_str::<ChatResponse>(text).expect("an answer");
    assert_eq!(decode_response(text).expect("an answer"), expected);

    let mut group = c.benchmark_group("response_decode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode_response", |b| {
        b.iter(|| decode_response(black_box(text)).expect("an answer"))
    });
    group.bench_function("serde_json", |b| {
        b.iter(|| serde_json::from_str::<ChatResponse>(black_box(text)).expect("an answer"))
    });
    group.finish();
}

criterion_group!(benches, chunk_decode, response_decode);
criterion_main!(benches);
