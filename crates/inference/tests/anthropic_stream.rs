//! The Anthropic stream translator on recorded event streams: chunk shapes, folding, any byte
//! split, thinking, mid-stream errors and truncation.

use bulkhead_core::{ChatChunk, ChunkAccumulator, ErrorKind, FinishReason, Result, Role};
use bulkhead_inference::anthropic::{Progress, StreamTranslator, to_openai};
use serde_json::{Value, json};

const TEXT: &str = include_str!("fixtures/anthropic/stream_text.sse");
const TOOLS: &str = include_str!("fixtures/anthropic/stream_tool_use.sse");
const THINKING: &str = include_str!("fixtures/anthropic/stream_thinking.sse");
const ERROR: &str = include_str!("fixtures/anthropic/stream_error.sse");

/// Translate `pieces` in order; the chunks, and the error that ended the stream if any.
fn translate(pieces: &[&[u8]], include_usage: bool) -> (Vec<ChatChunk>, Result<()>) {
    let mut translator = StreamTranslator::new("claude", include_usage).with_created(7);
    let mut out = Vec::new();
    for piece in pieces {
        match translator.push_bytes(piece, &mut out) {
            Err(e) => return (out, Err(e)),
            Ok(Progress::Done) => break,
            Ok(Progress::More) => {}
        }
    }
    let end = translator.finish();
    (out, end)
}

fn whole(text: &str, include_usage: bool) -> Vec<ChatChunk> {
    let (chunks, end) = translate(&[text.as_bytes()], include_usage);
    end.expect("complete stream");
    chunks
}

fn fold(chunks: &[ChatChunk]) -> bulkhead_core::ChatResponse {
    let mut acc = ChunkAccumulator::new();
    chunks.iter().for_each(|c| acc.push(c));
    acc.finish()
}

#[test]
fn a_text_stream_starts_with_the_role_and_ends_with_finish_and_usage() {
    let chunks = whole(TEXT, true);
    let first = &chunks[0];
    assert_eq!(first.id, "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
    assert_eq!(first.model, "claude-sonnet-4-20250514");
    assert_eq!(first.object, "chat.completion.chunk");
    assert_eq!(first.choices[0].delta.role, Some(Role::Assistant));
    let texts: Vec<Option<&String>> = chunks
        .iter()
        .map(|c| c.choices.first().and_then(|ch| ch.delta.content.as_ref()))
        .collect();
    assert_eq!(
        texts[1..4],
        [
            Some(&"Hello".to_owned()),
            Some(&", café ✓ — 東京".to_owned()),
            Some(&"!".to_owned())
        ]
    );
    let finish = &chunks[4];
    assert_eq!(finish.choices[0].finish_reason, Some(FinishReason::Stop));
    let last = chunks.last().expect("usage chunk");
    assert!(last.choices.is_empty());
    let usage = last.usage.as_ref().expect("usage");
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (25 + 16, 15)
    );
    assert_eq!(usage.cached_tokens(), 16);
    assert_eq!(chunks.len(), 6);
    // Without include_usage there is no usage chunk.
    assert_eq!(whole(TEXT, false).len(), 5);
    let json = serde_json::to_value(&chunks[1]).expect("serializes");
    assert_eq!(json["choices"][0]["delta"], json!({ "content": "Hello" }));
}

