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

use bulkhead_core::json::{
    write_array, write_extra, write_finish_reason, write_role, write_str, write_u64,
};
use bulkhead_core::{
    ChatChunk, ChunkChoice, Delta, FunctionCallDelta, Map, Nullable, SharedStr, ToolCallDelta,
    Usage,
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
        buf.put_slice(b"\"choices\":");
        write_array(buf, &chunk.choices, write_choice)?;
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
