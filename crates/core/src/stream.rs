//! Helpers every layer needs and nobody should write twice: fold a chunk stream into a
//! response, and replay a response as chunks.

use futures_util::StreamExt;

use crate::chat::{
    ChatResponse, Choice, FunctionCall, Map, Message, MessageContent, Role, ToolCall,
};
use crate::chunk::{ChatChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta};
use crate::{ChatStream, Nullable, Result, SharedStr, Usage};

/// Builds a [`ChatResponse`] from chunks, one [`push`](Self::push) at a time.
///
/// Content and tool-call argument fragments are concatenated per choice and per tool-call
/// index; the last `finish_reason` and `usage` seen win.
#[derive(Debug, Default)]
pub struct ChunkAccumulator {
    id: String,
    created: u64,
    model: String,
    service_tier: Nullable<String>,
    system_fingerprint: Nullable<String>,
    extra: Map,
    usage: Option<Usage>,
    choices: Vec<ChoiceState>,
    started: bool,
}

#[derive(Debug, Default)]
struct ChoiceState {
    index: u32,
    role: Option<Role>,
    content: Option<String>,
    tool_calls: Vec<ToolCallState>,
    finish_reason: Option<crate::FinishReason>,
    extra: Map,
}

#[derive(Debug, Default)]
struct ToolCallState {
    index: u32,
    id: String,
    kind: String,
    name: String,
    arguments: String,
}

impl ChunkAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one chunk.
    pub fn push(&mut self, chunk: &ChatChunk) {
        if !self.started {
            self.started = true;
            self.id = chunk.id.to_string();
            self.created = chunk.created;
            self.model = chunk.model.to_string();
            self.extra = chunk.extra.clone();
        }
        // OpenAI repeats these on every chunk; the first that names one wins.
        if !self.service_tier.is_value() && !chunk.service_tier.is_absent() {
            self.service_tier = chunk.service_tier.as_value().map(String::from);
        }
        if !self.system_fingerprint.is_value() && !chunk.system_fingerprint.is_absent() {
            self.system_fingerprint = chunk.system_fingerprint.as_value().map(String::from);
        }
        if let Nullable::Value(usage) = &chunk.usage {
            self.usage = Some(Usage::clone(usage));
        }
        for choice in &chunk.choices {
            let state = self.choice_mut(choice.index);
            state.push(choice);
        }
    }

    fn choice_mut(&mut self, index: u32) -> &mut ChoiceState {
        let pos = match self.choices.iter().position(|c| c.index == index) {
            Some(pos) => pos,
            None => {
                self.choices.push(ChoiceState {
                    index,
                    ..ChoiceState::default()
                });
                self.choices.len() - 1
            }
        };
        &mut self.choices[pos]
    }

    /// The response the chunks so far add up to.
    pub fn finish(mut self) -> ChatResponse {
        self.choices.sort_by_key(|c| c.index);
        ChatResponse {
            id: self.id,
            object: "chat.completion".to_owned(),
            created: self.created,
            model: self.model,
            choices: self.choices.into_iter().map(ChoiceState::finish).collect(),
            usage: self.usage,
            service_tier: self.service_tier,
            system_fingerprint: self.system_fingerprint,
            extra: self.extra,
        }
    }
}

impl ChoiceState {
    fn push(&mut self, choice: &ChunkChoice) {
        let delta = &choice.delta;
        if let Some(role) = &delta.role {
            self.role = Some(role.clone());
        }
        if let Nullable::Value(text) = &delta.content {
            self.content.get_or_insert_with(String::new).push_str(text);
        }
        for (key, value) in &delta.extra {
            // Concatenate string fragments (`reasoning_content`, `refusal`); keep the rest.
            match (self.extra.get_mut(key), value) {
                (Some(serde_json::Value::String(acc)), serde_json::Value::String(more)) => {
                    acc.push_str(more)
                }
                (Some(_), serde_json::Value::Null) => {}
                _ => {
                    self.extra.insert(key.clone(), value.clone());
                }
            }
        }
        for call in delta.tool_calls.iter().flatten() {
            let state = match self.tool_calls.iter().position(|c| c.index == call.index) {
                Some(pos) => &mut self.tool_calls[pos],
                None => {
                    self.tool_calls.push(ToolCallState {
                        index: call.index,
                        ..ToolCallState::default()
                    });
                    self.tool_calls.last_mut().expect("just pushed")
                }
            };
            if let Some(id) = &call.id {
                state.id.clone_from(id);
            }
            if let Some(kind) = &call.kind {
                state.kind.clone_from(kind);
            }
            if let Some(function) = &call.function {
                if let Some(name) = &function.name {
                    state.name.push_str(name);
                }
                if let Some(arguments) = &function.arguments {
                    state.arguments.push_str(arguments);
                }
            }
        }
        if choice.finish_reason.is_some() {
            self.finish_reason = choice.finish_reason.clone();
        }
    }

