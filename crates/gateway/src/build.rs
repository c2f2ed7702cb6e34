//! Assembly: turn a checked [`Config`] into providers and routes.
//!
//! Every model, even one with a single target, is served through `bulkhead-orchestration`'s
//! [`Routes`], so headers always name the deployment that answered; an alias with one target
//! and no fallbacks is a pass-through there (no clone, errors unchanged).
//!
//! Each provider is constructed exactly once, so every model that targets it shares its
//! pooled HTTP client. The config structs are converted field by field into the providers'
//! own config structs here, and only here: providers never see the config file's types.
//!
//! Each provider is then wrapped once in its retry stack (one policy, budget and circuit per
//! provider; see the `resilience` module), and the router of every model sits outside that.

use std::collections::HashMap;
use std::sync::Arc;

use bulkhead_cache::{Cache, CacheAll, CacheConfig, Cacheability, DeterministicOnly, Store};
use bulkhead_core::{ChatModel, EmbeddingModel};
use bulkhead_inference::{
    AnthropicConfig, AnthropicProvider, Fault, FaultKind, OpenAiConfig, OpenAiProvider,
    SimulatedConfig, SimulatedProvider, Timeouts,
};
use bulkhead_limits::{Limiter, LimiterConfig};
use bulkhead_observability::{Observe, Price, Pricing};

use bulkhead_orchestration::{
    LeastInFlight, P2c, RoundRobin, Route, Router, Routes, Target, Weighted,
};

use crate::config::{
    Config, ConfigError, Diagnostic, HttpProviderConfig, ProviderConfig, ProviderKind,
    SimulatedFaultKind, SimulatedProviderConfig, StrategyKind, cross_check,
};
use crate::gateway::{Gateway, ModelRoute};

/// A constructed provider, seen through the two traits the gateway calls; `embeddings` is
/// `None` for a provider that has none (Anthropic).
struct Provider {
    chat: Arc<dyn ChatModel>,
    embeddings: Option<Arc<dyn EmbeddingModel>>,
}

/// What a gateway built for a config reload takes over from the one it replaces, when the
/// settings that made them did not change: rate-limit and budget counters, cached answers.
pub(crate) struct Carry<'a> {
    pub(crate) config: &'a Config,
    pub(crate) gateway: &'a Gateway,
}

pub(crate) fn from_config(config: &Config) -> Result<Gateway, ConfigError> {
    from_config_carrying(config, None)
}

pub(crate) fn from_config_carrying(
    config: &Config,
    previous: Option<Carry<'_>>,
) -> Result<Gateway, ConfigError> {
    // A config read from a file was checked with positions already; one built in code has
    // not been, and the same rules apply to it.
    let mut problems = Vec::new();
    cross_check(config, None, &mut |_, message| {
        problems.push(Diagnostic::unplaced(message));
    });
    if !problems.is_empty() {
        return Err(ConfigError::new("config", problems));
    }

    let log_prompts = config.telemetry.log_prompts;
    let mut providers = HashMap::with_capacity(config.providers.len());
    for provider in &config.providers {
        match construct(provider) {
            Ok(built) => {
                // Innermost: one span and one set of metrics per upstream attempt.
                let name = Arc::<str>::from(provider.name.as_str());
                let chat: Arc<dyn ChatModel> =
                    Arc::new(Observe::attempt(built.chat, name.clone()).log_prompts(log_prompts));
                let embeddings = built.embeddings.map(|e| {
                    Arc::new(Observe::attempt(e, name.clone()).log_prompts(log_prompts))
                        as Arc<dyn EmbeddingModel>
                });
                let (chat, embeddings) = crate::resilience::wrap(
                    &provider.name,
                    chat,
                    embeddings,
                    provider.retry.as_ref().unwrap_or(&config.retry),
                    provider
                        .circuit_breaker
                        .as_ref()
                        .unwrap_or(&config.circuit_breaker),
                );
                providers.insert(provider.name.as_str(), Provider { chat, embeddings });
            }
            Err(e) => problems.push(Diagnostic::unplaced(format!(
                "provider `{}` cannot be constructed: {}",
                provider.name,
                e.message()
            ))),
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError::new("config", problems));
    }

    let routes = routes(config, &providers)
        .map_err(|e| ConfigError::new("config", vec![Diagnostic::unplaced(e.to_string())]))?;
    let store = match &previous {
        Some(p) if p.config.cache == config.cache => p.gateway.inner.cache_store.clone(),
        _ => cache_store(config)?,
    };
    let limiter = match &previous {
        Some(p) if p.config.limits == config.limits => p.gateway.inner.limiter.clone(),
        _ => limiter(config)?,
    };
    let pricing = Arc::new(pricing(config));
    let mut builder = Gateway::builder()
        .max_body_bytes(config.server.max_body_bytes)
        .keys(config.keys.iter().cloned())
        .limiter(limiter)
        .cache_store(store.clone());
    if config.keys.iter().any(|k| k.tpm.is_some()) {
        // Load the tokenizer now, not on the first request that needs an estimate.
        bulkhead_limits::estimate::warm_up();
    }
    for provider in &config.providers {
        if let ProviderKind::OpenAi(http) | ProviderKind::Anthropic(http) = &provider.kind
            && let Some(key) = &http.api_key
        {
            builder = builder.redact(key.clone());
        }
    }
    for model in &config.models {
        let Some(chat) = routes.model(&model.name) else {
            continue;
        };
        // Outside the router: the cache, then one span and metrics set for the whole request,
        // which sees cache hits and fallbacks.
        let mut chat: Arc<dyn ChatModel> = Arc::new(chat);
        let mut embeddings: Option<Arc<dyn EmbeddingModel>> = routes
            .embeddings(&model.name)
            .map(|e| Arc::new(e) as Arc<dyn EmbeddingModel>);
        if let Some(store) = &store {
            chat = Arc::new(cached(chat, store.clone(), config));
            embeddings = embeddings
                .map(|e| Arc::new(cached(e, store.clone(), config)) as Arc<dyn EmbeddingModel>);
        }
        let mut route =
            ModelRoute::new(&model.name, Arc::new(observed(chat, &pricing, log_prompts)));
        if let Some(embeddings) = embeddings {
            route = route.embeddings(Arc::new(observed(embeddings, &pricing, log_prompts)));
        }
        builder = builder.route(route);
    }
    builder
        .build()
        .map_err(|e| ConfigError::new("config", e.diagnostics().to_vec()))
}

