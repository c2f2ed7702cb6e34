//! Properties over generated input: the SSE decoder gives the same events however the bytes
//! are split and rejects over-long lines; the Anthropic stream translator never panics on any
//! event sequence or any bytes; the `/v1/messages` event encoder always writes a well-formed
//! event sequence that carries exactly the text and tool arguments it was given.

use bulkhead_core::{
    ChatChunk, ChunkChoice, Delta, FinishReason, FunctionCallDelta, Map, Nullable, ToolCallDelta,
    Usage,
};
use bulkhead_inference::anthropic::ingress::EventEncoder;
use bulkhead_inference::anthropic::wire::{Block, BlockDelta, StreamEvent};
use bulkhead_inference::{SseDecoder, SseError, SseEvent, StreamTranslator};
use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

// ---- SSE decoder -------------------------------------------------------------------------

/// One generated event: an optional type and its data lines.
type GenEvent = (Option<String>, Vec<String>);

fn sse_stream() -> impl Strategy<Value = (Vec<GenEvent>, &'static str, bool)> {
    let event = (
        proptest::option::of("[a-z_]{1,12}"),
        proptest::collection::vec("[^\r\n]{0,40}", 1..4),
    );
    (
        proptest::collection::vec(event, 0..12),
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        any::<bool>(),
    )
}

fn encode(events: &[GenEvent], eol: &str, comments: bool) -> Vec<u8> {
    let mut out = String::new();
    for (name, lines) in events {
        if comments {
            out.push_str(": keep-alive");
            out.push_str(eol);
        }
        if let Some(name) = name {
            out.push_str("event: ");
            out.push_str(name);
            out.push_str(eol);
        }
        for line in lines {
            out.push_str("data: ");
            out.push_str(line);
            out.push_str(eol);
        }
        out.push_str(eol);
    }
    out.into_bytes()
}

fn decode(pieces: &[&[u8]]) -> Result<Vec<SseEvent>, SseError> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    for piece in pieces {
        decoder.push(piece);
        while let Some(event) = decoder.next_event()? {
            out.push(event);
        }
    }
    Ok(out)
}

/// `bytes` cut at the given points (any order, duplicates allowed).
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.push(&bytes[start..cut]);
        start = cut;
    }
    pieces.push(&bytes[start..]);
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_split_of_a_valid_stream_gives_the_same_events(
        (events, eol, comments) in sse_stream(),
        cuts in proptest::collection::vec(any::<usize>(), 0..24),
    ) {
        let bytes = encode(&events, eol, comments);
        let whole = decode(&[&bytes]).expect("a valid stream decodes");
        let pieces = split(&bytes, &cuts);
        let split = decode(&pieces).expect("a valid stream decodes in pieces");
        prop_assert_eq!(&whole, &split);

        let data: Vec<String> = whole.iter().map(|e| e.data.clone()).collect();
        let want: Vec<String> = events.iter().map(|(_, lines)| lines.join("\n")).collect();
        prop_assert_eq!(data, want);
        let names: Vec<Option<String>> = whole.iter().map(|e| e.event.clone()).collect();
        let want: Vec<Option<String>> = events.iter().map(|(n, _)| n.clone()).collect();
        prop_assert_eq!(names, want);
    }

    #[test]
    fn a_line_over_the_bound_is_rejected_however_it_arrives(
        len in 65usize..2000,
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let line = format!("data: {}\n\n", "x".repeat(len));
        let mut decoder = SseDecoder::with_max_line_len(64);
        let mut rejected = false;
        for piece in split(line.as_bytes(), &cuts) {
            decoder.push(piece);
            match decoder.next_event() {
                Err(SseError::LineTooLong { limit: 64 }) => { rejected = true; break; }
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
                Ok(Some(event)) => prop_assert!(false, "an over-long event came out: {}", event.data.len()),
                Ok(None) => {}
            }
        }
        prop_assert!(rejected);
    }
}

// ---- Anthropic stream translator ---------------------------------------------------------

