//! Hand-written `Deserialize` for the wire enums parsed on every request and chunk.
//!
//! Serde's derive handles an enum with an untagged fallback variant (`Role::Other`,
//! `FinishReason::Other`) or an untagged enum (`MessageContent`) by buffering the value and
//! trying each variant in turn, which allocates and copies per field. These visitors decide from
//! the JSON type and the string itself instead; the serialized form is unchanged.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

use crate::chat::{ContentPart, FinishReason, MessageContent, Role};

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
}
