//! The Anthropic Messages API provider: OpenAI-shaped requests in, OpenAI-shaped answers out,
//! Anthropic's wire format (`POST {base_url}/v1/messages`) in between.
//!
//! The translations are pure functions and a synchronous state machine ([`to_anthropic`],
//! [`to_openai`], [`StreamTranslator`]), separate from the HTTP plumbing, so they can be tested
//! on recorded fixtures, fuzzed, benchmarked, and reused in reverse by a `/v1/messages` ingress.
//! Anthropic has no embeddings API, so this provider implements only `ChatModel`.

mod call;
mod request;
mod response;
mod stream;
mod translate;
pub mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bulkhead_core::{ChatModel, ChatRequest, ChatResponse, ChatStream, Error, Result, async_trait};
use http::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::Url;

use crate::Timeouts;
use call::Clock;
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
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("AnthropicConfig")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeouts", &self.timeouts)
            .field("headers", &header_names)
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
    name: Arc<str>,
    base_url: String,
    messages_url: Url,
    timeouts: Timeouts,
    default_max_tokens: u32,
    client: reqwest::Client,
}

impl fmt::Debug for AnthropicProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicProvider")
            .field("name", &self.inner.name)
            .field("base_url", &self.inner.base_url)
            .field("timeouts", &self.inner.timeouts)
            .finish_non_exhaustive()
    }
}

impl AnthropicProvider {
    /// Build the provider and its pooled HTTP client.
    ///
    /// Fails with `BadRequest` when the base URL, key, version or an extra header cannot be
    /// used, and with `Internal` when the TLS client cannot be built.
    pub fn new(config: AnthropicConfig) -> Result<Self> {
        crate::install_crypto_provider();
        let name = config.name.as_str();
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let messages_url = Url::parse(&format!("{base_url}/v1/messages")).map_err(|e| {
            Error::bad_request(format!(
                "provider `{name}`: invalid base_url `{base_url}`: {e}"
            ))
        })?;

        let bad = |header: &str| {
            Error::bad_request(format!("provider `{name}`: invalid value for `{header}`"))
        };
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        let version =
            HeaderValue::try_from(config.version.as_str()).map_err(|_| bad("anthropic-version"))?;
        headers.insert("anthropic-version", version);
        if let Some(key) = &config.api_key {
            let mut value = HeaderValue::try_from(key.as_str()).map_err(|_| bad("x-api-key"))?;
            value.set_sensitive(true);
            headers.insert("x-api-key", value);
        }
        for (header, value) in &config.headers {
            let name = HeaderName::try_from(header.as_str()).map_err(|_| bad(header))?;
            let mut value = HeaderValue::try_from(value.as_str()).map_err(|_| bad(header))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }

        let client = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.timeouts.connect)
            .tcp_nodelay(true)
            .tcp_keepalive(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| {
                Error::internal(format!(
                    "provider `{name}`: could not build the HTTP client"
                ))
                .with_source(e)
            })?;

        Ok(Self {
            inner: Arc::new(Inner {
                name: Arc::from(name),
                base_url,
                messages_url,
                timeouts: config.timeouts,
                default_max_tokens: config.default_max_tokens,
                client,
            }),
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Result<Vec<u8>> {
        let mut body = to_anthropic(request, self.inner.default_max_tokens)?;
        body.stream = stream.then_some(true);
        serde_json::to_vec(&body).map_err(|e| {
            Error::internal(format!(
                "provider `{}`: could not encode the request",
                self.inner.name
            ))
            .with_source(e)
        })
    }
}

const USER_AGENT_VALUE: &str = concat!("bulkhead/", env!("CARGO_PKG_VERSION"));

#[async_trait]
impl ChatModel for AnthropicProvider {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let clock = Clock::start(&self.inner.timeouts, &request.extensions);
        let body = self.body(&request, false)?;
        let answer: wire::MessagesResponse = self
            .inner
            .json_call(&self.inner.messages_url, body, &clock)
            .await?;
        Ok(to_openai(answer))
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let clock = Clock::start(&self.inner.timeouts, &request.extensions);
        let body = self.body(&request, true)?;
        let response = self
            .inner
            .send(&self.inner.messages_url, body, true, &clock)
            .await?;
        let response = self.inner.check_status(response, &clock).await?;
        if is_json(&response) {
            // A 200 with a JSON body instead of an event stream: an error in disguise.
            return Err(self.inner.unexpected_json(response, &clock).await);
        }
        Ok(Box::pin(MessageStream::new(
            response,
            self.inner.clone(),
            clock,
            request.wants_stream_usage(),
        )))
    }
}

fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
