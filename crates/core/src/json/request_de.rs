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
    // Each member once: `Some` once read (`Some(None)` for `null`), and read again is a
    // repeated member, serde's error to report.
    let (mut model, mut messages) = (None, None);
    let (mut temperature, mut top_p, mut n, mut stream, mut stream_options) =
        (None, None, None, None, None);
    let (mut max_tokens, mut max_completion_tokens) = (None, None);
    let (mut presence_penalty, mut frequency_penalty, mut seed, mut user) =
        (None, None, None, None);
    let mut parallel_tool_calls = None;
    object(&mut c, |c, name| {
        match name {
            "model" if model.is_none() => model = Some(c.string()?),
            "messages" if messages.is_none() => messages = Some(c.array(read_message)?),
            "temperature" if temperature.is_none() => {
                temperature = Some(c.or_null(Cursor::number)?);
            }
            "top_p" if top_p.is_none() => top_p = Some(c.or_null(Cursor::number)?),
            "n" if n.is_none() => n = Some(c.optional_u32()?),
            "stream" if stream.is_none() => stream = Some(c.or_null(Cursor::boolean)?),
            "stream_options" if stream_options.is_none() => {
                stream_options = Some(c.or_null(read_stream_options)?);
            }
            "max_tokens" if max_tokens.is_none() => max_tokens = Some(c.optional_u32()?),
            "max_completion_tokens" if max_completion_tokens.is_none() => {
                max_completion_tokens = Some(c.optional_u32()?);
            }
            "presence_penalty" if presence_penalty.is_none() => {
                presence_penalty = Some(c.or_null(Cursor::number)?);
            }
            "frequency_penalty" if frequency_penalty.is_none() => {
                frequency_penalty = Some(c.or_null(Cursor::number)?);
            }
            "seed" if seed.is_none() => seed = Some(c.or_null(Cursor::signed_integer)?),
            "user" if user.is_none() => user = Some(c.or_null(Cursor::string)?),
            "parallel_tool_calls" if parallel_tool_calls.is_none() => {
                parallel_tool_calls = Some(c.or_null(Cursor::boolean)?);
            }
            _ => return None,
        }
        Some(())
    })?;
    c.skip_space();
    if !c.rest.is_empty() {
        return None;
    }
    Some(ChatRequest {
        model: model?,
        messages: messages?,
        temperature: temperature.flatten(),
        top_p: top_p.flatten(),
        n: n.flatten(),
        stream: stream.flatten(),
        stream_options: stream_options.flatten(),
        max_tokens: max_tokens.flatten(),
        max_completion_tokens: max_completion_tokens.flatten(),
        presence_penalty: presence_penalty.flatten(),
        frequency_penalty: frequency_penalty.flatten(),
        seed: seed.flatten(),
        user: user.flatten(),
        parallel_tool_calls: parallel_tool_calls.flatten(),
        ..ChatRequest::default()
    })
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
