//! The Anthropic Messages API wire format, as typed values.
//!
//! Typed rather than `serde_json::Value` so that translation is checked by the compiler and
//! parsing a stream event is one pass; the same types serve the reverse direction (the
//! `/v1/messages` ingress), so every type both serializes and deserializes. Unknown content
//! block types are kept verbatim in [`Block::Other`], because Anthropic adds new ones often.

use bulkhead_core::Map;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

/// A `POST /v1/messages` request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    /// The upstream model.
    pub model: String,
    /// The conversation, alternating user and assistant turns.
    pub messages: Vec<MessageParam>,
    /// The system prompt: a string, or text blocks (to carry `cache_control`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    /// Cap on generated tokens; required by Anthropic.
    pub max_tokens: u32,
    /// Sequences at which generation stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Sampling temperature (Anthropic accepts 0..=1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    /// Whether the answer is streamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolParam>>,
    /// How the model chooses among the tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoiceParam>,
    /// `{"user_id": ...}` and whatever else the caller sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map>,
    /// Every other field (`top_k`, `thinking`, `service_tier`, ...), passed through.
    #[serde(flatten)]
    pub extra: Map,
}

/// The `system` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum System {
    /// Plain text.
    Text(String),
    /// Text blocks.
    Blocks(Vec<Block>),
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageParam {
    /// `"user"` or `"assistant"`.
    pub role: String,
    /// The turn's content blocks.
    pub content: Content,
}

/// A turn's content: a string, or blocks. Requests built by Bulkhead always use blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content blocks.
    Blocks(Vec<Block>),
}

/// A content block, in a request or in an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// Text.
    Text {
        /// The text.
        text: String,
        /// Prompt-caching marker, passed through from OpenAI text parts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
    },
    /// An image.
    Image {
        /// Where the image comes from.
        source: ImageSource,
    },
    /// A tool call made by the assistant.
    ToolUse {
        /// The call id.
        id: String,
        /// The tool's name.
        name: String,
        /// The arguments, a JSON object.
        input: Value,
    },
    /// The result of a tool call, sent in a user turn.
    ToolResult {
        /// The call this answers.
        tool_use_id: String,
        /// The result: a string or blocks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Content>,
        /// Whether the tool failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    /// Extended thinking.
    Thinking {
        /// The reasoning text.
        thinking: String,
        /// Anthropic's signature over it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Any other block (`redacted_thinking`, `server_tool_use`, `document`, ...), kept verbatim.
    #[serde(untagged)]
    Other(Map),
}

/// The `source` of an image block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    /// Inline bytes.
    Base64 {
        /// `image/png`, `image/jpeg`, ...
        media_type: String,
        /// The base64 data.
        data: String,
    },
    /// A URL Anthropic fetches.
    Url {
        /// The `https:` URL.
        url: String,
    },
}

/// A tool definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolParam {
    /// The tool's name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema of its input.
    pub input_schema: Value,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolChoiceParam {
    /// `auto`, `any`, `none` or `tool`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The tool, for `tool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// At most one tool call per answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

/// A non-streamed answer (and the `message` of a stream's `message_start`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    /// `msg_...`.
    pub id: String,
    /// `"message"`; Anthropic always sends it, Bulkhead's ingress always writes it.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The model that answered.
    pub model: String,
    /// `"assistant"`.
    #[serde(default)]
    pub role: Option<String>,
    /// The answer's blocks (empty in `message_start`).
    #[serde(default)]
    pub content: Vec<Block>,
    /// Why generation stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// The stop sequence that matched, if one did.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Token counts.
    #[serde(default)]
    pub usage: AnthropicUsage,
}

/// `usage`; in `message_delta` only the counts that changed are present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnthropicUsage {
    /// Uncached input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u32>,
    /// Generated tokens (cumulative in `message_delta`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u32>,
    /// Input tokens written to the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u32>,
    /// Input tokens read from the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u32>,
}

impl AnthropicUsage {
    /// Take every count `other` has; keep the rest.
    pub fn update(&mut self, other: &AnthropicUsage) {
        let take = |mine: &mut Option<u32>, theirs: Option<u32>| {
            if theirs.is_some() {
                *mine = theirs;
            }
        };
        take(&mut self.input_tokens, other.input_tokens);
        take(&mut self.output_tokens, other.output_tokens);
        take(
            &mut self.cache_creation_input_tokens,
            other.cache_creation_input_tokens,
        );
        take(
            &mut self.cache_read_input_tokens,
            other.cache_read_input_tokens,
        );
    }
}

/// One event of a streamed answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The answer starts: id, model, input usage.
    MessageStart {
        /// The message so far (no content).
        message: MessagesResponse,
    },
    /// A content block starts.
    ContentBlockStart {
        /// The block's position.
        index: u32,
        /// The block, empty.
        content_block: Block,
    },
    /// A piece of a block.
    ContentBlockDelta {
        /// The block's position.
        index: u32,
        /// The piece.
        delta: BlockDelta,
    },
    /// A block is complete.
    ContentBlockStop {
        /// The block's position.
        index: u32,
    },
    /// Top-level changes: stop reason and cumulative usage.
    MessageDelta {
        /// `stop_reason`, `stop_sequence`.
        delta: MessageDeltaBody,
        /// Cumulative usage.
        #[serde(default)]
        usage: AnthropicUsage,
    },
    /// The answer is complete.
    MessageStop,
    /// A keep-alive.
    Ping,
    /// An error after the answer started (`overloaded_error`, ...).
    Error {
        /// `{"type", "message"}`.
        error: Value,
    },
    /// An event type this version does not know; Anthropic may add some, and they are ignored.
    #[serde(other)]
    Unknown,
}

/// The `delta` of a `content_block_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// More text.
    TextDelta {
        /// The text.
        text: String,
    },
    /// A fragment of a tool call's JSON input.
    InputJsonDelta {
        /// The fragment.
        partial_json: String,
    },
    /// More reasoning.
    ThinkingDelta {
        /// The reasoning text.
        thinking: String,
    },
    /// The thinking block's signature.
    SignatureDelta {
        /// The signature.
        signature: String,
    },
    /// Any other delta (`citations_delta`, ...), ignored.
    #[serde(other)]
    Unknown,
}

/// The `delta` of a `message_delta`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    /// Why generation stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// The stop sequence that matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
}
