//! From the file's shape to [`Config`]: substitute `${VAR}`, check each value, and keep the
//! places that the cross-checks in `validate` need.
//!
//! Nothing here stops at the first problem: a bad value is recorded and replaced by a
//! placeholder so the rest of the file is still checked.

use std::num::NonZeroUsize;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::error::Diagnostics;
use super::file;
use super::interpolate::interpolate;
use super::types::{
    CircuitBreakerSettings, Config, ModelConfig, RetrySettings, ServerConfig, StrategyKind,
    TargetConfig,
};

/// Where the names that cross-checks compare were written.
#[derive(Debug, Default)]
pub(crate) struct Places {
    /// Per provider: its `name` value.
    pub(crate) providers: Vec<Range<usize>>,
    /// Per model: its `name` value, and per target its `provider` value.
    pub(crate) models: Vec<(Range<usize>, Vec<Range<usize>>)>,
    /// Per model: each `fallbacks` entry, and the `on_context_window_exceeded` value.
    pub(crate) links: Vec<LinkPlaces>,
}

/// Where one model's `fallbacks` entries and `on_context_window_exceeded` value were written.
pub(crate) type LinkPlaces = (Vec<Range<usize>>, Option<Range<usize>>);

pub(crate) struct Resolver<'a, 'd> {
    pub(crate) diags: &'d mut Diagnostics<'a>,
    pub(crate) env: &'d dyn Fn(&str) -> Option<String>,
}

impl Resolver<'_, '_> {
    pub(crate) fn resolve(&mut self, file: file::File) -> (Config, Places) {
        let mut places = Places::default();
        let server = self.server(file.server);
        let retry = match &file.retry {
            Some(r) => self.retry(RetrySettings::default(), r.get_ref()),
            None => RetrySettings::default(),
        };
        let circuit_breaker = match &file.circuit_breaker {
            Some(c) => self.circuit_breaker(CircuitBreakerSettings::default(), c.get_ref()),
            None => CircuitBreakerSettings::default(),
        };
        let mut providers = Vec::with_capacity(file.providers.len());
        for provider in file.providers {
            let mut provider = provider.into_inner();
            places.providers.push(provider.name.span());
            let own_retry = provider.retry.take();
            let own_circuit = provider.circuit_breaker.take();
            let mut resolved = self.provider(provider);
            resolved.retry = own_retry.map(|r| self.retry(retry, r.get_ref()));
            resolved.circuit_breaker =
                own_circuit.map(|c| self.circuit_breaker(circuit_breaker, c.get_ref()));
            providers.push(resolved);
        }
        let mut models: Vec<ModelConfig> = Vec::with_capacity(file.models.len());
        for model in file.models {
            let model = model.into_inner();
            let targets_places = model
                .targets
                .as_ref()
                .map(|t| {
                    t.get_ref()
                        .iter()
                        .map(|t| t.get_ref().provider.span())
                        .collect()
                })
                .unwrap_or_default();
            places.models.push((model.name.span(), targets_places));
            places.links.push((
                model
                    .fallbacks
                    .as_ref()
                    .map(|f| f.get_ref().iter().map(Spanned::span).collect())
                    .unwrap_or_default(),
                model.on_context_window_exceeded.as_ref().map(Spanned::span),
            ));
            models.push(self.model(model));
        }
        let model_names = models.iter().map(|m| m.name.clone()).collect();
        let sections = self.sections(
            file.cache,
            file.keys,
            file.limits,
            file.pricing,
            file.telemetry,
            &model_names,
        );
        let config = Config {
            server,
            providers,
            models,
            retry,
            circuit_breaker,
            cache: sections.cache,
            keys: sections.keys,
            limits: sections.limits,
            pricing: sections.pricing,
            telemetry: sections.telemetry,
        };
        (config, places)
    }

    /// The interpolated value of a string; on failure the problems are recorded and the raw
    /// text is returned so checking can go on.
    pub(super) fn string(&mut self, value: &Spanned<String>) -> String {
        match interpolate(value.get_ref(), self.env) {
            Ok(s) => s.into_owned(),
            Err(problems) => {
                for problem in problems {
                    self.diags.at(value.span(), problem.message());
                }
                value.get_ref().clone()
            }
        }
    }

