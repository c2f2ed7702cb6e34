//! The hand-written encoder against serde_json, chunk by chunk.

use bulkhead_core::{
    ChatChunk, ChunkChoice, Delta, FinishReason, FunctionCallDelta, Map, Nullable, Role,
    ToolCallDelta, Usage,
};
use bytes::BytesMut;
use serde_json::{Value, json};

use super::ChunkEncoder;

fn chunk(id: &str, model: &str, delta: Delta, finish: Option<FinishReason>) -> ChatChunk {
    ChatChunk {
        id: id.into(),
        object: "chat.completion.chunk".into(),
        created: 1_700_000_000,
        model: model.into(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            logprobs: Nullable::Absent,
            finish_reason: finish,
            extra: Map::new(),
        }],
        usage: Nullable::Null,
        service_tier: Nullable::Absent,
        system_fingerprint: Nullable::Absent,
        extra: Map::new(),
    }
}

fn text(content: &str) -> Delta {
    Delta {
        content: Nullable::Value(content.to_owned()),
        ..Delta::default()
    }
}

fn tool_delta(id: Option<&str>, name: Option<&str>, arguments: &str) -> Delta {
    Delta {
        tool_calls: Some(vec![ToolCallDelta {
            index: 1,
            id: id.map(str::to_owned),
            kind: id.map(|_| "function".to_owned()),
            function: Some(FunctionCallDelta {
                name: name.map(str::to_owned),
                arguments: Some(arguments.to_owned()),
            }),
        }]),
        ..Delta::default()
    }
}

const TEXTS: &[&str] = &[
    "",
    "plain",
    " with \"quotes\" and \\backslash\\",
    "lines\nand\r\ntabs\there",
    "control \u{0} \u{1} \u{8} \u{b} \u{c} \u{1f} \u{7f} end",
    "emoji 🎉 naïve 東京 \u{2028}",
    "</script>/",
];

/// Chunks of every shape the encoder writes itself.
fn fast_chunks() -> Vec<ChatChunk> {
    let mut chunks = vec![chunk(
        "chatcmpl-1",
        "gpt-4o",
        Delta {
            role: Some(Role::Assistant),
            content: Nullable::Value(String::new()),
            ..Delta::default()
        },
        None,
    )];
    for t in TEXTS {
        chunks.push(chunk("chatcmpl-1", "gpt-4o", text(t), None));
        // A new id, model or text in them re-caches the prefix.
        chunks.push(chunk(t, "gpt-4o", text(t), None));
        chunks.push(chunk("chatcmpl-1", t, text(t), None));
    }
    chunks.push(chunk(
        "chatcmpl-1",
        "gpt-4o",
        Delta::default(),
        Some(FinishReason::Stop),
    ));
    for finish in [
        FinishReason::Length,
        FinishReason::ToolCalls,
        FinishReason::ContentFilter,
        FinishReason::FunctionCall,
        FinishReason::Other("odd \"one\"".to_owned()),
    ] {
        chunks.push(chunk("c", "m", Delta::default(), Some(finish)));
    }
    for role in [Role::User, Role::Tool, Role::Other("critic\n".to_owned())] {
        let delta = Delta {
            role: Some(role),
            ..Delta::default()
        };
        chunks.push(chunk("c", "m", delta, None));
    }
    let mut head = chunk(
        "c",
        "m",
        tool_delta(Some("call_1"), Some("get_weather"), ""),
        None,
    );
    head.choices[0].delta.role = Some(Role::Assistant);
    head.choices[0].delta.content = Nullable::Null;
    chunks.push(head);
    chunks.push(chunk("c", "m", tool_delta(None, None, "{\"city\":"), None));
    let mut bare = chunk("c", "m", tool_delta(None, None, ""), None);
    bare.choices[0].delta.tool_calls = Some(vec![ToolCallDelta::default()]);
    chunks.push(bare);
    let mut usage = chunk("c", "m", Delta::default(), None);
    usage.choices.clear();
    usage.usage = Nullable::Value(Box::new(Usage::new(24, u32::MAX - 24)));
    chunks.push(usage);
    let mut two = chunk("c", "m", text("a"), None);
    two.choices.push(two.choices[0].clone());
    two.choices[1].index = 1;
    two.usage = Nullable::Absent;
    two.created = u64::MAX;
    chunks.push(two);
    chunks
}

#[test]
fn fast_chunks_encode_exactly_as_serde_does() {
    let mut encoder = ChunkEncoder::default();
    for chunk in fast_chunks() {
        let mut buf = BytesMut::new();
        assert!(encoder.encode(&mut buf, &chunk), "{chunk:?}");
        let serde = serde_json::to_vec(&chunk).expect("serializes");
        let fast: Value = serde_json::from_slice(&buf).expect("the fast path writes JSON");
        let expected: Value = serde_json::from_slice(&serde).expect("serde writes JSON");
        assert_eq!(fast, expected);
        assert_eq!(
            String::from_utf8_lossy(&buf),
            String::from_utf8_lossy(&serde)
        );
    }
}

