//! Writing the wire types as JSON by hand, byte for byte as serde_json writes them, for the
//! hot paths that encode one per request or per chunk (the upstream request, the answer, each
//! streamed chunk).
//!
//! serde_json's serializer is general: it looks every byte of a string up in a table, goes
//! through `Serializer` calls for every field and, for the types that keep unknown fields in a
//! flattened map, through a map serializer. These writers know the types' layout instead; what
//! is open-ended (the values of unknown fields, content parts, tools) is still handed to
//! serde_json in place, so the output stays exactly serde_json's, which the tests of every
//! encoder built on them check.

use bytes::BufMut;

use serde::Serialize;

use crate::{ChatRequest, FinishReason, Map, Message, MessageContent, Role};

pub mod read;
mod request_de;
#[cfg(test)]
mod tests;

pub use request_de::read_chat_request;

/// `bytes` as text, if they are UTF-8 (as JSON must be): checked with SIMD where the CPU has
/// it, several times std's speed on a long prompt; on failure, std's own error, which says
/// where the bad byte is.
pub fn from_utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => std::str::from_utf8(bytes),
    }
}

/// A JSON string, escaped exactly as serde_json does: `"` and `\`, the short forms `\b \f \n
/// \r \t`, other control characters as `\u00XX`; everything else (UTF-8 included) verbatim.
///
/// Prompts and answers are long runs of plain text: the runs between bytes to escape are found
/// 32 bytes at a time ([`next_escape`], then eight at a time) and copied whole (serde_json looks each byte up in a
/// table).
pub fn write_str(buf: &mut impl BufMut, s: &str) {
    let bytes = s.as_bytes();
    buf.put_u8(b'"');
    let mut start = 0;
    loop {
        let at = next_escape(bytes, start);
        buf.put_slice(&bytes[start..at]);
        let Some(&b) = bytes.get(at) else { break };
        write_escape(buf, b);
        start = at + 1;
    }
    buf.put_u8(b'"');
}

/// The index of the first byte at or after `from` that a JSON string must escape (a control
/// character, `"` or `\`), or `bytes.len()`.
fn next_escape(bytes: &[u8], from: usize) -> usize {
    let (blocks, tail) = bytes[from..].as_chunks::<32>();
    for (i, block) in blocks.iter().enumerate() {
        let (head, rest) = block.split_at(16);
        let masks = [
            word_escapes(&head[..8]),
            word_escapes(&head[8..]),
            word_escapes(&rest[..8]),
            word_escapes(&rest[8..]),
        ];
        if masks[0] | masks[1] | masks[2] | masks[3] != 0 {
            let at = from + 32 * i;
            return match masks {
                [m, ..] if m != 0 => at + first_flagged(m),
                [_, m, ..] if m != 0 => at + 8 + first_flagged(m),
                [_, _, m, _] if m != 0 => at + 16 + first_flagged(m),
                [.., m] => at + 24 + first_flagged(m),
            };
        }
    }
    let (words, rest) = tail.as_chunks::<8>();
    let mut at = bytes.len() - tail.len();
    for word in words {
        let mask = escapes(u64::from_le_bytes(*word));
        if mask != 0 {
            return at + first_flagged(mask);
        }
        at += 8;
    }
    rest.iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map_or(bytes.len(), |i| at + i)
}

/// [`escapes`] of eight bytes.
fn word_escapes(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(bytes);
    escapes(u64::from_le_bytes(word))
}

/// The bytes of `word` (read little-endian) that are control characters, `"` or `\`: each
/// such byte's high bit set in the result, and no byte below the first such one set.
///
/// The classic word tests: `(x - n * 0x01..) & !x & 0x80..` flags exactly the bytes of `x`
/// below `n` (for `n` up to 0x80) up to and including the first, and perhaps bytes after it (a
/// borrow runs upward from a flagged byte); bytes of 0x80 and up (UTF-8) are never flagged.
fn escapes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    below(word, 0x20) | below(quote, 1) | below(backslash, 1)
}

/// The position in its word of the first byte [`escapes`] flagged.
fn first_flagged(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// The escape of one byte `write_str` does not write verbatim.
fn write_escape(buf: &mut impl BufMut, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => buf.put_slice(b"\\\""),
        b'\\' => buf.put_slice(b"\\\\"),
        b'\n' => buf.put_slice(b"\\n"),
        b'\r' => buf.put_slice(b"\\r"),
        b'\t' => buf.put_slice(b"\\t"),
        0x08 => buf.put_slice(b"\\b"),
        0x0c => buf.put_slice(b"\\f"),
        _ => buf.put_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ]),
    }
}