    pub(super) fn millis(&mut self, value: &Spanned<u64>, what: &str) -> Duration {
        if *value.get_ref() == 0 {
            self.diags
                .at(value.span(), format!("`{what}` must be greater than 0"));
        }
        Duration::from_millis(*value.get_ref())
    }

    fn server(&mut self, server: Option<file::Server>) -> ServerConfig {
        let mut config = ServerConfig::default();
        let Some(server) = server else { return config };
        if let Some(listen) = &server.listen {
            let text = self.string(listen);
            match text.parse() {
                Ok(addr) => config.listen = addr,
                Err(_) => self.diags.at(
                    listen.span(),
                    format!(
                        "`listen` must be an IP address and port, like \"127.0.0.1:8080\" or \"[::]:8080\"; got \"{text}\""
                    ),
                ),
            }
        }
        if let Some(max) = &server.max_body_bytes {
            match usize::try_from(*max.get_ref()) {
                Ok(0) => self
                    .diags
                    .at(max.span(), "`max_body_bytes` must be greater than 0"),
                Ok(n) => config.max_body_bytes = n,
                Err(_) => self.diags.at(max.span(), "`max_body_bytes` is too large"),
            }
        }
        if let Some(max) = &server.max_header_bytes {
            match usize::try_from(*max.get_ref()) {
                Ok(n) if n >= 8192 => config.max_header_bytes = n,
                _ => self.diags.at(
                    max.span(),
                    "`max_header_bytes` must be at least 8192 (hyper's smallest read buffer)",
                ),
            }
        }
        if let Some(ms) = &server.header_read_timeout_ms {
            config.header_read_timeout = self.millis(ms, "header_read_timeout_ms");
        }
        if let Some(secs) = &server.shutdown_grace_secs {
            config.shutdown_grace = Duration::from_secs(*secs.get_ref());
        }
        if let Some(workers) = &server.workers {
            match usize::try_from(*workers.get_ref())
                .ok()
                .and_then(NonZeroUsize::new)
            {
                Some(n) if n.get() <= ServerConfig::MAX_WORKERS => config.workers = Some(n),
                _ => self.diags.at(
                    workers.span(),
                    format!(
                        "`workers` must be between 1 and {} (leave it out for one per CPU core)",
                        ServerConfig::MAX_WORKERS
                    ),
                ),
            }
        }
        config
    }

    fn model(&mut self, m: file::Model) -> ModelConfig {
        let name = self.string(&m.name);
        if name.is_empty() {
            self.diags
                .at(m.name.span(), "model `name` must not be empty");
        }
        let mut targets = Vec::new();
        for target in m.targets.iter().flat_map(|t| t.get_ref()) {
            let t = target.get_ref();
            let provider = self.string(&t.provider);
            let model = self.string(&t.model);
            if model.is_empty() {
                self.diags
                    .at(t.model.span(), "target `model` must not be empty");
            } else if http::HeaderValue::from_str(&model).is_err() {
                self.diags.at(
                    t.model.span(),
                    "target `model` must be printable ASCII (it is sent in the x-bulkhead-model header)",
                );
            }
            let weight = match &t.weight {
                None => 1,
                Some(w) => match u32::try_from(*w.get_ref()) {
                    Ok(w) if w > 0 => w,
                    _ => {
                        self.diags
                            .at(w.span(), "`weight` must be between 1 and 4294967295");
                        1
                    }
                },
            };
            targets.push(TargetConfig {
                provider,
                model,
                weight,
            });
        }
        let strategy = match &m.strategy {
            None => StrategyKind::default(),
            Some(s) => {
                let text = self.string(s);
                match StrategyKind::ALL.iter().find(|(n, _)| *n == text) {
                    Some((_, kind)) => *kind,
                    None => {
                        self.diags.at(
                            s.span(),
                            format!(
                                "unknown strategy \"{text}\"; expected \"weighted\", \"round_robin\", \"least_in_flight\" or \"p2c\""
                            ),
                        );
                        StrategyKind::default()
                    }
                }
            }
        };
        let fallbacks = m
            .fallbacks
            .iter()
            .flat_map(|f| f.get_ref())
            .map(|f| self.string(f))
            .collect();
        let on_context_window_exceeded = m
            .on_context_window_exceeded
            .as_ref()
            .map(|s| self.string(s));
        ModelConfig {
            name,
            strategy,
            targets,
            fallbacks,
            on_context_window_exceeded,
        }
    }
}
