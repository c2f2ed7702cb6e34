//! The OpenAI-compatible provider: Chat Completions (JSON and SSE) and Embeddings over HTTP.
//!
//! One pooled `reqwest` client per provider, built once in [`OpenAiProvider::new`]; any vendor
//! that speaks the OpenAI wire format is a different [`OpenAiConfig`], never different code.

mod call;
mod stream;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bulkhead_core::{
    ChatModel, ChatRequest, ChatResponse, ChatStream, EmbeddingModel, EmbeddingRequest,
    EmbeddingResponse, Error, Result, async_trait,
};
use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::Url;

use crate::Timeouts;
use call::Clock;
use stream::SseChunkStream;

/// The largest JSON answer accepted (a large batch of embeddings fits; a runaway body does not).
const MAX_JSON_BODY: usize = 256 * 1024 * 1024;

/// How to reach one OpenAI-compatible upstream.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The provider's name, e.g. `"openai"`; used in error messages.
    pub name: String,
    /// The API root, e.g. `"https://api.openai.com/v1"`; `/chat/completions` and `/embeddings`
    /// are appended.
    pub base_url: String,
    /// Sent as `Authorization: Bearer ...`. Never logged: `Debug` prints it redacted.
    pub api_key: Option<String>,
    /// The deadlines of every call.
    pub timeouts: Timeouts,
    /// Extra headers some vendors need (`OpenAI-Organization`, `HTTP-Referer`, `api-key`, ...).
    pub headers: Vec<(String, String)>,
}

impl OpenAiConfig {
    /// A configuration with no key, default timeouts and no extra headers.
    pub fn new(name: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            base_url: base_url.into(),
            api_key: None,
            timeouts: Timeouts::default(),
            headers: Vec::new(),
        }
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials too (`api-key` for Azure): print only the names.
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OpenAiConfig")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeouts", &self.timeouts)
            .field("headers", &header_names)
            .finish()
    }
}

/// A client of one OpenAI-compatible upstream. Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct OpenAiProvider {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    base_url: String,
    chat_url: Url,
    embeddings_url: Url,
    timeouts: Timeouts,
    client: reqwest::Client,
}

impl fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("name", &self.inner.name)
            .field("base_url", &self.inner.base_url)
            .field("timeouts", &self.inner.timeouts)
            .finish_non_exhaustive()
    }
}

impl OpenAiProvider {
    /// Build the provider and its pooled HTTP client.
    ///
    /// Fails with [`ErrorKind::BadRequest`](bulkhead_core::ErrorKind::BadRequest) when the base
    /// URL, the key or an extra header cannot be used, and with `Internal` when the TLS client
    /// cannot be built (no usable root certificates, for example).
    pub fn new(config: OpenAiConfig) -> Result<Self> {
        crate::install_crypto_provider();
        let name = config.name.as_str();
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let url = |path: &str| {
            Url::parse(&format!("{base_url}{path}")).map_err(|e| {
                Error::bad_request(format!(
                    "provider `{name}`: invalid base_url `{base_url}`: {e}"
                ))
            })
        };
        let chat_url = url("/chat/completions")?;
        let embeddings_url = url("/embeddings")?;

        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        if let Some(key) = &config.api_key {
            let mut value = HeaderValue::try_from(format!("Bearer {key}")).map_err(|_| {
                Error::bad_request(format!(
                    "provider `{name}`: the API key contains characters not allowed in a header"
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        for (header, value) in &config.headers {
            let bad =
                || Error::bad_request(format!("provider `{name}`: invalid header `{header}`"));
            let header = HeaderName::try_from(header.as_str()).map_err(|_| bad())?;
            let mut value = HeaderValue::try_from(value.as_str()).map_err(|_| bad())?;
            value.set_sensitive(true);
            headers.insert(header, value);
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
                chat_url,
                embeddings_url,
                timeouts: config.timeouts,
                client,
            }),
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }
}

const USER_AGENT_VALUE: &str = concat!("bulkhead/", env!("CARGO_PKG_VERSION"));

#[async_trait]
impl ChatModel for OpenAiProvider {
    async fn chat(&self, mut request: ChatRequest) -> Result<ChatResponse> {
        // OpenAI rejects `stream_options` unless the answer is streamed.
        request.stream = None;
        request.stream_options = None;
        let clock = Clock::start(&self.inner.timeouts, &request.extensions);
        let body = to_json(&self.inner.name, &request)?;
        self.inner
            .json_call(&self.inner.chat_url, body, &clock)
            .await
    }

    async fn stream(&self, mut request: ChatRequest) -> Result<ChatStream> {
        request.stream = Some(true);
        let clock = Clock::start(&self.inner.timeouts, &request.extensions);
        let body = to_json(&self.inner.name, &request)?;
        let response = self
            .inner
            .send(&self.inner.chat_url, body, true, &clock)
            .await?;
        let response = self.inner.check_status(response, &clock).await?;
        if is_json(&response) {
            // A 200 with a JSON body instead of an event stream: an error in disguise.
            return Err(self.inner.unexpected_json(response, &clock).await);
        }
        Ok(Box::pin(SseChunkStream::new(
            response,
            self.inner.clone(),
            clock,
        )))
    }
}

#[async_trait]
impl EmbeddingModel for OpenAiProvider {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        let clock = Clock::start(&self.inner.timeouts, &request.extensions);
        let body = to_json(&self.inner.name, &request)?;
        self.inner
            .json_call(&self.inner.embeddings_url, body, &clock)
            .await
    }
}

fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn to_json(provider: &str, value: &impl serde::Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| {
        Error::internal(format!(
            "provider `{provider}`: could not encode the request"
        ))
        .with_source(e)
    })
}
