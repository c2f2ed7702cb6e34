//! Anthropic Messages request -> OpenAI chat request.
//!
//! The inverse of [`to_anthropic`](super::super::to_anthropic): the system prompt becomes a
//! leading system message, `tool_result` blocks become `tool` messages (placed before the rest
//! of their user turn, as OpenAI wants results right after the calls), `tool_use` blocks become
//! `tool_calls`, images become `image_url` parts. Thinking blocks from earlier turns are
//! dropped, since OpenAI-format upstreams do not accept them back. What has no OpenAI
//! equivalent (documents, server tools' blocks) is a `BadRequest` naming the block type.

use bulkhead_core::{
    ChatRequest, ContentPart, Error, FunctionCall, FunctionDefinition, FunctionName, ImageUrl, Map,
    Message, MessageContent, NamedToolChoice, Result, Role, Stop, StreamOptions, Tool, ToolCall,
    ToolChoice, ToolChoiceMode,
};
use serde_json::Value;

use super::super::wire::{
    Block, Content, ImageSource, MessageParam, MessagesRequest, System, ToolChoiceParam, ToolParam,
};

/// Translate an Anthropic Messages request. The model name is kept as sent; the caller maps
/// it to a route.
pub fn from_anthropic(request: MessagesRequest) -> Result<ChatRequest> {
    if request.messages.is_empty() {
        return Err(Error::bad_request(
            "messages: at least one message is required",
        ));
    }
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = request.system {
        messages.push(system_message(system)?);
    }
    for (i, message) in request.messages.into_iter().enumerate() {
        turn(message, i, &mut messages)?;
    }

    let user = request
        .metadata
        .as_ref()
        .and_then(|m| m.get("user_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let tools = request
        .tools
        .map(|tools| tools.into_iter().map(tool).collect::<Vec<_>>());
    let (tool_choice, parallel_tool_calls) = match request.tool_choice {
        Some(choice) => tool_choice(choice)?,
        None => (None, None),
    };
    let stream = request.stream.unwrap_or(false);

    let mut chat = ChatRequest::new(request.model, messages);
    chat.max_tokens = Some(request.max_tokens);
    chat.temperature = request.temperature;
    chat.top_p = request.top_p;
    chat.stop = request
        .stop_sequences
        .filter(|s| !s.is_empty())
        .map(Stop::Many);
    chat.user = user;
    chat.tools = tools.filter(|t| !t.is_empty());
    // OpenAI rejects `tool_choice` without tools; without tools there is nothing to choose.
    if chat.tools.is_some() {
        chat.tool_choice = tool_choice;
        chat.parallel_tool_calls = parallel_tool_calls;
    }
    if stream {
        chat.stream = Some(true);
        // `message_delta` reports output tokens, so ask every upstream for the usage chunk.
        chat.stream_options = Some(StreamOptions {
            include_usage: Some(true),
            extra: Map::new(),
        });
    }
    // `top_k`, `thinking`, `service_tier`, ...: kept, for upstreams that understand them.
    chat.extra = request.extra;
    Ok(chat)
}

fn system_message(system: System) -> Result<Message> {
    let content = match system {
        System::Text(text) => MessageContent::Text(text),
        System::Blocks(blocks) => {
            let parts = blocks
                .into_iter()
                .map(|block| match block {
                    Block::Text {
                        text,
                        cache_control,
                    } => Ok(text_part(text, cache_control)),
                    other => Err(unsupported(&other, "system")),
                })
                .collect::<Result<Vec<_>>>()?;
            MessageContent::Parts(parts)
        }
    };
    Ok(Message {
        content: Some(content),
        ..Message::new(Role::System, "")
    })
}

/// One Anthropic turn, appended to `out` as one or more OpenAI messages.
fn turn(message: MessageParam, i: usize, out: &mut Vec<Message>) -> Result<()> {
    let blocks = match message.content {
        Content::Text(text) => vec![Block::Text {
            text,
            cache_control: None,
        }],
        Content::Blocks(blocks) => blocks,
    };
    match message.role.as_str() {
        "user" => user_turn(blocks, out),
        "assistant" => {
            out.push(assistant_turn(blocks)?);
            Ok(())
        }
        other => Err(Error::bad_request(format!(
            "messages.{i}.role: `{other}` is not a role; use `user` or `assistant` (the system \
             prompt goes in the top-level `system` field)"
        ))),
    }
}

fn user_turn(blocks: Vec<Block>, out: &mut Vec<Message>) -> Result<()> {
    let mut parts = Vec::new();
    for block in blocks {
        match block {
            Block::Text {
                text,
                cache_control,
            } => parts.push(text_part(text, cache_control)),
            Block::Image { source } => parts.push(image_part(source)),
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => out.push(tool_message(tool_use_id, content, is_error)?),
            other => return Err(unsupported(&other, "user")),
        }
    }
    if parts.is_empty() {
        return Ok(());
    }
    let content = match <[ContentPart; 1]>::try_from(parts) {
        // One plain text block is sent as a string, which every upstream accepts.
        Ok([ContentPart::Text { text, extra }]) if extra.is_empty() => MessageContent::Text(text),
        Ok([part]) => MessageContent::Parts(vec![part]),
        Err(parts) => MessageContent::Parts(parts),
    };
    out.push(Message {
        content: Some(content),
        ..Message::new(Role::User, "")
    });
    Ok(())
}

fn assistant_turn(blocks: Vec<Block>) -> Result<Message> {
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    for block in blocks {
        match block {
            Block::Text { text: t, .. } => text.get_or_insert_with(String::new).push_str(&t),
            Block::ToolUse { id, name, input } => calls.push(ToolCall {
                id,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name,
                    arguments: input.to_string(),
                },
            }),
            Block::Thinking { .. } => {}
            Block::Other(map)
                if map.get("type").and_then(Value::as_str) == Some("redacted_thinking") => {}
            other => return Err(unsupported(&other, "assistant")),
        }
    }
    Ok(Message {
        role: Role::Assistant,
        content: text.map(MessageContent::Text),
        name: None,
        tool_calls: (!calls.is_empty()).then_some(calls),
        tool_call_id: None,
        extra: Map::new(),
    })
}

/// A `tool` message; a failed tool's result says so, since OpenAI has no `is_error`.
fn tool_message(id: String, content: Option<Content>, is_error: Option<bool>) -> Result<Message> {
    let mut text = match content {
        None => String::new(),
        Some(Content::Text(text)) => text,
        Some(Content::Blocks(blocks)) => {
            let mut text = String::new();
            for block in blocks {
                match block {
                    Block::Text { text: t, .. } => {
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        text.push_str(&t);
                    }
                    other => return Err(unsupported(&other, "tool_result")),
                }
            }
            text
        }
    };
    if is_error == Some(true) {
        text.insert_str(0, "Error: ");
    }
    Ok(Message {
        tool_call_id: Some(id),
        ..Message::new(Role::Tool, text)
    })
}

fn text_part(text: String, cache_control: Option<Value>) -> ContentPart {
    let mut extra = Map::new();
    if let Some(cache_control) = cache_control {
        extra.insert("cache_control".to_owned(), cache_control);
    }
    ContentPart::Text { text, extra }
}

fn image_part(source: ImageSource) -> ContentPart {
    let url = match source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url { url } => url,
    };
    ContentPart::ImageUrl {
        image_url: ImageUrl {
            url,
            detail: None,
            extra: Map::new(),
        },
        extra: Map::new(),
    }
}

