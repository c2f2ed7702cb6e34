//! `cache_key`: the cost of a canonical cache key, paid on every cacheable request.
//!
//! - `chat_key/agent_turn`: [`chat_key`] of a realistic ~2 KB agent request (system prompt, a
//!   tool call and its result, two function tools with JSON schemas, sampling options);
//!   throughput in request bytes.
//! - `chat_key/short`: a one-line question, the common chat-UI case.
//! - `embedding_key/one_input`: one input of an embeddings request.
//!
//! ```text
//! cargo bench -p bulkhead-cache --bench cache_key
//! cargo bench -p bulkhead-cache --bench cache_key -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use bulkhead_cache::{EmbeddingItem, chat_key, embedding_key};
use bulkhead_core::{ChatRequest, EmbeddingRequest, Tenant};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// An agent framework's mid-conversation request: tools, a tool call and its result.
const AGENT_TURN: &str = r#"{
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
  "temperature": 0.2,
  "top_p": 1,
  "max_tokens": 512,
  "seed": 42,
  "stream": true,
  "stream_options": {"include_usage": true},
  "user": "user-1234"
}"#;

const SHORT: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is the capital of France?"}]}"#;

fn bench(c: &mut Criterion) {
    let tenant = Tenant::new("team-a");
    let mut group = c.benchmark_group("chat_key");
    for (name, json) in [("agent_turn", AGENT_TURN), ("short", SHORT)] {
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
