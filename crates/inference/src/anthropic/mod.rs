//! The Anthropic Messages API provider: OpenAI-shaped requests in, OpenAI-shaped answers out,
//! Anthropic's wire format (`POST {base_url}/v1/messages`) in between.
//!
//! The translations are pure functions and a synchronous state machine ([`to_anthropic`],
//! [`to_openai`], [`StreamTranslator`]), separate from the HTTP plumbing, so they can be tested
//! on recorded fixtures, fuzzed, benchmarked, and reused in reverse by a `/v1/messages` ingress.
//! Anthropic has no embeddings API, so this provider implements only `ChatModel`.

pub mod ingress;
mod request;
mod response;
mod stream;
mod translate;
pub mod wire;

use std::fmt;
use std::sync::Arc;

use bulkhead_core::{ChatModel, ChatRequest, ChatResponse, ChatStream, Error, Result, async_trait};
use http::Uri;
use http::header::{HeaderMap, HeaderValue};

use crate::Timeouts;
use crate::upstream::{self, ConfigFields, Upstream};
pub use request::to_anthropic;
pub use response::{REASONING_KEY, finish_reason, to_openai, usage};
use stream::MessageStream;
pub use translate::{Progress, StreamTranslator};

/// The largest JSON answer accepted.
const MAX_JSON_BODY: usize = 64 * 1024 * 1024;

/// The `anthropic-version` sent unless configured otherwise.
pub const DEFAULT_VERSION: &str = "2023-06-01";

/// The `max_tokens` sent when the client set none (Anthropic requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// How to reach the Anthropic API (or a server speaking its wire format).
#[derive(Clone)]
pub struct AnthropicConfig {
    /// The provider's name, e.g. `"claude"`; used in error messages.
    pub name: String,
    /// The API root, e.g. `"https://api.anthropic.com"`; `/v1/messages` is appended.
    pub base_url: String,
    /// Sent as `x-api-key`. Never logged: `Debug` prints it redacted.
    pub api_key: Option<String>,
    /// The deadlines of every call.
    pub timeouts: Timeouts,
    /// Extra headers (`anthropic-beta`, a proxy's auth, ...); values are treated as secrets.
    pub headers: Vec<(String, String)>,
    /// `max_tokens` for requests that set neither `max_tokens` nor `max_completion_tokens`.
    pub default_max_tokens: u32,
    /// The `anthropic-version` header.
    pub version: String,
}

impl AnthropicConfig {
    /// A configuration with no key, default timeouts, no extra headers,
    /// [`DEFAULT_MAX_TOKENS`] and [`DEFAULT_VERSION`].
    pub fn new(name: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            base_url: base_url.into(),
            api_key: None,
            timeouts: Timeouts::default(),
            headers: Vec::new(),
            default_max_tokens: DEFAULT_MAX_TOKENS,
            version: DEFAULT_VERSION.to_owned(),
        }
    }
}

impl fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ConfigFields {
            name: &self.name,
            base_url: &self.base_url,
            api_key: self.api_key.as_deref(),
            timeouts: &self.timeouts,
            headers: &self.headers,
        }
        .debug(f, "AnthropicConfig")
        .field("default_max_tokens", &self.default_max_tokens)
        .field("version", &self.version)
        .finish()
    }
}

/// A client of the Anthropic Messages API. Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct AnthropicProvider {
    inner: Arc<Inner>,
}

struct Inner {
    upstream: Upstream,
    messages_url: Uri,
    default_max_tokens: u32,
}

impl fmt::Debug for AnthropicProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.upstream.debug_provider(f, "AnthropicProvider")
    }
}

impl AnthropicProvider {
    /// Build the provider and its pooled HTTP client.
    ///
    /// Fails with `BadRequest` when the base URL, key, version or an extra header cannot be
    /// used, and with `Internal` when the TLS client cannot be built.
    pub fn new(config: AnthropicConfig) -> Result<Self> {
        let name = config.name.as_str();
        let base_url = config.base_url.trim_end_matches('/');
        let messages_url = upstream::endpoint(name, base_url, "/v1/messages")?;

        let bad = |header: &str| {
            Error::bad_request(format!("provider `{name}`: invalid value for `{header}`"))
        };
        let mut auth = HeaderMap::new();
        let version =
            HeaderValue::try_from(config.version.as_str()).map_err(|_| bad("anthropic-version"))?;
        auth.insert("anthropic-version", version);
        if let Some(key) = &config.api_key {
            let value = upstream::sensitive(key).ok_or_else(|| bad("x-api-key"))?;
            auth.insert("x-api-key", value);
        }
        let upstream = Upstream::new(
            name,
            base_url,
            &messages_url,
            config.timeouts,
            auth,
            &config.headers,
            bad,
        )?;

        Ok(Self {
            inner: Arc::new(Inner {
                upstream,
                messages_url,
                default_max_tokens: config.default_max_tokens,
            }),
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.inner.upstream.name
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Result<Vec<u8>> {
        let mut body = to_anthropic(request, self.inner.default_max_tokens)?;
        body.stream = stream.then_some(true);
        self.inner.upstream.to_json(&body)
    }
}

#[async_trait]
impl ChatModel for AnthropicProvider {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let upstream = &self.inner.upstream;
        let clock = upstream.clock(&request.extensions);
        let body = self.body(&request, false)?;
        let answer: wire::MessagesResponse = upstream
            .json_call(&self.inner.messages_url, body, MAX_JSON_BODY, &clock)
            .await?;
        Ok(to_openai(answer))
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let upstream = &self.inner.upstream;
        let clock = upstream.clock(&request.extensions);
        let body = self.body(&request, true)?;
        let response = upstream
            .stream_call(&self.inner.messages_url, body, &clock)
            .await?;
        Ok(Box::pin(MessageStream::new(
            response,
            self.inner.clone(),
            clock,
            request.wants_stream_usage(),
        )))
    }
}