/// Every `[[models]]` entry as an alias of one [`Routes`]: a router over its targets with its
/// strategy, and its fallbacks by name. The router rewrites `model` for each target and
/// records the deployment that answered, which the HTTP edge turns into headers.
fn routes(
    config: &Config,
    providers: &HashMap<&str, Provider>,
) -> Result<Routes, bulkhead_orchestration::BuildError> {
    let mut builder = Routes::builder();
    for model in &config.models {
        let mut router = Router::builder(model.name.as_str());
        router = match model.strategy {
            StrategyKind::RoundRobin => router.strategy(RoundRobin::new()),
            StrategyKind::LeastInFlight => router.strategy(LeastInFlight::new()),
            StrategyKind::P2c => router.strategy(P2c::new()),
            _ => router.strategy(Weighted::new()),
        };
        // cross_check guarantees every target names a defined provider.
        for target in &model.targets {
            if let Some(provider) = providers.get(target.provider.as_str()) {
                let mut built = Target::new(
                    target.provider.as_str(),
                    target.model.as_str(),
                    provider.chat.clone(),
                );
                if let Some(embeddings) = &provider.embeddings {
                    built = built.embeddings(embeddings.clone());
                }
                router = router.target(built.weight(target.weight));
            }
        }
        let mut route = Route::new(router.build()?);
        for fallback in &model.fallbacks {
            route = route.fallback(fallback);
        }
        if let Some(long) = &model.on_context_window_exceeded {
            route = route.on_context_window_exceeded(long);
        }
        builder = builder.route(route);
    }
    builder.build()
}

/// The store of `[cache]` when caching is on: in memory, with Redis behind it when
/// `redis_url` is set. One store serves every model; keys include the model name.
fn cache_store(config: &Config) -> Result<Option<Arc<dyn Store>>, ConfigError> {
    if !config.cache.enabled {
        return Ok(None);
    }
    let settings = CacheConfig {
        enabled: true,
        ttl: config.cache.ttl,
        max_bytes: config.cache.max_bytes,
        redis_url: config.cache.redis_url.clone(),
        ..CacheConfig::default()
    };
    settings.build_store().map(Some).map_err(|e| {
        ConfigError::new(
            "config",
            vec![Diagnostic::unplaced(format!("[cache]: {e}"))],
        )
    })
}

/// The limiter of `[limits]`: shared through Redis when `redis_url` is set, else in memory.
/// Connecting is lazy, so a Redis that is down at start-up does not stop the gateway (limits
/// fail open until it answers; see bulkhead-limits).
fn limiter(config: &Config) -> Result<Limiter, ConfigError> {
    match &config.limits.redis_url {
        None => Ok(Limiter::in_memory()),
        Some(url) => Limiter::redis(url, LimiterConfig::default()).map_err(|e| {
            ConfigError::new(
                "config",
                vec![Diagnostic::unplaced(format!("[limits] redis_url: {e}"))],
            )
        }),
    }
}

