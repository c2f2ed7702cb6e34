use bulkhead_core::ChatChunk;

use super::ChunkDecoder;
use bulkhead_testkit::each_edit;

const OPENAI_HEAD: &str = r#"{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_eb9dce56a8","choices":"#;

/// The `data` of each event of one stream, `[DONE]` left out.
fn openai() -> Vec<String> {
    [
        r#"[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"xS3ju"}"#,
        r#"[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"PTz4"}"#,
        r#"[{"index":0,"delta":{"content":" \"wörld\" \u00e9\n👋"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"k"}"#,
        r#"[{"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null}]}"#,
        r#"[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null,"obfuscation":"4Yq"}"#,
        r#"[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"obfuscation":"Jc"}"#,
    ]
    .iter()
    .map(|rest| format!("{OPENAI_HEAD}{rest}"))
    .collect()
}

fn vllm() -> Vec<String> {
    let head = r#"{"id":"chatcmpl-4f1c","object":"chat.completion.chunk","created":1722000000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":"#;
    [
        r#"[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
        r#"[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}"#,
        r#"[{"index":0,"delta":{"content":" there"},"logprobs":null,"finish_reason":"length","stop_reason":null}]}"#,
        r#"[],"usage":{"prompt_tokens":5,"total_tokens":7,"completion_tokens":2,"prompt_tokens_details":null}}"#,
    ]
    .iter()
    .map(|rest| format!("{head}{rest}"))
    .collect()
}

fn ollama() -> Vec<String> {
    let head = r#"{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1722000000,"model":"llama3.2","system_fingerprint":"fp_ollama","choices":"#;
    [
        r#"[{"index":0,"delta":{"role":"assistant","content":"The"},"finish_reason":null}]}"#,
        r#"[{"index":0,"delta":{"role":"assistant","content":" sky"},"finish_reason":null}]}"#,
        r#"[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}]}"#,
    ]
    .iter()
    .map(|rest| format!("{head}{rest}"))
    .collect()
}

fn tool_calls() -> Vec<String> {
    [
        r#"[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}]}"#,
        r#"[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\""}}]},"logprobs":null,"finish_reason":null}]}"#,
        r#"[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}"#,
    ]
    .iter()
    .map(|rest| format!("{OPENAI_HEAD}{rest}"))
    .collect()
}

/// A server that puts its own member before `choices`: never the canonical head.
fn groq() -> Vec<String> {
    let head = r#"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1722000000,"model":"llama-3.1-8b-instant","system_fingerprint":"fp_9","x_groq":{"id":"req_1"},"choices":"#;
    [
        r#"[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
        r#"[{"index":0,"delta":{"content":"Yo"},"logprobs":null,"finish_reason":null}]}"#,
    ]
    .iter()
    .map(|rest| format!("{head}{rest}"))
    .collect()
}

/// What the decoder gives for `data`, and what serde_json gives, must be the same: the same
/// chunk, or the same error.
fn assert_same(decoder: &mut ChunkDecoder, data: &str) {
    let expected = serde_json::from_str::<ChatChunk>(data);
    match (decoder.decode(data), expected) {
        (Ok(got), Ok(expected)) => assert_eq!(got, expected, "{data}"),
        (Err(got), Err(expected)) => assert_eq!(got.to_string(), expected.to_string(), "{data}"),
        (got, expected) => panic!("{data}\n decoded: {got:?}\n serde_json: {expected:?}"),
    }
}

#[test]
fn chunks_of_each_server_decode_as_serde_json_does_and_text_deltas_skip_it() {
    // (stream, chunks read by the fast path): every chunk whose choice is a text delta or
    // empty, or that has no choice; vLLM's `stop_reason` and tool-call deltas are left to
    // serde_json, and so is every chunk of a server whose head has another shape.
    let streams = [
        ("openai", openai(), 6),
        ("vllm", vllm(), 3),
        ("ollama", ollama(), 3),
        ("tool calls", tool_calls(), 1),
        ("groq", groq(), 0),
    ];
    for (name, chunks, fast) in streams {
        let mut decoder = ChunkDecoder::default();
        for data in &chunks {
            assert_same(&mut decoder, data);
        }
        assert_eq!(decoder.fast, fast, "{name}");
    }
}

#[test]
fn a_changed_head_is_read_again() {
    let mut chunks = openai();
    let renamed = chunks[2].replace("gpt-4o-2024-08-06", "gpt-4o-2024-11-20");
    chunks.insert(2, renamed.clone());
    chunks.insert(3, renamed);
    let mut decoder = ChunkDecoder::default();
    for data in &chunks {
        assert_same(&mut decoder, data);
    }
    // The renamed head is read by hand and kept for the chunk after it; the original head
    // is read again from the next: every chunk by hand.
    assert_eq!(decoder.fast, chunks.len());
}

/// Every truncation, deletion, and replacement or insertion of a byte that matters to JSON, at
/// every position of every chunk, with the chunks before it decoded first, decodes as serde_json does.
#[test]
fn edited_chunks_decode_as_serde_json_does() {
    const BYTES: &[u8] = b"\"\\{}[],:0119-.eEnulfs \n\x01\x1f\x7f";
    let mut fast = 0;
    let mut edits = 0;
    for chunks in [openai(), vllm(), ollama(), tool_calls()] {
        for (k, chunk) in chunks.iter().enumerate() {
            let mut primed = ChunkDecoder::default();
            for data in &chunks[..k] {
                primed.decode(data).expect("a fixture chunk");
            }
            each_edit(chunk, BYTES, |edited| {
                let mut decoder = primed.clone();
                assert_same(&mut decoder, edited);
                fast += decoder.fast - primed.fast;
                edits += 1;
            });
        }
    }
    assert!(edits > 100_000, "{edits} edits");
    // Edits inside a text delta's content, its index or its trailing members keep it on the
    // fast path: a sizeable share of all the edits must have gone that way.
    assert!(fast > edits / 20, "{fast} of {edits} edits read fast");
}
