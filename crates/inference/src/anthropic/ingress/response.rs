//! OpenAI `chat.completion` -> Anthropic Messages answer, and the two mappings the event
//! encoder shares with it (finish reason, usage), so a streamed answer folds to the JSON one.

use bulkhead_core::{ChatResponse, FinishReason, MessageContent, ToolCall, Usage};
use serde_json::{Value, json};

use super::super::wire::{AnthropicUsage, Block, MessagesResponse};

/// Translate a non-streamed answer (its first choice; `/v1/messages` has no `n`).
pub fn from_openai(response: ChatResponse) -> MessagesResponse {
    let mut content = Vec::new();
    let mut finish = None;
    if let Some(choice) = response.choices.into_iter().next() {
        finish = choice.finish_reason;
        let text = match choice.message.content {
            Some(MessageContent::Text(text)) => text,
            Some(content @ MessageContent::Parts(_)) => content.text(),
            None => String::new(),
        };
        if !text.is_empty() {
            content.push(Block::Text {
                text,
                cache_control: None,
            });
        }
        for call in choice.message.tool_calls.into_iter().flatten() {
            content.push(tool_use(call));
        }
    }
    // A tool call with finish reason `stop` happens (some servers); Anthropic clients look at
    // `stop_reason == "tool_use"` to run the tools, so the blocks decide.
    let has_tools = content.iter().any(|b| matches!(b, Block::ToolUse { .. }));
    let stop = match finish {
        Some(FinishReason::Stop) | None if has_tools => "tool_use".to_owned(),
        Some(reason) => stop_reason(&reason),
        None => "end_turn".to_owned(),
    };
    MessagesResponse {
        id: response.id,
        kind: Some("message".to_owned()),
        model: response.model,
        role: Some("assistant".to_owned()),
        content,
        stop_reason: Some(stop),
        stop_sequence: None,
        usage: response
            .usage
            .as_ref()
            .map(usage)
            .unwrap_or_else(zero_usage),
    }
}

/// A `tool_use` block; arguments that are not a JSON object (a model's broken output) are
/// kept as a string under `"arguments"`, since `input` must be an object.
pub(super) fn tool_use(call: ToolCall) -> Block {
    let input = match serde_json::from_str::<Value>(&call.function.arguments) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ if call.function.arguments.trim().is_empty() => json!({}),
        _ => json!({ "arguments": call.function.arguments }),
    };
    Block::ToolUse {
        id: call.id,
        name: call.function.name,
        input,
    }
}

/// `finish_reason` -> `stop_reason`; an unknown reason is kept verbatim.
pub fn stop_reason(finish: &FinishReason) -> String {
    match finish {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls | FinishReason::FunctionCall => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Other(other) => other,
    }
    .to_owned()
}

/// OpenAI's `prompt_tokens` includes cached input; Anthropic counts it apart. The inverse of
/// [`usage`](super::super::usage), so counts survive a round trip through both.
pub fn usage(usage: &Usage) -> AnthropicUsage {
    let details = usage.prompt_tokens_details.as_ref();
    let read = details.and_then(|d| d.cached_tokens);
    let write = details.and_then(|d| d.cache_write_tokens);
    let uncached = usage
        .prompt_tokens
        .saturating_sub(read.unwrap_or(0))
        .saturating_sub(write.unwrap_or(0));
    AnthropicUsage {
        input_tokens: Some(uncached),
        output_tokens: Some(usage.completion_tokens),
        cache_creation_input_tokens: write,
        cache_read_input_tokens: read,
    }
}

pub(super) fn zero_usage() -> AnthropicUsage {
    AnthropicUsage {
        input_tokens: Some(0),
        output_tokens: Some(0),
        ..AnthropicUsage::default()
    }
}
