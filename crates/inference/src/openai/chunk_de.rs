//! Parsing the `data` of one stream's `chat.completion.chunk` events, with a fast path for the
//! shape nearly every chunk has.
//!
//! Why it exists: parsing each chunk with serde_json was about half of all the work the gateway
//! did for a proxied stream (~6.5 k instructions a chunk, ~130 k of the ~270 k of a 20-chunk
//! stream). Two facts make most of that avoidable:
//!
//! - the head of every chunk of one answer (`id`, `object`, `created`, `model`, and the
//!   `service_tier` and `system_fingerprint` OpenAI repeats) is the same bytes each time, so the
//!   decoder reads the head of the first chunk by hand and, when the next chunk starts with
//!   exactly those bytes, clones the values instead of reading them again;
//! - a text delta has one layout (`{"index":0,"delta":{"content":"..."},"logprobs":null,
//!   "finish_reason":null}`, with `"role":"assistant"` and `"refusal":null` on the first), and
//!   so do the members OpenAI sends after the choices (`"usage":null`, `"obfuscation":"..."`):
//!   they are read by hand too.
//!
//! Other members after the choices (a final `usage`) are read by serde_json. Any chunk the fast
//! path is not sure of goes to serde_json whole, so the result, and any error, is always exactly
//! what `serde_json::from_str::<ChatChunk>` gives: the tests check that over real chunks of
//! several servers, every truncation and ~250 k one-byte edits.

use std::fmt;

use bulkhead_core::{
    ChatChunk, ChunkChoice, Delta, FinishReason, Map, Nullable, Role, SharedStr, Usage,
};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use bulkhead_core::json::read::{Cursor, from_name};

#[cfg(test)]
mod tests;

/// Parses the `data` of one stream's `chat.completion.chunk` events, in order, faster than
/// `serde_json::from_str::<ChatChunk>` and always with its result (see the module docs). Use one
/// decoder per stream: it keeps the head of the chunk before.
///
/// ```
/// use bulkhead_inference::openai::ChunkDecoder;
///
/// let mut decoder = ChunkDecoder::new();
/// let head = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":"#;
/// for text in ["Hel", "lo"] {
///     let data = format!(r#"{head}[{{"index":0,"delta":{{"content":"{text}"}},"finish_reason":null}}]}}"#);
///     let chunk = decoder.decode(&data)?;
///     assert_eq!(chunk.choices[0].delta.content.as_ref().map(String::as_str), Some(text));
/// }
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChunkDecoder {
    /// The head of the last chunk whose head was read by hand.
    head: Option<Head>,
    /// Whether to read heads by hand: false once serde_json read a chunk whose head the fast
    /// path could not (another server's field order, say), as the next one's will not do either.
    read_heads: bool,
    /// Chunks read by the fast path, for the tests to prove it is taken.
    #[cfg(test)]
    fast: usize,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        Self {
            head: None,
            read_heads: true,
            #[cfg(test)]
            fast: 0,
        }
    }
}

impl ChunkDecoder {
    /// A decoder for a new stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The chunk in `data` (an event's data, trimmed), exactly as `serde_json::from_str` reads it.
    ///
    /// # Errors
    /// serde_json's error when `data` is not a chunk.
    pub fn decode(&mut self, data: &str) -> serde_json::Result<ChatChunk> {
        if let Some(chunk) = self.by_hand(data) {
            #[cfg(test)]
            {
                self.fast += 1;
            }
            return Ok(chunk);
        }
        let chunk = serde_json::from_str::<ChatChunk>(data)?;
        if self.head.is_none() {
            // A chunk serde_json reads whole but whose head the fast path could not.
            self.read_heads = false;
        }
        Ok(chunk)
    }

    fn by_hand(&mut self, data: &str) -> Option<ChatChunk> {
        if !self.read_heads {
            return None;
        }
        let rest = match &self.head {
            Some(head) if data.starts_with(&head.bytes) => &data[head.bytes.len()..],
            _ => {
                self.head = None;
                let (head, rest) = Head::read(data)?;
                self.head = Some(head);
                rest
            }
        };
        self.head.as_ref()?.read_rest(rest)
    }
}

/// The values of a chunk's head, and its bytes up to and including the opening bracket of
/// `choices`.
#[derive(Debug, Clone)]
struct Head {
    bytes: String,
    id: SharedStr,
    object: SharedStr,
    created: u64,
    model: SharedStr,
    service_tier: Nullable<SharedStr>,
    system_fingerprint: Nullable<SharedStr>,
}

impl Head {
    /// `{"id":"...","object":"...","created":N,"model":"...",["service_tier":"..."|null,]
    /// ["system_fingerprint":"..."|null,]"choices":[` at the start of `data`, and what follows.
    fn read(data: &str) -> Option<(Self, &str)> {
        let mut cursor = Cursor { rest: data };
        cursor.expect("{\"id\":")?;
        let id = cursor.string()?;
        cursor.expect(",\"object\":")?;
        let object = cursor.string()?;
        cursor.expect(",\"created\":")?;
        let created = cursor.integer()?;
        cursor.expect(",\"model\":")?;
        let model = cursor.string()?;
        let service_tier = nullable_string(&mut cursor, ",\"service_tier\":")?;
        let system_fingerprint = nullable_string(&mut cursor, ",\"system_fingerprint\":")?;
        cursor.expect(",\"choices\":[")?;
        let rest = cursor.rest;
        let head = Self {
            bytes: data[..data.len() - rest.len()].to_owned(),
            id: id.into(),
            object: object.into(),
            created,
            model: model.into(),
            service_tier: service_tier.map(SharedStr::from),
            system_fingerprint: system_fingerprint.map(SharedStr::from),
        };
        Some((head, rest))
    }

