//! Hand-written `Deserialize` for the wire types parsed on every request, answer and chunk.
//!
//! Serde's derive handles an enum with an untagged fallback variant (`Role::Other`,
//! `FinishReason::Other`) or an untagged enum (`MessageContent`) by buffering the value and
//! trying each variant in turn, which allocates and copies per field. These visitors decide from
//! the JSON type and the string itself instead.
//!
//! Likewise for the structs that keep unknown fields in a flattened `extra` map: the derive
//! buffers the whole object as generic content, then parses that a second time. The visitors of
//! [`object_with_extra!`] parse each known field straight into its type and only the unknown
//! ones into `extra`, in one pass. What is accepted, and the serialized form, are unchanged:
//! required fields are required, others default when absent, a repeated field is an error.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::chat::{
    ChatRequest, ChatResponse, Choice, CompletionTokensDetails, ContentPart, FinishReason, Map,
    Message, MessageContent, PromptTokensDetails, Role, StreamOptions, Usage,
};
use crate::chunk::{ChatChunk, ChunkChoice, Delta};
use crate::{Nullable, SharedStr};

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(value)))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(value.to_owned())))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(value)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// The value of a field once the object is read: `required` ones must have been present,
/// `default` ones take their type's default.
macro_rules! field_value {
    (required, $field:ident) => {
        $field.ok_or_else(|| de::Error::missing_field(stringify!($field)))?
    };
    (default, $field:ident) => {
        $field.unwrap_or_default()
    };
}

/// `Deserialize` for a struct whose unknown fields go to its `extra: Map`, in one pass (see the
/// module's documentation). Fields named after `skip` are not on the wire and start as their
/// default.
macro_rules! object_with_extra {
    ($ty:ident, $expecting:literal, {
        $( $kind:ident $field:ident : $fty:ty ),* $(,)?
    } $(, skip $skipped:ident )?) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        $( let mut $field: Option<$fty> = None; )*
                        let mut extra = Map::new();
                        while let Some(Key(key)) = map.next_key()? {
                            match &*key {
                                $(
                                    stringify!($field) => {
                                        if $field.is_some() {
                                            return Err(de::Error::duplicate_field(
                                                stringify!($field),
                                            ));
                                        }
                                        $field = Some(map.next_value()?);
                                    }
                                )*
                                _ => {
                                    extra.insert(key.into_owned(), map.next_value()?);
                                }
                            }
                        }
                        Ok($ty {
                            $( $field: field_value!($kind, $field), )*
                            extra,
                            $( $skipped: Default::default(), )?
                        })
                    }
                }
                deserializer.deserialize_map(V)
            }
        }
    };
}

object_with_extra!(ChatRequest, "a chat completion request", {
    required model: String,
    required messages: Vec<Message>,
    default temperature: Option<serde_json::Number>,
    default top_p: Option<serde_json::Number>,
    default n: Option<u32>,
    default stream: Option<bool>,
    default stream_options: Option<StreamOptions>,
    default stop: Option<crate::chat::Stop>,
    default max_tokens: Option<u32>,
    default max_completion_tokens: Option<u32>,
    default presence_penalty: Option<serde_json::Number>,
    default frequency_penalty: Option<serde_json::Number>,
    default seed: Option<i64>,
    default user: Option<String>,
    default tools: Option<Vec<crate::chat::Tool>>,
    default tool_choice: Option<crate::chat::ToolChoice>,
    default parallel_tool_calls: Option<bool>,
    default response_format: Option<crate::chat::ResponseFormat>,
}, skip extensions);

object_with_extra!(StreamOptions, "stream options", {
    default include_usage: Option<bool>,
});

object_with_extra!(Message, "a message", {
    required role: Role,
    default content: Option<MessageContent>,
    default name: Option<String>,
    default tool_calls: Option<Vec<crate::chat::ToolCall>>,
    default tool_call_id: Option<String>,
});

object_with_extra!(ChatResponse, "a chat completion", {
    required id: String,
    required object: String,
    required created: u64,
    required model: String,
    required choices: Vec<Choice>,
    default usage: Option<Usage>,
    default service_tier: Nullable<String>,
    default system_fingerprint: Nullable<String>,
});

object_with_extra!(Choice, "a choice", {
    required index: u32,
    required message: Message,
    default logprobs: Nullable<serde_json::Value>,
    default finish_reason: Option<FinishReason>,
});

