//! Realistic OpenAI bodies as `serde_json::Value`, shaped like the ones api.openai.com sends,
//! for [`Step::Json`](crate::Step::Json), [`Step::Stream`](crate::Step::Stream) and decoder
//! tests, and for benches [`realistic_request`], a ~2 KB agent request as JSON text,
//! [`long_conversation_request`], a ~40 KB conversation,
//! [`realistic_response`], a ~1 KB answer as OpenAI sends it, and [`realistic_stream`], a
//! 200-chunk stream as bytes.

use serde_json::{Value, json};

mod realistic;

pub use realistic::{
    REALISTIC_STREAM_CHUNKS, TCP_SEGMENT, long_conversation_request, realistic_request,
    realistic_response, realistic_stream, realistic_stream_events,
};

/// The model name the fixtures use when a test does not care.
pub const MODEL: &str = "mock-model";

/// The completion id the fixtures use.
pub const COMPLETION_ID: &str = "chatcmpl-mock";

/// A fixed creation time (2024-01-01T00:00:00Z), so fixtures compare equal across runs.
pub const CREATED: u64 = 1_704_067_200;

const FINGERPRINT: &str = "fp_mock";

/// `usage` with consistent totals.
pub fn usage(prompt_tokens: u32, completion_tokens: u32) -> Value {
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

/// A `chat.completion` whose single choice says `text`, with finish reason `stop` and usage
/// counted in words (prompt 1).
pub fn chat_completion(text: &str, model: &str) -> Value {
    completion(
        COMPLETION_ID,
        CREATED,
        model,
        json!({ "role": "assistant", "content": text, "refusal": null, "annotations": [] }),
        "stop",
        usage(1, words(text)),
    )
}

/// A `chat.completion` whose single choice calls the function `name` with `arguments` (a JSON
/// value, sent JSON-encoded as OpenAI does), finish reason `tool_calls`.
pub fn tool_call_completion(model: &str, name: &str, arguments: &Value) -> Value {
    let arguments = arguments.to_string();
    completion(
        COMPLETION_ID,
        CREATED,
        model,
        json!({
            "role": "assistant",
            "content": null,
            "refusal": null,
            "annotations": [],
            "tool_calls": [tool_call(0, name, &arguments)],
        }),
        "tool_calls",
        usage(1, words(&arguments).max(1)),
    )
}

/// One `chat.completion.chunk` with a single choice holding `delta`.
pub fn chunk(model: &str, delta: Value, finish_reason: Option<&str>) -> Value {
    chunk_with(COMPLETION_ID, CREATED, model, delta, finish_reason, false)
}

/// The first chunk of an answer: role `assistant`, empty content.
pub fn role_chunk(model: &str) -> Value {
    chunk(
        model,
        json!({ "role": "assistant", "content": "", "refusal": null }),
        None,
    )
}

/// A chunk adding `text` to the content.
pub fn content_chunk(text: &str, model: &str) -> Value {
    chunk(model, json!({ "content": text }), None)
}

/// The chunk that ends a choice: an empty delta and the finish reason.
pub fn finish_chunk(model: &str, finish_reason: &str) -> Value {
    chunk(model, json!({}), Some(finish_reason))
}

/// The final chunk of a stream with `include_usage`: no choices, the usage of the answer.
pub fn usage_chunk(model: &str, prompt_tokens: u32, completion_tokens: u32) -> Value {
    json!({
        "id": COMPLETION_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [],
        "usage": usage(prompt_tokens, completion_tokens),
    })
}

/// The `data:` payloads of a streamed answer with these content parts: a role chunk, one chunk
/// per part, a `stop` finish chunk, a usage chunk when `usage` is `Some((prompt, completion))`,
/// and `"[DONE]"`.
pub fn stream_events(parts: &[&str], model: &str, usage: Option<(u32, u32)>) -> Vec<String> {
    let mut events = vec![role_chunk(model).to_string()];
    events.extend(parts.iter().map(|p| content_chunk(p, model).to_string()));
    events.push(finish_chunk(model, "stop").to_string());
    if let Some((prompt, completion)) = usage {
        events.push(usage_chunk(model, prompt, completion).to_string());
    }
    events.push("[DONE]".to_owned());
    events
}

/// The wire text of SSE `data:` events (`data: <payload>\n\n` each), as a decoder reads it.
pub fn sse_text<S: AsRef<str>>(events: &[S]) -> String {
    events
        .iter()
        .map(|e| format!("data: {}\n\n", e.as_ref()))
        .collect()
}

/// An embeddings response (`"object": "list"`) with one float vector per input.
pub fn embeddings(model: &str, vectors: &[Vec<f32>]) -> Value {
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, v)| json!({ "object": "embedding", "index": index, "embedding": v }))
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": vectors.len(), "total_tokens": vectors.len() },
    })
}

/// A `GET /v1/models` list with these model ids.
pub fn models(ids: &[&str]) -> Value {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": CREATED, "owned_by": "bulkhead-testkit" }))
        .collect();
    json!({ "object": "list", "data": data })
}

/// OpenAI's error body: `{"error": {"message", "type", "param": null, "code"}}`.
pub fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
}

/// The error body OpenAI sends with `status`, with its usual `type` and `code`.
pub fn error_for_status(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        400 | 413 | 422 => ("invalid_request_error", None),
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => (
            "invalid_request_error",
            Some("unsupported_country_region_territory"),
        ),
        404 => ("invalid_request_error", Some("model_not_found")),
        429 => ("requests", Some("rate_limit_exceeded")),
        500..=599 => ("server_error", None),
        _ => ("invalid_request_error", None),
    };
    error_body(message, kind, code)
}

/// A `chat.completion` body with one choice.
pub(crate) fn completion(
    id: &str,
    created: u64,
    model: &str,
    message: Value,
    finish_reason: &str,
    usage: Value,
) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    })
}

/// A chunk with one choice; with `null_usage`, `"usage": null` is added as OpenAI does on every
/// chunk but the last when `include_usage` was asked.
pub(crate) fn chunk_with(
    id: &str,
    created: u64,
    model: &str,
    delta: Value,
    finish_reason: Option<&str>,
    null_usage: bool,
) -> Value {
    let mut chunk = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{
            "index": 0,
            "delta": delta,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
    });
    if null_usage {
        chunk["usage"] = Value::Null;
    }
    chunk
}

/// One entry of a message's `tool_calls`.
pub(crate) fn tool_call(index: usize, name: &str, arguments: &str) -> Value {
    json!({
        "id": format!("call_mock_{index}"),
        "type": "function",
        "function": { "name": name, "arguments": arguments },
    })
}

/// Whitespace-separated words, the mock's honest token count.
pub(crate) fn words(text: &str) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}
