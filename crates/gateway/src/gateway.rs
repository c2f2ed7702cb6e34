//! [`Gateway`]: the served models, resolved once, and the [`axum::Router`] that serves them.
//!
//! A gateway is built either from a [`Config`](crate::Config) ([`Gateway::build`]) or by hand
//! from your own models ([`Gateway::builder`]); the HTTP API is the same either way. Cloning is
//! cheap: every clone shares one immutable table of routes.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use bulkhead_core::{ChatModel, EmbeddingModel};
use bulkhead_observability::PrometheusHandle;
use bytes::Bytes;
use http::HeaderValue;

use crate::config::{ConfigError, Diagnostic, KeyConfig, ServerConfig};
use crate::http::GatewayService;
use crate::http::auth::Keys;
use crate::http::secrets::Secrets;
use bulkhead_cache::Store;
use bulkhead_limits::Limiter;

/// The OpenAI-compatible HTTP API over a fixed set of models.
///
/// ```
/// use bulkhead_gateway::{Config, Gateway};
///
/// let gateway = Gateway::build(&Config::embedded_default()).unwrap();
/// let app: axum::Router = gateway.router();
/// // axum::serve(listener, app).await
/// # drop(app);
/// ```
#[derive(Clone)]
pub struct Gateway {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Looked up per request; the names come from the configuration, so a fast hash.
    pub(crate) routes: foldhash::HashMap<Box<str>, Arc<Route>>,
    /// The `GET /v1/models` body, serialized once: the list never changes.
    pub(crate) models_body: Bytes,
    pub(crate) model_ids: Vec<Box<str>>,
    pub(crate) created: u64,
    pub(crate) max_body_bytes: usize,
    pub(crate) keys: Keys,
    /// Counts every key's limits; in memory unless `[limits] redis_url` shares it.
    pub(crate) limiter: Limiter,
    /// The response cache's store, kept so a config reload with the same `[cache]` keeps it.
    pub(crate) cache_store: Option<Arc<dyn Store>>,
}

/// Where one model name is served, with the response headers precomputed.
pub(crate) struct Route {
    pub(crate) chat: Arc<dyn ChatModel>,
    pub(crate) embeddings: Option<Arc<dyn EmbeddingModel>>,
    /// Replaces `request.model` before the call; `None` passes the client's name through.
    pub(crate) upstream_model: Option<String>,
    pub(crate) provider: Option<Arc<str>>,
    pub(crate) provider_header: Option<HeaderValue>,
    /// The gateway's secrets, scrubbed from error bodies.
    pub(crate) secrets: Arc<Secrets>,
    pub(crate) model_header: Option<HeaderValue>,
}

impl Gateway {
    /// Start building a gateway from models you construct yourself.
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// Construct every provider of `config` once (one pooled client each) and resolve its
    /// models. Fails when a model targets a provider that is not defined, when names repeat,
    /// or when a provider cannot be constructed.
    pub fn build(config: &crate::Config) -> Result<Gateway, ConfigError> {
        crate::build::from_config(config)
    }

    /// The HTTP API as an axum `Router`: `POST /v1/chat/completions`, `POST /v1/embeddings`,
    /// `GET /v1/models`, `GET /v1/models/{id}`, `GET /healthz`, `GET /readyz`. Merge or nest
    /// it into your own app, or serve it as it is; unknown paths under it answer 404 and wrong
    /// methods 405, both in OpenAI's error shape.
    pub fn router(&self) -> Router {
        crate::http::router(self, None)
    }

    /// The same API as a plain `tower` service, without the dispatch of an outer axum
    /// `Router`: what to serve when nothing is nested or merged beside it (the reference
    /// server serves this, through [`LiveRouter`](crate::serve::LiveRouter)).
    pub fn service(&self) -> GatewayService {
        crate::http::service(self, None)
    }

    /// The model names clients may send, in the order they were configured.
    pub fn model_names(&self) -> impl Iterator<Item = &str> {
        self.inner.model_ids.iter().map(|s| &**s)
    }

    /// The largest request body accepted.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// The HTTP API with `GET /metrics` added, rendering Prometheus text from `metrics` (the
    /// handle of the exporter the application installed; see
    /// `bulkhead_observability::install_prometheus`).
    pub fn router_with_metrics(&self, metrics: PrometheusHandle) -> Router {
        crate::http::router(self, Some(metrics))
    }

    /// [`Gateway::service`] with `GET /metrics` added, as [`Gateway::router_with_metrics`].
    pub fn service_with_metrics(&self, metrics: PrometheusHandle) -> GatewayService {
        crate::http::service(self, Some(metrics))
    }

