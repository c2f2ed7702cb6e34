//! The vocabulary every Bulkhead crate shares.
//!
//! `bulkhead-core` holds the wire types of the OpenAI Chat Completions and Embeddings APIs
//! ([`ChatRequest`], [`ChatResponse`], [`ChatChunk`], ...), the [`Error`] type whose
//! [`ErrorKind`] every layer can act on without parsing strings, and the object-safe
//! [`ChatModel`] and [`EmbeddingModel`] traits that join the crates together.
//!
//! Write a provider or a decorator against this crate, not against the gateway: a type that
//! implements [`ChatModel`] can sit anywhere in a Bulkhead stack, and a decorator is simply a
//! `ChatModel` that holds another one. The crate performs no I/O, starts no runtime and parses no
//! configuration; it changes rarely.
//!
//! ```
//! use bulkhead_core::{ChatRequest, Message};
//!
//! let request = ChatRequest::new("gpt-4o-mini", vec![Message::user("Hello!")]);
//! let json = serde_json::to_value(&request).unwrap();
//! assert_eq!(json["messages"][0]["content"], "Hello!");
//! ```

mod chat;
mod chat_de;
mod chunk;
mod embedding;
mod error;
mod extensions;
pub mod json;
mod model;
mod nullable;
mod shared_str;
mod stream;

pub use chat::{
    ChatRequest, ChatResponse, Choice, CompletionTokensDetails, ContentPart, FinishReason,
    FunctionCall, FunctionDefinition, FunctionName, ImageUrl, Map, Message, MessageContent,
    NamedToolChoice, PromptTokensDetails, ResponseFormat, Role, Stop, StreamOptions, Tool,
    ToolCall, ToolChoice, ToolChoiceMode, Usage,
};
pub use chunk::{ChatChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta};
pub use embedding::{
    Embedding, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage, EmbeddingVector,
};
pub use error::{Error, ErrorKind, Result};
pub use extensions::{CacheStatus, CallReport, Deadline, Deployment, RequestId, Tenant};
pub use model::{ChatModel, ChatStream, EmbeddingModel};
pub use nullable::Nullable;
pub use shared_str::SharedStr;
pub use stream::{ChunkAccumulator, collect_stream, replay_as_chunks};

/// Re-exported so implementors of the traits need not depend on `async-trait` by name.
pub use async_trait::async_trait;
