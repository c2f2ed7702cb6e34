//! `wire`: the per-request and per-chunk cost of the wire types.
//!
//! - `request_parse`: `serde_json::from_slice::<ChatRequest>` of a realistic ~2 KB request (a
//!   system prompt, a tool-call turn and its result, two function tools with JSON schemas,
//!   sampling options, `stream_options`); throughput in bytes.
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

use bulkhead_core::{ChatChunk, ChatRequest, ChunkAccumulator};
use bulkhead_testkit::fixtures;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A request an agent framework sends mid-conversation: tools, a tool call and its result.
const REQUEST: &str = r#"{
  "model": "gpt-4o-mini",
  "messages": [
    {"role": "system", "content": "You are a travel assistant for Contoso. Answer briefly, in the user's language. Use the tools to look up live data; never invent prices, times or availability. When a tool fails, say so and suggest what the user can do instead."},
    {"role": "user", "content": "I'm flying from Lisbon to Paris on Friday morning. What's the weather going to be like when I land, and is there a train from CDG to the city centre around 11?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_8fJ2kLmN0pQrS4tUvWxYz123", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"date\":\"2025-03-14\",\"unit\":\"celsius\"}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_8fJ2kLmN0pQrS4tUvWxYz123", "content": "{\"city\":\"Paris\",\"date\":\"2025-03-14\",\"forecast\":[{\"hour\":10,\"temp\":9,\"sky\":\"light rain\"},{\"hour\":12,\"temp\":11,\"sky\":\"cloudy\"}]}"},
    {"role": "user", "content": "Thanks. And the train?"}
  ],
  "tools": [
    {"type": "function", "function": {
      "name": "get_weather",
      "description": "Get the hourly weather forecast for a city on a given date.",
      "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Paris"},
        "date": {"type": "string", "format": "date", "description": "ISO 8601 date"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
      }, "required": ["city", "date"], "additionalProperties": false},
      "strict": true
    }},
    {"type": "function", "function": {
      "name": "search_trains",
      "description": "Search train departures between two stations around a time.",
      "parameters": {"type": "object", "properties": {
        "from": {"type": "string", "description": "Departure station or airport code"},
        "to": {"type": "string", "description": "Arrival station or city"},
        "departure_after": {"type": "string", "format": "date-time"},
        "max_results": {"type": "integer", "minimum": 1, "maximum": 10}
      }, "required": ["from", "to", "departure_after"], "additionalProperties": false},
      "strict": true
    }}
  ],
  "tool_choice": "auto",
  "parallel_tool_calls": false,
  "temperature": 0.2,
  "top_p": 1,
  "max_completion_tokens": 512,
  "stream": true,
  "stream_options": {"include_usage": true},
  "user": "user-7f3a91"
}"#;

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
    let request: ChatRequest = serde_json::from_str(REQUEST).expect("a valid request");
    assert_eq!(request.tools.as_ref().map(Vec::len), Some(2));
    // A content chunk from the middle of the stream, the common case on the wire.
    let chunk = &chunks[CHUNKS / 2];

    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Bytes(REQUEST.len() as u64));
    group.bench_function("request_parse", |b| {
        b.iter(|| serde_json::from_slice::<ChatRequest>(black_box(REQUEST.as_bytes())))
    });

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
