//! `Observe`: the decorator that measures, traces and prices model calls.
//!
//! One type, used at two places of a stack (see ARCHITECTURE.md):
//!
//! - [`Observe::request`], outermost, sees every request once, including cache hits and
//!   fallbacks: `bulkhead_requests_total`, `bulkhead_in_flight_requests`,
//!   `bulkhead_gateway_overhead_seconds`, the cost (`bulkhead_cost_usd_total` and
//!   [`CallReport::set_cost_usd`](bulkhead_core::CallReport::set_cost_usd)), and a
//!   `gen_ai.request` span.
//! - [`Observe::attempt`], innermost, around one provider, sees each upstream attempt:
//!   `gen_ai_client_operation_duration_seconds`, `gen_ai_client_token_usage`, the stream
//!   chunk timings, and a `gen_ai.attempt` span; it adds its time to the request's
//!   [`UpstreamTime`](crate::UpstreamTime) so the overhead excludes it.
//!
//! Splitting the metrics this way counts each fact exactly once: tokens when a provider
//! reports them (a cache hit consumes none), requests and cost once per request however many
//! attempts it took. A call that is dropped before it ends (the client went away) is still
//! recorded, with outcome `cancelled`. Streams are recorded when they end.

mod keys;

/// The `tracing` target of the `gen_ai.*` spans.
pub(crate) const SPAN_TARGET: &str = "bulkhead_observability";

mod record;
mod stream;

use std::sync::{Arc, OnceLock};

use bulkhead_core::{
    ChatModel, ChatRequest, ChatResponse, ChatStream, EmbeddingModel, EmbeddingRequest,
    EmbeddingResponse, Result, async_trait,
};
use tracing::Instrument as _;

use crate::Pricing;
use crate::names::OK;
use keys::{AttemptKeys, KeyCache, RequestKeys};
use record::{Operation, Recorder};

/// Records metrics, spans and cost of the calls it passes to its inner model; see
/// [`Observe::request`] and [`Observe::attempt`] for what each scope records.
///
/// Each fact is counted exactly once: tokens when a provider reports them (a cache hit
/// consumes none), requests and cost once per request however many attempts it took. A call
/// dropped before it ends (the client went away) is still recorded, with outcome `cancelled`;
/// a stream is recorded when it ends.
///
/// ```
/// use std::sync::Arc;
/// use bulkhead_observability::{Observe, Pricing, Price};
/// # use bulkhead_core::{ChatModel, ChatRequest, ChatResponse, ChatStream, Result, Error, async_trait};
/// # struct Provider;
/// # #[async_trait]
/// # impl ChatModel for Provider {
/// #     async fn chat(&self, _: ChatRequest) -> Result<ChatResponse> { Err(Error::internal("example")) }
/// #     async fn stream(&self, _: ChatRequest) -> Result<ChatStream> { Err(Error::internal("example")) }
/// # }
/// let pricing = Arc::new(Pricing::builtin().with_price("my-model", Price::new(0.1, 0.2)));
/// let attempt = Observe::attempt(Provider, "my-provider");
/// let stack = Observe::request(attempt)
///     .pricing(pricing)
///     .known_models(["my-model"])
///     .log_prompts(false);
/// # let _: &dyn ChatModel = &stack;
/// ```
#[derive(Debug, Clone)]
pub struct Observe<M> {
    inner: M,
    settings: Settings,
}

/// Builds [`Observe`] decorators that share one set of settings (a `tower_layer::Layer`).
#[derive(Debug, Clone)]
pub struct ObserveLayer(Settings);

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) scope: Scope,
    pub(crate) log_prompts: bool,
    pub(crate) pricing: Arc<Pricing>,
    /// When set, request-scope `model` labels outside it become `other`.
    /// Looked up per request: a fast hash, since the names come from the configuration.
    pub(crate) known_models: Option<Arc<foldhash::HashSet<Arc<str>>>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// Around the whole request.
    Request(Arc<KeyCache<RequestKeys>>),
    /// Around one provider's attempts; the provider's configured name.
    Attempt(Arc<str>, Arc<KeyCache<AttemptKeys>>),
}

impl Scope {
    fn request() -> Self {
        Scope::Request(Arc::new(KeyCache::new(Arc::from(""))))
    }

    fn attempt(provider: Arc<str>) -> Self {
        Scope::Attempt(provider.clone(), Arc::new(KeyCache::new(provider)))
    }
}

fn builtin_pricing() -> Arc<Pricing> {
    static BUILTIN: OnceLock<Arc<Pricing>> = OnceLock::new();
    BUILTIN.get_or_init(|| Arc::new(Pricing::builtin())).clone()
}

impl Settings {
    fn new(scope: Scope) -> Self {
        Self {
            scope,
            log_prompts: false,
            pricing: builtin_pricing(),
            known_models: None,
        }
    }
}

