//! Anthropic answer -> OpenAI `chat.completion`, and the two mappings the stream translator
//! shares with it (stop reason, usage), so a folded stream equals the JSON answer.

use std::time::{SystemTime, UNIX_EPOCH};

use bulkhead_core::{
    ChatResponse, Choice, FinishReason, FunctionCall, Map, Message, MessageContent, Nullable,
    PromptTokensDetails, Role, ToolCall, Usage,
};
use serde_json::json;

use super::wire::{AnthropicUsage, Block, MessagesResponse};

/// The key under which thinking text travels in a message or delta (DeepSeek's convention,
/// which OpenAI-compatible clients already read).
pub const REASONING_KEY: &str = "reasoning_content";

/// Translate a non-streamed answer.
pub fn to_openai(response: MessagesResponse) -> ChatResponse {
    let mut text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut tool_calls = Vec::new();
    for block in response.content {
        match block {
            Block::Text { text: t, .. } => text.get_or_insert_with(String::new).push_str(&t),
            Block::Thinking { thinking, .. } => reasoning
                .get_or_insert_with(String::new)
                .push_str(&thinking),
            Block::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name,
                    arguments: input.to_string(),
                },
            }),
            // Server tool results, redacted thinking, ...: nothing OpenAI clients can use.
            _ => {}
        }
    }
    let mut extra = Map::new();
    if let Some(reasoning) = reasoning {
        extra.insert(REASONING_KEY.to_owned(), json!(reasoning));
    }
    let message = Message {
        role: Role::Assistant,
        content: text.map(MessageContent::Text),
        name: None,
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        tool_call_id: None,
        extra,
    };
    ChatResponse {
        id: response.id,
        object: "chat.completion".to_owned(),
        created: now(),
        model: response.model,
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: response.stop_reason.as_deref().map(finish_reason),
            logprobs: Nullable::Absent,
            extra: Map::new(),
        }],
        usage: Some(usage(&response.usage)),
        service_tier: Nullable::Absent,
        system_fingerprint: Nullable::Absent,
        extra: Map::new(),
    }
}

/// Unix time now, in seconds: Anthropic answers carry no creation time.
pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `stop_reason` -> `finish_reason`; an unknown reason is kept verbatim.
pub fn finish_reason(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// Anthropic counts cached input apart from `input_tokens`; OpenAI's `prompt_tokens` includes
/// it, with the cached share in `prompt_tokens_details`. Cost accounting relies on the sum.
pub fn usage(usage: &AnthropicUsage) -> Usage {
    let read = usage.cache_read_input_tokens;
    let write = usage.cache_creation_input_tokens;
    let prompt = usage.input_tokens.unwrap_or(0) + read.unwrap_or(0) + write.unwrap_or(0);
    let mut out = Usage::new(prompt, usage.output_tokens.unwrap_or(0));
    if read.is_some() || write.is_some() {
        out.prompt_tokens_details = Nullable::Value(PromptTokensDetails {
            cached_tokens: read,
            cache_write_tokens: write,
            ..PromptTokensDetails::default()
        });
    }
    out
}
