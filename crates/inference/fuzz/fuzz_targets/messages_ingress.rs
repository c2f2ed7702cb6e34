//! The `/v1/messages` translations on arbitrary input: a request body parsed and translated to
//! a chat request, and lines of JSON chunks encoded as Anthropic events. Nothing panics, and
//! every event written is `event: <type>\ndata: <json>\n\n`.

#![no_main]

use bulkhead_core::ChatChunk;
use bulkhead_inference::anthropic::ingress::{EventEncoder, from_anthropic, write_event};
use bulkhead_inference::anthropic::wire::MessagesRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<MessagesRequest>(data) {
        if let Ok(chat) = from_anthropic(request) {
            assert!(serde_json::to_vec(&chat).is_ok());
        }
    }
    let mut encoder = EventEncoder::new();
    let mut events = Vec::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(chunk) = serde_json::from_slice::<ChatChunk>(line) {
            encoder.push_chunk(&chunk, &mut events);
        }
    }
    encoder.finish(&mut events);
    let mut buf = Vec::new();
    for event in &events {
        let start = buf.len();
        write_event(event, &mut buf).expect("events serialize");
        assert!(buf[start..].starts_with(b"event: "));
        assert!(buf.ends_with(b"\n\n"));
    }
});
