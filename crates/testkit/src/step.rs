//! The script a mock upstream follows: one [`Step`] per request.

use std::time::Duration;

use serde_json::Value;

use crate::fixtures;

/// What the mock upstream does with one request.
///
/// Steps are consumed in the order they were pushed, one per request on any path; once the
/// script is empty every request gets [`Step::Reply`].
#[derive(Debug, Clone)]
pub enum Step {
    /// A normal answer derived from the request: a `chat.completion` JSON body, or an SSE stream
    /// when the request had `"stream": true` (role chunk, one chunk per word, a finish chunk, a
    /// usage chunk if `stream_options.include_usage`, then `[DONE]`). The text is
    /// `"Mock answer to: <last user message>"`, cut to `max_tokens` words (finish reason
    /// `length`); usage counts whitespace-separated words. When the request forces a tool
    /// (`tool_choice` `"required"` or a named function) the answer is a call to that tool (or the
    /// first one) whose arguments give every required property the string `"mock"`.
    /// On `/v1/embeddings` it returns deterministic unit vectors (8 dimensions unless
    /// `dimensions` is set; base64 when `encoding_format` asks), on `/v1/models` a model list.
    Reply,
    /// This exact JSON body with status 200.
    Json(Value),
    /// A `text/event-stream` answer: each string is sent as one `data: <string>` event, in
    /// order. The headers and the first event go out at once, then `delay` passes before each
    /// following event. Nothing is added: include `"[DONE]"` if the stream should end with it.
    Stream {
        /// The `data:` payloads, sent as given.
        events: Vec<String>,
        /// The pause between two events.
        delay: Duration,
    },
    /// An error answer with this status, JSON body and extra headers (`Retry-After`, ...).
    Error {
        /// The HTTP status.
        status: u16,
        /// The JSON body, usually [`fixtures::error_body`].
        body: Value,
        /// Extra response headers as (name, value).
        headers: Vec<(String, String)>,
    },
    /// Read the request and never answer, until the client goes away or the mock is dropped.
    Hang,
    /// A normal SSE answer that stops after `after_chunks` content chunks (the role chunk does
    /// not count): no finish chunk, no `[DONE]`, and the connection is closed mid-body. For a
    /// request that did not ask to stream, the JSON body is cut in half the same way.
    StreamCut {
        /// How many content chunks are sent before the cut.
        after_chunks: usize,
    },
    /// Wait, then perform the inner step (the status line is not sent while waiting).
    Delay(Duration, Box<Step>),
}

impl Step {
    /// A `chat.completion` body whose single choice says `text` (model
    /// [`fixtures::MODEL`], finish reason `stop`).
    pub fn text(text: &str) -> Step {
        Step::Json(fixtures::chat_completion(text, fixtures::MODEL))
    }

    /// An SSE answer with these content deltas: a role chunk, one chunk per part, a finish chunk
    /// and `[DONE]`, with no delay.
    pub fn stream_text(parts: &[&str]) -> Step {
        Step::Stream {
            events: fixtures::stream_events(parts, fixtures::MODEL, None),
            delay: Duration::ZERO,
        }
    }

    /// An error with OpenAI's body (`{"error": {"message", "type", "param", "code"}}`), the
    /// type and code OpenAI uses for that status, and no extra headers.
    pub fn error(status: u16, message: &str) -> Step {
        Step::Error {
            status,
            body: fixtures::error_for_status(status, message),
            headers: Vec::new(),
        }
    }

    /// A 429 `rate_limit_exceeded` error carrying `Retry-After` in whole seconds.
    pub fn rate_limited(retry_after_secs: u64) -> Step {
        Step::Error {
            status: 429,
            body: fixtures::error_for_status(429, "Rate limit reached for requests"),
            headers: vec![("retry-after".to_owned(), retry_after_secs.to_string())],
        }
    }

    /// An error with Anthropic's body (`{"type": "error", "error": {"type", "message"}}`) and
    /// the error type Anthropic uses for that status (529 `overloaded_error`, ...).
    pub fn anthropic_error(status: u16, message: &str) -> Step {
        Step::Error {
            status,
            body: crate::anthropic::error_for_status(status, message),
            headers: Vec::new(),
        }
    }

    /// An Anthropic streamed text answer with these `text_delta` parts and no delay (see
    /// [`anthropic::text_stream`](crate::anthropic::text_stream)).
    pub fn anthropic_stream_text(parts: &[&str]) -> Step {
        Step::Stream {
            events: crate::anthropic::text_stream(parts, "claude-mock"),
            delay: Duration::ZERO,
        }
    }

    /// Wait `delay`, then perform `self`.
    pub fn after(self, delay: Duration) -> Step {
        Step::Delay(delay, Box::new(self))
    }
}
