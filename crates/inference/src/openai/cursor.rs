//! The reader under the provider's hand-written JSON readers ([`ChunkDecoder`] for stream
//! chunks, [`decode_response`] for answers): tokens, whitespace, strings, integers and
//! members in an expected order, each giving up (`None`) on anything it is not sure of.
//!
//! [`ChunkDecoder`]: super::ChunkDecoder
//! [`decode_response`]: super::decode_response

use bulkhead_core::Nullable;
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::StringDeserializer;

/// A reader over JSON text that expects a layout and gives up (`None`) on anything else, for
/// the callers to hand the whole text to serde_json.
pub(super) struct Cursor<'a> {
    pub(super) rest: &'a str,
}

impl Cursor<'_> {
    /// Step over `token` when the bytes start with it.
    pub(super) fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    pub(super) fn expect(&mut self, token: &str) -> Option<()> {
        self.eat(token).then_some(())
    }

    /// Step over JSON whitespace.
    pub(super) fn skip_space(&mut self) {
        let bytes = self.rest.as_bytes();
        if !matches!(bytes.first(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            return;
        }
        let start = bytes
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(bytes.len());
        // `start` is at an ASCII byte or the end: a character boundary.
        self.rest = &self.rest[start..];
    }

    /// `token` after optional whitespace.
    pub(super) fn token(&mut self, token: &str) -> Option<()> {
        self.skip_space();
        self.expect(token)
    }

    /// The first member's `"key":` (given with its quotes and colon), and the whitespace
    /// around it: the cursor is left at the value.
    pub(super) fn key(&mut self, key: &str) -> Option<()> {
        self.token(key)?;
        self.skip_space();
        Some(())
    }

    /// `,` then `"key":`, as [`key`](Self::key); the cursor does not move when the next
    /// member is not that one.
    pub(super) fn next_key(&mut self, key: &str) -> Option<()> {
        let at = self.rest;
        let found = self.token(",").and_then(|()| self.key(key));
        if found.is_none() {
            self.rest = at;
        }
        found
    }

    /// An optional member: `Absent` when the next member is not `key`, `Null` for `null`,
    /// else the value `read` reads (which may give up).
    pub(super) fn nullable_member<T>(
        &mut self,
        key: &str,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Nullable<T>> {
        if self.next_key(key).is_none() {
            return Some(Nullable::Absent);
        }
        Some(match self.or_null(read)? {
            Some(value) => Nullable::Value(value),
            None => Nullable::Null,
        })
    }

    /// `null` (`None`), or what `read` reads.
    pub(super) fn or_null<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        if self.eat("null") {
            return Some(None);
        }
        read(self).map(Some)
    }

    /// A number that fits a `u32`.
    pub(super) fn number_u32(&mut self) -> Option<u32> {
        u32::try_from(self.integer()?).ok()
    }

    /// A number that fits a `u32`, or `null`.
    pub(super) fn optional_u32(&mut self) -> Option<Option<u32>> {
        self.or_null(Cursor::number_u32)
    }

    /// A non-negative integer without leading zeros that fits a `u64`.
    pub(super) fn integer(&mut self) -> Option<u64> {
        let bytes = self.rest.as_bytes();
        let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && bytes[0] == b'0') {
            return None;
        }
        let mut value = 0_u64;
        for &digit in &bytes[..digits] {
            value = value
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
        }
        self.rest = &self.rest[digits..];
        Some(value)
    }

    /// A JSON string: copied when it has no escapes, else unescaped by serde_json.
    pub(super) fn string(&mut self) -> Option<String> {
        let body = self.rest.strip_prefix('"')?;
        let bytes = body.as_bytes();
        let mut escaped = false;
        let mut i = 0;
        loop {
            match *bytes.get(i)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                // Control characters must be escaped: serde_json refuses them, so must we.
                0..0x20 => return None,
                _ => i += 1,
            }
        }
        // `i` is at an ASCII quote, so both slices end on character boundaries.
        let text = if escaped {
            match unescape(&body[..i]) {
                Some(text) => text,
                None => serde_json::from_str(&self.rest[..i + 2]).ok()?,
            }
        } else {
            body[..i].to_owned()
        };
        self.rest = &body[i + 1..];
        Some(text)
    }
}

/// The text of a JSON string's body whose escapes are all single characters (`\n`, `\"`,
/// `\\`, `\/`, `\t`, `\r`, `\b`, `\f`), or `None` for serde_json to read (`\u` escapes, or
/// an invalid one, which it refuses). The body has no unescaped quote or control character.
fn unescape(body: &str) -> Option<String> {
    let mut text = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = memchr::memchr(b'\\', rest.as_bytes()) {
        text.push_str(&rest[..at]);
        text.push(match rest.as_bytes().get(at + 1)? {
            b'n' => '\n',
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            _ => return None,
        });
        // The escape is two ASCII bytes: `at + 2` is a character boundary.
        rest = &rest[at + 2..];
    }
    text.push_str(rest);
    Some(text)
}

/// A string read as an enum by the same `Deserialize` serde_json would use.
pub(super) fn from_name<T: for<'de> Deserialize<'de>>(name: String) -> Option<T> {
    let name: StringDeserializer<serde_json::Error> = name.into_deserializer();
    T::deserialize(name).ok()
}