/// An unsigned integer in decimal.
pub fn write_u64(buf: &mut impl BufMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.put_slice(&digits[at..]);
}

/// A struct's unknown fields, after at least one known one (serde writes a flattened map
/// where the field is declared: last, in every wire type here).
///
/// # Errors
/// When serde_json cannot write one of the values.
pub fn write_extra<B: BufMut>(buf: &mut B, extra: &Map) -> serde_json::Result<()> {
    for (key, value) in extra {
        buf.put_u8(b',');
        write_str(buf, key);
        buf.put_u8(b':');
        serde_json::to_writer((&mut *buf).writer(), value)?;
    }
    Ok(())
}

/// A role as serde writes it: a known one by its name, another escaped.
pub fn write_role(buf: &mut impl BufMut, role: &Role) {
    let name = match role {
        Role::System => "system",
        Role::Developer => "developer",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        Role::Function => "function",
        Role::Other(name) => return write_str(buf, name),
    };
    buf.put_u8(b'"');
    buf.put_slice(name.as_bytes());
    buf.put_u8(b'"');
}

/// A finish reason as serde writes it: `null`, a known one by its name, another escaped.
pub fn write_finish_reason(buf: &mut impl BufMut, reason: Option<&FinishReason>) {
    match reason {
        None => buf.put_slice(b"null"),
        Some(FinishReason::Other(reason)) => write_str(buf, reason),
        Some(reason) => {
            buf.put_u8(b'"');
            buf.put_slice(reason.as_str().as_bytes());
            buf.put_u8(b'"');
        }
    }
}

/// `[item,item,...]`, each item written by `write`.
///
/// # Errors
/// The first error of `write`.
pub fn write_array<B: BufMut, T>(
    buf: &mut B,
    items: &[T],
    mut write: impl FnMut(&mut B, &T) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    buf.put_u8(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            buf.put_u8(b',');
        }
        write(buf, item)?;
    }
    buf.put_u8(b']');
    Ok(())
}

/// A [`Message`], as in a request's `messages` or an answer's choice.
///
/// # Errors
/// When serde_json cannot write a value it is handed (content parts, unknown fields).
pub fn write_message<B: BufMut>(buf: &mut B, message: &Message) -> serde_json::Result<()> {
    buf.put_slice(b"{\"role\":");
    write_role(buf, &message.role);
    buf.put_slice(b",\"content\":");
    match &message.content {
        None => buf.put_slice(b"null"),
        Some(MessageContent::Text(text)) => write_str(buf, text),
        Some(parts @ MessageContent::Parts(_)) => {
            serde_json::to_writer((&mut *buf).writer(), parts)?;
        }
    }
    if let Some(name) = &message.name {
        buf.put_slice(b",\"name\":");
        write_str(buf, name);
    }
    if let Some(calls) = &message.tool_calls {
        buf.put_slice(b",\"tool_calls\":[");
        for (i, call) in calls.iter().enumerate() {
            if i > 0 {
                buf.put_u8(b',');
            }
            buf.put_slice(b"{\"id\":");
            write_str(buf, &call.id);
            buf.put_slice(b",\"type\":");
            write_str(buf, &call.kind);
            buf.put_slice(b",\"function\":{\"name\":");
            write_str(buf, &call.function.name);
            buf.put_slice(b",\"arguments\":");
            write_str(buf, &call.function.arguments);
            buf.put_slice(b"}}");
        }
        buf.put_u8(b']');
    }
    if let Some(id) = &message.tool_call_id {
        buf.put_slice(b",\"tool_call_id\":");
        write_str(buf, id);
    }
    write_extra(buf, &message.extra)?;
    buf.put_u8(b'}');
    Ok(())
}

/// Room to write `messages` (with a request's other members) without growing the buffer,
/// which copies it whole: their text, an escape every eight bytes of it (line breaks and
/// quotes are rarer), and 256 bytes for the rest.
pub fn messages_size_hint(messages: &[Message]) -> usize {
    let text: usize = messages
        .iter()
        .map(|m| match &m.content {
            Some(MessageContent::Text(text)) => text.len(),
            _ => 0,
        })
        .sum();
    text + text / 8 + 256
}

