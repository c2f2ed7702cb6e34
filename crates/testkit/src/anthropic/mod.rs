//! The Anthropic Messages wire format: realistic bodies and event sequences for
//! [`Step::Json`](crate::Step::Json), [`Step::Stream`](crate::Step::Stream) and
//! [`Step::Error`](crate::Step::Error), and the `/v1/messages` responder behind
//! [`Step::Reply`](crate::Step::Reply) and [`Step::StreamCut`](crate::Step::StreamCut).
//!
//! On `/v1/messages` a [`Step::Stream`](crate::Step::Stream) payload is sent as Anthropic does,
//! `event: <type>` then `data: <payload>`, the name taken from the payload's `"type"`.

use serde_json::{Value, json};

mod messages;

pub(crate) use messages::Endpoint;

/// The message id the fixtures use.
pub const MESSAGE_ID: &str = "msg_mock";

/// Anthropic `usage`.
pub fn usage(input_tokens: u32, output_tokens: u32) -> Value {
    json!({
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    })
}

/// A complete message with these content blocks.
pub fn message(
    id: &str,
    model: &str,
    content: Vec<Value>,
    stop_reason: &str,
    usage: Value,
) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": usage,
    })
}

/// A message saying `text`, stop reason `end_turn`.
pub fn text_message(text: &str, model: &str) -> Value {
    message(
        MESSAGE_ID,
        model,
        vec![json!({ "type": "text", "text": text })],
        "end_turn",
        usage(1, 1),
    )
}

/// The event payloads of a streamed text answer, as Anthropic sends them: `message_start`,
/// `content_block_start`, `ping`, one `text_delta` per part, `content_block_stop`,
/// `message_delta` (`end_turn`) and `message_stop`.
pub fn text_stream(parts: &[&str], model: &str) -> Vec<String> {
    let mut events = vec![
        message_start(MESSAGE_ID, model, 1),
        json!({ "type": "content_block_start", "index": 0,
                "content_block": { "type": "text", "text": "" } }),
        json!({ "type": "ping" }),
    ];
    events.extend(parts.iter().map(|p| text_delta(0, p)));
    events.push(json!({ "type": "content_block_stop", "index": 0 }));
    events.push(message_delta("end_turn", parts.len()));
    events.push(json!({ "type": "message_stop" }));
    events.iter().map(Value::to_string).collect()
}

/// `message_start` with no content yet.
pub fn message_start(id: &str, model: &str, input_tokens: u32) -> Value {
    let mut message = message(id, model, Vec::new(), "", usage(input_tokens, 1));
    message["stop_reason"] = Value::Null;
    json!({ "type": "message_start", "message": message })
}

/// A `text_delta` for block `index`.
pub fn text_delta(index: usize, text: &str) -> Value {
    json!({ "type": "content_block_delta", "index": index,
            "delta": { "type": "text_delta", "text": text } })
}

/// `message_delta` with a stop reason and the cumulative output tokens.
pub fn message_delta(stop_reason: &str, output_tokens: usize) -> Value {
    json!({ "type": "message_delta",
            "delta": { "stop_reason": stop_reason, "stop_sequence": null },
            "usage": { "output_tokens": output_tokens } })
}

/// Anthropic's error body: `{"type": "error", "error": {"type", "message"}}`.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

/// The error `type` Anthropic sends with `status`.
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// The error body Anthropic sends with `status`.
pub fn error_for_status(status: u16, message: &str) -> Value {
    error_body(error_type(status), message)
}
