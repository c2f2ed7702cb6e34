//! The [`Cache`] decorator: serve from the store when allowed, otherwise call the inner model
//! once per key in flight and store what came back cleanly.

mod embed;

use std::sync::Arc;
use std::time::Duration;

use bulkhead_core::{
    CacheStatus, CallReport, ChatModel, ChatRequest, ChatResponse, ChatStream, ChunkAccumulator,
    Result, Tenant, async_trait, replay_as_chunks,
};
use futures_util::StreamExt;

use crate::entry::now_ms;
use crate::flight::{Flights, Producer};
use crate::{
    CacheAll, CacheDirective, CacheKey, Cacheability, CachedValue, Entry, Store, chat_key,
    telemetry,
};

/// Caches the answers of the model it wraps, for `ChatModel` and `EmbeddingModel` alike.
///
/// For each request it reads the [`Tenant`], the [`CacheDirective`] and the [`CallReport`]
/// from the request's extensions, then:
///
/// - **bypass** (no lookup) when the directive says `no-store`/`no-cache`/`max-age=0` or the
///   [`Cacheability`] policy refuses the request; only `no-store` and the policy also prevent
///   storing the answer;
/// - **hit**: an entry under the request's [`chat_key`] (younger than `max-age`, if given) is
///   answered without calling the model: as one response to a JSON request, as chunks
///   ([`replay_as_chunks`]) to a streaming one, however it was stored;
/// - **miss**: the model is called, with identical requests in flight sharing one call
///   (streams included), and a successful answer is stored for the configured TTL. A stream is
///   stored only when it ended cleanly, with a `finish_reason`; errors, cut streams and
///   abandoned calls store nothing.
///
/// The outcome goes into the request's `CallReport` (`x-bulkhead-cache`) and the
/// `bulkhead_cache_requests_total` counter. Embeddings are cached per input: a request whose
/// inputs are partly cached sends only the missing ones upstream.
///
/// The inner model is called from a spawned task (so that one client leaving does not cancel
/// the answer others wait for), hence the `'static` bound and the need for a tokio runtime.
pub struct Cache<M> {
    inner: Arc<M>,
    store: Arc<dyn Store>,
    policy: Arc<dyn Cacheability>,
    ttl: Duration,
    flights: Arc<Flights>,
}

impl<M> std::fmt::Debug for Cache<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("store", &self.store)
            .field("policy", &self.policy)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<M> Clone for Cache<M> {
    fn clone(&self) -> Self {
        Cache {
            inner: self.inner.clone(),
            store: self.store.clone(),
            policy: self.policy.clone(),
            ttl: self.ttl,
            flights: self.flights.clone(),
        }
    }
}

/// The default time to live of an entry: one hour.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

impl<M> Cache<M> {
    /// Cache `inner`'s answers in `store`, with the [`CacheAll`] policy and a one-hour TTL.
    pub fn new(inner: M, store: Arc<dyn Store>) -> Self {
        Cache {
            inner: Arc::new(inner),
            store,
            policy: Arc::new(CacheAll),
            ttl: DEFAULT_TTL,
            flights: Arc::default(),
        }
    }

    /// Keep entries for `ttl`.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Decide what may be cached with `policy`.
    pub fn with_policy(mut self, policy: Arc<dyn Cacheability>) -> Self {
        self.policy = policy;
        self
    }

    /// The inner model.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Upstream calls currently shared by coalesced requests.
    pub fn flights_in_progress(&self) -> usize {
        self.flights.len()
    }

    /// The live entry under `key`, if it is younger than `max_age` (when given).
    async fn lookup(&self, key: &CacheKey, max_age: Option<Duration>) -> Option<Entry> {
        let entry = self.store.get(key).await?;
        match max_age {
            Some(max) if entry.age_at(now_ms()) >= max => None,
            _ => Some(entry),
        }
    }
}

/// How one request meets the cache, decided from its extensions and the policy.
struct Plan {
    report: Option<CallReport>,
    directive: CacheDirective,
    /// `None` when the request neither looks up nor stores.
    key: Option<CacheKey>,
}

/// The request with `stream_options.include_usage` set: a shared stream is recorded with its
/// usage, so that any later request can be replayed with or without it.
fn with_usage(mut request: ChatRequest) -> ChatRequest {
    request
        .stream_options
        .get_or_insert_with(Default::default)
        .include_usage = Some(true);
    request
}

fn record(status: CacheStatus, report: Option<&CallReport>) {
    if let Some(report) = report {
        report.set_cache(status);
    }
    telemetry::request(status);
}

