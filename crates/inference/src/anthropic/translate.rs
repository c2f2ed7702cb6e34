//! Anthropic stream events -> OpenAI chunks, as a pure, synchronous state machine.
//!
//! Kept apart from the HTTP plumbing so it can be fuzzed and benchmarked on bytes alone, and so
//! the `/v1/messages` ingress can test its reverse translation against it. Bytes or events go
//! in, [`ChatChunk`]s come out into a caller-owned `Vec` (no allocation per call beyond the
//! chunks themselves). The answer is complete only at `message_stop`: a stream that ends
//! before it is an error ([`StreamTranslator::finish`]), never a short success.

use std::sync::Arc;

use bulkhead_core::{
    ChatChunk, ChunkChoice, Delta, Error, FinishReason, FunctionCallDelta, Map, Nullable, Result,
    Role, SharedStr, ToolCallDelta,
};
use serde_json::json;

use super::response::{REASONING_KEY, finish_reason, now, usage};
use super::wire::{AnthropicUsage, Block, BlockDelta, StreamEvent};
use crate::error::{UpstreamError, error_from_event};
use crate::sse::{SseDecoder, SseEvent};

/// Whether the answer is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More events are expected.
    More,
    /// `message_stop` arrived; anything after it is ignored.
    Done,
}

/// Translates one streamed Anthropic answer into OpenAI chunks.
///
/// Feed it body bytes with [`push_bytes`](Self::push_bytes), decoded SSE events with
/// [`push_sse`](Self::push_sse), or parsed events with [`push_event`](Self::push_event); at the
/// end of the body call [`finish`](Self::finish). After an `Err` the translator is spent.
#[derive(Debug)]
pub struct StreamTranslator {
    provider: Arc<str>,
    include_usage: bool,
    created: u64,
    /// The head every chunk repeats, shared by all of them.
    id: SharedStr,
    object: SharedStr,
    model: SharedStr,
    started: bool,
    done: bool,
    tools_started: u32,
    usage: AnthropicUsage,
    tools: Vec<ToolBlock>,
    decoder: SseDecoder,
}

/// A `tool_use` block in progress: its block index, its OpenAI tool-call index, and whether
/// any argument fragment was sent.
#[derive(Debug)]
struct ToolBlock {
    block: u32,
    tool: u32,
    has_arguments: bool,
}

impl StreamTranslator {
    /// A translator for provider `provider` (named in errors); `include_usage` adds the final
    /// usage chunk that `stream_options.include_usage` asks for.
    pub fn new(provider: impl Into<Arc<str>>, include_usage: bool) -> Self {
        Self {
            provider: provider.into(),
            include_usage,
            created: now(),
            id: SharedStr::default(),
            object: SharedStr::from(ChatChunk::OBJECT),
            model: SharedStr::default(),
            started: false,
            done: false,
            tools_started: 0,
            usage: AnthropicUsage::default(),
            tools: Vec::new(),
            decoder: SseDecoder::new(),
        }
    }

    /// Stamp chunks with this creation time instead of now (for reproducible tests).
    pub fn with_created(mut self, created: u64) -> Self {
        self.created = created;
        self
    }

    /// Whether `message_stop` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decode `bytes` (any split of the body) and translate every complete event.
    pub fn push_bytes(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<Progress> {
        // The decoder lends each event's data; it is set aside while the events are read.
        let mut decoder = std::mem::take(&mut self.decoder);
        decoder.push(bytes);
        let read = self.read_events(&mut decoder, out);
        self.decoder = decoder;
        read?;
        Ok(self.progress())
    }

    fn read_events(&mut self, decoder: &mut SseDecoder, out: &mut Vec<ChatChunk>) -> Result<()> {
        while !self.done {
            let event = decoder.next_event_ref().map_err(|e| {
                Error::transport(format!(
                    "provider `{}` sent a malformed event stream: {e}",
                    self.provider
                ))
                .with_source(e)
            })?;
            match event {
                Some(event) => self.push_data(event.data, out)?,
                None => break,
            };
        }
        Ok(())
    }

    /// Translate one decoded server-sent event. The event's type is read from its JSON `type`
    /// (Anthropic repeats it in the `event:` line).
    pub fn push_sse(&mut self, event: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<Progress> {
        self.push_data(&event.data, out)
    }

    fn push_data(&mut self, data: &str, out: &mut Vec<ChatChunk>) -> Result<Progress> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(self.progress());
        }
        match serde_json::from_str::<StreamEvent>(data) {
            Ok(parsed) => self.push_event(parsed, out),
            Err(e) => {
                // An error that does not follow the documented shape is still an error.
                let value = serde_json::from_str::<serde_json::Value>(data).ok();
                Err(match value.as_ref().and_then(UpstreamError::from_value) {
                    Some(upstream) => error_from_event(&self.provider, &upstream),
                    None => Error::internal(format!(
                        "provider `{}` sent an event that could not be parsed: {e}",
                        self.provider
                    )),
                })
            }
        }
    }

