//! Canonical cache keys: a SHA-256 over the tenant and every field that can change the answer.
//!
//! The request is serialized to a `serde_json::Value` (known fields and the unknown passthrough
//! `extra` alike, so a vendor's newest sampling parameter is part of the key without this crate
//! knowing its name), the fields that cannot change the output are dropped, and the rest is fed
//! to the hash in a canonical, self-delimiting encoding: object keys sorted, every value tagged
//! with its type and every string and container prefixed with its length, numbers reduced to
//! one form (`1`, `1.0` and `1e0` agree). Key order in the client's JSON therefore never
//! matters, and no two different requests can encode to the same bytes.
//!
//! Left out on purpose: `stream` and `stream_options` (a stream and a JSON answer are the same
//! answer, replayed either way), `user` (an end-user label for abuse tracking), and everything
//! in the request's extensions (request id, deadline, report) except the [`Tenant`].

use std::fmt;

use bulkhead_core::{ChatRequest, EmbeddingRequest, Tenant};
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
    use bulkhead_core::Message;

    use super::*;

    fn parse(json: &str) -> ChatRequest {
        serde_json::from_str(json).expect("valid request")
    }

    #[test]
    fn numbers_written_differently_agree() {
        let a = parse(r#"{"model":"m","messages":[],"temperature":1}"#);
        let b = parse(r#"{"model":"m","messages":[],"temperature":1.0}"#);
        let c = parse(r#"{"model":"m","messages":[],"temperature":0.5}"#);
        assert_eq!(chat_key(None, &a), chat_key(None, &b));
        assert_ne!(chat_key(None, &a), chat_key(None, &c));
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