impl<M: ChatModel + 'static> Cache<M> {
    fn plan(&self, request: &ChatRequest) -> Plan {
        let report = request.extensions.get::<CallReport>().cloned();
        let directive = request
            .extensions
            .get::<CacheDirective>()
            .copied()
            .unwrap_or_default();
        let key = (directive.allows_store() && self.policy.chat_request(request)).then(|| {
            let tenant = request.extensions.get::<Tenant>();
            chat_key(tenant, request)
        });
        Plan {
            report,
            directive,
            key,
        }
    }

    /// Look the request up as its plan allows, recording the outcome; the cached answer on a
    /// hit.
    async fn try_hit(&self, plan: &Plan) -> Option<ChatResponse> {
        let Some(key) = &plan.key else {
            record(CacheStatus::Bypass, plan.report.as_ref());
            return None;
        };
        if plan.directive.skips_lookup() {
            record(CacheStatus::Bypass, plan.report.as_ref());
            return None;
        }
        let hit = self
            .lookup(key, plan.directive.max_age)
            .await
            .and_then(|e| match e.value() {
                CachedValue::Chat(response) => Some(response.clone()),
                _ => None,
            });
        let status = if hit.is_some() {
            CacheStatus::Hit
        } else {
            CacheStatus::Miss
        };
        record(status, plan.report.as_ref());
        hit
    }

    /// What a flight's task needs to store the answer of its call under `key`.
    fn fill(&self, key: CacheKey) -> Fill {
        Fill {
            key,
            store: self.store.clone(),
            policy: self.policy.clone(),
            ttl: self.ttl,
        }
    }

    fn spawn_json(&self, producer: Producer, key: CacheKey, request: ChatRequest) {
        let inner = self.inner.clone();
        let fill = self.fill(key);
        tokio::spawn(async move {
            let call = async {
                let result = inner.chat(request).await.map(Arc::new);
                let stored = result.as_ref().ok().cloned();
                producer.finish_json(result);
                stored
            };
            fill.run(call, &producer).await;
            drop(producer);
        });
    }

    fn spawn_stream(&self, producer: Producer, key: CacheKey, request: ChatRequest) {
        let inner = self.inner.clone();
        let fill = self.fill(key);
        tokio::spawn(async move {
            let call = async {
                let mut stream = match inner.stream(request).await {
                    Ok(stream) => stream,
                    Err(error) => {
                        producer.finish_stream(Err(error));
                        return None;
                    }
                };
                let mut acc = ChunkAccumulator::new();
                let mut finished = false;
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(chunk) => {
                            finished |= chunk.choices.iter().any(|c| c.finish_reason.is_some());
                            acc.push(&chunk);
                            producer.push(chunk);
                        }
                        Err(error) => {
                            producer.finish_stream(Err(error));
                            return None;
                        }
                    }
                }
                producer.finish_stream(Ok(()));
                // A stream that ends without a finish_reason was cut, whatever the transport
                // said: it is passed on as it came, but never stored.
                finished.then(|| Arc::new(acc.finish()))
            };
            fill.run(call, &producer).await;
            drop(producer);
        });
    }
}

/// The storing end of a flight's spawned task, the same for JSON and streams.
struct Fill {
    key: CacheKey,
    store: Arc<dyn Store>,
    policy: Arc<dyn Cacheability>,
    ttl: Duration,
}

impl Fill {
    /// Drive `call`, the flight's one upstream call, and store the answer it returns if the
    /// policy allows; unless every subscriber leaves first, which drops the call.
    async fn run(self, call: impl Future<Output = Option<Arc<ChatResponse>>>, producer: &Producer) {
        let response = tokio::select! {
            response = call => response,
            () = producer.abandoned() => None,
        };
        if let Some(response) = response
            && self.policy.chat_response(&response)
        {
            // A stream's answer is not shared yet, so this moves it; a JSON answer is cloned.
            let entry = Entry::new(CachedValue::Chat(Arc::unwrap_or_clone(response)), self.ttl);
            self.store.put(&self.key, entry).await;
        }
    }
}

#[async_trait]
impl<M: ChatModel + 'static> ChatModel for Cache<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let plan = self.plan(&request);
        if let Some(response) = self.try_hit(&plan).await {
            return Ok(response);
        }
        let Some(key) = plan.key else {
            return self.inner.chat(request).await;
        };
        let (mut subscription, producer) = self.flights.join(key, false, plan.report.as_ref());
        if let Some(producer) = producer {
            self.spawn_json(producer, key, request);
        }
        subscription.response(plan.report.as_ref()).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let plan = self.plan(&request);
        if let Some(response) = self.try_hit(&plan).await {
            let chunks = replay_as_chunks(&response, request.wants_stream_usage());
            return Ok(Box::pin(futures_util::stream::iter(
                chunks.into_iter().map(Ok),
            )));
        }
        let Some(key) = plan.key else {
            return self.inner.stream(request).await;
        };
        let (mut subscription, producer) = self.flights.join(key, true, plan.report.as_ref());
        let wants_usage = request.wants_stream_usage();
        if let Some(producer) = producer {
            self.spawn_stream(producer, key, with_usage(request));
        }
        subscription.first_event(plan.report.as_ref()).await?;
        Ok(subscription.into_stream(wants_usage))
    }
}