/// `model` behind the cache, with `[cache]`'s TTL and policy.
fn cached<M>(model: M, store: Arc<dyn Store>, config: &Config) -> Cache<M> {
    let policy: Arc<dyn Cacheability> = if config.cache.only_deterministic {
        Arc::new(DeterministicOnly)
    } else {
        Arc::new(CacheAll)
    };
    Cache::new(model, store)
        .with_ttl(config.cache.ttl)
        .with_policy(policy)
}

/// `model` observed as whole requests.
fn observed<M>(model: M, pricing: &Arc<Pricing>, log_prompts: bool) -> Observe<M> {
    Observe::request(model)
        .pricing(pricing.clone())
        .log_prompts(log_prompts)
}

/// The built-in price table with `[pricing]` laid over it.
fn pricing(config: &Config) -> Pricing {
    let mut pricing = Pricing::builtin();
    for (model, price) in &config.pricing {
        pricing.set(
            model,
            Price {
                input: price.input,
                output: price.output,
                cached_input: price.cached_input,
            },
        );
    }
    pricing
}

fn construct(provider: &ProviderConfig) -> bulkhead_core::Result<Provider> {
    match &provider.kind {
        ProviderKind::OpenAi(settings) => {
            let built = Arc::new(OpenAiProvider::new(openai_config(
                &provider.name,
                settings,
            ))?);
            Ok(Provider {
                chat: built.clone(),
                embeddings: Some(built),
            })
        }
        ProviderKind::Anthropic(settings) => {
            let mut config = AnthropicConfig::new(&provider.name, settings.base_url.clone());
            config.api_key.clone_from(&settings.api_key);
            config.headers.clone_from(&settings.headers);
            config.timeouts = timeouts(settings);
            Ok(Provider {
                chat: Arc::new(AnthropicProvider::new(config)?),
                embeddings: None,
            })
        }
        ProviderKind::Simulated(settings) => {
            let built = Arc::new(SimulatedProvider::new(simulated_config(
                &provider.name,
                settings,
            )));
            Ok(Provider {
                chat: built.clone(),
                embeddings: Some(built),
            })
        }
    }
}

fn openai_config(name: &str, settings: &HttpProviderConfig) -> OpenAiConfig {
    let mut config = OpenAiConfig::new(name, settings.base_url.clone());
    config.api_key.clone_from(&settings.api_key);
    config.headers.clone_from(&settings.headers);
    config.timeouts = timeouts(settings);
    config
}

/// The configured timeouts, the provider's defaults where unset.
fn timeouts(settings: &HttpProviderConfig) -> Timeouts {
    let defaults = Timeouts::default();
    let t = &settings.timeouts;
    Timeouts {
        connect: t.connect.unwrap_or(defaults.connect),
        first_token: t.first_token.unwrap_or(defaults.first_token),
        idle: t.idle.unwrap_or(defaults.idle),
        total: t.total.unwrap_or(defaults.total),
    }
}

fn simulated_config(name: &str, settings: &SimulatedProviderConfig) -> SimulatedConfig {
    let mut config = SimulatedConfig {
        name: name.to_owned(),
        ..SimulatedConfig::default()
    };
    if let Some(latency) = settings.latency {
        config.latency = latency;
    }
    if let Some(ttft) = settings.time_to_first_token {
        config.time_to_first_token = ttft;
    }
    if let Some(tps) = settings.tokens_per_second {
        config.tokens_per_second = Some(tps);
    }
    if let Some(seed) = settings.seed {
        config.seed = seed;
    }
    if let Some(dimensions) = settings.embedding_dimensions {
        config.embedding_dimensions = dimensions;
    }
    config.faults = settings
        .faults
        .iter()
        .map(|f| Fault {
            kind: match f.kind {
                SimulatedFaultKind::RateLimited { retry_after } => {
                    FaultKind::RateLimited { retry_after }
                }
                SimulatedFaultKind::ServerError => FaultKind::ServerError,
                SimulatedFaultKind::Unavailable => FaultKind::Unavailable,
                SimulatedFaultKind::Timeout => FaultKind::Timeout,
                SimulatedFaultKind::StreamCut { after_chunks } => {
                    FaultKind::StreamCut { after_chunks }
                }
            },
            probability: f.probability,
        })
        .collect();
    config
}
