//! Scripted in-process models for the routing tests.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bulkhead_core::{
    ChatChunk, ChatModel, ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, Result, Usage,
    async_trait,
};
use serde_json::json;

/// What a scripted model does with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Answer (after the model's delay), with `tokens` completion tokens.
    Answer,
    /// Fail with this kind before answering (stream(): `Err`).
    Fail(ErrorKind),
    /// Fail with this kind and a retry-after.
    FailRetryAfter(ErrorKind, Duration),
    /// Stream only: the first item is this error.
    FailFirstItem(ErrorKind),
    /// Stream only: 5 chunks, then a transport error.
    CutAfterFive,
}

/// A model that sleeps `delay` (tokio time) then acts per `decide(call number)`.
pub struct Scripted {
    pub name: &'static str,
    pub delay_us: AtomicU64,
    pub calls: AtomicUsize,
    pub tokens: u32,
    pub decide: Box<dyn Fn(usize) -> Act + Send + Sync>,
}

impl Scripted {
    pub fn new(
        name: &'static str,
        decide: impl Fn(usize) -> Act + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            name,
            delay_us: AtomicU64::new(0),
            calls: AtomicUsize::new(0),
            tokens: 7,
            decide: Box::new(decide),
        })
    }

    pub fn ok(name: &'static str) -> Arc<Self> {
        Self::new(name, |_| Act::Answer)
    }

    pub fn with_tokens(name: &'static str, tokens: u32) -> Arc<Self> {
        Arc::new(Self {
            name,
            delay_us: AtomicU64::new(0),
            calls: AtomicUsize::new(0),
            tokens,
            decide: Box::new(|_| Act::Answer),
        })
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_us
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    async fn begin(&self) -> Act {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let delay = self.delay_us.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_micros(delay)).await;
        }
        (self.decide)(n)
    }
}

pub fn chunk(model: &str, text: &str) -> ChatChunk {
    serde_json::from_value(json!({
        "id": "c", "object": "chat.completion.chunk", "created": 1, "model": model,
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}],
    }))
    .expect("chunk")
}

pub fn response(model: &str, tokens: u32) -> ChatResponse {
    let mut r: ChatResponse = serde_json::from_value(json!({
        "id": "r", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    }))
    .expect("response");
    r.usage = Some(Usage::new(3, tokens));
    r
}

#[async_trait]
impl ChatModel for Scripted {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        match self.begin().await {
            Act::Fail(kind) | Act::FailFirstItem(kind) => Err(Error::new(kind, self.name)),
            Act::FailRetryAfter(kind, after) => {
                Err(Error::new(kind, self.name).with_retry_after(after))
            }
            _ => Ok(response(&request.model, self.tokens)),
        }
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let model = request.model.clone();
        let items: Vec<Result<ChatChunk>> = match self.begin().await {
            Act::Fail(kind) => return Err(Error::new(kind, self.name)),
            Act::FailRetryAfter(kind, after) => {
                return Err(Error::new(kind, self.name).with_retry_after(after));
            }
            Act::FailFirstItem(kind) => vec![Err(Error::new(kind, self.name))],
            Act::Answer => (0..5)
                .map(|i| Ok(chunk(&model, &format!("w{i} "))))
                .collect(),
            Act::CutAfterFive => (0..5)
                .map(|i| Ok(chunk(&model, &format!("w{i} "))))
                .chain([Err(Error::transport("cut"))])
                .collect(),
        };
        Ok(Box::pin(futures_util::stream::iter(items)))
    }
}

pub fn request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![bulkhead_core::Message::user("hi")])
}
