//! Reading JSON by hand: the [`Cursor`] under the hand-written readers of the wire types
//! (the OpenAI provider's chunk and answer readers, [`read_chat_request`](super::read_chat_request)).
//! Each reads the layout it expects and gives up (`None`) on anything it is not sure of, for
//! its caller to hand the whole text to serde_json, so what a reader returns, and every error,
//! is always serde_json's.

use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::StringDeserializer;

use super::next_escape;
use crate::Nullable;

/// The first room given to a string with escapes, which is usually text (a message with line
/// breaks or quotes): growing it copies what it holds, and its length is not known until its
/// end. Never more than the rest of the text, so a short document (a stream's chunk) does not
/// get a kilobyte per escaped token.
const ESCAPED_CAPACITY: usize = 1024;

/// A reader over JSON text that expects a layout and gives up (`None`) on anything else, for
/// the callers to hand the whole text to serde_json.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    /// The text not read yet.
    pub rest: &'a str,
}

impl Cursor<'_> {
    /// Step over `token` when the bytes start with it.
    pub fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Step over `token`, or give up.
    pub fn expect(&mut self, token: &str) -> Option<()> {
        self.eat(token).then_some(())
    }

    /// Step over JSON whitespace.
    pub fn skip_space(&mut self) {
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
    pub fn token(&mut self, token: &str) -> Option<()> {
        self.skip_space();
        self.expect(token)
    }

    /// A JSON array at the cursor, each item read by `item`, with whitespace allowed between
    /// the tokens; `None` when an item cannot be read or the array is malformed.
    pub fn array<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.expect("[")?;
        let mut items = Vec::new();
        if self.token("]").is_some() {
            return Some(items);
        }
        loop {
            self.skip_space();
            items.push(item(self)?);
            if self.token("]").is_some() {
                return Some(items);
            }
            self.token(",")?;
        }
    }

    /// The first member's `"key":` (given with its quotes and colon), and the whitespace
    /// around it: the cursor is left at the value.
    pub fn key(&mut self, key: &str) -> Option<()> {
        self.token(key)?;
        self.skip_space();
        Some(())
    }

    /// `,` then `"key":`, as [`key`](Self::key); the cursor does not move when the next
    /// member is not that one.
    pub fn next_key(&mut self, key: &str) -> Option<()> {
        let at = self.rest;
        let found = self.token(",").and_then(|()| self.key(key));
        if found.is_none() {
            self.rest = at;
        }
        found
    }

    /// An optional member: `Absent` when the next member is not `key`, `Null` for `null`,
    /// else the value `read` reads (which may give up).
    pub fn nullable_member<T>(
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
    pub fn or_null<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.eat("null") {
            return Some(None);
        }
        read(self).map(Some)
    }

    /// A number that fits a `u32`.
    pub fn number_u32(&mut self) -> Option<u32> {
        u32::try_from(self.integer()?).ok()
    }

    /// A number that fits a `u32`, or `null`.
    pub fn optional_u32(&mut self) -> Option<Option<u32>> {
        self.or_null(Cursor::number_u32)
    }

    /// A non-negative integer without leading zeros that fits a `u64`.
    pub fn integer(&mut self) -> Option<u64> {
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

    /// A JSON string, read in one pass: the runs between quotes, backslashes and control
    /// characters are found 32 bytes at a time ([`next_escape`]) and copied whole, and
    /// single-character escapes (`\n`, `\"`, ...) are unescaped by hand; a string with a `\u`
    /// escape is read by serde_json.
    pub fn string(&mut self) -> Option<String> {
        let body = self.rest.strip_prefix('"')?;
        let bytes = body.as_bytes();
        // The unescaped text, from the first escape on; `start` is where its next run begins.
        let mut text: Option<String> = None;
        let mut start = 0;
        let mut by_serde = false;
        let mut at = 0;
        loop {
            at = next_escape(bytes, at);
            match *bytes.get(at)? {
                b'"' => break,
                b'\\' => {
                    let escape = *bytes.get(at + 1)?;
                    if escape == b'u' {
                        by_serde = true;
                    } else if !by_serde {
                        let out = text.get_or_insert_with(|| {
                            String::with_capacity(ESCAPED_CAPACITY.max(2 * at).min(bytes.len()))
                        });
                        // `at` is at an ASCII backslash: a character boundary.
                        out.push_str(&body[start..at]);
                        out.push(unescaped(escape)?);
                        start = at + 2;
                    }
                    at += 2;
                }
                // Control characters must be escaped: serde_json refuses them, so must we.
                _ => return None,
            }
        }
        // `at` is at an ASCII quote, so every slice below ends on a character boundary.
        let text = if by_serde {
            serde_json::from_str(&self.rest[..at + 2]).ok()?
        } else {
            match text {
                Some(mut text) => {
                    text.push_str(&body[start..at]);
                    text
                }
                None => body[..at].to_owned(),
            }
        };
        self.rest = &body[at + 1..];
        Some(text)
    }
}