    /// Whether callers must present a virtual key; without `[[keys]]` the gateway is open.
    pub fn requires_keys(&self) -> bool {
        !self.inner.keys.is_empty()
    }
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("models", &self.inner.model_ids)
            .field("max_body_bytes", &self.inner.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// One model name and the models that serve it, for [`GatewayBuilder::route`].
#[derive(Clone)]
pub struct ModelRoute {
    name: String,
    chat: Arc<dyn ChatModel>,
    embeddings: Option<Arc<dyn EmbeddingModel>>,
    upstream: Option<(String, String)>,
}

impl ModelRoute {
    /// Serve `name` with `chat`. The request's `model` reaches `chat` unchanged unless
    /// [`upstream`](Self::upstream) says otherwise.
    pub fn new(name: impl Into<String>, chat: Arc<dyn ChatModel>) -> Self {
        Self {
            name: name.into(),
            chat,
            embeddings: None,
            upstream: None,
        }
    }

    /// Also serve `POST /v1/embeddings` for this name.
    pub fn embeddings(mut self, embeddings: Arc<dyn EmbeddingModel>) -> Self {
        self.embeddings = Some(embeddings);
        self
    }

    /// Rewrite `request.model` to `model` before calling, and report `provider` and `model` in
    /// the `x-bulkhead-provider` and `x-bulkhead-model` response headers.
    pub fn upstream(mut self, provider: impl Into<String>, model: impl Into<String>) -> Self {
        self.upstream = Some((provider.into(), model.into()));
        self
    }
}

impl fmt::Debug for ModelRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelRoute")
            .field("name", &self.name)
            .field("embeddings", &self.embeddings.is_some())
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Gateway`] from models constructed in code, no config file needed.
///
/// ```
/// use std::sync::Arc;
/// use bulkhead_gateway::Gateway;
/// use bulkhead_inference::{SimulatedConfig, SimulatedProvider};
///
/// let model = Arc::new(SimulatedProvider::new(SimulatedConfig::default()));
/// let gateway = Gateway::builder()
///     .model("chat", model.clone(), Some(model))
///     .build()
///     .unwrap();
/// assert_eq!(gateway.model_names().collect::<Vec<_>>(), ["chat"]);
/// ```
#[derive(Debug)]
pub struct GatewayBuilder {
    routes: Vec<ModelRoute>,
    max_body_bytes: usize,
    keys: Vec<KeyConfig>,
    limiter: Option<Limiter>,
    cache_store: Option<Arc<dyn Store>>,
    secrets: Vec<String>,
}

impl Default for GatewayBuilder {
    fn default() -> Self {
        Self {
            routes: Vec::new(),
            max_body_bytes: ServerConfig::DEFAULT_MAX_BODY_BYTES,
            keys: Vec::new(),
            limiter: None,
            cache_store: None,
            secrets: Vec::new(),
        }
    }
}

impl GatewayBuilder {
    /// Serve `name` with `chat`, and embeddings with `embeddings` when given (without it,
    /// `POST /v1/embeddings` for this name answers 400).
    pub fn model(
        self,
        name: impl Into<String>,
        chat: Arc<dyn ChatModel>,
        embeddings: Option<Arc<dyn EmbeddingModel>>,
    ) -> Self {
        let mut route = ModelRoute::new(name, chat);
        route.embeddings = embeddings;
        self.route(route)
    }

    /// Serve one [`ModelRoute`].
    pub fn route(mut self, route: ModelRoute) -> Self {
        self.routes.push(route);
        self
    }

    /// The largest request body accepted (default 4 MiB); larger bodies get 413.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Require one of these virtual keys on every `/v1` request (401 without one; 403 for a
    /// model outside a key's `models`). With none, the gateway is open.
    pub fn keys(mut self, keys: impl IntoIterator<Item = KeyConfig>) -> Self {
        self.keys.extend(keys);
        self
    }

    /// Count the keys' limits with `limiter` (default: in this process's memory). Pass a
    /// Redis-backed one to share counters with every replica, or the one a previous gateway
    /// used to carry counters across a config reload.
    pub fn limiter(mut self, limiter: Limiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Never let `secret` (a provider's API key, say) leave in an error body: an upstream error
    /// message quoting it has it replaced by `[redacted]`. Keys of config-built providers are
    /// added by [`Gateway::build`].
    pub fn redact(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// Remember the cache store the routes use, for the next reload to carry over.
    pub(crate) fn cache_store(mut self, store: Option<Arc<dyn Store>>) -> Self {
        self.cache_store = store;
        self
    }

    /// The gateway. Fails when a name is served twice, a name or upstream cannot be sent in a
    /// response header, or the body limit is 0.
    pub fn build(self) -> Result<Gateway, ConfigError> {
        let mut problems = Vec::new();
        if self.max_body_bytes == 0 {
            problems.push(Diagnostic::unplaced(
                "max_body_bytes must be greater than 0",
            ));
        }
        let secrets = Arc::new(Secrets::new(self.secrets));
        let mut routes =
            foldhash::HashMap::with_capacity_and_hasher(self.routes.len(), Default::default());
        let mut model_ids = Vec::with_capacity(self.routes.len());
        for route in self.routes {
            let (provider, upstream_model, provider_header, model_header) = match route.upstream {
                Some((provider, model)) => {
                    let provider_header = header_value(&provider, "provider", &mut problems);
                    let model_header = header_value(&model, "upstream model", &mut problems);
                    (
                        Some(Arc::from(provider)),
                        Some(model),
                        provider_header,
                        model_header,
                    )
                }
                None => (None, None, None, None),
            };
            let name: Box<str> = route.name.into();
            let entry = Arc::new(Route {
                chat: route.chat,
                embeddings: route.embeddings,
                upstream_model,
                provider,
                provider_header,
                model_header,
                secrets: secrets.clone(),
            });
            if routes.insert(name.clone(), entry).is_some() {
                problems.push(Diagnostic::unplaced(format!(
                    "model `{name}` is defined more than once; model names must be unique"
                )));
            } else {
                model_ids.push(name);
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError::new("gateway", problems));
        }
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let models_body = crate::http::models::list_body(&model_ids, created);
        Ok(Gateway {
            inner: Arc::new(Inner {
                routes,
                models_body,
                model_ids,
                created,
                max_body_bytes: self.max_body_bytes,
                keys: Keys::new(&self.keys),
                limiter: self.limiter.unwrap_or_else(Limiter::in_memory),
                cache_store: self.cache_store,
            }),
        })
    }
}

fn header_value(value: &str, what: &str, problems: &mut Vec<Diagnostic>) -> Option<HeaderValue> {
    match HeaderValue::from_str(value) {
        Ok(v) => Some(v),
        Err(_) => {
            problems.push(Diagnostic::unplaced(format!(
                "{what} `{value}` must be printable ASCII: it is sent in a response header"
            )));
            None
        }
    }
}