#[test]
fn unknown_fields_and_usage_details_are_written_in_place_as_serde_does() {
    let map = |value: Value| value.as_object().cloned().unwrap_or_default();
    let top = map(json!({
        "obfuscation": "Zx",
        "x": [{"k": [false, 2.5, "\t"]}, true],
    }));
    let logprobs = map(json!({"stop_reason": null}));
    let refusal = map(json!({
        "refusal": null,
        "annotations": [{"type": "x", "n": [1, -2, 0.25, 1e300, true, false, "\u{1}é\"\\/"]}, []],
        "nested": {"b": {}, "a": [null, {"c": "d\n"}]},
    }));
    let base = chunk("c", "m", text("hi"), None);
    let mut cases = Vec::new();
    let mut c = base.clone();
    c.extra = top.clone();
    cases.push(c);
    let mut c = base.clone();
    c.choices[0].extra = logprobs.clone();
    cases.push(c);
    let mut c = base.clone();
    c.choices[0].delta.extra = refusal.clone();
    cases.push(c);
    // A delta of unknown fields alone (no role, content or tool calls).
    let mut c = chunk("c", "m", Delta::default(), Some(FinishReason::Stop));
    c.choices[0].delta.extra = refusal.clone();
    cases.push(c);
    let mut c = base.clone();
    let mut usage = Usage::new(1, 2);
    usage.extra = map(json!({"cost": 0.5}));
    c.usage = Nullable::Value(Box::new(usage));
    c.choices.clear();
    cases.push(c);
    let mut c = base.clone();
    let mut usage = Usage::new(3, 4);
    usage.prompt_tokens_details = Nullable::Value(bulkhead_core::PromptTokensDetails {
        cached_tokens: Some(1),
        ..Default::default()
    });
    c.usage = Nullable::Value(Box::new(usage));
    cases.push(c.clone());
    // OpenAI's usage: every breakdown, known counts and unknown ones.
    let details: Usage = serde_json::from_value(json!({
        "prompt_tokens": 19, "completion_tokens": 18, "total_tokens": 37,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        "cost": 1.5e-5,
    }))
    .expect("usage");
    c.usage = Nullable::Value(Box::new(details));
    cases.push(c.clone());
    // Breakdowns of unknown counts only, of known and unknown ones, empty, and null.
    for (prompt, completion) in [
        (json!({"image_tokens": 3}), json!({"future_tokens": 1})),
        (
            json!({"audio_tokens": 2, "image_tokens": 3}),
            json!({"accepted_prediction_tokens": 4, "future_tokens": 1}),
        ),
        (json!({}), json!({})),
        (json!(null), json!(null)),
        (json!({"cache_write_tokens": 5}), json!(null)),
    ] {
        let usage: Usage = serde_json::from_value(json!({
            "prompt_tokens": 1, "total_tokens": 1,
            "prompt_tokens_details": prompt, "completion_tokens_details": completion,
        }))
        .expect("usage");
        c.usage = Nullable::Value(Box::new(usage));
        cases.push(c.clone());
    }
    c.extra = top;
    c.choices[0].extra = logprobs;
    c.choices[0].delta.extra = refusal;
    cases.push(c);
    // What OpenAI sends on every chunk: a service tier and a fingerprint (kept in the cached
    // prefix, so a chunk whose tier or fingerprint differs must re-encode it) and
    // `logprobs: null`; then each of them null or absent, and logprobs that were asked for.
    let openai = |tier: Nullable<&str>, fingerprint: Nullable<&str>, logprobs: Nullable<Value>| {
        let owned = |v: Nullable<&str>| match v {
            Nullable::Absent => Nullable::Absent,
            Nullable::Null => Nullable::Null,
            Nullable::Value(v) => Nullable::Value(v.into()),
        };
        let mut c = base.clone();
        c.service_tier = owned(tier);
        c.system_fingerprint = owned(fingerprint);
        c.choices[0].logprobs = logprobs;
        c
    };
    for (tier, fingerprint) in [
        (Nullable::Value("default"), Nullable::Value("fp_\"1")),
        (Nullable::Value("default"), Nullable::Value("fp_\"1")),
        (Nullable::Value("flex"), Nullable::Value("fp_\"1")),
        (Nullable::Value("flex"), Nullable::Value("fp_2")),
        (Nullable::Null, Nullable::Value("fp_2")),
        (Nullable::Null, Nullable::Null),
        (Nullable::Absent, Nullable::Null),
        (Nullable::Absent, Nullable::Absent),
    ] {
        cases.push(openai(tier, fingerprint, Nullable::Null));
    }
    let asked = json!({"content": [{"token": "hi", "logprob": -0.25, "bytes": [104, 105],
        "top_logprobs": []}], "refusal": null});
    cases.push(openai(
        Nullable::Value("default"),
        Nullable::Absent,
        Nullable::Value(asked),
    ));

    let mut encoder = ChunkEncoder::default();
    for chunk in cases {
        let mut buf = BytesMut::from(&b"data: "[..]);
        assert!(encoder.encode(&mut buf, &chunk), "{chunk:?}");
        let expected = format!("data: {}", serde_json::to_string(&chunk).expect("serde"));
        assert_eq!(String::from_utf8_lossy(&buf), expected);
    }
}

#[test]
fn another_object_is_left_to_serde() {
    let mut c = chunk("c", "m", text("hi"), None);
    c.object = "chat.completion".into();
    let mut buf = BytesMut::from(&b"data: "[..]);
    assert!(!ChunkEncoder::default().encode(&mut buf, &c));
    assert_eq!(&buf[..], b"data: ", "left untouched");
}
