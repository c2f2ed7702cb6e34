//! Reading a chat request by hand, for the common shapes a client sends (any member order):
//! model, messages of text, sampling numbers, token limits, `stream` and `stream_options`.
//! Anything else (tools, content parts, tool calls, `stop`, an unknown member, an escaped
//! member name, a repeated member, anything malformed) goes to serde_json whole, so what
//! [`read_chat_request`] returns, a request or an error, is always exactly serde_json's.
//!
//! Why: a request is read on every call, and most of a long conversation is its messages'
//! text, which serde_json scans a byte at a time where [`Cursor::string`] finds the runs
//! between escapes 32 bytes at a time.

use super::read::{Cursor, from_name};
use crate::{ChatRequest, Map, Message, MessageContent, Role, StreamOptions};

#[cfg(test)]
mod tests;
/// `text` as a [`ChatRequest`]: exactly `serde_json::from_str(text)`, faster for the common
/// shapes (see the module's documentation).
///
/// # Errors
/// serde_json's, when `text` is not a valid chat request.
pub fn read_chat_request(text: &str) -> serde_json::Result<ChatRequest> {
    match common_request(text) {
        Some(request) => Ok(request),
        None => serde_json::from_str(text),
    }
}

/// Sets bit `member` of `seen`, or gives up when it was set: a repeated member is serde's
/// error to report.
fn first(seen: &mut u32, member: u32) -> Option<()> {
    let bit = 1 << member;
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

/// The members of an object, each read by `member` (which gives up on a name it does not
/// read), separated by commas: the cursor is at `{` and is left after `}`.
fn object<'a>(
    c: &mut Cursor<'a>,
    mut member: impl FnMut(&mut Cursor<'a>, &'a str) -> Option<()>,
) -> Option<()> {
    c.expect("{")?;
    c.skip_space();
    if c.eat("}") {
        return Some(());
    }
    loop {
        let name = c.member_name()?;
        member(c, name)?;
        c.skip_space();
        if c.eat("}") {
            return Some(());
        }
        c.expect(",")?;
        c.skip_space();
    }
}

fn common_request(text: &str) -> Option<ChatRequest> {
    let mut c = Cursor { rest: text };
    c.skip_space();
    let mut request = ChatRequest::default();
    let (mut model, mut messages) = (None, None);
    let mut seen = 0;
    object(&mut c, |c, name| {
        match name {
            "model" => {
                first(&mut seen, 0)?;
                model = Some(c.string()?);
            }
            "messages" => {
                first(&mut seen, 1)?;
                messages = Some(read_messages(c)?);
            }
            "temperature" => {
                first(&mut seen, 2)?;
                request.temperature = c.or_null(Cursor::number)?;
            }
            "top_p" => {
                first(&mut seen, 3)?;
                request.top_p = c.or_null(Cursor::number)?;
            }
            "n" => {
                first(&mut seen, 4)?;
                request.n = c.optional_u32()?;
            }
            "stream" => {
                first(&mut seen, 5)?;
                request.stream = c.or_null(Cursor::boolean)?;
            }
            "stream_options" => {
                first(&mut seen, 6)?;
                request.stream_options = c.or_null(read_stream_options)?;
            }
            "max_tokens" => {
                first(&mut seen, 7)?;
                request.max_tokens = c.optional_u32()?;
            }
            "max_completion_tokens" => {
                first(&mut seen, 8)?;
                request.max_completion_tokens = c.optional_u32()?;
            }
            "presence_penalty" => {
                first(&mut seen, 9)?;
                request.presence_penalty = c.or_null(Cursor::number)?;
            }
            "frequency_penalty" => {
                first(&mut seen, 10)?;
                request.frequency_penalty = c.or_null(Cursor::number)?;
            }
            "seed" => {
                first(&mut seen, 11)?;
                request.seed = c.or_null(Cursor::signed_integer)?;
            }
            "user" => {
                first(&mut seen, 12)?;
                request.user = c.or_null(Cursor::string)?;
            }
            "parallel_tool_calls" => {
                first(&mut seen, 13)?;
                request.parallel_tool_calls = c.or_null(Cursor::boolean)?;
            }
            _ => return None,
        }
        Some(())
    })?;
    c.skip_space();
    if !c.rest.is_empty() {
        return None;
    }
    request.model = model?;
    request.messages = messages?;
    Some(request)
}

fn read_messages(c: &mut Cursor<'_>) -> Option<Vec<Message>> {
    c.expect("[")?;
    c.skip_space();
    let mut messages = Vec::new();
    if c.eat("]") {
        return Some(messages);
    }
    loop {
        messages.push(read_message(c)?);
        c.skip_space();
        if c.eat("]") {
            return Some(messages);
        }
        c.expect(",")?;
        c.skip_space();
    }
}

/// A message of role, text (or no) content, and perhaps a name or the tool call it answers.
fn read_message(c: &mut Cursor<'_>) -> Option<Message> {
    let mut role = None;
    let mut content = None;
    let mut name = None;
    let mut tool_call_id = None;
    object(c, |c, member| {
        match member {
            "role" if role.is_none() => role = Some(from_name::<Role>(c.string()?)?),
            "content" if content.is_none() => {
                content = Some(c.or_null(|c| c.string().map(MessageContent::Text))?);
            }
            "name" if name.is_none() => name = Some(c.or_null(Cursor::string)?),
            "tool_call_id" if tool_call_id.is_none() => {
                tool_call_id = Some(c.or_null(Cursor::string)?);
            }
            _ => return None,
        }
        Some(())
    })?;
    Some(Message {
        role: role?,
        content: content.flatten(),
        name: name.flatten(),
        tool_calls: None,
        tool_call_id: tool_call_id.flatten(),
        extra: Map::new(),
    })
}

fn read_stream_options(c: &mut Cursor<'_>) -> Option<StreamOptions> {
    let mut include_usage = None;
    object(c, |c, member| {
        if member != "include_usage" || include_usage.is_some() {
            return None;
        }
        include_usage = Some(c.or_null(Cursor::boolean)?);
        Some(())
    })?;
    Some(StreamOptions {
        include_usage: include_usage.flatten(),
        extra: Map::new(),
    })
}
