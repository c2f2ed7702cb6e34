//! The SSE decoder over recorded OpenAI streams, split at every byte offset: however the
//! network cuts the body, the events are the same.

use bulkhead_core::{ChatChunk, ChunkAccumulator};
use bulkhead_inference::{SseDecoder, SseError, SseEvent};

const TEXT_STREAM: &[u8] = include_bytes!("fixtures/openai_stream.sse");
const TOOL_STREAM: &[u8] = include_bytes!("fixtures/openai_tool_stream.sse");

fn decode(pieces: &[&[u8]]) -> Vec<SseEvent> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    for piece in pieces {
        decoder.push(piece);
        while let Some(event) = decoder.next_event().expect("valid stream") {
            events.push(event);
        }
    }
    assert!(!decoder.has_partial(), "nothing left over");
    events
}

fn assert_split_invariant(body: &[u8], expected: &[SseEvent]) {
    for at in 0..=body.len() {
        let (a, b) = body.split_at(at);
        assert_eq!(decode(&[a, b]), expected, "split at byte {at}");
    }
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(decode(&bytes), expected, "byte by byte");
}

fn chunks(events: &[SseEvent]) -> Vec<ChatChunk> {
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(&e.data).expect("chunk"))
        .collect()
}

#[test]
fn text_stream_decodes_to_its_chunks() {
    let events = decode(&[TEXT_STREAM]);
    assert_eq!(events.len(), 17, "role, 13 tokens, finish, usage, [DONE]");
    assert!(events.iter().all(|e| e.event.is_none() && e.id.is_none()));
    let mut acc = ChunkAccumulator::new();
    chunks(&events).iter().for_each(|c| acc.push(c));
    let response = acc.finish();
    assert_eq!(
        response.choices[0].message.text(),
        "Bonjour! Le café est à 5 € ✓ — 東京 ok."
    );
    assert_eq!(response.usage.map(|u| u.total_tokens), Some(32));
}

#[test]
fn tool_stream_decodes_to_its_chunks() {
    let events = decode(&[TOOL_STREAM]);
    let mut acc = ChunkAccumulator::new();
    chunks(&events).iter().for_each(|c| acc.push(c));
    let response = acc.finish();
    let calls = response.choices[0]
        .message
        .tool_calls
        .clone()
        .expect("calls");
    assert_eq!(
        calls[0].function.arguments,
        r#"{"city":"Paris","unit":"celsius"}"#
    );
    assert_eq!(calls[1].function.arguments, r#"{"tz":"Europe/Paris"}"#);
}

#[test]
fn every_split_point_gives_the_same_events() {
    for body in [TEXT_STREAM, TOOL_STREAM] {
        let expected = decode(&[body]);
        assert_split_invariant(body, &expected);
    }
}

#[test]
fn crlf_and_cr_line_endings_give_the_same_events() {
    let expected = decode(&[TEXT_STREAM]);
    let text = std::str::from_utf8(TEXT_STREAM).expect("utf-8");
    for ending in ["\r\n", "\r"] {
        let body = text.replace('\n', ending);
        assert_split_invariant(body.as_bytes(), &expected);
    }
}

#[test]
fn comments_event_types_and_ids_survive_splits() {
    let body = b": OPENROUTER PROCESSING\r\n\r\nevent: ping\nid: 41\ndata\n\nretry: 3000\nevent: message\ndata: {\"a\":1}\ndata:{\"b\":2}\n\n";
    let expected = vec![
        SseEvent {
            event: Some("ping".into()),
            data: String::new(),
            id: Some("41".into()),
        },
        SseEvent {
            event: Some("message".into()),
            data: "{\"a\":1}\n{\"b\":2}".into(),
            id: Some("41".into()),
        },
    ];
    assert_eq!(decode(&[body]), expected);
    assert_split_invariant(body, &expected);
}

#[test]
fn an_over_long_line_is_an_error_however_it_arrives() {
    let line = format!("data: {}\n\n", "x".repeat(2 * 1024 * 1024));
    let mut decoder = SseDecoder::new();
    decoder.push(line.as_bytes());
    assert_eq!(
        decoder.next_event(),
        Err(SseError::LineTooLong { limit: 1024 * 1024 })
    );

    // Fed in 16 KiB pieces, the error comes once the partial line passes the bound, before the
    // whole line is buffered.
    let mut decoder = SseDecoder::with_max_line_len(64 * 1024);
    let mut buffered = 0;
    let result = line.as_bytes().chunks(16 * 1024).find_map(|piece| {
        decoder.push(piece);
        buffered += piece.len();
        decoder.next_event().err()
    });
    assert_eq!(result, Some(SseError::LineTooLong { limit: 64 * 1024 }));
    assert!(buffered <= 80 * 1024, "stopped after {buffered} bytes");

    // Fixture lines are well under a small bound.
    let mut decoder = SseDecoder::with_max_line_len(1024);
    decoder.push(TEXT_STREAM);
    while decoder.next_event().expect("fits").is_some() {}
}