    /// The chunk whose bytes after this head are `rest`, or `None` when the fast path is not
    /// sure of it.
    fn read_rest(&self, rest: &str) -> Option<ChatChunk> {
        let mut cursor = Cursor { rest };
        let mut choices = Vec::new();
        if !cursor.eat("]") {
            choices.push(text_choice(&mut cursor)?);
            cursor.expect("]")?;
        }
        let (usage, extra) = match openai_members(&cursor) {
            Some(members) => members,
            None => serde_members(cursor.rest)?,
        };
        Some(ChatChunk {
            id: self.id.clone(),
            object: self.object.clone(),
            created: self.created,
            model: self.model.clone(),
            service_tier: self.service_tier.clone(),
            system_fingerprint: self.system_fingerprint.clone(),
            choices,
            usage,
            extra,
        })
    }
}

/// The members after the choices that [`openai_members`] does not read (`rest` being
/// `,"usage":{...},...}`), read by serde_json.
fn serde_members(rest: &str) -> Option<(Nullable<Box<Usage>>, Map)> {
    // A member must follow the comma (`,}` is a trailing comma serde_json refuses).
    let members = rest.strip_prefix(',').filter(|m| m.starts_with('"'))?;
    let mut object = String::with_capacity(members.len() + 1);
    object.push('{');
    object.push_str(members);
    let Tail { usage, extra } = serde_json::from_str(&object).ok()?;
    Some((usage, extra))
}

/// `{"index":N,"delta":{["role":"assistant",]"content":"..."[,"refusal":null]}
/// [,"logprobs":null],"finish_reason":null|"..."}`, or the same with an empty delta `{}`.
fn text_choice(c: &mut Cursor<'_>) -> Option<ChunkChoice> {
    c.expect("{\"index\":")?;
    let index = u32::try_from(c.integer()?).ok()?;
    c.expect(",\"delta\":{")?;
    let mut delta_extra = Map::new();
    let (role, content) = if c.eat("}") {
        // The last chunk of a choice often adds nothing.
        (None, Nullable::Absent)
    } else {
        let role = c.eat("\"role\":\"assistant\",").then_some(Role::Assistant);
        c.expect("\"content\":")?;
        let content = c.string()?;
        if c.eat(",\"refusal\":null") {
            delta_extra.insert("refusal".to_owned(), Value::Null);
        }
        c.expect("}")?;
        (role, Nullable::Value(content))
    };
    let logprobs = if c.eat(",\"logprobs\":null") {
        Nullable::Null
    } else {
        Nullable::Absent
    };
    c.expect(",\"finish_reason\":")?;
    let finish_reason = if c.eat("null") {
        None
    } else {
        Some(from_name::<FinishReason>(c.string()?)?)
    };
    c.expect("}")?;
    Some(ChunkChoice {
        index,
        delta: Delta {
            role,
            content,
            tool_calls: None,
            extra: delta_extra,
        },
        logprobs,
        finish_reason,
        extra: Map::new(),
    })
}

/// `key` then a string or `null`; absent when the bytes do not start with `key`.
fn nullable_string(c: &mut Cursor<'_>, key: &str) -> Option<Nullable<String>> {
    if !c.eat(key) {
        return Some(Nullable::Absent);
    }
    if c.eat("null") {
        return Some(Nullable::Null);
    }
    c.string().map(Nullable::Value)
}

/// What OpenAI sends after the choices, to the end: `[,"usage":null][,"obfuscation":"..."]}`.
fn openai_members(c: &Cursor<'_>) -> Option<(Nullable<Box<Usage>>, Map)> {
    let mut cursor = Cursor { rest: c.rest };
    let usage = if cursor.eat(",\"usage\":null") {
        Nullable::Null
    } else {
        Nullable::Absent
    };
    let mut extra = Map::new();
    if cursor.eat(",\"obfuscation\":") {
        extra.insert("obfuscation".to_owned(), Value::String(cursor.string()?));
    }
    (cursor.rest == "}").then_some((usage, extra))
}

/// The members of a chunk after its choices: `usage`, and unknown ones for `extra`. A member
/// the head or the choices already gave is a repeat, which serde_json refuses: so does this,
/// for the whole chunk to be read by serde_json and fail the same way.
struct Tail {
    usage: Nullable<Box<Usage>>,
    extra: Map,
}

impl<'de> Deserialize<'de> for Tail {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tail;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the rest of a chat completion chunk")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tail, A::Error> {
                let mut usage = None;
                let mut extra = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "usage" if usage.is_none() => usage = Some(map.next_value()?),
                        "usage" | "id" | "object" | "created" | "model" | "service_tier"
                        | "system_fingerprint" | "choices" => {
                            return Err(de::Error::custom("a repeated field"));
                        }
                        _ => {
                            let value = map.next_value()?;
                            extra.insert(key, value);
                        }
                    }
                }
                Ok(Tail {
                    usage: usage.unwrap_or_default(),
                    extra,
                })
            }
        }
        deserializer.deserialize_map(V)
    }
}