fn anthropic_event() -> impl Strategy<Value = Value> {
    let index = 0u32..4;
    prop_oneof![
        Just(json!({"type": "message_start", "message": {"id": "msg_1", "model": "m", "role": "assistant", "content": [], "usage": {"input_tokens": 3}}})),
        (index.clone(), "[a-z ]{0,8}").prop_map(|(i, t)| json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": t}})),
        (index.clone(), "[a-z_]{0,8}").prop_map(|(i, n)| json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": "toolu_1", "name": n, "input": {}}})),
        (index.clone(), "[a-z ]{0,8}").prop_map(|(i, t)| json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": t}})),
        (index.clone(), "[{}\":a-z0-9]{0,8}").prop_map(|(i, j)| json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": j}})),
        (index.clone(), "[a-z]{0,8}").prop_map(|(i, t)| json!({"type": "content_block_delta", "index": i, "delta": {"type": "thinking_delta", "thinking": t}})),
        index.clone().prop_map(|i| json!({"type": "content_block_delta", "index": i, "delta": {"type": "citations_delta"}})),
        index.prop_map(|i| json!({"type": "content_block_stop", "index": i})),
        prop_oneof![Just("end_turn"), Just("tool_use"), Just("max_tokens"), Just("weird")]
            .prop_map(|r| json!({"type": "message_delta", "delta": {"stop_reason": r}, "usage": {"output_tokens": 5}})),
        Just(json!({"type": "message_stop"})),
        Just(json!({"type": "ping"})),
        Just(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
        Just(json!({"type": "brand_new_event", "x": 1})),
        Just(json!({"type": "content_block_delta", "index": -1})),
        Just(json!(["not", "an", "object"])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_anthropic_translator_never_panics_on_any_event_sequence(
        events in proptest::collection::vec(anthropic_event(), 0..24),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        include_usage in any::<bool>(),
    ) {
        let mut body = String::new();
        for event in &events {
            let name = event["type"].as_str().unwrap_or("x");
            body.push_str(&format!("event: {name}\ndata: {event}\n\n"));
        }
        let mut translator = StreamTranslator::new("p", include_usage);
        let mut out = Vec::new();
        for piece in split(body.as_bytes(), &cuts) {
            if translator.push_bytes(piece, &mut out).is_err() {
                break;
            }
        }
        let _ = translator.finish();
        // Every chunk it produced serializes.
        for chunk in &out {
            prop_assert!(serde_json::to_vec(chunk).is_ok());
        }
    }

    #[test]
    fn the_anthropic_translator_never_panics_on_any_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut translator = StreamTranslator::new("p", true);
        let mut out = Vec::new();
        let _ = translator.push_bytes(&bytes, &mut out);
        let _ = translator.finish();
    }
}

// ---- /v1/messages event encoder ----------------------------------------------------------

#[derive(Debug, Clone)]
struct GenChunk {
    text: Option<String>,
    tool: Option<(u32, bool, String)>,
    finish: Option<u8>,
    usage: bool,
}

fn chunk_strategy() -> impl Strategy<Value = GenChunk> {
    (
        proptest::option::of("[a-zé ]{0,6}"),
        proptest::option::of((0u32..3, any::<bool>(), "[{}\":a-z0-9]{0,6}")),
        proptest::option::of(0u8..5),
        any::<bool>(),
    )
        .prop_map(|(text, tool, finish, usage)| GenChunk {
            text,
            tool,
            finish,
            usage,
        })
}

fn to_chunk(g: &GenChunk) -> ChatChunk {
    let finish = g.finish.map(|f| match f {
        0 => FinishReason::Stop,
        1 => FinishReason::Length,
        2 => FinishReason::ToolCalls,
        3 => FinishReason::ContentFilter,
        _ => FinishReason::Other("odd".into()),
    });
    let tool_calls = g.tool.as_ref().map(|(index, first, arguments)| {
        vec![ToolCallDelta {
            index: *index,
            id: first.then(|| format!("call_{index}")),
            kind: first.then(|| "function".to_owned()),
            function: Some(FunctionCallDelta {
                name: first.then(|| format!("tool_{index}")),
                arguments: Some(arguments.clone()),
            }),
        }]
    });
    ChatChunk {
        id: "chatcmpl-1".into(),
        object: "chat.completion.chunk".into(),
        created: 0,
        model: "m".into(),
        choices: vec![ChunkChoice {
            index: 0,
            delta: Delta {
                role: None,
                content: g.text.clone().map_or(Nullable::Absent, Nullable::Value),
                tool_calls,
                extra: Map::new(),
            },
            finish_reason: finish,
            logprobs: Nullable::Absent,
            extra: Map::new(),
        }],
        usage: if g.usage {
            Nullable::Value(Box::new(Usage::new(7, 3)))
        } else {
            Nullable::Absent
        },
        service_tier: Nullable::Absent,
        system_fingerprint: Nullable::Absent,
        extra: Map::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_event_encoder_writes_a_well_formed_sequence_with_all_the_content(
        chunks in proptest::collection::vec(chunk_strategy(), 0..20),
    ) {
        let mut encoder = EventEncoder::new();
        let mut events = Vec::new();
        for g in &chunks {
            encoder.push_chunk(&to_chunk(g), &mut events);
        }
        encoder.finish(&mut events);

        prop_assert!(matches!(events.first(), Some(StreamEvent::MessageStart { .. })), "starts with message_start");
        prop_assert!(matches!(events.last(), Some(StreamEvent::MessageStop)), "ends with message_stop");
        let n = events.len();
        prop_assert!(matches!(events[n - 2], StreamEvent::MessageDelta { .. }), "message_delta before message_stop");

        let mut started: Vec<u32> = Vec::new();
        let mut stopped: Vec<u32> = Vec::new();
        let mut text = String::new();
        // Block index -> which tool call it is (n-th to start), and that call's JSON.
        let mut tool_blocks: BTreeMap<u32, usize> = BTreeMap::new();
        let mut tool_json: BTreeMap<usize, String> = BTreeMap::new();
        for event in &events[1..n - 2] {
            match event {
                StreamEvent::ContentBlockStart { index, content_block } => {
                    prop_assert_eq!(*index as usize, started.len(), "blocks are numbered in order");
                    started.push(*index);
                    if let Block::ToolUse { .. } = content_block {
                        let nth = tool_blocks.len();
                        tool_blocks.insert(*index, nth);
                    }
                }
                StreamEvent::ContentBlockDelta { index, delta } => {
                    prop_assert!(started.contains(index), "delta for a block never started");
                    match delta {
                        BlockDelta::TextDelta { text: t } => text.push_str(t),
                        BlockDelta::InputJsonDelta { partial_json } => {
                            let nth = tool_blocks.get(index).copied();
                            prop_assert!(nth.is_some(), "input_json_delta outside a tool_use block");
                            tool_json.entry(nth.unwrap_or(0)).or_default().push_str(partial_json);
                        }
                        other => prop_assert!(false, "unexpected delta {other:?}"),
                    }
                }
                StreamEvent::ContentBlockStop { index } => {
                    prop_assert!(!stopped.contains(index), "a block stopped twice");
                    stopped.push(*index);
                }
                other => prop_assert!(false, "unexpected event {other:?} mid-answer"),
            }
        }
        stopped.sort_unstable();
        prop_assert_eq!(&started, &stopped, "every block that starts stops");

        let want_text: String = chunks.iter().filter_map(|g| g.text.clone()).collect();
        prop_assert_eq!(text, want_text);
        // The n-th tool call to appear is the n-th tool_use block, with all its fragments.
        let mut order: Vec<u32> = Vec::new();
        let mut want_json: BTreeMap<usize, String> = BTreeMap::new();
        for (index, _, arguments) in chunks.iter().filter_map(|g| g.tool.clone()) {
            let nth = match order.iter().position(|i| *i == index) {
                Some(nth) => nth,
                None => { order.push(index); order.len() - 1 }
            };
            want_json.entry(nth).or_default().push_str(&arguments);
        }
        want_json.retain(|_, json| !json.is_empty());
        prop_assert_eq!(tool_json, want_json);
        prop_assert_eq!(tool_blocks.len(), order.len());
    }
}
