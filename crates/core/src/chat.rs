//! Chat Completions request and response types, shaped exactly like the OpenAI wire format.
//!
//! Every struct keeps the fields it does not know in a flattened `extra` map, so a request that
//! carries a vendor's newest parameter passes through Bulkhead unchanged.

use http::Extensions;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::Nullable;

/// A JSON object, used for the fields a type does not model itself.
pub type Map = serde_json::Map<String, Value>;

/// A `POST /v1/chat/completions` request body.
///
/// Sampling numbers are kept as [`serde_json::Number`] so `0` stays `0` and `0.7` stays `0.7`
/// when a request is forwarded; read them with `as_f64()`.
///
/// Besides the wire fields it carries typed [`Extensions`] (request id, tenant, deadline, cache
/// directives) that travel with the request through the stack and are never serialized.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChatRequest {
    /// The model name the client asked for; routing rewrites it to the upstream model.
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    /// How many choices to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Whether the answer is streamed as server-sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Options for streamed answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Sequences at which generation stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Legacy cap on generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Cap on generated tokens, reasoning included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Penalty for tokens already present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<Number>,
    /// Penalty proportional to token frequency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<Number>,
    /// Seed for best-effort deterministic sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// An end-user identifier (does not change the output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// How the model chooses among the tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether several tool calls may come in one answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// The format the answer must take (text, JSON object, JSON schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Every other field, kept and passed through to providers that understand it.
    #[serde(flatten)]
    pub extra: Map,
    /// Typed, non-serialized values that travel with the request (see [`crate::RequestId`]).
    #[serde(skip)]
    pub extensions: Extensions,
}

impl ChatRequest {
    /// A request for `model` with the given messages and every option unset.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            ..Self::default()
        }
    }

    /// Whether the client asked for a streamed answer.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Whether a streamed answer should end with a usage chunk.
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// The effective cap on generated tokens, if the client set one.
    pub fn token_limit(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }
}

/// `stream_options` of a chat request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StreamOptions {
    /// Ask for a final chunk that carries the usage of the whole answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map,
}

/// `stop`: one sequence or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// A single stop sequence.
    One(String),
    /// Several stop sequences.
    Many(Vec<String>),
}

impl Stop {
    /// The stop sequences as a slice-like list.
    pub fn sequences(&self) -> Vec<&str> {
        match self {
            Stop::One(s) => vec![s.as_str()],
            Stop::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions from the application.
    System,
    /// Instructions from the application (newer name used by reasoning models).
    Developer,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call.
    Tool,
    /// The result of a legacy function call.
    Function,
    /// A role this version does not know, kept verbatim.
    #[serde(untagged)]
    Other(String),
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Its content: text or a list of parts. Serialized as `null` when absent, as OpenAI does
    /// for assistant messages that only call tools.
    #[serde(default)]
    pub content: Option<MessageContent>,
    /// An optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tool calls made by the assistant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// For `role = "tool"`: the call this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Unknown fields (`refusal`, `audio`, ...), kept.
    #[serde(flatten)]
    pub extra: Map,
}

impl Message {
    /// A message with the given role and text content.
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(MessageContent::Text(text.into())),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            extra: Map::new(),
        }
    }

    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Self::new(Role::System, text)
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::new(Role::User, text)
    }

    /// An assistant message.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::new(Role::Assistant, text)
    }

    /// The concatenated text of the message (text parts only).
    pub fn text(&self) -> String {
        match &self.content {
            None => String::new(),
            Some(content) => content.text(),
        }
    }
}

/// A message's content: a plain string or a list of typed parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Multi-part content (text, images, audio, files).
    Parts(Vec<ContentPart>),
}

impl MessageContent {
    /// The text of the content; for parts, the text parts joined without separator.
    pub fn text(&self) -> String {
        match self {
            MessageContent::Text(s) => s.clone(),
            MessageContent::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }
}

impl From<String> for MessageContent {
    fn from(value: String) -> Self {
        MessageContent::Text(value)
    }
}

impl From<&str> for MessageContent {
    fn from(value: &str) -> Self {
        MessageContent::Text(value.to_owned())
    }
}

/// One part of multi-part content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// A text part.
    Text {
        /// The text.
        text: String,
        /// Unknown fields (`cache_control`, ...), kept.
        #[serde(flatten)]
        extra: Map,
    },
    /// An image, by URL or `data:` URL.
    ImageUrl {
        /// The image reference.
        image_url: ImageUrl,
        /// Unknown fields, kept.
        #[serde(flatten)]
        extra: Map,
    },
    /// Any other part type (`input_audio`, `file`, `refusal`, ...), kept verbatim.
    #[serde(untagged)]
    Other(Map),
}

/// The `image_url` of an image content part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// An `https:` or `data:` URL.
    pub url: String,
    /// `low`, `high` or `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// The tool type; `"function"` for function tools.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function, for function tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDefinition>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map,
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    /// The function's name.
    pub name: String,
    /// What the function does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
    /// Whether the arguments must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map,
}

/// `tool_choice`: a mode, or one named function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `"none"`, `"auto"` or `"required"`.
    Mode(ToolChoiceMode),
    /// `{"type": "function", "function": {"name": ...}}`.
    Named(NamedToolChoice),
    /// Any other form, kept verbatim.
    Other(serde_json::Value),
}

