//! Token estimates made before a call, so a tokens-per-minute limit can decide up front.
//!
//! The estimate is the prompt, counted with tiktoken's `o200k_base` encoding (the GPT-4o family
//! and newer OpenAI models), plus the output the request may produce:
//!
//! - each message costs its content's tokens plus 3 (OpenAI's documented per-message framing),
//!   its `name` plus 1, its tool calls' names and JSON arguments, and its `tool_call_id`; the
//!   reply is primed with 3 more;
//! - an image part counts as 85 tokens (a low-detail image; high-detail images cost more and
//!   are corrected afterwards);
//! - tool definitions count as the tokens of their JSON;
//! - the output is `max_completion_tokens`, else `max_tokens`, else
//!   [`TokenEstimator::default_output_tokens`], times `n` choices.
//!
//! Other providers tokenize differently (within roughly ±20% for English text): the estimate is
//! only a reservation. After the call the gateway reports the real usage through
//! [`crate::Permit::finish`], which charges the difference or refunds the over-estimate.

use std::sync::OnceLock;

use bulkhead_core::{ChatRequest, ContentPart, MessageContent};
use tiktoken_rs::CoreBPE;

/// Tokens per image part (OpenAI's low-detail image price).
pub const IMAGE_TOKENS: u32 = 85;
/// Framing tokens per message.
const PER_MESSAGE: u32 = 3;
/// Tokens priming the assistant's reply.
const REPLY_PRIMING: u32 = 3;

fn bpe() -> &'static CoreBPE {
    static BPE: OnceLock<&'static CoreBPE> = OnceLock::new();
    BPE.get_or_init(tiktoken_rs::o200k_base_singleton)
}

/// Load the `o200k_base` encoding now (tens of milliseconds) rather than on the first request
/// that needs an estimate: call it at start-up when any key has a `tpm` limit.
pub fn warm_up() {
    let _ = bpe();
}

/// Tokens of `text` in `o200k_base`.
pub fn count_tokens(text: &str) -> u32 {
    if text.is_empty() {
        return 0;
    }
    u32::try_from(bpe().encode_ordinary(text).len()).unwrap_or(u32::MAX)
}

/// Makes the estimate; the default assumes 512 output tokens when the request sets no cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenEstimator {
    /// Output tokens assumed when the request sets neither `max_completion_tokens` nor
    /// `max_tokens`.
    pub default_output_tokens: u32,
}

impl Default for TokenEstimator {
    fn default() -> Self {
        Self {
            default_output_tokens: 512,
        }
    }
}

impl TokenEstimator {
    /// Prompt plus possible output, in tokens.
    pub fn estimate(&self, request: &ChatRequest) -> u32 {
        self.prompt_tokens(request)
            .saturating_add(self.output_tokens(request))
    }

    /// The prompt's tokens: messages, their framing and the tool definitions.
    pub fn prompt_tokens(&self, request: &ChatRequest) -> u32 {
        let mut total = REPLY_PRIMING;
        for message in &request.messages {
            total = total.saturating_add(PER_MESSAGE);
            match &message.content {
                Some(MessageContent::Text(text)) => {
                    total = total.saturating_add(count_tokens(text))
                }
                Some(MessageContent::Parts(parts)) => {
                    for part in parts {
                        let n = match part {
                            ContentPart::Text { text, .. } => count_tokens(text),
                            ContentPart::ImageUrl { .. } => IMAGE_TOKENS,
                            ContentPart::Other(map) => {
                                count_tokens(&serde_json::to_string(map).unwrap_or_default())
                            }
                        };
                        total = total.saturating_add(n);
                    }
                }
                None => {}
            }
            if let Some(name) = &message.name {
                total = total.saturating_add(1 + count_tokens(name));
            }
            for call in message.tool_calls.iter().flatten() {
                total = total
                    .saturating_add(count_tokens(&call.function.name))
                    .saturating_add(count_tokens(&call.function.arguments));
            }
            if let Some(id) = &message.tool_call_id {
                total = total.saturating_add(count_tokens(id));
            }
        }
        if let Some(tools) = &request.tools {
            total = total.saturating_add(count_tokens(
                &serde_json::to_string(tools).unwrap_or_default(),
            ));
        }
        total
    }

    /// The output the request may produce: its cap (or the default) times `n`.
    pub fn output_tokens(&self, request: &ChatRequest) -> u32 {
        let per_choice = request
            .max_completion_tokens
            .or(request.max_tokens)
            .unwrap_or(self.default_output_tokens);
        per_choice.saturating_mul(request.n.unwrap_or(1).max(1))
    }
}

/// [`TokenEstimator::default`]'s estimate of `request`.
pub fn estimate_tokens(request: &ChatRequest) -> u32 {
    TokenEstimator::default().estimate(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_core::{Message, Role};

    fn request(json: &str) -> ChatRequest {
        serde_json::from_str(json).expect("valid request")
    }

    #[test]
    fn counts_text_with_o200k_base() {
        // "Hello, world!" is 4 tokens in o200k_base: "Hello", ",", " world", "!".
        assert_eq!(count_tokens("Hello, world!"), 4);
        assert_eq!(count_tokens(""), 0);
    }

    #[test]
    fn estimate_is_framing_plus_content_plus_output_cap() {
        let mut req = request(r#"{"model":"m","messages":[],"max_tokens":100}"#);
        req.messages.push(Message::new(Role::User, "Hello, world!"));
        let est = TokenEstimator::default();
        assert_eq!(est.prompt_tokens(&req), 3 + 3 + 4);
        assert_eq!(est.estimate(&req), 10 + 100);
        req.max_completion_tokens = Some(50);
        req.n = Some(2);
        assert_eq!(est.estimate(&req), 10 + 100);
    }

    #[test]
    fn uncapped_output_uses_the_default_and_images_and_tools_count() {
        let req = request(
            r#"{"model":"m","messages":[{"role":"user","content":[
                {"type":"text","text":"Hello, world!"},
                {"type":"image_url","image_url":{"url":"https://example.invalid/a.png"}}]}],
              "tools":[{"type":"function","function":{"name":"get_weather",
                "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}"#,
        );
        let est = TokenEstimator {
            default_output_tokens: 7,
        };
        let tools = count_tokens(&serde_json::to_string(&req.tools).expect("json"));
        assert!(tools > 10);
        assert_eq!(est.prompt_tokens(&req), 3 + 3 + 4 + IMAGE_TOKENS + tools);
        assert_eq!(est.output_tokens(&req), 7);
    }
}
