//! OpenAI chat request -> Anthropic Messages request.
//!
//! Anthropic differs in shape, not in meaning: the system prompt is a top-level field, turns
//! must alternate user/assistant (so consecutive same-role messages merge and tool results
//! become user turns), tool calls are `tool_use` blocks with an input object, and `max_tokens`
//! is required. What cannot be expressed (several choices, audio, legacy function messages)
//! is a `BadRequest` here rather than a confusing 400 from upstream.

use bulkhead_core::{
    ChatRequest, ContentPart, Error, Map, Message, MessageContent, Result, Role, ToolChoice,
    ToolChoiceMode,
};
use serde_json::{Value, json};

use super::wire::{
    Block, Content, ImageSource, MessageParam, MessagesRequest, System, ToolChoiceParam, ToolParam,
};

/// Fields of an OpenAI request's `extra` that mean the same thing to Anthropic, passed through.
const PASSTHROUGH: &[&str] = &["top_k", "thinking", "service_tier", "container"];

/// Translate `request`; `default_max_tokens` applies when the client set no limit.
pub fn to_anthropic(request: &ChatRequest, default_max_tokens: u32) -> Result<MessagesRequest> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(Error::bad_request(
            "Anthropic returns one choice per request; `n` must be 1",
        ));
    }
    let mut system: Vec<Block> = Vec::new();
    let mut messages: Vec<MessageParam> = Vec::new();
    for message in &request.messages {
        let (role, blocks) = match &message.role {
            Role::System | Role::Developer => {
                system.extend(content_blocks(message.content.as_ref())?);
                continue;
            }
            Role::User => ("user", content_blocks(message.content.as_ref())?),
            Role::Assistant => ("assistant", assistant_blocks(message)?),
            Role::Tool => ("user", vec![tool_result(message)?]),
            Role::Function | Role::Other(_) => {
                return Err(Error::bad_request(format!(
                    "messages with role `{}` cannot be sent to Anthropic",
                    role_name(&message.role)
                )));
            }
        };
        match messages.last_mut() {
            // Anthropic requires alternation: a turn of the same role joins the previous one.
            Some(MessageParam {
                role: last,
                content: Content::Blocks(previous),
            }) if last == role => previous.extend(blocks),
            _ => messages.push(MessageParam {
                role: role.to_owned(),
                content: Content::Blocks(blocks),
            }),
        }
    }

    let tools = request
        .tools
        .as_ref()
        .filter(|t| !t.is_empty())
        .map(|tools| tools.iter().map(tool_param).collect::<Result<Vec<_>>>())
        .transpose()?;
    let tool_choice = match &tools {
        Some(_) => tool_choice(request.tool_choice.as_ref(), request.parallel_tool_calls)?,
        None => None,
    };

    let mut metadata = request
        .extra
        .get("metadata")
        .and_then(Value::as_object)
        .cloned();
    if let Some(user) = &request.user {
        metadata
            .get_or_insert_with(Map::new)
            .insert("user_id".to_owned(), json!(user));
    }
    let extra = PASSTHROUGH
        .iter()
        .filter_map(|&key| Some((key.to_owned(), request.extra.get(key)?.clone())))
        .collect();

    Ok(MessagesRequest {
        model: request.model.clone(),
        messages,
        system: system_field(system),
        max_tokens: request.token_limit().unwrap_or(default_max_tokens),
        stop_sequences: request
            .stop
            .as_ref()
            .map(|s| s.sequences().into_iter().map(str::to_owned).collect()),
        temperature: request.temperature.clone(),
        top_p: request.top_p.clone(),
        stream: request.stream,
        tools,
        tool_choice,
        metadata,
        extra,
    })
}

fn role_name(role: &Role) -> &str {
    match role {
        Role::Function => "function",
        Role::Other(name) => name,
        _ => "?",
    }
}

