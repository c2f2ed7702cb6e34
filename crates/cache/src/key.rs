//! Canonical cache keys: a SHA-256 over the tenant and every field that can change the answer.
//!
//! Every field but the ignored ones goes in, the unknown passthrough `extra` included, so a
//! vendor's newest sampling parameter is part of the key without this crate knowing its name.
//! The fast path serializes the typed request (minus the ignored fields) straight to JSON and
//! hashes the bytes: parsing into typed structs and sorted `serde_json::Map`s has already made
//! key order irrelevant. Should serde_json's `preserve_order` be on in the build (maps keep the
//! client's order), the general path is used instead: the request as a `Value`, fed to the
//! hash in a self-delimiting encoding with object keys sorted explicitly, every value tagged
//! with its type, numbers reduced to one form. Either way key order in the client's JSON never
//! matters, and no two different requests encode to the same bytes.
//!
//! Left out on purpose: `stream` and `stream_options` (a stream and a JSON answer are the same
//! answer, replayed either way), `user` (an end-user label for abuse tracking), and everything
//! in the request's extensions (request id, deadline, report) except the [`Tenant`].

use std::fmt;

use std::sync::OnceLock;

use bulkhead_core::{
    ChatRequest, EmbeddingRequest, Map, Message, ResponseFormat, Stop, Tenant, Tool, ToolChoice,
    json,
};

use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

/// Request fields that cannot change the answer, left out of chat keys.
const IGNORED_CHAT_FIELDS: [&str; 3] = ["stream", "stream_options", "user"];

/// A cache key: the SHA-256 of a request's canonical form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lowercase hex digits (how Redis keys spell it).
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0x0f)] as char);
        }
        out
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({})", self.to_hex())
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The key of a chat request, for `tenant` (`None`: the shared anonymous namespace).
///
/// Invariant to JSON key order and to `stream`, `stream_options`, `user` and the extensions;
/// sensitive to everything else, unknown fields included.
pub fn chat_key(tenant: Option<&Tenant>, request: &ChatRequest) -> CacheKey {
    if maps_are_sorted() {
        typed_chat_key(tenant, request)
    } else {
        canonical_chat_key(tenant, request)
    }
}

/// Whether `serde_json::Map` iterates in key order (it does unless some crate in the build
/// turns on serde_json's `preserve_order`, which makes it keep insertion order).
fn maps_are_sorted() -> bool {
    static SORTED: OnceLock<bool> = OnceLock::new();
    *SORTED.get_or_init(|| {
        let mut map = serde_json::Map::new();
        map.insert("b".into(), Value::Null);
        map.insert("a".into(), Value::Null);
        map.keys().next().is_some_and(|k| k == "a")
    })
}

/// The request's output-relevant fields, borrowed, in a fixed order.
#[cfg_attr(test, derive(serde::Serialize))]
struct KeyView<'a> {
    model: &'a String,
    messages: &'a Vec<Message>,
    temperature: &'a Option<Number>,
    top_p: &'a Option<Number>,
    n: &'a Option<u32>,
    stop: &'a Option<Stop>,
    max_tokens: &'a Option<u32>,
    max_completion_tokens: &'a Option<u32>,
    presence_penalty: &'a Option<Number>,
    frequency_penalty: &'a Option<Number>,
    seed: &'a Option<i64>,
    tools: &'a Option<Vec<Tool>>,
    tool_choice: &'a Option<ToolChoice>,
    parallel_tool_calls: &'a Option<bool>,
    response_format: &'a Option<ResponseFormat>,
    extra: &'a Map,
}

impl<'a> KeyView<'a> {
    fn of(request: &'a ChatRequest) -> Self {
        // Destructured without `..`: a field added to `ChatRequest` stops this from compiling
        // until it is placed in the key or among the ignored fields.
        let ChatRequest {
            model,
            messages,
            temperature,
            top_p,
            n,
            stream: _,
            stream_options: _,
            stop,
            max_tokens,
            max_completion_tokens,
            presence_penalty,
            frequency_penalty,
            seed,
            user: _,
            tools,
            tool_choice,
            parallel_tool_calls,
            response_format,
            extra,
            extensions: _,
        } = request;
        KeyView {
            model,
            messages,
            temperature,
            top_p,
            n,
            stop,
            max_tokens,
            max_completion_tokens,
            presence_penalty,
            frequency_penalty,
            seed,
            tools,
            tool_choice,
            parallel_tool_calls,
            response_format,
            extra,
        }
    }

