//! A hand-written JSON encoder for the common shape of a `chat.completion.chunk`.
//!
//! Why it exists: encoding every streamed chunk with serde_json was ~70% of the gateway's
//! per-chunk cost. The `{"id":...,"object":...,"created":...,"model":...,` prefix, with the
//! `service_tier` and `system_fingerprint` OpenAI repeats, is the same on every chunk of one
//! answer, so it is encoded once and copied; the rest (choices with role/content/tool-call
//! deltas, `logprobs: null`, finish reason, usage) is written by hand. What is rarer or
//! open-ended (the values of unknown fields, logprobs that were asked for) is handed to
//! serde_json in place. Only a chunk whose `object` is not `chat.completion.chunk` returns
//! `false`, for the caller to encode with serde_json. The output is byte-for-byte what serde_json writes, which the tests
//! check.

use bulkhead_core::{
    ChatChunk, ChunkChoice, Delta, FinishReason, FunctionCallDelta, Map, Nullable, Role, SharedStr,
    ToolCallDelta, Usage,
};
use bytes::{BufMut, BytesMut};

#[cfg(test)]
mod tests;

/// The encoded constant prefix of one stream's chunks, and what it was encoded from.
#[derive(Debug, Default)]
pub(crate) struct ChunkEncoder {
    id: SharedStr,
    created: u64,
    model: SharedStr,
    service_tier: Nullable<SharedStr>,
    system_fingerprint: Nullable<SharedStr>,
    /// `{"id":"...","object":"chat.completion.chunk","created":N,"model":"...",` and the
    /// service tier and fingerprint when present; empty until the first chunk.
    prefix: Vec<u8>,
}

impl ChunkEncoder {
    /// Append `chunk`'s JSON to `buf` and return `true`, or return `false` with `buf`
    /// untouched when the chunk has a shape this encoder leaves to serde_json.
    pub(crate) fn encode(&mut self, buf: &mut BytesMut, chunk: &ChatChunk) -> bool {
        if chunk.object != ChatChunk::OBJECT {
            return false;
        }
        if self.prefix.is_empty()
            || self.created != chunk.created
            || self.id != chunk.id
            || self.model != chunk.model
            || self.service_tier != chunk.service_tier
            || self.system_fingerprint != chunk.system_fingerprint
        {
            self.cache_prefix(chunk);
        }
        let start = buf.len();
        match self.write_chunk(buf, chunk) {
            Ok(()) => true,
            Err(_) => {
                // A value serde_json refused (it never refuses a `Value`): leave it all to it.
                buf.truncate(start);
                false
            }
        }
    }

    fn write_chunk(&self, buf: &mut BytesMut, chunk: &ChatChunk) -> serde_json::Result<()> {
        buf.put_slice(&self.prefix);
        buf.put_slice(b"\"choices\":[");
        for (i, choice) in chunk.choices.iter().enumerate() {
            if i > 0 {
                buf.put_u8(b',');
            }
            write_choice(buf, choice)?;
        }
        buf.put_u8(b']');
        match &chunk.usage {
            Nullable::Absent => {}
            Nullable::Null => buf.put_slice(b",\"usage\":null"),
            Nullable::Value(usage) => {
                buf.put_slice(b",\"usage\":");
                write_any_usage(buf, usage)?;
            }
        }
        write_extra(buf, &chunk.extra)?;
        buf.put_u8(b'}');
        Ok(())
    }

    fn cache_prefix(&mut self, chunk: &ChatChunk) {
        self.id = chunk.id.clone();
        self.created = chunk.created;
        self.model = chunk.model.clone();
        self.service_tier = chunk.service_tier.clone();
        self.system_fingerprint = chunk.system_fingerprint.clone();
        let prefix = &mut self.prefix;
        prefix.clear();
        prefix.put_slice(b"{\"id\":");
        write_str(prefix, &chunk.id);
        prefix.put_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        write_u64(prefix, chunk.created);
        prefix.put_slice(b",\"model\":");
        write_str(prefix, &chunk.model);
        write_nullable_str(prefix, b",\"service_tier\":", &chunk.service_tier);
        write_nullable_str(
            prefix,
            b",\"system_fingerprint\":",
            &chunk.system_fingerprint,
        );
        prefix.put_u8(b',');
    }
}

fn write_choice(buf: &mut BytesMut, choice: &ChunkChoice) -> serde_json::Result<()> {
    buf.put_slice(b"{\"index\":");
    write_u64(buf, choice.index.into());
    buf.put_slice(b",\"delta\":");
    write_delta(buf, &choice.delta)?;
    write_logprobs(buf, &choice.logprobs)?;
    buf.put_slice(b",\"finish_reason\":");
    write_finish_reason(buf, choice.finish_reason.as_ref());
    write_extra(buf, &choice.extra)?;
    buf.put_u8(b'}');
    Ok(())
}

