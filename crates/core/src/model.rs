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

/// What an `#[async_trait]` method returns.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// Smart pointers hand on the inner model's future as it is. Written out rather than with
// `#[async_trait]`, which would box a second future around it (and move the request and the
// answer once more) at every `Arc<dyn ChatModel>` of a stack, on every call.

/// Generates the forwarding impls of one pointer type.
macro_rules! forward {
    ($pointer:ident) => {
        impl<M: ChatModel + ?Sized> ChatModel for $pointer<M> {
            fn chat<'life0, 'async_trait>(
                &'life0 self,
                request: ChatRequest,
            ) -> BoxFuture<'async_trait, Result<ChatResponse>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                (**self).chat(request)
            }

            fn stream<'life0, 'async_trait>(
                &'life0 self,
                request: ChatRequest,
            ) -> BoxFuture<'async_trait, Result<ChatStream>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                (**self).stream(request)
            }
        }

        impl<M: EmbeddingModel + ?Sized> EmbeddingModel for $pointer<M> {
            fn embed<'life0, 'async_trait>(
                &'life0 self,
                request: EmbeddingRequest,
            ) -> BoxFuture<'async_trait, Result<EmbeddingResponse>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                (**self).embed(request)
            }
        }
    };
}

forward!(Arc);
forward!(Box);
