//! `wire`: the per-request and per-chunk cost of the wire types.
//!
//! - `request_parse`: `serde_json::from_slice::<ChatRequest>` of a realistic ~2 KB request (a
//!   system prompt, a tool-call turn and its result, two function tools with JSON schemas,
//!   sampling options, `stream_options`: `bulkhead_testkit::fixtures::realistic_request`);
//!   throughput in bytes.
//! - `request_write/{serde_json,by_hand}/{agent,long}`: the request as an upstream is sent
//!   it, by `serde_json::to_vec` and by [`bulkhead_core::json::write_chat_request`] (the
//!   gateway's), for the ~2 KB agent request above and a ~40 KB twelve-turn conversation
//!   (`fixtures::long_conversation_request`, mostly text to escape); throughput in bytes.
//! - `request_parse_long`: the long conversation parsed, as `request_parse`.
//! - `request_read/{serde_json,by_hand}/{chat,long}`: a two-message chat request (what the
//!   load scripts send) and the long conversation read by `serde_json::from_str` and by
//!   [`bulkhead_core::json::read_chat_request`] (the gateway's: serde_json's result, read by
//!   hand for the common shapes).
//! - `response_serialize`: `serde_json::to_vec` of the response the 200 chunks below add up
//!   to (~1 KB of text, usage with details, `system_fingerprint`).
//! - `chunk_serialize`: one content chunk to JSON bytes in a reused buffer, as the gateway's
//!   SSE encoder writes it; throughput in chunks.
//! - `chunk_fold`: [`ChunkAccumulator`] over a realistic 200-chunk OpenAI stream
//!   (`bulkhead_testkit::fixtures::realistic_stream_events`), `finish` included; throughput in
//!   chunks.
//!
//! ```text
//! cargo bench -p bulkhead-core --bench wire
//! # a quick look:
//! cargo bench -p bulkhead-core --bench wire -- --warm-up-time 1 --measurement-time 3
//! # before and after a change:
//! cargo bench -p bulkhead-core --bench wire -- --save-baseline before
//! cargo bench -p bulkhead-core --bench wire -- --baseline before
//! ```

use std::hint::black_box;

use bulkhead_core::{ChatChunk, ChatRequest, ChunkAccumulator, json};
use bulkhead_testkit::fixtures;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Chunk events in the stream: role, content, finish and usage chunks.
const CHUNKS: usize = fixtures::REALISTIC_STREAM_CHUNKS;

/// A realistic recorded-style OpenAI stream (the inference benches' input), parsed: role chunk,
/// content chunks, finish chunk, usage chunk.
fn openai_chunks() -> Vec<ChatChunk> {
    fixtures::realistic_stream_events()
        .iter()
        .map(|event| serde_json::from_str(event).expect("a valid chunk"))
        .collect()
}

fn fold(chunks: &[ChatChunk]) -> bulkhead_core::ChatResponse {
    let mut acc = ChunkAccumulator::new();
    for chunk in chunks {
        acc.push(chunk);
    }
    acc.finish()
}

fn wire(c: &mut Criterion) {
    let chunks = openai_chunks();
    let response = fold(&chunks);
    let request_json = fixtures::realistic_request();
    let request: ChatRequest = serde_json::from_str(request_json).expect("a valid request");
    assert_eq!(request.tools.as_ref().map(Vec::len), Some(2));
    // A content chunk from the middle of the stream, the common case on the wire.
    let chunk = &chunks[CHUNKS / 2];

    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Bytes(request_json.len() as u64));
    group.bench_function("request_parse", |b| {
        b.iter(|| serde_json::from_slice::<ChatRequest>(black_box(request_json.as_bytes())))
    });

    let long_json = fixtures::long_conversation_request();
    let long: ChatRequest = serde_json::from_str(&long_json).expect("a valid request");
    group.throughput(Throughput::Bytes(long_json.len() as u64));
    group.bench_function("request_parse_long", |b| {
        b.iter(|| serde_json::from_slice::<ChatRequest>(black_box(long_json.as_bytes())))
    });
    let chat = r#"{"model":"chat","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello to the benchmark."}],"temperature":0.2,"max_tokens":64,"stream":false}"#;
    for (name, text) in [("chat", chat), ("long", long_json.as_str())] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("request_read/serde_json/{name}"), |b| {
            b.iter(|| serde_json::from_str::<ChatRequest>(black_box(text)).expect("parses"))
        });
        group.bench_function(format!("request_read/by_hand/{name}"), |b| {
            b.iter(|| json::read_chat_request(black_box(text)).expect("reads"))
        });
    }
    for (name, request) in [("agent", &request), ("long", &long)] {
        let len = serde_json::to_vec(request).expect("serializes").len();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(format!("request_write/serde_json/{name}"), |b| {
            b.iter(|| serde_json::to_vec(black_box(request)).expect("serializes"))
        });
        group.bench_function(format!("request_write/by_hand/{name}"), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                json::write_chat_request(&mut out, black_box(request)).expect("writes");
                out
            })
        });
    }

    let response_len = serde_json::to_vec(&response).expect("serializes").len();
    group.throughput(Throughput::Bytes(response_len as u64));
    group.bench_function("response_serialize", |b| {
        b.iter(|| serde_json::to_vec(black_box(&response)).expect("serializes"))
    });

    group.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(1024);
    group.bench_function("chunk_serialize", |b| {
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, black_box(chunk)).expect("serializes");
            black_box(buf.len())
        })
    });

    group.throughput(Throughput::Elements(chunks.len() as u64));
    group.bench_function("chunk_fold", |b| b.iter(|| fold(black_box(&chunks))));
    group.finish();
}

criterion_group!(benches, wire);
criterion_main!(benches);
