//! A realistic OpenAI streamed chat completion, generated once per bench run.
//!
//! Shaped like a recorded `gpt-4o-mini` stream with `stream_options.include_usage` (see
//! `tests/fixtures/openai_stream.sse`): every event repeats the id, model, `service_tier` and
//! `system_fingerprint`, every choice carries `"logprobs":null`, every chunk but the last
//! `"usage":null`; tokens mix ASCII words, punctuation, escapes and multi-byte UTF-8.

/// Chunk events in the stream: one role chunk, content chunks, one finish chunk and one usage
/// chunk. `data: [DONE]` follows them.
pub(crate) const CHUNKS: usize = 200;

/// A TCP segment's worth of payload: how a stream's bytes usually arrive from the socket.
pub(crate) const SEGMENT: usize = 1400;

const TOKENS: &[&str] = &[
    "Sure",
    "!",
    " Here",
    "'s",
    " how",
    " the",
    " gateway",
    " handles",
    " a",
    " streamed",
    " request",
    ":\n\n",
    "1",
    ".",
    " **",
    "Parse",
    "**",
    " –",
    " the",
    " body",
    " is",
    " read",
    " once",
    ",",
    " then",
    " routed",
    " to",
    " the",
    " provider",
    ".\n",
    "2",
    " café",
    " naïve",
    " \"",
    "quoted",
    "\"",
    " 東京",
    " ✓",
    " latency",
    " stays",
    " low",
    " because",
    " nothing",
    " is",
    " buffered",
    " or",
    " copied",
    " twice",
];

const HEAD: &str = r#"{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":"#;

/// The whole response body: `data: {chunk}\n\n` for each of [`CHUNKS`] chunks, then
/// `data: [DONE]\n\n`.
pub(crate) fn openai_stream() -> Vec<u8> {
    let content_chunks = CHUNKS - 3;
    let mut out = String::with_capacity(CHUNKS * 320);
    let mut event = |choices: &str, usage: &str| {
        out.push_str("data: ");
        out.push_str(HEAD);
        out.push_str(choices);
        out.push_str(r#","usage":"#);
        out.push_str(usage);
        out.push_str("}\n\n");
    };
    event(
        r#"[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]"#,
        "null",
    );
    for i in 0..content_chunks {
        let token = TOKENS[(i * 7 + i / TOKENS.len()) % TOKENS.len()];
        let token = serde_json::to_string(token).expect("a string serializes");
        event(
            &format!(
                r#"[{{"index":0,"delta":{{"content":{token}}},"logprobs":null,"finish_reason":null}}]"#
            ),
            "null",
        );
    }
    event(
        r#"[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]"#,
        "null",
    );
    event(
        "[]",
        &format!(
            r#"{{"prompt_tokens":412,"completion_tokens":{content_chunks},"total_tokens":{},"prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}}"#,
            412 + content_chunks
        ),
    );
    out.push_str("data: [DONE]\n\n");
    out.into_bytes()
}