object_with_extra!(Usage, "token usage", {
    required prompt_tokens: u32,
    default completion_tokens: u32,
    required total_tokens: u32,
    default prompt_tokens_details: Nullable<PromptTokensDetails>,
    default completion_tokens_details: Nullable<CompletionTokensDetails>,
});

object_with_extra!(PromptTokensDetails, "prompt token details", {
    default cached_tokens: Option<u32>,
    default audio_tokens: Option<u32>,
    default cache_write_tokens: Option<u32>,
});

object_with_extra!(CompletionTokensDetails, "completion token details", {
    default reasoning_tokens: Option<u32>,
    default audio_tokens: Option<u32>,
    default accepted_prediction_tokens: Option<u32>,
    default rejected_prediction_tokens: Option<u32>,
});

object_with_extra!(ChatChunk, "a chat completion chunk", {
    required id: SharedStr,
    required object: SharedStr,
    required created: u64,
    required model: SharedStr,
    default service_tier: Nullable<SharedStr>,
    default system_fingerprint: Nullable<SharedStr>,
    required choices: Vec<ChunkChoice>,
    default usage: Nullable<Box<Usage>>,
});

object_with_extra!(ChunkChoice, "a chunk choice", {
    required index: u32,
    required delta: Delta,
    default logprobs: Nullable<serde_json::Value>,
    default finish_reason: Option<FinishReason>,
});

object_with_extra!(Delta, "a delta", {
    default role: Option<Role>,
    default content: Nullable<String>,
    default tool_calls: Option<Vec<crate::chunk::ToolCallDelta>>,
});

/// Deserializes a string into a known variant, or keeps it verbatim in the fallback variant.
macro_rules! string_enum_deserialize {
    ($ty:ident, $expecting:literal, { $($name:literal => $variant:ident),* $(,)? }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, value: &str) -> Result<$ty, E> {
                        Ok(match value {
                            $($name => $ty::$variant,)*
                            other => $ty::Other(other.to_owned()),
                        })
                    }
                    fn visit_string<E: de::Error>(self, value: String) -> Result<$ty, E> {
                        Ok(match value.as_str() {
                            $($name => $ty::$variant,)*
                            _ => $ty::Other(value),
                        })
                    }
                }
                deserializer.deserialize_str(V)
            }
        }
    };
}

string_enum_deserialize!(Role, "a message role", {
    "system" => System,
    "developer" => Developer,
    "user" => User,
    "assistant" => Assistant,
    "tool" => Tool,
    "function" => Function,
});

string_enum_deserialize!(FinishReason, "a finish reason", {
    "stop" => Stop,
    "length" => Length,
    "tool_calls" => ToolCalls,
    "content_filter" => ContentFilter,
    "function_call" => FunctionCall,
});