    /// The view as JSON, exactly as `serde_json::to_writer` writes it (the tests check), with
    /// the model and the messages, the bulk of a request, through [`bulkhead_core::json`]'s
    /// writers (a long prompt's text ~2.5 times faster than serde_json escapes it).
    fn write(&self, buf: &mut Vec<u8>) -> serde_json::Result<()> {
        buf.extend_from_slice(b"{\"model\":");
        json::write_str(buf, self.model);
        buf.extend_from_slice(b",\"messages\":");
        json::write_array(buf, self.messages, json::write_message)?;
        json::write_member(buf, b",\"temperature\":", self.temperature)?;
        json::write_member(buf, b",\"top_p\":", self.top_p)?;
        json::write_member(buf, b",\"n\":", self.n)?;
        json::write_member(buf, b",\"stop\":", self.stop)?;
        json::write_member(buf, b",\"max_tokens\":", self.max_tokens)?;
        json::write_member(
            buf,
            b",\"max_completion_tokens\":",
            self.max_completion_tokens,
        )?;
        json::write_member(buf, b",\"presence_penalty\":", self.presence_penalty)?;
        json::write_member(buf, b",\"frequency_penalty\":", self.frequency_penalty)?;
        json::write_member(buf, b",\"seed\":", self.seed)?;
        json::write_member(buf, b",\"tools\":", self.tools)?;
        json::write_member(buf, b",\"tool_choice\":", self.tool_choice)?;
        json::write_member(buf, b",\"parallel_tool_calls\":", self.parallel_tool_calls)?;
        json::write_member(buf, b",\"response_format\":", self.response_format)?;
        json::write_member(buf, b",\"extra\":", self.extra)?;
        buf.push(b'}');
        Ok(())
    }
}

/// The fast path: the typed request serialized straight to JSON bytes and hashed.
///
/// This is canonical because deserializing already normalized the client's key order: struct
/// fields serialize in declaration order, and every JSON object kept as data (`extra`, tool
/// schemas) is a `serde_json::Map`, which iterates sorted ([`maps_are_sorted`] checks it).
/// Numbers keep their form, so `1` and `1.0` are different keys: a rare miss, never a wrong
/// hit. About three times faster than [`canonical_chat_key`].
fn typed_chat_key(tenant: Option<&Tenant>, request: &ChatRequest) -> CacheKey {
    let view = KeyView::of(request);
    let mut enc = Encoder::new(b"bulkhead-cache/chat/typed-v1", tenant);
    enc.buf.reserve(json::messages_size_hint(&request.messages));
    if let Err(error) = view.write(&mut enc.buf) {
        // Serializing borrowed data into a Vec does not fail; if it ever did, fall back to the
        // slow path rather than hash a truncated request.
        tracing::debug!(%error, "cache key: typed serialization failed");
        return canonical_chat_key(tenant, request);
    }
    enc.finish()
}

/// The general path: the request as a `serde_json::Value`, ignored fields dropped, every
/// object's keys sorted explicitly and numbers normalized. Used when maps are not sorted.
fn canonical_chat_key(tenant: Option<&Tenant>, request: &ChatRequest) -> CacheKey {
    let mut enc = Encoder::new(b"bulkhead-cache/chat/v1", tenant);
    match serde_json::to_value(request) {
        Ok(Value::Object(map)) => {
            let mut fields: Vec<(&String, &Value)> = map
                .iter()
                .filter(|(k, _)| !IGNORED_CHAT_FIELDS.contains(&k.as_str()))
                .collect();
            fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
            enc.object(&fields);
        }
        // A request always serializes to an object; should that ever fail, the key still
        // separates requests by their debug form rather than colliding.
        Ok(other) => enc.value(&other),
        Err(error) => enc.string(&format!("{error}:{request:?}")),
    }
    enc.finish()
}

