//! The simulated provider's answer plan, and the stream that plays it back chunk by chunk.
//!
//! Chunks are built lazily, one per poll: with no latency configured the stream never touches
//! a timer, so a benchmark measures the stack above it rather than the simulator.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bulkhead_core::{
    ChatChunk, ChatResponse, Choice, ChunkChoice, Delta, FinishReason, FunctionCall,
    FunctionCallDelta, Map, Message, MessageContent, Nullable, Result, Role, SharedStr, ToolCall,
    ToolCallDelta, Usage,
};
use futures_core::Stream;
use tokio::time::{Instant, Sleep, sleep_until};

use super::fault::{FaultKind, fault_error};
use super::text::Answer;
use super::tools::ToolAnswer;

/// Everything about one answer, decided before the first byte goes out.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) provider: Arc<str>,
    pub(super) id: String,
    pub(super) model: String,
    pub(super) created: u64,
    pub(super) body: Body,
    pub(super) usage: Usage,
}

/// What the answer says.
#[derive(Debug, Clone)]
pub(super) enum Body {
    /// Text, streamed one token per chunk.
    Text(Answer),
    /// A tool call: its name in the first chunk (one token), then one argument token per chunk.
    Tool(ToolAnswer, Vec<usize>),
}

impl Plan {
    /// Tokens generated, which is also the number of chunks that carry them.
    pub(super) fn completion_tokens(&self) -> usize {
        match &self.body {
            Body::Text(answer) => answer.ends.len(),
            Body::Tool(_, ends) => 1 + ends.len(),
        }
    }

    fn finish_reason(&self) -> FinishReason {
        match &self.body {
            Body::Text(answer) => answer.finish.clone(),
            Body::Tool(..) => FinishReason::ToolCalls,
        }
    }

    /// The whole answer as one response, moved out of the plan.
    pub(super) fn response(self) -> ChatResponse {
        let finish_reason = self.finish_reason();
        let (content, tool_calls) = match self.body {
            Body::Text(answer) => (Some(MessageContent::Text(answer.text)), None),
            Body::Tool(call, _) => (
                None,
                Some(vec![ToolCall {
                    id: call.id,
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name: call.name,
                        arguments: call.arguments,
                    },
                }]),
            ),
        };
        ChatResponse {
            id: self.id,
            object: "chat.completion".to_owned(),
            created: self.created,
            model: self.model,
            choices: vec![Choice {
                index: 0,
                message: Message {
                    role: Role::Assistant,
                    content,
                    name: None,
                    tool_calls,
                    tool_call_id: None,
                    extra: Map::new(),
                },
                finish_reason: Some(finish_reason),
                logprobs: Nullable::Absent,
                extra: Map::new(),
            }],
            usage: Some(self.usage),
            service_tier: Nullable::Absent,
            system_fingerprint: Nullable::Absent,
            extra: Map::new(),
        }
    }
}

/// When chunks are due, for a simulator with time to first token or a token rate.
#[derive(Debug)]
pub(super) struct Pacing {
    pub(super) start: Instant,
    pub(super) first_token: Duration,
    pub(super) per_token: Duration,
}

/// The chunks of a [`Plan`]: a head chunk (role, and the tool call's name), one chunk per
/// token, a finish chunk, and a usage chunk when asked for.
#[derive(Debug)]
pub(super) struct SimStream {
    plan: Plan,
    /// The plan's id and model, and the object, shared by every chunk.
    id: SharedStr,
    object: SharedStr,
    model: SharedStr,
    step: usize,
    tokens: usize,
    include_usage: bool,
    cut_after: Option<usize>,
    pacing: Option<Pacing>,
    timer: Option<Pin<Box<Sleep>>>,
    done: bool,
}

impl SimStream {
    pub(super) fn new(
        plan: Plan,
        include_usage: bool,
        cut_after: Option<usize>,
        pacing: Option<Pacing>,
    ) -> Self {
        let tokens = match &plan.body {
            Body::Text(answer) => answer.ends.len(),
            Body::Tool(_, ends) => ends.len(),
        };
        Self {
            id: SharedStr::from(&plan.id),
            object: SharedStr::from(ChatChunk::OBJECT),
            model: SharedStr::from(&plan.model),
            plan,
            step: 0,
            tokens,
            include_usage,
            cut_after,
            pacing,
            timer: None,
            done: false,
        }
    }