fn write_delta(buf: &mut BytesMut, delta: &Delta) -> serde_json::Result<()> {
    let mut fields = Fields::open(buf);
    if let Some(role) = &delta.role {
        fields.key(buf, b"\"role\":");
        write_role(buf, role);
    }
    match &delta.content {
        Nullable::Absent => {}
        Nullable::Null => fields.key(buf, b"\"content\":null"),
        Nullable::Value(text) => {
            fields.key(buf, b"\"content\":");
            write_str(buf, text);
        }
    }
    if let Some(calls) = &delta.tool_calls {
        fields.key(buf, b"\"tool_calls\":[");
        for (i, call) in calls.iter().enumerate() {
            if i > 0 {
                buf.put_u8(b',');
            }
            write_tool_call(buf, call);
        }
        buf.put_u8(b']');
    }
    // Unknown fields (`refusal`, ...) may be the only ones, so they go through `fields`.
    write_unknown(buf, &mut fields, &delta.extra)?;
    buf.put_u8(b'}');
    Ok(())
}

fn write_tool_call(buf: &mut BytesMut, call: &ToolCallDelta) {
    buf.put_slice(b"{\"index\":");
    write_u64(buf, call.index.into());
    if let Some(id) = &call.id {
        buf.put_slice(b",\"id\":");
        write_str(buf, id);
    }
    if let Some(kind) = &call.kind {
        buf.put_slice(b",\"type\":");
        write_str(buf, kind);
    }
    if let Some(FunctionCallDelta { name, arguments }) = &call.function {
        buf.put_slice(b",\"function\":");
        let mut fields = Fields::open(buf);
        if let Some(name) = name {
            fields.key(buf, b"\"name\":");
            write_str(buf, name);
        }
        if let Some(arguments) = arguments {
            fields.key(buf, b"\"arguments\":");
            write_str(buf, arguments);
        }
        buf.put_u8(b'}');
    }
    buf.put_u8(b'}');
}

/// Usage as serde_json writes it, by hand (unknown fields' values aside).
pub(crate) fn write_any_usage<B: BufMut>(buf: &mut B, usage: &Usage) -> serde_json::Result<()> {
    // The three counts, then each breakdown present (OpenAI sends `cached_tokens`,
    // `audio_tokens`, prediction counts), then the unknown fields, in serde's order.
    buf.put_slice(b"{\"prompt_tokens\":");
    write_u64(buf, usage.prompt_tokens.into());
    buf.put_slice(b",\"completion_tokens\":");
    write_u64(buf, usage.completion_tokens.into());
    buf.put_slice(b",\"total_tokens\":");
    write_u64(buf, usage.total_tokens.into());
    match &usage.prompt_tokens_details {
        Nullable::Absent => {}
        Nullable::Null => buf.put_slice(b",\"prompt_tokens_details\":null"),
        Nullable::Value(details) => write_breakdown(
            buf,
            b",\"prompt_tokens_details\":",
            &[
                (b"\"cached_tokens\":", details.cached_tokens),
                (b"\"audio_tokens\":", details.audio_tokens),
                (b"\"cache_write_tokens\":", details.cache_write_tokens),
            ],
            &details.extra,
        )?,
    }
    match &usage.completion_tokens_details {
        Nullable::Absent => {}
        Nullable::Null => buf.put_slice(b",\"completion_tokens_details\":null"),
        Nullable::Value(details) => write_breakdown(
            buf,
            b",\"completion_tokens_details\":",
            &[
                (b"\"reasoning_tokens\":", details.reasoning_tokens),
                (b"\"audio_tokens\":", details.audio_tokens),
                (
                    b"\"accepted_prediction_tokens\":",
                    details.accepted_prediction_tokens,
                ),
                (
                    b"\"rejected_prediction_tokens\":",
                    details.rejected_prediction_tokens,
                ),
            ],
            &details.extra,
        )?,
    }
    write_extra(buf, &usage.extra)?;
    buf.put_u8(b'}');
    Ok(())
}

/// `field` (`,"name":`) and a usage breakdown: its known `counts` that are present (serde
/// skips the absent ones), then its unknown fields.
fn write_breakdown<B: BufMut>(
    buf: &mut B,
    field: &[u8],
    counts: &[(&[u8], Option<u32>)],
    extra: &Map,
) -> serde_json::Result<()> {
    buf.put_slice(field);
    let mut fields = Fields::open(buf);
    for (key, count) in counts {
        if let Some(count) = count {
            fields.key(buf, key);
            write_u64(buf, (*count).into());
        }
    }
    write_unknown(buf, &mut fields, extra)?;
    buf.put_u8(b'}');
    Ok(())
}