/// The character a single-character escape (`\n`, `\"`, `\\`, `\/`, `\t`, `\r`, `\b`,
/// `\f`) stands for, given the byte after the backslash; `None` for any other, which
/// serde_json refuses.
fn unescaped(escape: u8) -> Option<char> {
    Some(match escape {
        b'n' => '\n',
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b't' => '\t',
        b'r' => '\r',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        _ => return None,
    })
}

impl<'a> Cursor<'a> {
    /// A member's name and the `:` after it, with the whitespace around: the cursor is left at
    /// the value. Gives up on a name with escapes (for serde_json to read).
    pub fn member_name(&mut self) -> Option<&'a str> {
        let body = self.rest.strip_prefix('"')?;
        let end = next_escape(body.as_bytes(), 0);
        if body.as_bytes().get(end) != Some(&b'"') {
            return None;
        }
        // `end` is at an ASCII quote: a character boundary.
        let name = &body[..end];
        self.rest = &body[end + 1..];
        self.token(":")?;
        self.skip_space();
        Some(name)
    }

    /// The text of a number (`-`, digits, `.`, `e`, `E`, `+`), for serde_json to read, which
    /// refuses what JSON does not allow.
    pub fn number_text(&mut self) -> Option<&'a str> {
        let end = self
            .rest
            .bytes()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        // `end` is at an ASCII byte or the end: a character boundary.
        let (text, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(text)
    }
}

impl Cursor<'_> {
    /// `true` or `false`.
    pub fn boolean(&mut self) -> Option<bool> {
        if self.eat("true") {
            Some(true)
        } else if self.eat("false") {
            Some(false)
        } else {
            None
        }
    }

    /// An integer that fits an `i64`, as serde_json reads one for an `i64`: digits with an
    /// optional `-`, no leading zeros; `-0` is a float to serde_json, so not read here.
    pub fn signed_integer(&mut self) -> Option<i64> {
        let at = self.rest;
        let negative = self.eat("-");
        let value = self.integer();
        let read = match value {
            Some(0) if negative => None,
            Some(v) if negative => 0_i64.checked_sub_unsigned(v),
            Some(v) => i64::try_from(v).ok(),
            None => None,
        };
        if read.is_none() {
            self.rest = at;
        }
        read
    }

    /// A JSON number as serde_json reads it into a [`serde_json::Number`].
    pub fn number(&mut self) -> Option<serde_json::Number> {
        serde_json::from_str(self.number_text()?).ok()
    }
}

/// A string read as an enum by the same `Deserialize` serde_json would use.
pub fn from_name<T: for<'de> Deserialize<'de>>(name: String) -> Option<T> {
    let name: StringDeserializer<serde_json::Error> = name.into_deserializer();
    T::deserialize(name).ok()
}