    /// When step `step` is due, if it has to wait at all.
    fn due(&self, step: usize) -> Option<Instant> {
        let pacing = self.pacing.as_ref()?;
        let step = step.min(self.tokens) as u32;
        Some(pacing.start + pacing.first_token + pacing.per_token * step)
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: self.object.clone(),
            created: self.plan.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
                logprobs: Nullable::Absent,
                extra: Map::new(),
            }],
            // OpenAI sends `"usage": null` on every chunk but the last when usage is asked for.
            usage: if self.include_usage {
                Nullable::Null
            } else {
                Nullable::Absent
            },
            service_tier: Nullable::Absent,
            system_fingerprint: Nullable::Absent,
            extra: Map::new(),
        }
    }

    /// The chunk of step `step`, or `None` past the end.
    fn build(&self, step: usize) -> Option<ChatChunk> {
        let last_token = self.tokens;
        Some(if step == 0 {
            let delta = match &self.plan.body {
                Body::Text(_) => Delta {
                    role: Some(Role::Assistant),
                    content: Nullable::Value(String::new()),
                    ..Delta::default()
                },
                Body::Tool(call, _) => Delta {
                    role: Some(Role::Assistant),
                    content: Nullable::Null,
                    tool_calls: Some(vec![ToolCallDelta {
                        index: 0,
                        id: Some(call.id.clone()),
                        kind: Some("function".to_owned()),
                        function: Some(FunctionCallDelta {
                            name: Some(call.name.clone()),
                            arguments: Some(String::new()),
                        }),
                    }]),
                    ..Delta::default()
                },
            };
            self.chunk(delta, None)
        } else if step <= last_token {
            let delta = match &self.plan.body {
                Body::Text(answer) => Delta {
                    content: Nullable::Value(
                        piece(&answer.text, &answer.ends, step - 1).to_owned(),
                    ),
                    ..Delta::default()
                },
                Body::Tool(call, ends) => Delta {
                    tool_calls: Some(vec![ToolCallDelta {
                        index: 0,
                        function: Some(FunctionCallDelta {
                            name: None,
                            arguments: Some(piece(&call.arguments, ends, step - 1).to_owned()),
                        }),
                        ..ToolCallDelta::default()
                    }]),
                    ..Delta::default()
                },
            };
            self.chunk(delta, None)
        } else if step == last_token + 1 {
            self.chunk(Delta::default(), Some(self.plan.finish_reason()))
        } else if step == last_token + 2 && self.include_usage {
            let mut chunk = self.chunk(Delta::default(), None);
            chunk.choices.clear();
            chunk.usage = Nullable::Value(Box::new(self.plan.usage.clone()));
            chunk
        } else {
            return None;
        })
    }
}

/// Token `i` of `text`, whose tokens end at `ends`.
fn piece<'a>(text: &'a str, ends: &[usize], i: usize) -> &'a str {
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &text[start..ends[i]]
}

impl Stream for SimStream {
    type Item = Result<ChatChunk>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(after_chunks) = this.cut_after.filter(|&n| n == this.step) {
            this.done = true;
            let cut = FaultKind::StreamCut { after_chunks };
            return Poll::Ready(Some(Err(fault_error(&cut, &this.plan.provider))));
        }
        if this.step <= this.tokens
            && let Some(due) = this.due(this.step)
        {
            let timer = this.timer.get_or_insert_with(|| Box::pin(sleep_until(due)));
            timer.as_mut().reset(due);
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        match this.build(this.step) {
            Some(chunk) => {
                this.step += 1;
                Poll::Ready(Some(Ok(chunk)))
            }
            None => {
                this.done = true;
                match this.cut_after {
                    // A cut later than the last chunk still loses the end of the stream.
                    Some(after_chunks) => {
                        let cut = FaultKind::StreamCut { after_chunks };
                        Poll::Ready(Some(Err(fault_error(&cut, &this.plan.provider))))
                    }
                    None => Poll::Ready(None),
                }
            }
        }
    }
}