#[test]
fn any_split_of_the_bytes_yields_the_same_chunks() {
    for fixture in [TEXT, TOOLS] {
        let expected = whole(fixture, true);
        let bytes = fixture.as_bytes();
        for at in 0..=bytes.len() {
            let (chunks, end) = translate(&[&bytes[..at], &bytes[at..]], true);
            end.expect("complete");
            assert_eq!(chunks, expected, "split at {at}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(translate(&singles, true).0, expected);
    }
}

#[test]
fn tool_use_blocks_become_indexed_tool_call_deltas_with_argument_fragments() {
    let chunks = whole(TOOLS, false);
    let calls: Vec<Value> = chunks
        .iter()
        .filter_map(|c| c.choices.first()?.delta.tool_calls.as_ref())
        .map(|calls| serde_json::to_value(&calls[0]).expect("serializes"))
        .collect();
    assert_eq!(
        calls[0],
        json!({ "index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                "function": { "name": "get_weather", "arguments": "" } })
    );
    assert_eq!(
        calls[1],
        json!({ "index": 0, "function": { "arguments": "{\"location\":" } })
    );
    assert_eq!(calls.len(), 1 + 6 + 2, "{calls:?}"); // start, 6 fragments; get_time start + "{}"
    assert_eq!(calls[7]["index"], 1);
    assert_eq!(
        calls[8],
        json!({ "index": 1, "function": { "arguments": "{}" } })
    );

    let folded = fold(&chunks);
    let choice = &folded.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(
        choice.message.text(),
        "Okay, let's check the weather for San Francisco, CA:"
    );
    let tool_calls = choice.message.tool_calls.as_ref().expect("tool calls");
    let arguments: Value = serde_json::from_str(&tool_calls[0].function.arguments).expect("JSON");
    assert_eq!(
        arguments,
        json!({ "location": "San Francisco, CA", "unit": "fahrenheit" })
    );
    assert_eq!(tool_calls[1].function.name, "get_time");
    assert_eq!(tool_calls[1].function.arguments, "{}");
}

#[test]
fn a_folded_stream_equals_the_json_translation_of_the_same_answer() {
    // The same answer as `stream_tool_use.sse`, as Anthropic's JSON.
    let message = json!({
        "id": "msg_014p7gG3wDgGV9EUtLvnow3U", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-20250514", "stop_reason": "tool_use", "stop_sequence": null,
        "content": [
            { "type": "text", "text": "Okay, let's check the weather for San Francisco, CA:" },
            { "type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather",
              "input": { "location": "San Francisco, CA", "unit": "fahrenheit" } },
            { "type": "tool_use", "id": "toolu_02Ab3cD4eF5gH6iJ7kL8mN9o", "name": "get_time", "input": {} }
        ],
        "usage": { "input_tokens": 472, "output_tokens": 89 }
    });
    let mut expected = to_openai(serde_json::from_value(message).expect("parses"));
    expected.created = 7;
    let mut folded = fold(&whole(TOOLS, true));
    // Argument strings differ only in whitespace: compare them as JSON.
    let normalize = |r: &mut bulkhead_core::ChatResponse| {
        for call in r.choices[0].message.tool_calls.iter_mut().flatten() {
            let value: Value = serde_json::from_str(&call.function.arguments).expect("JSON");
            call.function.arguments = value.to_string();
        }
    };
    normalize(&mut expected);
    normalize(&mut folded);
    assert_eq!(folded, expected);
}

#[test]
fn thinking_travels_as_reasoning_content() {
    let folded = fold(&whole(THINKING, false));
    let message = &folded.choices[0].message;
    assert_eq!(message.text(), "27 * 453 = 12,231");
    assert_eq!(
        message.extra["reasoning_content"],
        "Let me solve this step by step:\n\n1. First break down 27 * 453\n2. 453 = 400 + 50 + 3"
    );
}

#[test]
fn an_error_event_mid_stream_ends_it_with_the_mapped_kind() {
    let (chunks, end) = translate(&[ERROR.as_bytes()], true);
    let error = end.expect_err("error event");
    assert_eq!(error.kind(), ErrorKind::Overloaded);
    assert!(error.message().contains("Overloaded"), "{error}");
    assert_eq!(chunks.len(), 2, "role and the text before the error");

    let rate_limited = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow\"}}\n\n";
    let (_, end) = translate(&[rate_limited.as_bytes()], false);
    assert_eq!(end.expect_err("error").kind(), ErrorKind::RateLimited);
}

#[test]
fn a_stream_without_message_stop_is_a_transport_error() {
    let cut = TEXT.split("event: message_stop").next().expect("prefix");
    let (chunks, end) = translate(&[cut.as_bytes()], true);
    assert_eq!(end.expect_err("truncated").kind(), ErrorKind::Transport);
    assert!(
        chunks.iter().all(|c| c.usage.is_absent()),
        "no usage before message_stop"
    );
    let (_, end) = translate(&[b""], false);
    assert_eq!(end.expect_err("empty").kind(), ErrorKind::Transport);
}

#[test]
fn garbage_and_events_before_message_start_are_errors_not_panics() {
    let (_, end) = translate(&[b"data: {not json}\n\n"], false);
    assert_eq!(end.expect_err("garbage").kind(), ErrorKind::Internal);
    let early = "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n";
    let (_, end) = translate(&[early.as_bytes()], false);
    assert_eq!(end.expect_err("early").kind(), ErrorKind::Internal);
    // Unknown event types and deltas are ignored (Anthropic may add some).
    let unknown = TEXT.replace(
        "{\"type\": \"ping\"}",
        "{\"type\": \"future_event\", \"x\": 1}",
    );
    assert_eq!(whole(&unknown, false).len(), 5);
}
