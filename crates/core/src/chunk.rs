//! Streamed chat completion chunks (`chat.completion.chunk`).

use serde::{Deserialize, Serialize};

use crate::chat::{FinishReason, Map, Role, Usage};
use crate::{Nullable, SharedStr};

/// One server-sent event of a streamed chat completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatChunk {
    /// The completion id, the same on every chunk of one answer (shared, like the other
    /// fields every chunk repeats: cloning it costs no allocation).
    pub id: SharedStr,
    /// Always `"chat.completion.chunk"` ([`ChatChunk::OBJECT`]).
    pub object: SharedStr,
    /// Unix time, in seconds, of creation.
    pub created: u64,
    /// The model that answers.
    pub model: SharedStr,
    /// The processing tier serving the request, as OpenAI reports it on every chunk.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub service_tier: Nullable<SharedStr>,
    /// The backend configuration answering, as OpenAI reports it on every chunk.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub system_fingerprint: Nullable<SharedStr>,
    /// Deltas per choice; empty on the final usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// The usage of the whole answer, on the final chunk when `include_usage` was asked.
    ///
    /// Boxed: only one chunk of a stream has it, and every chunk is moved through each layer
    /// of the stack, so a chunk without it stays small.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub usage: Nullable<Box<Usage>>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map,
}

impl ChatChunk {
    /// The `object` of every chunk: `"chat.completion.chunk"`.
    pub const OBJECT: &'static str = "chat.completion.chunk";
}

/// The delta of one choice in a chunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkChoice {
    /// The choice's position.
    pub index: u32,
    /// What this chunk adds.
    pub delta: Delta,
    /// Log probabilities of this chunk's tokens, when asked for (`null` otherwise, from
    /// OpenAI), kept as sent.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub logprobs: Nullable<serde_json::Value>,
    /// Set on the choice's last chunk; serialized as `null` before that.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map,
}

/// What a chunk adds to a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delta {
    /// The role, on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// More text.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content: Nullable<String>,
    /// Tool call fragments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    /// Unknown fields (`refusal`, `reasoning_content`, ...), kept.
    #[serde(flatten)]
    pub extra: Map,
}

/// A fragment of a tool call; fragments with the same `index` concatenate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which tool call of the message this fragment belongs to.
    pub index: u32,
    /// The call id, on its first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `"function"`, on its first fragment.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name and argument fragments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
}

/// The function part of a tool call fragment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallDelta {
    /// The function's name, on its first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A fragment of the JSON-encoded arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}