/// The settings shared by [`Observe`] and [`ObserveLayer`].
macro_rules! settings_methods {
    () => {
        /// Record prompts and completions in spans (`gen_ai.input.messages`,
        /// `gen_ai.output.messages`). Off by default: they may hold personal data.
        pub fn log_prompts(mut self, on: bool) -> Self {
            self.settings_mut().log_prompts = on;
            self
        }

        /// The price table the request scope computes cost from (default: the built-in one).
        pub fn pricing(mut self, pricing: Arc<Pricing>) -> Self {
            self.settings_mut().pricing = pricing;
            self
        }

        /// The model names the request scope may use as its `model` label; any other name a
        /// client sends is labelled `other`, so made-up model names cannot mint new series.
        /// Without it, the requested name is the label (fine when unknown models are rejected
        /// before the stack).
        pub fn known_models<I, S>(mut self, models: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<Arc<str>>,
        {
            self.settings_mut().known_models =
                Some(Arc::new(models.into_iter().map(Into::into).collect()));
            self
        }
    };
}

impl<M> Observe<M> {
    /// Observe whole requests (outermost in a stack, outside the cache and the router).
    ///
    /// Records `bulkhead_requests_total{model,outcome}`, `bulkhead_in_flight_requests`,
    /// `bulkhead_gateway_overhead_seconds`, the cost (`bulkhead_cost_usd_total{model}` and
    /// [`CallReport::set_cost_usd`](bulkhead_core::CallReport::set_cost_usd), zero on a cache
    /// hit) and a `gen_ai.request` span. `model` is the name the client asked for.
    pub fn request(inner: M) -> Self {
        Self {
            inner,
            settings: Settings::new(Scope::request()),
        }
    }

    /// Observe each upstream attempt of `provider` (its configured name, the
    /// `gen_ai_provider_name` label); wrap the provider itself.
    ///
    /// Records `gen_ai_client_operation_duration_seconds`, `gen_ai_client_token_usage`, the
    /// stream timings (`..._time_to_first_chunk_seconds`, `..._time_per_output_chunk_seconds`)
    /// and a `gen_ai.attempt` span, labelled with the model sent upstream; adds its time to
    /// the request's [`UpstreamTime`](crate::UpstreamTime).
    pub fn attempt(inner: M, provider: impl Into<Arc<str>>) -> Self {
        Self {
            inner,
            settings: Settings::new(Scope::attempt(provider.into())),
        }
    }

    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    settings_methods!();

    /// The wrapped model.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    fn recorder(
        &self,
        operation: Operation,
        model: &str,
        extensions: &mut http::Extensions,
        prompt: impl FnOnce() -> String,
    ) -> Recorder {
        Recorder::begin(
            &self.settings,
            operation,
            model,
            extensions,
            self.settings.log_prompts.then(prompt),
        )
    }

    /// A chat request's recorder (its prompt: the messages).
    fn chat_recorder(&self, request: &mut ChatRequest) -> Recorder {
        self.recorder(
            Operation::Chat,
            &request.model,
            &mut request.extensions,
            || serde_json::to_string(&request.messages).unwrap_or_default(),
        )
    }
}

impl ObserveLayer {
    /// Layers that observe whole requests.
    pub fn request() -> Self {
        Self(Settings::new(Scope::request()))
    }

    /// Layers that observe each upstream attempt of `provider`.
    pub fn attempt(provider: impl Into<Arc<str>>) -> Self {
        Self(Settings::new(Scope::attempt(provider.into())))
    }

    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.0
    }

    settings_methods!();
}

impl<M> tower_layer::Layer<M> for ObserveLayer {
    type Service = Observe<M>;

    fn layer(&self, inner: M) -> Observe<M> {
        Observe {
            inner,
            settings: self.0.clone(),
        }
    }
}

/// Run `call` in the recorder's span and record how it ended; `on_ok` takes what a success
/// reported. Dropped before the end, the recorder records the call as cancelled.
async fn observed<T>(
    mut recorder: Recorder,
    call: impl Future<Output = Result<T>>,
    on_ok: impl FnOnce(&mut Recorder, &T),
) -> Result<T> {
    let span = recorder.span().clone();
    let result = call.instrument(span).await;
    match &result {
        Ok(value) => {
            on_ok(&mut recorder, value);
            recorder.finish(OK);
        }
        Err(error) => recorder.finish(error.kind().as_str()),
    }
    result
}

#[async_trait]
impl<M: ChatModel> ChatModel for Observe<M> {
    async fn chat(&self, mut request: ChatRequest) -> Result<ChatResponse> {
        let recorder = self.chat_recorder(&mut request);
        observed(recorder, self.inner.chat(request), Recorder::on_response).await
    }

    async fn stream(&self, mut request: ChatRequest) -> Result<ChatStream> {
        let mut recorder = self.chat_recorder(&mut request);
        let span = recorder.span().clone();
        match self.inner.stream(request).instrument(span).await {
            Ok(inner) => Ok(Box::pin(stream::Observed::new(inner, recorder))),
            Err(error) => {
                recorder.finish(error.kind().as_str());
                Err(error)
            }
        }
    }
}

#[async_trait]
impl<M: EmbeddingModel> EmbeddingModel for Observe<M> {
    async fn embed(&self, mut request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        let recorder = self.recorder(
            Operation::Embeddings,
            &request.model,
            &mut request.extensions,
            || serde_json::to_string(&request.input).unwrap_or_default(),
        );
        observed(recorder, self.inner.embed(request), Recorder::on_embedding).await
    }
}
