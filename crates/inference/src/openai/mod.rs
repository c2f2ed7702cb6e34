//! The OpenAI-compatible provider: Chat Completions (JSON and SSE) and Embeddings over HTTP.
//!
//! One pooled HTTP client per provider, built once in [`OpenAiProvider::new`]; any vendor
//! that speaks the OpenAI wire format is a different [`OpenAiConfig`], never different code.

mod chunk_de;
pub mod presets;
mod response_de;
mod stream;

pub use chunk_de::ChunkDecoder;
pub use response_de::decode_response;

use std::fmt;
use std::sync::Arc;

use bulkhead_core::{
    ChatModel, ChatRequest, ChatResponse, ChatStream, EmbeddingModel, EmbeddingRequest,
    EmbeddingResponse, Error, Result, async_trait,
};
use http::Uri;
use http::header::{AUTHORIZATION, HeaderMap};

use crate::Timeouts;
use crate::upstream::{self, ConfigFields, Upstream};
use stream::SseChunkStream;

/// The largest JSON answer accepted (a large batch of embeddings fits; a runaway body does not).
const MAX_JSON_BODY: usize = 256 * 1024 * 1024;

/// How to reach one OpenAI-compatible upstream.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The provider's name, e.g. `"openai"`; used in error messages.
    pub name: String,
    /// The API root, e.g. `"https://api.openai.com/v1"`; `/chat/completions` and `/embeddings`
    /// are appended (before the query, if it has one). `{model}` in it is replaced by each
    /// request's model, for vendors that put the model in the path (Azure's deployments).
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
        ConfigFields {
            name: &self.name,
            base_url: &self.base_url,
            api_key: self.api_key.as_deref(),
            timeouts: &self.timeouts,
            headers: &self.headers,
        }
        .debug(f, "OpenAiConfig")
        .finish()
    }
}

/// A client of one OpenAI-compatible upstream. Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct OpenAiProvider {
    inner: Arc<Inner>,
}

struct Inner {
    upstream: Upstream,
    chat_url: Endpoint,
    embeddings_url: Endpoint,
}

/// An endpoint URL: fixed, or with the request's model in it (built per request).
enum Endpoint {
    Fixed(Uri),
    PerModel(String),
}

impl Endpoint {
    fn new(name: &str, base_url: &str, path: &str) -> Result<Self> {
        if base_url.contains(MODEL_PLACEHOLDER) {
            let template = upstream::endpoint_text(base_url, path);
            // Check the rest of the URL now, so a typo fails at start-up, not per request.
            upstream::endpoint(name, &template.replace(MODEL_PLACEHOLDER, "m"), "")?;
            Ok(Endpoint::PerModel(template))
        } else {
            upstream::endpoint(name, base_url, path).map(Endpoint::Fixed)
        }
    }

    fn url(&self, name: &str, model: &str) -> Result<std::borrow::Cow<'_, Uri>> {
        match self {
            Endpoint::Fixed(url) => Ok(std::borrow::Cow::Borrowed(url)),
            Endpoint::PerModel(template) => {
                let url = template.replace(MODEL_PLACEHOLDER, &path_segment(model));
                upstream::parse_url(&url)
                    .map(std::borrow::Cow::Owned)
                    .map_err(|e| {
                        Error::bad_request(format!(
                            "provider `{name}`: model `{model}` does not make a valid URL: {e}"
                        ))
                    })
            }
        }
    }
}

/// Where the model goes in a `base_url` template.
const MODEL_PLACEHOLDER: &str = "{model}";

/// `model` percent-encoded as one path segment (RFC 3986 unreserved characters stay).
fn path_segment(model: &str) -> String {
    let mut out = String::with_capacity(model.len());
    for byte in model.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.upstream.debug_provider(f, "OpenAiProvider")
    }
}

impl OpenAiProvider {
    /// Build the provider and its pooled HTTP client.
    ///
    /// Fails with [`ErrorKind::BadRequest`](bulkhead_core::ErrorKind::BadRequest) when the base
    /// URL, the key or an extra header cannot be used, and with `Internal` when the TLS client
    /// cannot be built (no usable root certificates, for example).
    pub fn new(config: OpenAiConfig) -> Result<Self> {
        let name = config.name.as_str();
        let base_url = config.base_url.trim_end_matches('/');
        let chat_url = Endpoint::new(name, base_url, "/chat/completions")?;
        let embeddings_url = Endpoint::new(name, base_url, "/embeddings")?;

        let mut auth = HeaderMap::new();
        if let Some(key) = &config.api_key {
            let value = upstream::sensitive(&format!("Bearer {key}")).ok_or_else(|| {
                Error::bad_request(format!(
                    "provider `{name}`: the API key contains characters not allowed in a header"
                ))
            })?;
            auth.insert(AUTHORIZATION, value);
        }
        // Every endpoint is on the host of the base URL (the model goes in the path or query).
        let target = upstream::endpoint(name, &base_url.replace(MODEL_PLACEHOLDER, "m"), "")?;
        let upstream = Upstream::new(
            name,
            base_url,
            &target,
            config.timeouts,
            auth,
            &config.headers,
            |header| Error::bad_request(format!("provider `{name}`: invalid header `{header}`")),
        )?;

        Ok(Self {
            inner: Arc::new(Inner {
                upstream,
                chat_url,
                embeddings_url,
            }),
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.inner.upstream.name
    }
}

#[async_trait]
impl ChatModel for OpenAiProvider {
    async fn chat(&self, mut request: ChatRequest) -> Result<ChatResponse> {
        // OpenAI rejects `stream_options` unless the answer is streamed.
        request.stream = None;
        request.stream_options = None;
        let upstream = &self.inner.upstream;
        let clock = upstream.clock(&request.extensions);
        let url = self.inner.chat_url.url(&upstream.name, &request.model)?;
        let body = upstream.chat_json(&request)?;
        upstream
            .json_call_with(&url, body, MAX_JSON_BODY, &clock, decode_response)
            .await
    }

    async fn stream(&self, mut request: ChatRequest) -> Result<ChatStream> {
        request.stream = Some(true);
        let upstream = &self.inner.upstream;
        let clock = upstream.clock(&request.extensions);
        let url = self.inner.chat_url.url(&upstream.name, &request.model)?;
        let body = upstream.chat_json(&request)?;
        let response = upstream.stream_call(&url, body, &clock).await?;
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
        let upstream = &self.inner.upstream;
        let clock = upstream.clock(&request.extensions);
        let url = self
            .inner
            .embeddings_url
            .url(&upstream.name, &request.model)?;
        let body = upstream.to_json(&request)?;
        upstream.json_call(&url, body, MAX_JSON_BODY, &clock).await
    }
}
