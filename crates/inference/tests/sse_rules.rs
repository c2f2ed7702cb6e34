//! The decoder's parsing rules one by one: fields, comments, line endings, ids, retry, the
//! byte-order mark, UTF-8 split across pushes, and the length bound.

use std::time::Duration;

use bulkhead_inference::{SseDecoder, SseError, SseEvent};

fn decode_all(pieces: &[&[u8]]) -> Vec<SseEvent> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for piece in pieces {
        d.push(piece);
        while let Some(e) = d.next_event().expect("valid stream") {
            out.push(e);
        }
    }
    out
}

#[test]
fn fields_comments_and_multi_line_data() {
    let events = decode_all(&[
        b": keep-alive\nevent: add\nid: 7\nretry: 1500\ndata:first\ndata:  second\n\n",
    ]);
    assert_eq!(
        events,
        vec![SseEvent {
            event: Some("add".into()),
            data: "first\n second".into(),
            id: Some("7".into()),
        }]
    );
}

#[test]
fn field_without_colon_and_empty_data_events() {
    // `data` alone is a data line with an empty value; an event with no data is dropped.
    // The type of a dropped event does not leak into the next one.
    let events = decode_all(&[b"event: x\n\ndata\ndata\n\n"]);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, "\n");
    assert_eq!(events[0].event, None);
}

#[test]
fn id_persists_and_nul_ids_are_ignored() {
    let events = decode_all(&[b"id: a\ndata: 1\n\ndata: 2\n\nid: b\0c\ndata: 3\n\n"]);
    let ids: Vec<_> = events.iter().map(|e| e.id.as_deref()).collect();
    assert_eq!(ids, vec![Some("a"), Some("a"), Some("a")]);
}

#[test]
fn retry_is_recorded() {
    let mut d = SseDecoder::new();
    d.push(b"retry: 250\nretry: x\n\n");
    assert_eq!(d.next_event(), Ok(None));
    assert_eq!(d.retry(), Some(Duration::from_millis(250)));
}

#[test]
fn cr_lf_and_crlf_endings_mix() {
    let events = decode_all(&[b"data: a\r\rdata: b\n\ndata: c\r\n\r\n"]);
    let data: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, ["a", "b", "c"]);
}

#[test]
fn crlf_split_between_pushes_is_one_line_ending() {
    let events = decode_all(&[b"data: a\r", b"\n", b"\r", b"\ndata: b\r\n\r\n"]);
    let data: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, ["a", "b"]);
}

#[test]
fn split_inside_a_multi_byte_character() {
    let text = "data: héllo ✓\n\n".as_bytes();
    let split = text.iter().position(|&b| b == 0xC3).expect("é") + 1;
    let events = decode_all(&[&text[..split], &text[split..]]);
    assert_eq!(events[0].data, "héllo ✓");
}

#[test]
fn leading_bom_is_skipped_even_when_split() {
    let events = decode_all(&[b"\xEF", b"\xBB\xBFdata: x\n\n"]);
    assert_eq!(events[0].data, "x");
}

#[test]
fn over_long_line_is_an_error_complete_or_not() {
    let mut d = SseDecoder::with_max_line_len(16);
    d.push(b"data: 0123456789abcdef");
    assert_eq!(d.next_event(), Err(SseError::LineTooLong { limit: 16 }));

    let mut d = SseDecoder::with_max_line_len(16);
    d.push(b"data: 0123456789abcdef\n\n");
    assert_eq!(d.next_event(), Err(SseError::LineTooLong { limit: 16 }));

    let mut d = SseDecoder::with_max_line_len(16);
    d.push(b"data: 0123456789\ndata: 0123456789\n\n");
    assert_eq!(d.next_event(), Err(SseError::EventTooLarge { limit: 16 }));
}

#[test]
fn partial_event_is_reported() {
    let mut d = SseDecoder::new();
    d.push(b"data: x\n");
    assert_eq!(d.next_event(), Ok(None));
    assert!(d.has_partial());
    d.push(b"\n");
    assert!(d.next_event().expect("valid").is_some());
    assert!(!d.has_partial());
}

#[test]
fn borrowed_events_do_not_carry_into_the_next() {
    // One buffer serves every borrowed event: a long event, a typed one and a short one must
    // each read exactly their own data and type, split or not.
    let body = b"data: a long first event\n\nevent: add\ndata: 2\n\ndata: 3\nid: x\n\n";
    let owned = decode_all(&[body]);
    for cut in 0..=body.len() {
        let mut d = SseDecoder::new();
        let mut borrowed = Vec::new();
        for piece in [&body[..cut], &body[cut..]] {
            d.push(piece);
            while let Some(e) = d.next_event_ref().expect("valid stream") {
                borrowed.push(e.into_owned());
            }
        }
        assert_eq!(borrowed, owned, "cut at {cut}");
        assert!(!d.has_partial(), "cut at {cut}");
    }
    let data: Vec<_> = owned.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, ["a long first event", "2", "3"]);
    let types: Vec<_> = owned.iter().map(|e| e.event.as_deref()).collect();
    assert_eq!(types, [None, Some("add"), None]);
}

#[test]
fn simple_events_read_the_same_whole_split_or_byte_by_byte() {
    // Events of one `data:` line, perhaps typed (handed out straight from the buffer when
    // whole), among those that are not: an id before, a comment, CRLF, no space, empty data,
    // bad UTF-8 in the data or the type, an empty type, a type with no data.
    let body: &[u8] = b"data: {\"a\":1}\n\nid: 9\ndata: two\n\ndata:three\n\ndata:\n\n\
        event: add\ndata: typed\n\n: note\ndata: after a comment\n\ndata: crlf\r\n\r\n\
        data: bad \xff byte\n\nevent: message_start\ndata: {\"b\":2}\n\nevent:\ndata: untyped\n\n\
        event: t\xffx\ndata: lossy type\n\nevent: no data\n\ndata: last\n\n";
    let events = [
        (None, "{\"a\":1}", None),
        (None, "two", Some("9")),
        (None, "three", Some("9")),
        (None, "", Some("9")),
        (Some("add"), "typed", Some("9")),
        (None, "after a comment", Some("9")),
        (None, "crlf", Some("9")),
        (None, "bad \u{fffd} byte", Some("9")),
        (Some("message_start"), "{\"b\":2}", Some("9")),
        (None, "untyped", Some("9")),
        (Some("t\u{fffd}x"), "lossy type", Some("9")),
        (None, "last", Some("9")),
    ];
    let expected: Vec<SseEvent> = events
        .iter()
        .map(|&(event, data, id)| SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
            id: id.map(str::to_owned),
        })
        .collect();
    assert_eq!(decode_all(&[body]), expected);
    for cut in 0..=body.len() {
        assert_eq!(
            decode_all(&[&body[..cut], &body[cut..]]),
            expected,
            "cut at {cut}"
        );
    }
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(decode_all(&bytes), expected, "byte by byte");
}
