//! Reading a non-streamed chat completion laid out as OpenAI lays it out, with serde_json for
//! anything else.
//!
//! Why it exists: parsing the upstream's answer with serde_json was the largest single cost of
//! a proxied JSON request (~14 k of its ~95 k instructions for a 661-byte OpenAI answer;
//! serde_json needs ~7.6 k just to scan those bytes). Reading members in any order by hand
//! costs as much (finding each key and choosing its field is most of the work), but OpenAI
//! sends its members in one order: [`read`] expects that order (`id`, `object`, `created`,
//! `model`, `choices`, `usage`, `service_tier`, `system_fingerprint`; in a choice `index`,
//! `message`, `logprobs`, `finish_reason`; ...), with any JSON whitespace between tokens (OpenAI
//! indents its answers; servers that copy its layout often do not), text or no content, and
//! gives up (`None`) on anything else: another order, a tool call, logprobs, an unknown member.
//! That answer then goes to serde_json whole, so the result, and any error, is always exactly
//! what `serde_json::from_str::<ChatResponse>` gives: the tests check that over the answers of
//! several servers and every truncation and one-byte edit of them.

use bulkhead_core::{
    ChatResponse, Choice, CompletionTokensDetails, FinishReason, Map, Message, MessageContent,
    Nullable, PromptTokensDetails, Role, Usage,
};
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::StringDeserializer;
use serde_json::Value;

use super::chunk_de::Cursor;

#[cfg(test)]
mod tests;

/// The chat completion in `text`, exactly as `serde_json::from_str` reads it, in a fraction of
/// its time for an answer laid out as OpenAI lays it out (see the module docs).
///
/// ```
/// let text = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m",
///   "choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}"#;
/// let answer = bulkhead_inference::openai::decode_response(text)?;
/// assert_eq!(answer, serde_json::from_str(text)?);
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// # Errors
/// serde_json's error when `text` is not a chat completion.
pub fn decode_response(text: &str) -> serde_json::Result<ChatResponse> {
    match read(text) {
        Some(response) => Ok(response),
        None => serde_json::from_str(text),
    }
}

/// The answer in `text`, or `None` when it is not laid out as [`read`] expects.
///
/// `{"id":S,"object":S,"created":N,"model":S,"choices":[CHOICE,...],"usage":USAGE|null
/// [,"service_tier":S|null][,"system_fingerprint":S|null]}`, whitespace allowed between tokens.
pub(super) fn read(text: &str) -> Option<ChatResponse> {
    let mut cursor = Cursor { rest: text };
    cursor.token("{")?;
    cursor.key("\"id\":")?;
    let id = cursor.string()?;
    cursor.next_key("\"object\":")?;
    let object = cursor.string()?;
    cursor.next_key("\"created\":")?;
    let created = cursor.integer()?;
    cursor.next_key("\"model\":")?;
    let model = cursor.string()?;
    cursor.next_key("\"choices\":")?;
    let choices = cursor.choices()?;
    let usage = if cursor.next_key("\"usage\":").is_some() {
        cursor.or_null(Cursor::usage)?
    } else {
        None
    };
    let service_tier = cursor.nullable_string_member("\"service_tier\":")?;
    let system_fingerprint = cursor.nullable_string_member("\"system_fingerprint\":")?;
    cursor.token("}")?;
    cursor.skip_space();
    if !cursor.rest.is_empty() {
        return None;
    }
    Some(ChatResponse {
        id,
        object,
        created,
        model,
        choices,
        usage,
        service_tier,
        system_fingerprint,
        extra: Map::new(),
    })
}

/// A string read as an enum by the same `Deserialize` serde_json would use.
fn from_name<T: for<'de> Deserialize<'de>>(name: String) -> Option<T> {
    let name: StringDeserializer<serde_json::Error> = name.into_deserializer();
    T::deserialize(name).ok()
}