    fn finish(mut self) -> Choice {
        self.tool_calls.sort_by_key(|c| c.index);
        let tool_calls = (!self.tool_calls.is_empty()).then(|| {
            self.tool_calls
                .into_iter()
                .map(|c| ToolCall {
                    id: c.id,
                    kind: if c.kind.is_empty() {
                        "function".to_owned()
                    } else {
                        c.kind
                    },
                    function: FunctionCall {
                        name: c.name,
                        arguments: c.arguments,
                    },
                })
                .collect()
        });
        Choice {
            index: self.index,
            message: Message {
                role: self.role.unwrap_or(Role::Assistant),
                content: self.content.map(MessageContent::Text),
                name: None,
                tool_calls,
                tool_call_id: None,
                extra: self.extra,
            },
            logprobs: Nullable::Absent,
            finish_reason: self.finish_reason,
            extra: Map::new(),
        }
    }
}

/// Drain a chunk stream into one response; the first error ends it and is returned.
pub async fn collect_stream(mut stream: ChatStream) -> Result<ChatResponse> {
    let mut acc = ChunkAccumulator::new();
    while let Some(chunk) = stream.next().await {
        acc.push(&chunk?);
    }
    Ok(acc.finish())
}

/// The chunks a provider would have streamed for `response`: per choice, one chunk with the
/// role, the whole content and the tool calls, then one with the finish reason; and, when
/// `include_usage` is set and the response has usage, a final chunk with no choices.
pub fn replay_as_chunks(response: &ChatResponse, include_usage: bool) -> Vec<ChatChunk> {
    let id = SharedStr::from(&response.id);
    let object = SharedStr::from(ChatChunk::OBJECT);
    let model = SharedStr::from(&response.model);
    let service_tier = response.service_tier.as_value().map(SharedStr::from);
    let system_fingerprint = response.system_fingerprint.as_value().map(SharedStr::from);
    let chunk = |choices: Vec<ChunkChoice>, usage: Nullable<Box<Usage>>| ChatChunk {
        id: id.clone(),
        object: object.clone(),
        created: response.created,
        model: model.clone(),
        service_tier: service_tier.clone(),
        system_fingerprint: system_fingerprint.clone(),
        choices,
        usage,
        extra: response.extra.clone(),
    };
    let mut chunks = Vec::with_capacity(response.choices.len() * 2 + 1);
    for choice in &response.choices {
        let message = &choice.message;
        let tool_calls = message.tool_calls.as_ref().map(|calls| {
            calls
                .iter()
                .enumerate()
                .map(|(i, call)| ToolCallDelta {
                    index: i as u32,
                    id: Some(call.id.clone()),
                    kind: Some(call.kind.clone()),
                    function: Some(FunctionCallDelta {
                        name: Some(call.function.name.clone()),
                        arguments: Some(call.function.arguments.clone()),
                    }),
                })
                .collect()
        });
        let delta = Delta {
            role: Some(message.role.clone()),
            content: message.content.as_ref().map(MessageContent::text).into(),
            tool_calls,
            extra: message.extra.clone(),
        };
        chunks.push(chunk(
            vec![ChunkChoice {
                index: choice.index,
                delta,
                logprobs: Nullable::Absent,
                finish_reason: None,
                extra: Map::new(),
            }],
            Nullable::Absent,
        ));
        chunks.push(chunk(
            vec![ChunkChoice {
                index: choice.index,
                delta: Delta::default(),
                logprobs: Nullable::Absent,
                finish_reason: choice.finish_reason.clone(),
                extra: Map::new(),
            }],
            Nullable::Absent,
        ));
    }
    if let (true, Some(usage)) = (include_usage, &response.usage) {
        chunks.push(chunk(Vec::new(), Nullable::Value(Box::new(usage.clone()))));
    }
    chunks
}
