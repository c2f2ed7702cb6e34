//! The traits that join Bulkhead's crates: a provider implements them, and so does every
//! decorator that wraps one.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures_core::Stream;

use crate::{ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, Result};

/// A stream of chat chunks. An `Err` item ends the answer: nothing follows it.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatChunk>> + Send + 'static>>;

/// Anything that answers chat requests: a provider, or a decorator around another `ChatModel`.
///
/// The trait is object safe, so a stack assembled at run time is an `Arc<dyn ChatModel>`.
/// Implementations ignore `request.stream`: the caller picks [`ChatModel::chat`] or
/// [`ChatModel::stream`].
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// Answer with one complete response.
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse>;

    /// Answer as a stream of chunks. Errors that happen before the answer starts come back as
    /// `Err`; errors after that arrive as the stream's last item.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream>;
}

/// Anything that turns inputs into embedding vectors.
#[async_trait]
pub trait EmbeddingModel: Send + Sync {
    /// Embed every input of the request.
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse>;
}

#[async_trait]
impl<M: ChatModel + ?Sized> ChatModel for Arc<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        (**self).chat(request).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        (**self).stream(request).await
    }
}

#[async_trait]
impl<M: ChatModel + ?Sized> ChatModel for Box<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        (**self).chat(request).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        (**self).stream(request).await
    }
}

#[async_trait]
impl<M: EmbeddingModel + ?Sized> EmbeddingModel for Arc<M> {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        (**self).embed(request).await
    }
}
