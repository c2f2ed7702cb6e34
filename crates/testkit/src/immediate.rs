//! A do-nothing [`ChatModel`] for measuring what a decorator adds on the happy path: no
//! network, no parsing, just a prepared answer.

use std::hint::black_box;
use std::sync::Arc;

use bulkhead_core::{
    ChatChunk, ChatModel, ChatRequest, ChatResponse, ChatStream, Result, async_trait,
};
use futures_util::StreamExt as _;
use serde_json::json;

/// Answers at once: `chat` with a clone of one prepared response, `stream` with the same
/// prepared chunks every time. Wrap it in the decorator under test and compare with calling
/// it bare; the difference is the decorator's own cost.
///
/// The answer is "hello there" with usage 3 + 2 = 5 tokens; the stream is three content chunks
/// (`"hello"`, `" there"`, `""`), plus a usage chunk with
/// [`with_usage_chunk`](Self::with_usage_chunk).
#[derive(Debug, Clone)]
pub struct Immediate {
    response: ChatResponse,
    chunks: Arc<[ChatChunk]>,
}

impl Immediate {
    /// An answer from `model` (the `model` field of the response and of every chunk).
    pub fn new(model: &str) -> Self {
        let response = serde_json::from_value(json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello there"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }))
        .expect("a valid response");
        let chunks = ["hello", " there", ""]
            .iter()
            .map(|text| {
                serde_json::from_value(json!({
                    "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1,
                    "model": model,
                    "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}],
                }))
                .expect("a valid chunk")
            })
            .collect();
        Self { response, chunks }
    }

    /// Ends the stream with a usage chunk (no choices, the response's usage), as OpenAI does
    /// when `stream_options.include_usage` is set.
    pub fn with_usage_chunk(self) -> Self {
        let model = self.response.model.clone();
        let usage: ChatChunk = serde_json::from_value(json!({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1,
            "model": model, "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }))
        .expect("a valid usage chunk");
        let chunks = self.chunks.iter().cloned().chain([usage]).collect();
        Self { chunks, ..self }
    }
}

#[async_trait]
impl ChatModel for Immediate {
    async fn chat(&self, _request: ChatRequest) -> Result<ChatResponse> {
        Ok(self.response.clone())
    }

    async fn stream(&self, _request: ChatRequest) -> Result<ChatStream> {
        let chunks: Vec<Result<ChatChunk>> = self.chunks.iter().cloned().map(Ok).collect();
        Ok(Box::pin(futures_util::stream::iter(chunks)))
    }
}

/// Calls `model.stream(request)` and reads it to the end, each chunk through [`black_box`] so
/// a bench measures the whole stream; returns how many chunks came. Panics on an error, which
/// a bench of the happy path should never see.
pub async fn drain_stream(model: &dyn ChatModel, request: ChatRequest) -> usize {
    let mut stream = model.stream(request).await.expect("a stream");
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        black_box(chunk.expect("a chunk"));
        chunks += 1;
    }
    chunks
}