/// A plain string when no block carries `cache_control`, blocks otherwise.
fn system_field(blocks: Vec<Block>) -> Option<System> {
    if blocks.is_empty() {
        return None;
    }
    let plain: Option<Vec<&str>> = blocks
        .iter()
        .map(|b| match b {
            Block::Text {
                text,
                cache_control: None,
            } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    Some(match plain {
        Some(texts) => System::Text(texts.join("\n\n")),
        None => System::Blocks(blocks),
    })
}

/// Text and image blocks of a user or system message; empty text is dropped (Anthropic
/// rejects empty text blocks).
fn content_blocks(content: Option<&MessageContent>) -> Result<Vec<Block>> {
    let text = |text: &str, cache_control: Option<Value>| Block::Text {
        text: text.to_owned(),
        cache_control,
    };
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(s)) if s.is_empty() => Ok(Vec::new()),
        Some(MessageContent::Text(s)) => Ok(vec![text(s, None)]),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter(|p| !matches!(p, ContentPart::Text { text, .. } if text.is_empty()))
            .map(|part| match part {
                ContentPart::Text { text: t, extra } => {
                    Ok(text(t, extra.get("cache_control").cloned()))
                }
                ContentPart::ImageUrl { image_url, .. } => image(&image_url.url),
                ContentPart::Other(map) => Err(Error::bad_request(format!(
                    "content parts of type `{}` cannot be sent to Anthropic",
                    map.get("type").and_then(Value::as_str).unwrap_or("unknown")
                ))),
            })
            .collect(),
    }
}

/// `data:<media>;base64,<data>` becomes inline bytes; `http(s):` a URL source.
fn image(url: &str) -> Result<Block> {
    let source = if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| Error::bad_request("malformed data: URL in image_url"))?;
        let media_type = meta.strip_suffix(";base64").ok_or_else(|| {
            Error::bad_request("image data: URLs must be base64-encoded for Anthropic")
        })?;
        ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        }
    } else if url.starts_with("https://") || url.starts_with("http://") {
        ImageSource::Url {
            url: url.to_owned(),
        }
    } else {
        return Err(Error::bad_request(
            "image_url must be an http(s) or data: URL",
        ));
    };
    Ok(Block::Image { source })
}

fn assistant_blocks(message: &Message) -> Result<Vec<Block>> {
    let mut blocks = content_blocks(message.content.as_ref())?;
    for call in message.tool_calls.iter().flatten() {
        let arguments = call.function.arguments.trim();
        let input = if arguments.is_empty() {
            json!({})
        } else {
            serde_json::from_str::<Value>(arguments).map_err(|e| {
                Error::bad_request(format!(
                    "tool call `{}` has arguments that are not valid JSON: {e}",
                    call.id
                ))
            })?
        };
        blocks.push(Block::ToolUse {
            id: call.id.clone(),
            name: call.function.name.clone(),
            input,
        });
    }
    Ok(blocks)
}

fn tool_result(message: &Message) -> Result<Block> {
    let tool_use_id = message
        .tool_call_id
        .clone()
        .ok_or_else(|| Error::bad_request("a tool message needs `tool_call_id`"))?;
    let content = match &message.content {
        None => None,
        Some(MessageContent::Text(s)) => Some(Content::Text(s.clone())),
        Some(content) => Some(Content::Blocks(content_blocks(Some(content))?)),
    };
    Ok(Block::ToolResult {
        tool_use_id,
        content,
        is_error: None,
    })
}

fn tool_param(tool: &bulkhead_core::Tool) -> Result<ToolParam> {
    let function = tool.function.as_ref().filter(|_| tool.kind == "function");
    let function = function.ok_or_else(|| {
        Error::bad_request(format!(
            "tools of type `{}` cannot be sent to Anthropic",
            tool.kind
        ))
    })?;
    Ok(ToolParam {
        name: function.name.clone(),
        description: function.description.clone(),
        input_schema: function
            .parameters
            .clone()
            .unwrap_or_else(|| json!({ "type": "object", "properties": {} })),
    })
}

fn tool_choice(
    choice: Option<&ToolChoice>,
    parallel: Option<bool>,
) -> Result<Option<ToolChoiceParam>> {
    let param = |kind: &str, name: Option<String>| ToolChoiceParam {
        kind: kind.to_owned(),
        name,
        disable_parallel_tool_use: None,
    };
    let mut param = match choice {
        None if parallel == Some(false) => param("auto", None),
        None => return Ok(None),
        Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => param("auto", None),
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => param("any", None),
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => return Ok(Some(param("none", None))),
        Some(ToolChoice::Named(named)) => param("tool", Some(named.function.name.clone())),
        Some(ToolChoice::Other(value)) => {
            return Err(Error::bad_request(format!(
                "tool_choice {value} cannot be sent to Anthropic"
            )));
        }
    };
    if parallel == Some(false) {
        param.disable_parallel_tool_use = Some(true);
    }
    Ok(Some(param))
}