impl Cursor<'_> {
    /// Step over JSON whitespace.
    fn skip_space(&mut self) {
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
    fn token(&mut self, token: &str) -> Option<()> {
        self.skip_space();
        self.expect(token)
    }

    /// The first member's `"key":` (given with its quotes and colon), and the whitespace
    /// around it: the cursor is left at the value.
    fn key(&mut self, key: &str) -> Option<()> {
        self.token(key)?;
        self.skip_space();
        Some(())
    }

    /// `,` then `"key":`, as [`key`](Self::key); the cursor does not move when the next
    /// member is not that one.
    fn next_key(&mut self, key: &str) -> Option<()> {
        let at = self.rest;
        let found = self.token(",").and_then(|()| self.key(key));
        if found.is_none() {
            self.rest = at;
        }
        found
    }

    /// An optional member holding a string or `null`.
    fn nullable_string_member(&mut self, key: &str) -> Option<Nullable<String>> {
        if self.next_key(key).is_none() {
            return Some(Nullable::Absent);
        }
        Some(match self.or_null(Cursor::string)? {
            Some(text) => Nullable::Value(text),
            None => Nullable::Null,
        })
    }

    /// An optional member holding `null` (the only value read here): `Null` or `Absent`.
    fn null_member(&mut self, key: &str) -> Option<Nullable<Value>> {
        if self.next_key(key).is_none() {
            return Some(Nullable::Absent);
        }
        self.expect("null")?;
        Some(Nullable::Null)
    }

    /// `null` (`None`), or what `read` reads.
    fn or_null<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.eat("null") {
            return Some(None);
        }
        read(self).map(Some)
    }

    /// A number that fits a `u32`.
    fn number_u32(&mut self) -> Option<u32> {
        u32::try_from(self.integer()?).ok()
    }

    /// A number that fits a `u32`, or `null`.
    fn optional_u32(&mut self) -> Option<Option<u32>> {
        self.or_null(Cursor::number_u32)
    }

    /// `[CHOICE, ...]`.
    fn choices(&mut self) -> Option<Vec<Choice>> {
        self.expect("[")?;
        let mut choices = Vec::with_capacity(1);
        if self.token("]").is_some() {
            return Some(choices);
        }
        loop {
            choices.push(self.choice()?);
            if self.token("]").is_some() {
                return Some(choices);
            }
            self.token(",")?;
        }
    }

    /// `{"index":N,"message":MESSAGE[,"logprobs":null],"finish_reason":S|null}`.
    fn choice(&mut self) -> Option<Choice> {
        self.token("{")?;
        self.key("\"index\":")?;
        let index = self.number_u32()?;
        self.next_key("\"message\":")?;
        let message = self.message()?;
        let logprobs = self.null_member("\"logprobs\":")?;
        self.next_key("\"finish_reason\":")?;
        let finish_reason = match self.or_null(Cursor::string)? {
            Some(name) => Some(from_name::<FinishReason>(name)?),
            None => None,
        };
        self.token("}")?;
        Some(Choice {
            index,
            message,
            logprobs,
            finish_reason,
            extra: Map::new(),
        })
    }

    /// `{"role":"assistant","content":S|null[,"refusal":null][,"annotations":[]]}`.
    fn message(&mut self) -> Option<Message> {
        self.expect("{")?;
        self.key("\"role\":")?;
        let role = from_name::<Role>(self.string()?)?;
        self.next_key("\"content\":")?;
        let content = self.or_null(Cursor::string)?.map(MessageContent::Text);
        let mut extra = Map::new();
        if self.next_key("\"refusal\":").is_some() {
            self.expect("null")?;
            extra.insert("refusal".to_owned(), Value::Null);
        }
        if self.next_key("\"annotations\":").is_some() {
            self.expect("[")?;
            self.token("]")?;
            extra.insert("annotations".to_owned(), Value::Array(Vec::new()));
        }
        self.token("}")?;
        Some(Message {
            role,
            content,
            name: None,
            tool_calls: None,
            tool_call_id: None,
            extra,
        })
    }

    /// `{"prompt_tokens":N,"completion_tokens":N,"total_tokens":N
    /// [,"prompt_tokens_details":{"cached_tokens":N,"audio_tokens":N}|null]
    /// [,"completion_tokens_details":{"reasoning_tokens":N,"audio_tokens":N,
    /// "accepted_prediction_tokens":N,"rejected_prediction_tokens":N}|null]}`, where each
    /// count in a breakdown may be `null`.
    fn usage(&mut self) -> Option<Usage> {
        self.expect("{")?;
        self.key("\"prompt_tokens\":")?;
        let prompt_tokens = self.number_u32()?;
        self.next_key("\"completion_tokens\":")?;
        let completion_tokens = self.number_u32()?;
        self.next_key("\"total_tokens\":")?;
        let total_tokens = self.number_u32()?;
        let prompt_tokens_details = self.details("\"prompt_tokens_details\":", |cursor| {
            cursor.key("\"cached_tokens\":")?;
            let cached_tokens = cursor.optional_u32()?;
            cursor.next_key("\"audio_tokens\":")?;
            let audio_tokens = cursor.optional_u32()?;
            Some(PromptTokensDetails {
                cached_tokens,
                audio_tokens,
                cache_write_tokens: None,
                extra: Map::new(),
            })
        })?;
        let completion_tokens_details =
            self.details("\"completion_tokens_details\":", |cursor| {
                cursor.key("\"reasoning_tokens\":")?;
                let reasoning_tokens = cursor.optional_u32()?;
                cursor.next_key("\"audio_tokens\":")?;
                let audio_tokens = cursor.optional_u32()?;
                cursor.next_key("\"accepted_prediction_tokens\":")?;
                let accepted_prediction_tokens = cursor.optional_u32()?;
                cursor.next_key("\"rejected_prediction_tokens\":")?;
                let rejected_prediction_tokens = cursor.optional_u32()?;
                Some(CompletionTokensDetails {
                    reasoning_tokens,
                    audio_tokens,
                    accepted_prediction_tokens,
                    rejected_prediction_tokens,
                    extra: Map::new(),
                })
            })?;
        self.token("}")?;
        Some(Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens,
            prompt_tokens_details,
            completion_tokens_details,
            extra: Map::new(),
        })
    }

    /// An optional breakdown member: absent, `null`, or `{...}` as `read` reads its members.
    fn details<T>(
        &mut self,
        key: &str,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Nullable<T>> {
        if self.next_key(key).is_none() {
            return Some(Nullable::Absent);
        }
        if self.eat("null") {
            return Some(Nullable::Null);
        }
        self.expect("{")?;
        let details = read(self)?;
        self.token("}")?;
        Some(Nullable::Value(details))
    }
}