/// Unknown fields of an object whose known ones may all be absent, so through `fields`.
fn write_unknown<B: BufMut>(
    buf: &mut B,
    fields: &mut Fields,
    extra: &Map,
) -> serde_json::Result<()> {
    for (key, value) in extra {
        fields.key(buf, b"");
        write_str(buf, key);
        buf.put_u8(b':');
        serde_json::to_writer((&mut *buf).writer(), value)?;
    }
    Ok(())
}

/// `,"key":value` for a field that is left out when absent: `key` is `,"name":`.
pub(crate) fn write_nullable_str(
    buf: &mut impl BufMut,
    key: &[u8],
    value: &Nullable<impl AsRef<str>>,
) {
    match value {
        Nullable::Absent => {}
        Nullable::Null => {
            buf.put_slice(key);
            buf.put_slice(b"null");
        }
        Nullable::Value(text) => {
            buf.put_slice(key);
            write_str(buf, text.as_ref());
        }
    }
}

/// A choice's `,"logprobs":...`, left out when absent; `null`, as OpenAI sends it unasked,
/// without serde.
pub(crate) fn write_logprobs<B: BufMut>(
    buf: &mut B,
    logprobs: &Nullable<serde_json::Value>,
) -> serde_json::Result<()> {
    match logprobs {
        Nullable::Absent => {}
        Nullable::Null => buf.put_slice(b",\"logprobs\":null"),
        Nullable::Value(value) => {
            buf.put_slice(b",\"logprobs\":");
            serde_json::to_writer(buf.writer(), value)?;
        }
    }
    Ok(())
}

/// A struct's unknown fields, after at least one known one (serde writes a flattened map
/// where the field is declared: last, in every type here).
pub(crate) fn write_extra<B: BufMut>(buf: &mut B, extra: &Map) -> serde_json::Result<()> {
    for (key, value) in extra {
        buf.put_u8(b',');
        write_str(buf, key);
        buf.put_u8(b':');
        serde_json::to_writer((&mut *buf).writer(), value)?;
    }
    Ok(())
}

/// A role as serde writes it: a known one by its name, another escaped.
pub(crate) fn write_role(buf: &mut impl BufMut, role: &Role) {
    match role {
        Role::Other(name) => write_str(buf, name),
        known => {
            buf.put_u8(b'"');
            buf.put_slice(role_name(known).as_bytes());
            buf.put_u8(b'"');
        }
    }
}

/// A finish reason as serde writes it: `null`, a known one by its name, another escaped.
pub(crate) fn write_finish_reason(buf: &mut impl BufMut, reason: Option<&FinishReason>) {
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

/// The wire name of a known role (escaped by the caller for `Role::Other`).
fn role_name(role: &Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::Developer => "developer",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        Role::Function => "function",
        Role::Other(_) => "",
    }
}

/// Writes the `{` of an object, then a `,` before every key but the first.
struct Fields {
    first: bool,
}

impl Fields {
    fn open(buf: &mut impl BufMut) -> Self {
        buf.put_u8(b'{');
        Self { first: true }
    }

    fn key(&mut self, buf: &mut impl BufMut, key: &[u8]) {
        if !std::mem::take(&mut self.first) {
            buf.put_u8(b',');
        }
        buf.put_slice(key);
    }
}

pub(crate) fn write_u64(buf: &mut impl BufMut, mut n: u64) {
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

/// A JSON string, escaped exactly as serde_json does: `"` and `\`, the short forms `\b \f \n
/// \r \t`, other control characters as `\u00XX`; everything else (UTF-8 included) verbatim.
///
/// Answers are long runs of plain text, so the scan looks at eight bytes at a time and stops
/// only in a word holding a byte to escape (serde_json looks each byte up in a table).
pub(crate) fn write_str(buf: &mut impl BufMut, s: &str) {
    let bytes = s.as_bytes();
    buf.put_u8(b'"');
    let mut start = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8)
            && !needs_escape(u64::from_le_bytes(word.try_into().unwrap_or_default()))
        {
            at += 8;
            continue;
        }
        let b = bytes[at];
        if b >= 0x20 && b != b'"' && b != b'\\' {
            at += 1;
            continue;
        }
        buf.put_slice(&bytes[start..at]);
        write_escape(buf, b);
        at += 1;
        start = at;
    }
    buf.put_slice(&bytes[start..]);
    buf.put_u8(b'"');
}

/// Whether any of the eight bytes of `word` is a control character, `"` or `\`.
///
/// The classic word tests: `(x - 0x01..) & !x & 0x80..` is non-zero exactly when some byte of
/// `x` is zero, and `(x - n * 0x01..) & !x & 0x80..` exactly when some byte is below `n`
/// (for `n` up to 0x80); bytes of 0x80 and up (UTF-8) never match either.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    below(word, 0x20) | below(quote, 1) | below(backslash, 1) != 0
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
