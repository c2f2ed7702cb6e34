//! Test doubles: a scripted chat model and a request helper.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulkhead_core::{
    ChatChunk, ChatModel, ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, Message, Result,
    async_trait,
};
use tokio::time::Instant;

/// What one call to [`Scripted`] does.
#[derive(Debug, Clone)]
pub enum Step {
    Ok,
    Fail(Error),
    /// A stream whose first item is this error (a JSON call fails with it).
    FailFirstItem(Error),
    /// A stream of two chunks, then this error (a JSON call succeeds).
    CutAfterTwo(Error),
}

/// A chat model that plays a script, then succeeds; records when each call started.
#[derive(Debug, Clone, Default)]
pub struct Scripted {
    script: Arc<Mutex<VecDeque<Step>>>,
    calls: Arc<AtomicU32>,
    starts: Arc<Mutex<Vec<Instant>>>,
    latency: Duration,
}

impl Scripted {
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Self {
            script: Arc::new(Mutex::new(steps.into_iter().collect())),
            ..Self::default()
        }
    }

    pub fn failing_forever(error: Error) -> Self {
        Self::new(std::iter::repeat_n(Step::Fail(error), 100_000))
    }

    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Append a step to the script.
    pub fn push(&self, step: Step) {
        self.script.lock().expect("lock").push_back(step);
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn starts(&self) -> Vec<Instant> {
        self.starts.lock().expect("lock").clone()
    }

    async fn next(&self) -> Step {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.starts.lock().expect("lock").push(Instant::now());
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        self.script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(Step::Ok)
    }
}

pub fn chunk(text: &str) -> ChatChunk {
    serde_json::from_value(serde_json::json!({
        "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]
    }))
    .expect("valid fixture")
}

pub fn response() -> ChatResponse {
    serde_json::from_value(serde_json::json!({
        "id": "r", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                     "finish_reason": "stop"}]
    }))
    .expect("valid fixture")
}

#[async_trait]
impl ChatModel for Scripted {
    async fn chat(&self, _request: ChatRequest) -> Result<ChatResponse> {
        match self.next().await {
            Step::Ok | Step::CutAfterTwo(_) => Ok(response()),
            Step::Fail(e) | Step::FailFirstItem(e) => Err(e),
        }
    }

    async fn stream(&self, _request: ChatRequest) -> Result<ChatStream> {
        let items = match self.next().await {
            Step::Ok => vec![Ok(chunk("a")), Ok(chunk("b")), Ok(chunk("c"))],
            Step::Fail(e) => return Err(e),
            Step::FailFirstItem(e) => vec![Err(e)],
            Step::CutAfterTwo(e) => vec![Ok(chunk("a")), Ok(chunk("b")), Err(e)],
        };
        Ok(Box::pin(futures_util::stream::iter(items)))
    }
}

pub fn request() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("hello")])
}

pub fn unavailable() -> Error {
    Error::new(ErrorKind::Overloaded, "service unavailable").with_status(503)
}

pub fn rate_limited(retry_after: Duration) -> Error {
    Error::new(ErrorKind::RateLimited, "slow down")
        .with_status(429)
        .with_retry_after(retry_after)
}