/// A [`ChatRequest`] as an OpenAI-compatible upstream is sent it: exactly what
/// `serde_json::to_vec(request)` writes (its `extensions` are never written).
///
/// # Errors
/// When serde_json cannot write a value it is handed (unknown fields, tools, content parts).
pub fn write_chat_request<B: BufMut>(buf: &mut B, request: &ChatRequest) -> serde_json::Result<()> {
    let u32_member = |buf: &mut B, n: &u32| write_u64(buf, (*n).into());
    let bool_member = |buf: &mut B, value: &bool| write_bool(buf, *value);
    buf.put_slice(b"{\"model\":");
    write_str(buf, &request.model);
    buf.put_slice(b",\"messages\":");
    write_array(buf, &request.messages, write_message)?;
    write_optional(buf, b",\"temperature\":", request.temperature.as_ref())?;
    write_optional(buf, b",\"top_p\":", request.top_p.as_ref())?;
    write_optional_with(buf, b",\"n\":", request.n.as_ref(), u32_member);
    write_optional_with(buf, b",\"stream\":", request.stream.as_ref(), bool_member);
    if let Some(options) = &request.stream_options {
        buf.put_slice(b",\"stream_options\":");
        match options.include_usage {
            Some(include) => {
                buf.put_slice(b"{\"include_usage\":");
                write_bool(buf, include);
                write_extra(buf, &options.extra)?;
                buf.put_u8(b'}');
            }
            // Unknown fields alone: no known one to follow.
            None => serde_json::to_writer((&mut *buf).writer(), options)?,
        }
    }
    write_optional(buf, b",\"stop\":", request.stop.as_ref())?;
    write_optional_with(
        buf,
        b",\"max_tokens\":",
        request.max_tokens.as_ref(),
        u32_member,
    );
    write_optional_with(
        buf,
        b",\"max_completion_tokens\":",
        request.max_completion_tokens.as_ref(),
        u32_member,
    );
    write_optional(
        buf,
        b",\"presence_penalty\":",
        request.presence_penalty.as_ref(),
    )?;
    write_optional(
        buf,
        b",\"frequency_penalty\":",
        request.frequency_penalty.as_ref(),
    )?;
    write_optional_with(buf, b",\"seed\":", request.seed.as_ref(), |buf, seed| {
        if *seed < 0 {
            buf.put_u8(b'-');
        }
        write_u64(buf, seed.unsigned_abs());
    });
    write_optional_with(buf, b",\"user\":", request.user.as_ref(), |buf, user| {
        write_str(buf, user);
    });
    write_optional(buf, b",\"tools\":", request.tools.as_ref())?;
    write_optional(buf, b",\"tool_choice\":", request.tool_choice.as_ref())?;
    write_optional_with(
        buf,
        b",\"parallel_tool_calls\":",
        request.parallel_tool_calls.as_ref(),
        bool_member,
    );
    write_optional(
        buf,
        b",\"response_format\":",
        request.response_format.as_ref(),
    )?;
    write_extra(buf, &request.extra)?;
    buf.put_u8(b'}');
    Ok(())
}

fn write_bool(buf: &mut impl BufMut, value: bool) {
    buf.put_slice(if value { b"true" } else { b"false" });
}

/// `key` (`,"name":`) and `value` as serde_json writes it.
///
/// # Errors
/// When serde_json cannot write `value`.
pub fn write_member<B: BufMut>(
    buf: &mut B,
    key: &[u8],
    value: &impl Serialize,
) -> serde_json::Result<()> {
    buf.put_slice(key);
    serde_json::to_writer((&mut *buf).writer(), value)
}

/// [`write_member`] when there is a value; nothing when there is none.
fn write_optional<B: BufMut>(
    buf: &mut B,
    key: &[u8],
    value: Option<&impl Serialize>,
) -> serde_json::Result<()> {
    value.map_or(Ok(()), |value| write_member(buf, key, value))
}

/// `key` and the value by `write` when there is one, as [`write_optional`] without serde.
fn write_optional_with<B: BufMut, T>(
    buf: &mut B,
    key: &[u8],
    value: Option<&T>,
    write: impl FnOnce(&mut B, &T),
) {
    if let Some(value) = value {
        buf.put_slice(key);
        write(buf, value);
    }
}
