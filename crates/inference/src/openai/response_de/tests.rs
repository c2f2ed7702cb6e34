use bulkhead_core::ChatResponse;

use super::{decode_response, read};
use bulkhead_testkit::each_edit;

/// OpenAI's answer as it sends it: indented, a line break and multi-byte UTF-8 in the content.
const OPENAI: &str = bulkhead_testkit::fixtures::realistic_response();

/// The same shape sent compact, with escapes in the content and two choices.
const COMPACT: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1722000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Say \"wörld\" \u00e9\n👋","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"length"},{"index":1,"message":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":"content_filter"}],"usage":{"prompt_tokens":8,"completion_tokens":7,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":null},"completion_tokens_details":null},"service_tier":null,"system_fingerprint":null}"#;

const VLLM: &str = r#"{"id":"chatcmpl-4f1c","object":"chat.completion","created":1722000000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"message":{"role":"assistant","reasoning_content":null,"content":"Hi there","tool_calls":[]},"logprobs":null,"finish_reason":"length","stop_reason":null}],"usage":{"prompt_tokens":5,"total_tokens":7,"completion_tokens":2,"prompt_tokens_details":null},"prompt_logprobs":null,"kv_transfer_params":null}"#;

const OLLAMA: &str = r#"{"id":"chatcmpl-123","object":"chat.completion","created":1722000000,"model":"llama3.2","system_fingerprint":"fp_ollama","choices":[{"index":0,"message":{"role":"assistant","content":"The sky is blue."},"finish_reason":"stop"}],"usage":{"prompt_tokens":26,"completion_tokens":6,"total_tokens":32}}"#;

/// A tool call: left to serde_json.
const TOOL_CALL: &str = r#"{"id":"chatcmpl-7","object":"chat.completion","created":1722000000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}],"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":80,"completion_tokens":17,"total_tokens":97}}"#;

/// Logprobs (an object) and a fractional number among unknown members: left to serde_json.
const GROQ: &str = r#"{"id":"chatcmpl-9","object":"chat.completion","created":1722000000,"model":"llama-3.1-8b-instant","choices":[{"index":0,"message":{"role":"assistant","content":"Yo"},"logprobs":{"content":[]},"finish_reason":"stop"}],"usage":{"queue_time":0.05,"prompt_tokens":12,"completion_tokens":2,"total_tokens":14},"x_groq":{"id":"req_1"}}"#;

/// What `decode_response` gives for `text` and what serde_json gives must be the same: the same
/// answer, or the same error.
fn assert_same(text: &str) {
    let expected = serde_json::from_str::<ChatResponse>(text);
    match (decode_response(text), expected) {
        (Ok(got), Ok(expected)) => assert_eq!(got, expected, "{text}"),
        (Err(got), Err(expected)) => assert_eq!(got.to_string(), expected.to_string(), "{text}"),
        (got, expected) => panic!("{text}\n decoded: {got:?}\n serde_json: {expected:?}"),
    }
}

#[test]
fn answers_of_each_server_read_as_serde_json_does_and_openai_layouts_by_hand() {
    let answers = [
        ("openai", OPENAI, true),
        ("compact", COMPACT, true),
        ("vllm", VLLM, false),
        ("ollama", OLLAMA, false),
        ("tool call", TOOL_CALL, false),
        ("groq", GROQ, false),
    ];
    for (name, text, by_hand) in answers {
        assert!(serde_json::from_str::<ChatResponse>(text).is_ok(), "{name}");
        assert_same(text);
        assert_eq!(read(text).is_some(), by_hand, "{name}");
    }
    // The values themselves, for one: what a caller reads.
    let answer = decode_response(OPENAI).expect("OpenAI's answer");
    assert_eq!(answer.model, "gpt-4o-mini-2024-07-18");
    let usage = answer.usage.expect("usage");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (412, 86));
}

#[test]
fn absent_null_and_repeated_members_read_as_serde_json_does() {
    let texts = [
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[]}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[],"usage":null}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[],"id":"b"}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"choices":[]}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[],"x":null,"x":[]}"#,
        r#"{"id":"a","object":"chat.completion","created":4294967296,"model":"m","choices":[{"index":4294967296,"message":{"role":"user"}}]}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"critic","name":null,"tool_call_id":"t"},"finish_reason":"end_turn"}]}"#,
        r#"{"id":"a","object":"chat.completion","created":18446744073709551615,"model":"m","choices":[]}"#,
        r#"{"id":"a","object":"chat.completion","created":18446744073709551616,"model":"m","choices":[]}"#,
        r#" {"id":"a","object":"chat.completion","created":1,"model":"m","choices":[ ] } "#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[]} x"#,
        r#"{"id\u0000":"a"}"#,
        "",
        "null",
    ];
    for text in texts {
        assert_same(text);
    }
}

/// Every truncation, deletion, and replacement or insertion of a byte that matters to JSON, at
/// every position of every answer, reads as serde_json reads it.
#[test]
fn edited_answers_read_as_serde_json_does() {
    const BYTES: &[u8] = b"\"\\{}[],:019-.enul \n\x01\x7f";
    let mut by_hand = 0;
    let mut edits = 0;
    for text in [OPENAI, COMPACT, VLLM, OLLAMA, TOOL_CALL] {
        each_edit(text, BYTES, |edited| {
            assert_same(edited);
            by_hand += usize::from(read(edited).is_some());
            edits += 1;
        });
    }
    assert!(edits > 100_000, "{edits} edits");
    // Edits inside strings, numbers and whitespace keep an answer readable by hand.
    assert!(
        by_hand > edits / 20,
        "{by_hand} of {edits} edits read by hand"
    );
}
