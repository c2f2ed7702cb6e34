//! `sse_decode`: how fast [`SseDecoder`] turns an OpenAI stream's bytes into events.
//!
//! The input is a realistic 200-chunk `chat.completion.chunk` stream with usage and
//! `data: [DONE]` (about 65 KB, `bulkhead_testkit::fixtures::realistic_stream`). `segments`
//! pushes it in 1400-byte pieces, as TCP delivers it, so lines are split across pushes;
//! `one_piece` pushes it whole; `anthropic_segments` is a 200-delta Anthropic stream (every
//! event typed: an `event:` line, then `data:`) in the same pieces. Each iteration decodes the
//! whole stream with a fresh decoder, as one upstream response does.
//! Throughput is in bytes, so criterion prints MB/s.
//!
//! ```text
//! cargo bench -p bulkhead-inference --bench sse_decode
//! # a quick look:
//! cargo bench -p bulkhead-inference --bench sse_decode -- --warm-up-time 1 --measurement-time 3
//! # before and after a change:
//! cargo bench -p bulkhead-inference --bench sse_decode -- --save-baseline before
//! cargo bench -p bulkhead-inference --bench sse_decode -- --baseline before
//! ```

use std::hint::black_box;

use bulkhead_inference::SseDecoder;
use bulkhead_testkit::{anthropic, fixtures};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Decode every piece; returns the number of events and their data bytes.
fn decode(pieces: &[&[u8]]) -> (usize, usize) {
    let mut decoder = SseDecoder::new();
    let (mut events, mut data) = (0, 0);
    for piece in pieces {
        decoder.push(piece);
        while let Some(event) = decoder.next_event().expect("the stream is well formed") {
            events += 1;
            data += black_box(event).data.len();
        }
    }
    (events, data)
}

/// An Anthropic stream of 200 text deltas, each event named by an `event:` line.
fn anthropic_stream() -> Vec<u8> {
    let parts: Vec<String> = (0..200).map(|i| format!(" token{i}")).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let mut body = String::new();
    for data in anthropic::text_stream(&parts, "claude-sonnet-4-5") {
        let value: serde_json::Value = serde_json::from_str(&data).expect("an event is JSON");
        let kind = value["type"].as_str().expect("every event has a type");
        body.push_str(&format!("event: {kind}\ndata: {data}\n\n"));
    }
    body.into_bytes()
}

fn sse_decode(c: &mut Criterion) {
    let body = fixtures::realistic_stream();
    let segments: Vec<&[u8]> = body.chunks(fixtures::TCP_SEGMENT).collect();
    let whole = [body.as_slice()];
    // Both ways of cutting the body give every chunk and the [DONE] event.
    assert_eq!(decode(&segments).0, fixtures::REALISTIC_STREAM_CHUNKS + 1);
    assert_eq!(decode(&segments), decode(&whole));

    let mut group = c.benchmark_group("sse_decode");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("segments", |b| b.iter(|| decode(black_box(&segments))));
    group.bench_function("one_piece", |b| b.iter(|| decode(black_box(&whole))));
    group.finish();

    let body = anthropic_stream();
    let segments: Vec<&[u8]> = body.chunks(fixtures::TCP_SEGMENT).collect();
    assert_eq!(decode(&segments).0, 200 + 6);
    let mut group = c.benchmark_group("sse_decode");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("anthropic_segments", |b| {
        b.iter(|| decode(black_box(&segments)));
    });
    group.finish();
}

criterion_group!(benches, sse_decode);
criterion_main!(benches);
