//! Folding a chunk stream into a response, and replaying a response as chunks.

use std::path::Path;

use bulkhead_core::{
    ChatChunk, ChatResponse, ChatStream, ChunkAccumulator, Error, ErrorKind, FinishReason,
    Nullable, collect_stream, replay_as_chunks,
};
use futures_util::stream;

fn chunks(name: &str) -> Vec<ChatChunk> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/chunks")
        .join(name);
    std::fs::read_to_string(path)
        .expect("fixture")
        .lines()
        .map(|line| serde_json::from_str(line).expect("chunk"))
        .collect()
}

fn response(name: &str) -> ChatResponse {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/responses")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("response")
}

#[test]
fn text_stream_folds_into_the_response_a_json_call_would_return() {
    let mut acc = ChunkAccumulator::new();
    for chunk in chunks("openai_stream.jsonl") {
        acc.push(&chunk);
    }
    let folded = acc.finish();
    assert_eq!(folded.id, "chatcmpl-123");
    assert_eq!(folded.object, "chat.completion");
    assert_eq!(folded.choices.len(), 1);
    assert_eq!(folded.choices[0].message.text(), "Hello there");
    assert_eq!(folded.choices[0].finish_reason, Some(FinishReason::Stop));
    let usage = folded.usage.expect("usage from the last chunk");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (9, 2));
    // Repeated on every chunk, it is the answer's once.
    assert_eq!(
        folded.system_fingerprint,
        Nullable::Value("fp_44709d6fcb".to_owned())
    );
}

#[test]
fn tool_call_argument_fragments_concatenate_per_index() {
    let mut acc = ChunkAccumulator::new();
    for chunk in chunks("openai_tool_stream.jsonl") {
        acc.push(&chunk);
    }
    let folded = acc.finish();
    let calls = folded.choices[0]
        .message
        .tool_calls
        .as_ref()
        .expect("tool calls");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].id, "call_DdmO9pD3xa9XTPNJ32zg2hcA");
    assert_eq!(calls[0].function.name, "get_weather");
    assert_eq!(calls[0].function.arguments, "{\"city\": \"Paris\"}");
    assert_eq!(calls[1].function.name, "get_time");
    assert_eq!(
        folded.choices[0].finish_reason,
        Some(FinishReason::ToolCalls)
    );
    assert!(folded.choices[0].message.content.is_none());
}

#[test]
fn replayed_chunks_fold_back_into_the_same_response() {
    for name in [
        "01_basic.json",
        "02_tool_calls.json",
        "04_logprobs_multi_choice.json",
    ] {
        let original = response(name);
        let mut acc = ChunkAccumulator::new();
        for chunk in replay_as_chunks(&original, true) {
            assert_eq!(chunk.object, "chat.completion.chunk");
            acc.push(&chunk);
        }
        let folded = acc.finish();
        assert_eq!(folded.id, original.id, "{name}");
        assert_eq!(folded.usage, original.usage, "{name}");
        assert_eq!(folded.service_tier, original.service_tier, "{name}");
        assert_eq!(
            folded.system_fingerprint, original.system_fingerprint,
            "{name}"
        );
        assert_eq!(folded.choices.len(), original.choices.len(), "{name}");
        for (a, b) in folded.choices.iter().zip(&original.choices) {
            assert_eq!(a.message.content, b.message.content, "{name}");
            assert_eq!(a.message.tool_calls, b.message.tool_calls, "{name}");
            assert_eq!(a.finish_reason, b.finish_reason, "{name}");
        }
    }
}

#[test]
fn usage_chunk_is_replayed_only_when_asked() {
    let original = response("01_basic.json");
    let with = replay_as_chunks(&original, true);
    let without = replay_as_chunks(&original, false);
    assert_eq!(with.len(), without.len() + 1);
    assert!(with.last().expect("chunk").choices.is_empty());
    assert!(without.iter().all(|c| !c.usage.is_value()));
}

#[tokio::test]
async fn collect_stream_returns_the_first_error() {
    let mut items: Vec<Result<ChatChunk, Error>> =
        chunks("openai_stream.jsonl").into_iter().map(Ok).collect();
    items.insert(2, Err(Error::transport("connection reset")));
    let stream: ChatStream = Box::pin(stream::iter(items));
    let err = collect_stream(stream).await.expect_err("cut stream");
    assert_eq!(err.kind(), ErrorKind::Transport);
}