/// The string forms of `tool_choice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoiceMode {
    /// Never call a tool.
    None,
    /// The model decides.
    Auto,
    /// Call at least one tool.
    Required,
}

/// `tool_choice` naming one function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedToolChoice {
    /// `"function"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function to call.
    pub function: FunctionName,
}

/// A function named by `tool_choice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionName {
    /// The function's name.
    pub name: String,
}

/// A tool call made by the assistant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id, echoed by the tool message that answers it.
    pub id: String,
    /// `"function"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function and its arguments.
    pub function: FunctionCall,
}

/// The function part of a tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    pub name: String,
    /// The arguments, as a JSON-encoded string.
    pub arguments: String,
}

/// `response_format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON following a schema.
    JsonSchema {
        /// `{"name", "schema", "strict", ...}`, kept as sent.
        json_schema: serde_json::Value,
    },
    /// Any other form, kept verbatim.
    #[serde(untagged)]
    Other(Map),
}

/// A non-streamed chat completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatResponse {
    /// The completion id.
    pub id: String,
    /// Always `"chat.completion"`.
    pub object: String,
    /// Unix time, in seconds, of creation.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// The generated choices.
    pub choices: Vec<Choice>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The processing tier that served the request (`"default"`, `"flex"`, ...), as OpenAI
    /// reports it.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub service_tier: Nullable<String>,
    /// The backend configuration that answered, as OpenAI reports it.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub system_fingerprint: Nullable<String>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map,
}

/// One choice of a chat completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    /// Its position.
    pub index: u32,
    /// The generated message.
    pub message: Message,
    /// Log probabilities of the message's tokens, when asked for (`null` otherwise, from
    /// OpenAI), kept as sent.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub logprobs: Nullable<Value>,
    /// Why generation stopped; serialized as `null` when unknown.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map,
}

/// Why generation stopped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end or a stop sequence.
    Stop,
    /// The token limit was reached.
    Length,
    /// The model called tools.
    ToolCalls,
    /// Content was filtered.
    ContentFilter,
    /// A legacy function call.
    FunctionCall,
    /// A reason this version does not know, kept verbatim.
    #[serde(untagged)]
    Other(String),
}

impl FinishReason {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::FunctionCall => "function_call",
            FinishReason::Other(s) => s,
        }
    }
}

/// Token counts of a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    #[serde(default)]
    pub completion_tokens: u32,
    /// The sum of both.
    pub total_tokens: u32,
    /// Breakdown of the prompt tokens.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub prompt_tokens_details: Nullable<PromptTokensDetails>,
    /// Breakdown of the completion tokens.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub completion_tokens_details: Nullable<CompletionTokensDetails>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map,
}

impl Usage {
    /// Usage with the given prompt and completion counts and a consistent total.
    pub fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            ..Self::default()
        }
    }

    /// The counts alone: these three and the breakdowns' known counts, without unknown
    /// fields, so copying them allocates nothing. For who reads only the counts (metrics,
    /// prices) and keeps them past the answer.
    pub fn counts(&self) -> Self {
        Self {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            total_tokens: self.total_tokens,
            prompt_tokens_details: match &self.prompt_tokens_details {
                Nullable::Absent => Nullable::Absent,
                Nullable::Null => Nullable::Null,
                Nullable::Value(d) => Nullable::Value(PromptTokensDetails {
                    cached_tokens: d.cached_tokens,
                    audio_tokens: d.audio_tokens,
                    cache_write_tokens: d.cache_write_tokens,
                    extra: Map::new(),
                }),
            },
            completion_tokens_details: match &self.completion_tokens_details {
                Nullable::Absent => Nullable::Absent,
                Nullable::Null => Nullable::Null,
                Nullable::Value(d) => Nullable::Value(CompletionTokensDetails {
                    reasoning_tokens: d.reasoning_tokens,
                    audio_tokens: d.audio_tokens,
                    accepted_prediction_tokens: d.accepted_prediction_tokens,
                    rejected_prediction_tokens: d.rejected_prediction_tokens,
                    extra: Map::new(),
                }),
            },
            extra: Map::new(),
        }
    }

    /// Prompt tokens served from the provider's prompt cache, when reported.
    pub fn cached_tokens(&self) -> u32 {
        self.prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0)
    }

    /// Reasoning tokens among the completion tokens, when reported.
    pub fn reasoning_tokens(&self) -> u32 {
        self.completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0)
    }
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PromptTokensDetails {
    /// Prompt tokens read from the provider's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u32>,
    /// Audio input tokens in the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u32>,
    /// Prompt tokens written to the provider's cache (Anthropic's cache creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u32>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map,
}

/// `usage.completion_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CompletionTokensDetails {
    /// Tokens spent on hidden reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u32>,
    /// Audio tokens generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u32>,
    /// Tokens of a Predicted Output that appeared in the completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_prediction_tokens: Option<u32>,
    /// Tokens of a Predicted Output that did not (billed as completion tokens all the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_prediction_tokens: Option<u32>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map,
}