impl<'de> Deserialize<'de> for MessageContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MessageContent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<MessageContent, E> {
                Ok(MessageContent::Text(value.to_owned()))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<MessageContent, E> {
                Ok(MessageContent::Text(value))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MessageContent, A::Error> {
                let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(2));
                while let Some(part) = seq.next_element::<ContentPart>()? {
                    parts.push(part);
                }
                Ok(MessageContent::Parts(parts))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_map_to_variants_and_unknown_ones_are_kept() {
        let role: Role = serde_json::from_str(r#""assistant""#).expect("role");
        assert_eq!(role, Role::Assistant);
        let role: Role = serde_json::from_str(r#""critic""#).expect("role");
        assert_eq!(role, Role::Other("critic".into()));
        let reason: FinishReason = serde_json::from_str(r#""tool_calls""#).expect("reason");
        assert_eq!(reason, FinishReason::ToolCalls);
        let reason: FinishReason = serde_json::from_str(r#""end_turn""#).expect("reason");
        assert_eq!(
            serde_json::to_string(&reason).expect("json"),
            r#""end_turn""#
        );
        // An escaped string arrives through visit_string.
        let role: Role = serde_json::from_str(r#""us\u0065r""#).expect("role");
        assert_eq!(role, Role::User);
    }

    #[test]
    fn content_is_text_or_parts_and_anything_else_is_a_clear_error() {
        let text: MessageContent = serde_json::from_str(r#""hi""#).expect("text");
        assert_eq!(text, MessageContent::Text("hi".into()));
        let parts: MessageContent = serde_json::from_str(
            r#"[{"type":"text","text":"a"},{"type":"input_audio","input_audio":{}}]"#,
        )
        .expect("parts");
        assert!(matches!(parts, MessageContent::Parts(ref p) if p.len() == 2));
        let err = serde_json::from_str::<MessageContent>("42").expect_err("a number is no content");
        assert!(
            err.to_string()
                .contains("a string or an array of content parts"),
            "{err}"
        );
        let err = serde_json::from_str::<Role>("7").expect_err("a number is no role");
        assert!(err.to_string().contains("a message role"), "{err}");
    }

    #[test]
    fn unknown_fields_at_every_level_are_kept_and_round_trip() {
        let answer = r#"{"id":"c1","object":"chat.completion","created":7,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi","refusal":null,"annotations":[]},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}},"service_tier":"default","system_fingerprint":"fp"}"#;
        let parsed: ChatResponse = serde_json::from_str(answer).expect("answer");
        assert_eq!(parsed.system_fingerprint, Nullable::Value("fp".to_owned()));
        assert_eq!(parsed.service_tier, Nullable::Value("default".to_owned()));
        assert_eq!(parsed.choices[0].logprobs, Nullable::Null);
        assert!(parsed.extra.is_empty() && parsed.choices[0].extra.is_empty());
        assert_eq!(
            parsed.choices[0].message.extra["annotations"],
            serde_json::json!([])
        );
        let usage = parsed.usage.as_ref().expect("usage");
        assert_eq!(usage.cached_tokens(), 0);
        let prompt = usage
            .prompt_tokens_details
            .as_ref()
            .expect("prompt details");
        assert_eq!(prompt.audio_tokens, Some(0));
        assert!(prompt.extra.is_empty());
        let again: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&parsed).expect("json")).expect("json");
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(answer).expect("json")
        );

        let chunk = r#"{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":"h","reasoning_content":"r"},"logprobs":{"content":[]},"finish_reason":null}],"usage":null,"obfuscation":"x"}"#;
        let parsed: ChatChunk = serde_json::from_str(chunk).expect("chunk");
        assert_eq!(parsed.choices[0].delta.extra["reasoning_content"], "r");
        // `null` and absent stay apart, so the chunk goes on as it came.
        assert_eq!(parsed.system_fingerprint, Nullable::Null);
        assert_eq!(parsed.service_tier, Nullable::Absent);
        assert_eq!(
            parsed.choices[0].logprobs,
            Nullable::Value(serde_json::json!({"content": []}))
        );
        assert!(matches!(parsed.usage, Nullable::Null));
        let again: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&parsed).expect("json")).expect("json");
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(chunk).expect("json")
        );
    }

    #[test]
    fn requests_keep_unknown_fields_and_escaped_names_still_match() {
        let request: ChatRequest = serde_json::from_str(
            r#"{"mod\u0065l":"m","messages":[{"role":"user","content":"q"}],"stream":true,"logit_bias":{"1":2},"extensions":5}"#,
        )
        .expect("request");
        assert_eq!(request.model, "m");
        assert!(request.is_stream());
        assert_eq!(request.extra["logit_bias"], serde_json::json!({"1": 2}));
        // Not a wire field of ours: an unknown one, kept like any other.
        assert_eq!(request.extra["extensions"], 5);
    }

    #[test]
    fn missing_repeated_and_mistyped_fields_are_clear_errors() {
        let err = serde_json::from_str::<ChatRequest>(r#"{"messages":[]}"#).expect_err("no model");
        assert!(err.to_string().contains("missing field `model`"), "{err}");
        let err = serde_json::from_str::<ChatRequest>(r#"{"model":"a","model":"b","messages":[]}"#)
            .expect_err("twice");
        assert!(err.to_string().contains("duplicate field `model`"), "{err}");
        let err = serde_json::from_str::<ChatRequest>(r#"{"model":"a","messages":[],"n":"2"}"#)
            .expect_err("n is a number");
        assert!(err.to_string().contains("expected u32"), "{err}");
        let err = serde_json::from_str::<ChatChunk>("[1]").expect_err("not an object");
        assert!(err.to_string().contains("a chat completion chunk"), "{err}");
        let err = serde_json::from_str::<Message>(r#"{"content":"x"}"#).expect_err("no role");
        assert!(err.to_string().contains("missing field `role`"), "{err}");
    }
}
