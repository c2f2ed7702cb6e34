//! Real-world request, response and chunk bodies survive parse -> serialize unchanged.

use std::fs;
use std::path::{Path, PathBuf};

use bulkhead_core::{ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .collect();
    files.sort();
    files
}

/// Parse `text` as `T`, serialize it back, and compare both as JSON values.
fn assert_round_trip<T: DeserializeOwned + Serialize>(name: &str, text: &str) {
    let original: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let typed: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = serde_json::to_value(&typed).expect("serialize");
    assert_eq!(again, original, "{name} changed in a round trip");
}

#[test]
fn chat_requests_round_trip() {
    let files = fixtures("requests");
    assert!(files.len() >= 16, "expected the request fixtures");
    for path in files {
        let text = fs::read_to_string(&path).expect("read fixture");
        let name = path.display().to_string();
        if name.contains("embedding") {
            assert_round_trip::<EmbeddingRequest>(&name, &text);
        } else {
            assert_round_trip::<ChatRequest>(&name, &text);
        }
    }
}

#[test]
fn chat_responses_round_trip() {
    let files = fixtures("responses");
    assert!(files.len() >= 8, "expected the response fixtures");
    for path in files {
        let text = fs::read_to_string(&path).expect("read fixture");
        let name = path.display().to_string();
        if name.contains("embedding") {
            assert_round_trip::<EmbeddingResponse>(&name, &text);
        } else {
            assert_round_trip::<ChatResponse>(&name, &text);
        }
    }
}

#[test]
fn stream_chunks_round_trip() {
    for path in fixtures("chunks") {
        let text = fs::read_to_string(&path).expect("read fixture");
        for (i, line) in text.lines().enumerate() {
            assert_round_trip::<ChatChunk>(&format!("{}:{}", path.display(), i + 1), line);
        }
    }
}

#[test]
fn typed_fields_are_understood_not_just_carried() {
    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/responses/03_reasoning_cached.json"),
    )
    .expect("fixture");
    let response: ChatResponse = serde_json::from_str(&text).expect("parse");
    let usage = response.usage.expect("usage");
    assert_eq!(usage.cached_tokens(), 1920);
    assert_eq!(usage.reasoning_tokens(), 1024);

    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/requests/05_tool_result_turn.json"),
    )
    .expect("fixture");
    let request: ChatRequest = serde_json::from_str(&text).expect("parse");
    let calls = request.messages[1].tool_calls.as_ref().expect("tool calls");
    assert_eq!(calls[1].function.arguments, "{\"city\": \"Tokyo\"}");
    assert_eq!(
        request.messages[2].tool_call_id.as_deref(),
        Some("call_abc123")
    );
    assert_eq!(request.messages[1].extra.get("refusal"), Some(&Value::Null));
}

#[test]
fn usage_counts_keep_every_count_and_drop_unknown_fields() {
    let usage: bulkhead_core::Usage = serde_json::from_value(serde_json::json!({
        "prompt_tokens": 19, "completion_tokens": 18, "total_tokens": 37,
        "prompt_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 2, "audio_tokens": 1,
            "image_tokens": 7},
        "completion_tokens_details": {"reasoning_tokens": 5, "audio_tokens": 0,
            "accepted_prediction_tokens": 3, "rejected_prediction_tokens": 6, "video_tokens": 8},
        "cost": 0.1,
    }))
    .expect("usage");
    let counts = usage.counts();
    assert_eq!(
        serde_json::to_value(&counts).expect("json"),
        serde_json::json!({
            "prompt_tokens": 19, "completion_tokens": 18, "total_tokens": 37,
            "prompt_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 2, "audio_tokens": 1},
            "completion_tokens_details": {"reasoning_tokens": 5, "audio_tokens": 0,
                "accepted_prediction_tokens": 3, "rejected_prediction_tokens": 6},
        })
    );
    assert_eq!((counts.cached_tokens(), counts.reasoning_tokens()), (4, 5));
    let bare: bulkhead_core::Usage = serde_json::from_value(serde_json::json!({
        "prompt_tokens": 1, "total_tokens": 1, "prompt_tokens_details": null,
    }))
    .expect("usage");
    assert_eq!(bare.counts(), bare);
}