/// One input of an embeddings request: a text or a token list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingItem<'a> {
    /// A text input.
    Text(&'a str),
    /// A pre-tokenized input.
    Tokens(&'a [u32]),
}

/// The key of one input of an embeddings request: tenant, model, dimensions, encoding format,
/// the unknown passthrough fields, and the input itself (`user` is left out).
pub fn embedding_key(
    tenant: Option<&Tenant>,
    request: &EmbeddingRequest,
    item: EmbeddingItem<'_>,
) -> CacheKey {
    let mut enc = Encoder::new(b"bulkhead-cache/embedding/v1", tenant);
    enc.string(&request.model);
    match request.dimensions {
        Some(d) => {
            enc.tag(b'u');
            enc.u64(u64::from(d));
        }
        None => enc.tag(b'n'),
    }
    match &request.encoding_format {
        Some(format) => enc.string(format),
        None => enc.tag(b'n'),
    }
    let mut extra: Vec<(&String, &Value)> = request.extra.iter().collect();
    extra.sort_unstable_by(|a, b| a.0.cmp(b.0));
    enc.object(&extra);
    match item {
        EmbeddingItem::Text(text) => enc.string(text),
        EmbeddingItem::Tokens(tokens) => {
            enc.tag(b'T');
            enc.u64(tokens.len() as u64);
            for &t in tokens {
                enc.buf.extend_from_slice(&t.to_le_bytes());
            }
        }
    }
    enc.finish()
}

/// The canonical, self-delimiting encoding fed to SHA-256. Values are buffered and hashed in
/// one call, which is faster than many small `update`s.
struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    fn new(domain: &[u8], tenant: Option<&Tenant>) -> Self {
        let mut enc = Encoder {
            buf: Vec::with_capacity(512),
        };
        enc.buf.extend_from_slice(domain);
        match tenant {
            // Absent and `Tenant("")` must differ, hence the tag.
            None => enc.tag(b'-'),
            Some(t) => {
                enc.tag(b'+');
                enc.string(t.as_str());
            }
        }
        enc
    }

    fn finish(self) -> CacheKey {
        CacheKey(Sha256::digest(&self.buf).into())
    }

    fn tag(&mut self, tag: u8) {
        self.buf.push(tag);
    }

    fn u64(&mut self, n: u64) {
        self.buf.extend_from_slice(&n.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.tag(b's');
        self.u64(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn object(&mut self, sorted: &[(&String, &Value)]) {
        self.tag(b'{');
        self.u64(sorted.len() as u64);
        for (k, v) in sorted {
            self.string(k);
            self.value(v);
        }
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.tag(b'n'),
            Value::Bool(true) => self.tag(b't'),
            Value::Bool(false) => self.tag(b'f'),
            Value::Number(n) => self.number(n),
            Value::String(s) => self.string(s),
            Value::Array(items) => {
                self.tag(b'[');
                self.u64(items.len() as u64);
                for item in items {
                    self.value(item);
                }
            }
            Value::Object(map) => {
                let mut fields: Vec<(&String, &Value)> = map.iter().collect();
                // serde_json's map is sorted unless `preserve_order` is on somewhere in the
                // build; sorting a sorted slice is cheap, so never rely on it.
                fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
                self.object(&fields);
            }
        }
    }

    /// Numbers in one form: non-negative integers (however written) as `u`, negative ones as
    /// `i`, anything with a fraction as the bits of its `f64`.
    fn number(&mut self, n: &Number) {
        if let Some(u) = n.as_u64() {
            self.tag(b'u');
            self.u64(u);
        } else if let Some(i) = n.as_i64() {
            self.tag(b'i');
            self.u64(i as u64);
        } else {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 {
                self.tag(b'u');
                self.u64(f as u64);
            } else if f.fract() == 0.0 && f < 0.0 && f >= i64::MIN as f64 {
                self.tag(b'i');
                self.u64(f as i64 as u64);
            } else {
                self.tag(b'd');
                self.u64(f.to_bits());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> ChatRequest {
        serde_json::from_str(json).expect("valid request")
    }

    #[test]
    fn the_general_path_normalizes_numbers() {
        let a = parse(r#"{"model":"m","messages":[],"temperature":1}"#);
        let b = parse(r#"{"model":"m","messages":[],"temperature":1.0}"#);
        let c = parse(r#"{"model":"m","messages":[],"temperature":0.5}"#);
        assert_eq!(canonical_chat_key(None, &a), canonical_chat_key(None, &b));
        assert_ne!(canonical_chat_key(None, &a), canonical_chat_key(None, &c));
        assert_ne!(typed_chat_key(None, &a), typed_chat_key(None, &c));
    }

    #[test]
    fn both_paths_ignore_key_order_and_the_ignored_fields() {
        let a = parse(
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"x_b":{"q":1,"p":2},"x_a":true,"stream":true,"user":"u"}"#,
        );
        let b = parse(
            r#"{"x_a":true,"messages":[{"content":"hi","role":"user"}],"x_b":{"p":2,"q":1},"model":"m","stream_options":{"include_usage":true}}"#,
        );
        assert!(
            maps_are_sorted(),
            "serde_json's preserve_order is off in this build"
        );
        assert_eq!(typed_chat_key(None, &a), typed_chat_key(None, &b));
        assert_eq!(canonical_chat_key(None, &a), canonical_chat_key(None, &b));
        let c = parse(
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"x_b":{"q":1,"p":3},"x_a":true}"#,
        );
        assert_ne!(typed_chat_key(None, &a), typed_chat_key(None, &c));
        assert_ne!(canonical_chat_key(None, &a), canonical_chat_key(None, &c));
    }

    #[test]
    fn the_key_view_is_written_exactly_as_serde_writes_it() {
        let long = bulkhead_testkit::fixtures::long_conversation_request();
        for body in [
            bulkhead_testkit::fixtures::realistic_request(),
            long.as_str(),
            r#"{"model":"m","messages":[]}"#,
            r#"{"model":"m\"\u0001","messages":[{"role":"user","content":"a\tb"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"x"}],"x_m":[1]}]}"#,
            r#"{"model":"m","messages":[{"role":"critic","content":"é🎉","name":"n"}],"temperature":0,"top_p":0.5,"n":2,"stop":["a","b"],"max_tokens":1,"max_completion_tokens":2,"presence_penalty":-1.5,"frequency_penalty":1e-3,"seed":-7,"tool_choice":"none","parallel_tool_calls":true,"response_format":{"type":"json_object"},"x_b":{"q":1},"x_a":null}"#,
        ] {
            let request = parse(body);
            let view = KeyView::of(&request);
            let mut ours = Vec::new();
            view.write(&mut ours).expect("writes");
            let theirs = serde_json::to_vec(&view).expect("serializes");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
    }

    #[test]
    fn absent_tenant_and_empty_tenant_differ() {
        let r = ChatRequest::new("m", vec![Message::user("hi")]);
        assert_ne!(
            chat_key(None, &r),
            chat_key(Some(&Tenant::new("")), &r),
            "the anonymous namespace is not a tenant named \"\""
        );
    }

    #[test]
    fn strings_are_length_delimited() {
        let a = ChatRequest::new("m", vec![Message::user("ab"), Message::user("c")]);
        let b = ChatRequest::new("m", vec![Message::user("a"), Message::user("bc")]);
        assert_ne!(chat_key(None, &a), chat_key(None, &b));
        assert_ne!(canonical_chat_key(None, &a), canonical_chat_key(None, &b));
    }

    #[test]
    fn hex_is_64_lowercase_digits() {
        let key = chat_key(None, &ChatRequest::new("m", vec![]));
        let hex = key.to_hex();
        assert_eq!(hex.len(), 64);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
}