    /// Translate one parsed event, appending the chunks it yields to `out`.
    pub fn push_event(&mut self, event: StreamEvent, out: &mut Vec<ChatChunk>) -> Result<Progress> {
        if self.done {
            return Ok(Progress::Done);
        }
        match event {
            StreamEvent::Ping | StreamEvent::Unknown => {}
            StreamEvent::Error { error } => {
                let upstream =
                    UpstreamError::from_value(&json!({ "error": error })).unwrap_or_default();
                return Err(error_from_event(&self.provider, &upstream));
            }
            StreamEvent::MessageStart { message } => {
                self.started = true;
                self.id = message.id.into();
                self.model = message.model.into();
                self.usage.update(&message.usage);
                out.push(self.chunk(
                    Delta {
                        role: Some(Role::Assistant),
                        ..Delta::default()
                    },
                    None,
                ));
            }
            _ if !self.started => {
                return Err(Error::internal(format!(
                    "provider `{}` sent a stream event before message_start",
                    self.provider
                )));
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => self.block_start(index, content_block, out),
            StreamEvent::ContentBlockDelta { index, delta } => self.block_delta(index, delta, out),
            StreamEvent::ContentBlockStop { index } => {
                if let Some(pos) = self.tools.iter().position(|t| t.block == index) {
                    let tool = self.tools.swap_remove(pos);
                    if !tool.has_arguments {
                        // No input fragments means empty input; the JSON answer says `{}`.
                        out.push(self.tool_chunk(tool.tool, None, "{}"));
                    }
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                self.usage.update(&usage);
                if let Some(reason) = delta.stop_reason {
                    out.push(self.chunk(Delta::default(), Some(finish_reason(&reason))));
                }
            }
            StreamEvent::MessageStop => {
                self.done = true;
                if self.include_usage {
                    let mut chunk = self.bare_chunk(Vec::new());
                    chunk.usage = Nullable::Value(Box::new(usage(&self.usage)));
                    out.push(chunk);
                }
            }
        }
        Ok(self.progress())
    }

    /// At the end of the body: `Ok` only if the answer was complete.
    pub fn finish(&self) -> Result<()> {
        if self.done {
            return Ok(());
        }
        Err(Error::transport(format!(
            "stream from provider `{}` ended before message_stop",
            self.provider
        )))
    }

    fn progress(&self) -> Progress {
        if self.done {
            Progress::Done
        } else {
            Progress::More
        }
    }

    fn block_start(&mut self, index: u32, block: Block, out: &mut Vec<ChatChunk>) {
        match block {
            Block::Text { text, .. } if !text.is_empty() => out.push(self.text_chunk(text)),
            Block::ToolUse { id, name, input } => {
                // The n-th tool_use block is the n-th OpenAI tool call, whatever its block index.
                let tool = self.next_tool_index();
                let given = input.as_object().is_some_and(|o| !o.is_empty());
                let arguments = if given {
                    input.to_string()
                } else {
                    String::new()
                };
                self.tools.push(ToolBlock {
                    block: index,
                    tool,
                    has_arguments: given,
                });
                let mut chunk = self.tool_chunk(tool, Some(name), &arguments);
                if let Some(call) = chunk.choices[0].delta.tool_calls.as_mut() {
                    call[0].id = Some(id);
                    call[0].kind = Some("function".to_owned());
                }
                out.push(chunk);
            }
            _ => {}
        }
    }

    fn block_delta(&mut self, index: u32, delta: BlockDelta, out: &mut Vec<ChatChunk>) {
        match delta {
            BlockDelta::TextDelta { text } if !text.is_empty() => out.push(self.text_chunk(text)),
            BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                if let Some(tool) = self.tools.iter_mut().find(|t| t.block == index) {
                    tool.has_arguments = true;
                    let tool = tool.tool;
                    out.push(self.tool_chunk(tool, None, &partial_json));
                }
            }
            BlockDelta::ThinkingDelta { thinking } if !thinking.is_empty() => {
                let mut extra = Map::new();
                extra.insert(REASONING_KEY.to_owned(), json!(thinking));
                out.push(self.chunk(
                    Delta {
                        extra,
                        ..Delta::default()
                    },
                    None,
                ));
            }
            _ => {}
        }
    }

    /// Tool-call indices keep counting after a block stops (blocks are removed on stop).
    fn next_tool_index(&mut self) -> u32 {
        let index = self.tools_started;
        self.tools_started += 1;
        index
    }

    fn text_chunk(&self, text: String) -> ChatChunk {
        self.chunk(
            Delta {
                content: Nullable::Value(text),
                ..Delta::default()
            },
            None,
        )
    }

    fn tool_chunk(&self, tool: u32, name: Option<String>, arguments: &str) -> ChatChunk {
        let call = ToolCallDelta {
            index: tool,
            id: None,
            kind: None,
            function: Some(FunctionCallDelta {
                name,
                arguments: Some(arguments.to_owned()),
            }),
        };
        self.chunk(
            Delta {
                tool_calls: Some(vec![call]),
                ..Delta::default()
            },
            None,
        )
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>) -> ChatChunk {
        self.bare_chunk(vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason,
            logprobs: Nullable::Absent,
            extra: Map::new(),
        }])
    }

    fn bare_chunk(&self, choices: Vec<ChunkChoice>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: self.object.clone(),
            created: self.created,
            model: self.model.clone(),
            choices,
            usage: Nullable::Absent,
            service_tier: Nullable::Absent,
            system_fingerprint: Nullable::Absent,
            extra: Map::new(),
        }
    }
}
