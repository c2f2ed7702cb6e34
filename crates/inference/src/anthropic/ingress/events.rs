//! OpenAI chunks -> Anthropic stream events, as a synchronous state machine, and the bytes of
//! an event on the wire.
//!
//! Anthropic announces every content block (`content_block_start`), fills it
//! (`content_block_delta`) and closes it (`content_block_stop`); OpenAI just sends deltas. The
//! encoder opens a text block at the first text, a `tool_use` block at the first fragment of
//! each tool call, and closes the open block when another kind of content starts. The stop
//! reason and usage arrive in OpenAI's last chunks, so `message_delta` and `message_stop` are
//! written by [`EventEncoder::finish`] once the chunk stream has ended cleanly. A stream that
//! fails instead ends with an [`error_event`] and no `message_stop`, which Anthropic's SDKs
//! raise as an error rather than returning half an answer.

use bulkhead_core::{ChatChunk, FinishReason, ToolCallDelta};
use serde_json::json;

use super::response::{stop_reason, usage, zero_usage};
use crate::anthropic::wire::{
    AnthropicUsage, Block, BlockDelta, MessageDeltaBody, MessagesResponse, StreamEvent,
};

/// Translates one OpenAI chunk stream into Anthropic stream events.
#[derive(Debug, Default)]
pub struct EventEncoder {
    started: bool,
    finished: bool,
    next_block: u32,
    /// The open text block, if any.
    text: Option<u32>,
    /// Every tool call seen, by OpenAI index.
    tools: Vec<ToolBlock>,
    finish: Option<FinishReason>,
    usage: Option<AnthropicUsage>,
}

#[derive(Debug)]
struct ToolBlock {
    openai: u32,
    block: u32,
    open: bool,
}