fn tool(tool: ToolParam) -> Tool {
    Tool {
        kind: "function".to_owned(),
        function: Some(FunctionDefinition {
            name: tool.name,
            description: tool.description,
            parameters: Some(tool.input_schema),
            strict: None,
            extra: Map::new(),
        }),
        extra: Map::new(),
    }
}

fn tool_choice(choice: ToolChoiceParam) -> Result<(Option<ToolChoice>, Option<bool>)> {
    let parallel = choice.disable_parallel_tool_use.map(|disable| !disable);
    let mode = match choice.kind.as_str() {
        "auto" => ToolChoice::Mode(ToolChoiceMode::Auto),
        "any" => ToolChoice::Mode(ToolChoiceMode::Required),
        "none" => ToolChoice::Mode(ToolChoiceMode::None),
        "tool" => {
            let name = choice.name.ok_or_else(|| {
                Error::bad_request("tool_choice: `name` is required when `type` is `tool`")
            })?;
            ToolChoice::Named(NamedToolChoice {
                kind: "function".to_owned(),
                function: FunctionName { name },
            })
        }
        other => {
            return Err(Error::bad_request(format!(
                "tool_choice.type: `{other}` is not one of `auto`, `any`, `tool`, `none`"
            )));
        }
    };
    Ok((Some(mode), parallel))
}

fn unsupported(block: &Block, place: &str) -> Error {
    let kind = match block {
        Block::Text { .. } => "text",
        Block::Image { .. } => "image",
        Block::ToolUse { .. } => "tool_use",
        Block::ToolResult { .. } => "tool_result",
        Block::Thinking { .. } => "thinking",
        Block::Other(map) => map.get("type").and_then(Value::as_str).unwrap_or("unknown"),
    };
    Error::bad_request(format!(
        "content blocks of type `{kind}` are not supported in {place} content on this gateway"
    ))
}
