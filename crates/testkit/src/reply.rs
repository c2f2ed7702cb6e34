//! What [`Step::Reply`](crate::Step::Reply) answers, whatever the wire format: the text planned
//! from a chat request's messages, cut to its token limit and counted, before `openai` or
//! `anthropic` renders it in its own shape.

use serde_json::{Value, json};

use crate::fixtures::words;

/// Whether the request asks for a streamed answer (`"stream": true`).
pub(crate) fn is_stream(body: &Value) -> bool {
    body["stream"].as_bool().unwrap_or(false)
}

/// The request's `messages`, empty when there are none.
pub(crate) fn messages(body: &Value) -> &[Value] {
    body["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The text of a message's `content`: a string, or the `text` of a list's parts (OpenAI) or
/// blocks (Anthropic), joined by spaces.
pub(crate) fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The prompt's tokens: the words of every message's text, at least 1.
pub(crate) fn prompt_tokens(messages: &[Value]) -> u32 {
    messages
        .iter()
        .map(|m| words(&content_text(&m["content"])))
        .sum::<u32>()
        .max(1)
}

/// The text of the last `user` message, if there is one.
pub(crate) fn last_user_text(messages: &[Value]) -> Option<String> {
    messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| content_text(&m["content"]))
}

/// `"Mock answer to: <prompt>"`, the prompt trimmed.
pub(crate) fn answer_to(prompt: &str) -> String {
    format!("Mock answer to: {}", prompt.trim())
}

/// A text answer as the pieces it is streamed in, one a token.
#[derive(Debug)]
pub(crate) struct TextReply {
    /// Words, each but the first with its leading space, so they concatenate to the text.
    pub(crate) pieces: Vec<String>,
    /// Whether the token limit cut the answer short.
    pub(crate) cut: bool,
}

impl TextReply {
    /// `text` in pieces, cut to `limit` pieces when it is longer.
    pub(crate) fn new(text: &str, limit: Option<u64>) -> TextReply {
        let mut pieces: Vec<String> = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_owned()
                } else {
                    format!(" {w}")
                }
            })
            .collect();
        let limit = limit.and_then(|n| usize::try_from(n).ok());
        let cut = limit.is_some_and(|limit| pieces.len() > limit);
        if let Some(limit) = limit.filter(|_| cut) {
            pieces.truncate(limit);
        }
        TextReply { pieces, cut }
    }

    /// The completion tokens: one a piece.
    pub(crate) fn tokens(&self) -> u32 {
        u32::try_from(self.pieces.len()).unwrap_or(u32::MAX)
    }
}

/// The arguments of a forced tool call: every property `schema` requires, set to `"mock"`.
pub(crate) fn mock_arguments(schema: &Value) -> Value {
    let arguments: serde_json::Map<String, Value> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|p| (p.to_owned(), json!("mock")))
        .collect();
    Value::Object(arguments)
}

/// `text` split at a character boundary near the middle, so streamed fragments of it must be
/// concatenated.
pub(crate) fn halves(text: &str) -> (&str, &str) {
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid += 1;
    }
    text.split_at(mid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_cuts_pieces_and_says_so() {
        let full = TextReply::new("Mock answer to: hi", None);
        assert_eq!(full.pieces, ["Mock", " answer", " to:", " hi"]);
        assert!(!full.cut);
        let cut = TextReply::new("Mock answer to: hi", Some(2));
        assert_eq!(cut.pieces.concat(), "Mock answer");
        assert_eq!(cut.tokens(), 2);
        assert!(cut.cut);
        assert!(!TextReply::new("a b", Some(2)).cut);
    }

    #[test]
    fn halves_split_at_a_character_boundary() {
        assert_eq!(halves("éa"), ("é", "a"));
        assert_eq!(halves("abcd"), ("ab", "cd"));
        assert_eq!(halves(""), ("", ""));
    }
}