impl EventEncoder {
    /// An encoder for one answer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `message_start` was written.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Translate one chunk, appending the events it yields to `out`. Only the first choice is
    /// read: `/v1/messages` has no `n`.
    pub fn push_chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        if !self.started {
            self.start(&chunk.id, &chunk.model, out);
        }
        if let Some(u) = chunk.usage.as_ref() {
            self.usage = Some(usage(u));
        }
        let Some(choice) = chunk.choices.iter().find(|c| c.index == 0) else {
            return;
        };
        if let Some(text) = choice.delta.content.as_ref().filter(|t| !t.is_empty()) {
            self.text(text, out);
        }
        for call in choice.delta.tool_calls.iter().flatten() {
            self.tool(call, out);
        }
        if let Some(reason) = &choice.finish_reason {
            self.finish = Some(reason.clone());
        }
    }

    /// The chunk stream ended cleanly: close the open blocks and write `message_delta` (stop
    /// reason, usage) and `message_stop`. Calling it again writes nothing.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        if !self.started {
            self.start("", "", out);
        }
        self.close_all(out);
        self.finished = true;
        let stop = match &self.finish {
            // Clients run the tools when `stop_reason` says `tool_use`, whatever the upstream
            // said; a tool call with `stop` happens.
            Some(FinishReason::Stop) | None if !self.tools.is_empty() => "tool_use".to_owned(),
            Some(reason) => stop_reason(reason),
            None => "end_turn".to_owned(),
        };
        out.push(StreamEvent::MessageDelta {
            delta: MessageDeltaBody {
                stop_reason: Some(stop),
                stop_sequence: None,
            },
            usage: self.usage.take().unwrap_or_else(zero_usage),
        });
        out.push(StreamEvent::MessageStop);
    }

    fn start(&mut self, id: &str, model: &str, out: &mut Vec<StreamEvent>) {
        self.started = true;
        let id = if id.is_empty() { "msg_bulkhead" } else { id };
        out.push(StreamEvent::MessageStart {
            message: MessagesResponse {
                id: id.to_owned(),
                kind: Some("message".to_owned()),
                model: model.to_owned(),
                role: Some("assistant".to_owned()),
                content: Vec::new(),
                stop_reason: None,
                stop_sequence: None,
                usage: zero_usage(),
            },
        });
    }

    fn text(&mut self, text: &str, out: &mut Vec<StreamEvent>) {
        let index = match self.text {
            Some(index) => index,
            None => {
                self.close_all(out);
                let index = self.open_block();
                self.text = Some(index);
                out.push(StreamEvent::ContentBlockStart {
                    index,
                    content_block: Block::Text {
                        text: String::new(),
                        cache_control: None,
                    },
                });
                index
            }
        };
        out.push(StreamEvent::ContentBlockDelta {
            index,
            delta: BlockDelta::TextDelta {
                text: text.to_owned(),
            },
        });
    }

    fn tool(&mut self, call: &ToolCallDelta, out: &mut Vec<StreamEvent>) {
        let block = match self.tools.iter().find(|t| t.openai == call.index) {
            // A late fragment of a call whose block was closed (interleaved parallel calls)
            // still goes to its own block: SDKs accumulate by index.
            Some(tool) => tool.block,
            None => {
                self.close_all(out);
                let block = self.open_block();
                self.tools.push(ToolBlock {
                    openai: call.index,
                    block,
                    open: true,
                });
                let id = call
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("toolu_bulkhead_{}", call.index));
                let name = call
                    .function
                    .as_ref()
                    .and_then(|f| f.name.clone())
                    .unwrap_or_default();
                out.push(StreamEvent::ContentBlockStart {
                    index: block,
                    content_block: Block::ToolUse {
                        id,
                        name,
                        input: json!({}),
                    },
                });
                block
            }
        };
        let arguments = call.function.as_ref().and_then(|f| f.arguments.as_deref());
        if let Some(partial_json) = arguments.filter(|a| !a.is_empty()) {
            out.push(StreamEvent::ContentBlockDelta {
                index: block,
                delta: BlockDelta::InputJsonDelta {
                    partial_json: partial_json.to_owned(),
                },
            });
        }
    }

    fn open_block(&mut self) -> u32 {
        let index = self.next_block;
        self.next_block += 1;
        index
    }

    /// Close the open text block and every open tool block, in block order.
    fn close_all(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(index) = self.text.take() {
            out.push(StreamEvent::ContentBlockStop { index });
        }
        for tool in self.tools.iter_mut().filter(|t| t.open) {
            tool.open = false;
            out.push(StreamEvent::ContentBlockStop { index: tool.block });
        }
    }
}

/// The `event:` name of an event: its `type`.
pub fn event_name(event: &StreamEvent) -> &'static str {
    match event {
        StreamEvent::MessageStart { .. } => "message_start",
        StreamEvent::ContentBlockStart { .. } => "content_block_start",
        StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
        StreamEvent::ContentBlockStop { .. } => "content_block_stop",
        StreamEvent::MessageDelta { .. } => "message_delta",
        StreamEvent::MessageStop => "message_stop",
        StreamEvent::Ping => "ping",
        StreamEvent::Error { .. } => "error",
        StreamEvent::Unknown => "unknown",
    }
}

/// Append `event: <type>\ndata: <json>\n\n` to `buf`; on failure `buf` is left as it was.
pub fn write_event(event: &StreamEvent, buf: &mut Vec<u8>) -> serde_json::Result<()> {
    let start = buf.len();
    buf.extend_from_slice(b"event: ");
    buf.extend_from_slice(event_name(event).as_bytes());
    buf.extend_from_slice(b"\ndata: ");
    match serde_json::to_writer(&mut *buf, event) {
        Ok(()) => {
            buf.extend_from_slice(b"\n\n");
            Ok(())
        }
        Err(e) => {
            buf.truncate(start);
            Err(e)
        }
    }
}

/// The `error` event Anthropic sends when a stream fails after it started:
/// `{"type": "error", "error": {"type": kind, "message": message}}`.
pub fn error_event(kind: &str, message: &str) -> StreamEvent {
    StreamEvent::Error {
        error: json!({ "type": kind, "message": message }),
    }
}
