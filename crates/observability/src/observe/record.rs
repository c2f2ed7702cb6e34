//! One observed call: its span, its timings and what it reported, turned into metrics when it
//! ends, or when it is dropped before that (outcome `cancelled`).

use std::sync::Arc;

use bulkhead_core::{
    CacheStatus, CallReport, ChatChunk, ChatResponse, EmbeddingResponse, RequestId, Usage,
};
use tokio::time::Instant;
use tracing::Span;
use tracing::field::Empty;

use super::keys::{AttemptKeys, Labelled, RequestKeys};
use super::{Scope, Settings};
use crate::names::{self, CANCELLED, OK};
use crate::{Pricing, UpstreamTime};

/// The GenAI operation, `gen_ai.operation.name`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Operation {
    Chat,
    Embeddings,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Embeddings => "embeddings",
        }
    }
}

/// What only one scope needs.
#[derive(Debug)]
enum Kind {
    Request {
        report: Option<CallReport>,
        upstream: UpstreamTime,
        pricing: Arc<Pricing>,
        keys: Arc<Labelled<RequestKeys>>,
    },
    Attempt {
        provider: Arc<str>,
        upstream: Option<UpstreamTime>,
        keys: Arc<Labelled<AttemptKeys>>,
    },
}

/// The state of one observed call.
#[derive(Debug)]
pub(crate) struct Recorder {
    kind: Kind,
    model: Arc<str>,
    span: Span,
    start: Instant,
    log_prompts: bool,
    first_chunk: Option<Instant>,
    last_chunk: Option<Instant>,
    output_chunks: u64,
    usage: Option<Usage>,
    response_model: Option<String>,
    /// Kept for the span only (empty while it is disabled).
    finish_reasons: Vec<String>,
    completion: String,
    finished: bool,
}

/// Declares the span of one scope; the names are literals, so one macro serves both.
macro_rules! gen_ai_span {
    ($name:literal, $kind:literal, $operation:expr, $model:expr) => {
        tracing::info_span!(
            target: super::SPAN_TARGET,
            $name,
            otel.name = Empty,
            otel.kind = $kind,
            otel.status_code = Empty,
            gen_ai.operation.name = $operation,
            gen_ai.request.model = $model,
            gen_ai.provider.name = Empty,
            gen_ai.response.model = Empty,
            gen_ai.usage.input_tokens = Empty,
            gen_ai.usage.output_tokens = Empty,
            gen_ai.response.finish_reasons = Empty,
            gen_ai.input.messages = Empty,
            gen_ai.output.messages = Empty,
            request_id = Empty,
            outcome = Empty,
            error.type = Empty,
            bulkhead.cache = Empty,
            bulkhead.cost_usd = Empty,
            bulkhead.attempts = Empty,
        )
    };
}

impl Recorder {
    /// Start observing a call: open its span, start its clock, and (request scope) put a fresh
    /// [`UpstreamTime`] into the request and count it in flight.
    pub(crate) fn begin(
        settings: &Settings,
        operation: Operation,
        model: &str,
        extensions: &mut http::Extensions,
        prompt: Option<String>,
    ) -> Self {
        let op = operation.as_str();
        let known = settings.known_models.as_deref();
        // The model's name, shared with its label unless that is `other`.
        let shared = |label: &Arc<str>| -> Arc<str> {
            if **label == *model {
                label.clone()
            } else {
                Arc::from(model)
            }
        };
        let (span, kind, model) = match &settings.scope {
            Scope::Request(cache) => {
                let keys = cache.get(known, model);
                let model = shared(&keys.label);
                let upstream = UpstreamTime::new();
                extensions.insert(upstream.clone());
                keys.record(|metrics| metrics.in_flight.increment(1.0));
                let span = gen_ai_span!("gen_ai.request", "internal", op, &*model);
                let kind = Kind::Request {
                    report: extensions.get::<CallReport>().cloned(),
                    upstream,
                    pricing: settings.pricing.clone(),
                    keys,
                };
                (span, kind, model)
            }
            Scope::Attempt(provider, cache) => {
                let keys = cache.get(known, model);
                let model = shared(&keys.label);
                let span = gen_ai_span!("gen_ai.attempt", "client", op, &*model);
                span.record("gen_ai.provider.name", &**provider);
                let kind = Kind::Attempt {
                    provider: provider.clone(),
                    upstream: extensions.get::<UpstreamTime>().cloned(),
                    keys,
                };
                (span, kind, model)
            }
        };
        let log_prompts = prompt.is_some();
        if !span.is_disabled() {
            span.record("otel.name", format!("{op} {model}"));
            if let Some(id) = extensions.get::<RequestId>() {
                span.record("request_id", id.as_str());
            }
            if let Some(prompt) = prompt {
                span.record("gen_ai.input.messages", prompt);
            }
        }
        Self {
            kind,
            model,
            span,
            start: Instant::now(),
            log_prompts,
            first_chunk: None,
            last_chunk: None,
            output_chunks: 0,
            usage: None,
            response_model: None,
            finish_reasons: Vec::new(),
            completion: String::new(),
            finished: false,
        }
    }

    /// The call's span.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Note a complete chat answer.
    pub(crate) fn on_response(&mut self, response: &ChatResponse) {
        self.usage = response.usage.as_ref().map(Usage::counts);
        self.response_model = Some(response.model.clone());
        if !self.span.is_disabled() {
            for choice in &response.choices {
                if let Some(reason) = &choice.finish_reason {
                    self.finish_reasons.push(reason.as_str().to_owned());
                }
            }
        }
        if self.log_prompts {
            let messages: Vec<_> = response.choices.iter().map(|c| &c.message).collect();
            self.completion = serde_json::to_string(&messages).unwrap_or_default();
        }
    }

    /// Note an embedding answer.
    pub(crate) fn on_embedding(&mut self, response: &EmbeddingResponse) {
        self.usage = Some(Usage::new(response.usage.prompt_tokens, 0));
        self.response_model = Some(response.model.clone());
    }

    /// Note one chunk of a stream.
    pub(crate) fn on_chunk(&mut self, chunk: &ChatChunk) {
        if self.finished {
            return;
        }
        if let Some(usage) = chunk.usage.as_ref() {
            self.usage = Some(usage.counts());
        }
        if self.response_model.is_none() && !chunk.model.is_empty() {
            self.response_model = Some(chunk.model.to_string());
        }
        if chunk.choices.is_empty() {
            return;
        }
        // Chunk timings are the attempt scope's metrics; the request scope needs no clock.
        if let Kind::Attempt { .. } = self.kind {
            let now = Instant::now();
            self.first_chunk.get_or_insert(now);
            self.last_chunk = Some(now);
            self.output_chunks += 1;
        }
        let spanned = !self.span.is_disabled();
        for choice in &chunk.choices {
            if spanned && let Some(reason) = &choice.finish_reason {
                self.finish_reasons.push(reason.as_str().to_owned());
            }
            if self.log_prompts
                && let Some(text) = choice.delta.content.as_ref()
            {
                self.completion.push_str(text);
            }
        }
    }

    /// The call ended with `outcome` (`ok`, an error kind, or `cancelled`): record it once.
    pub(crate) fn finish(&mut self, outcome: &'static str) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let elapsed = self.start.elapsed();
        match &self.kind {
            Kind::Request {
                report,
                upstream,
                pricing,
                keys,
            } => {
                let overhead = elapsed.saturating_sub(upstream.total());
                let deployment = report.as_ref().and_then(CallReport::deployment);
                let cache = report.as_ref().and_then(CallReport::cache);
                let cost = self.usage.as_ref().and_then(|usage| {
                    if cache == Some(CacheStatus::Hit) {
                        return Some(0.0);
                    }
                    let priced = deployment
                        .as_ref()
                        .map(|d| &*d.model)
                        .or(self.response_model.as_deref())
                        .unwrap_or(&self.model);
                    pricing.cost(priced, usage)
                });
                keys.record(|metrics| {
                    metrics.in_flight.decrement(1.0);
                    if outcome == OK {
                        metrics.requests_ok.increment(1);
                    }
                    metrics.overhead.record(overhead.as_secs_f64());
                    if let Some(cost) = cost {
                        metrics.cost.increment(cost);
                    }
                });
                if outcome != OK {
                    metrics::counter!(names::REQUESTS_TOTAL, "model" => keys.label.clone(), "outcome" => outcome)
                        .increment(1);
                }
                if let (Some(cost), Some(report)) = (cost, report) {
                    report.set_cost_usd(cost);
                }
                if !self.span.is_disabled() {
                    if let Some(deployment) = &deployment {
                        self.span
                            .record("gen_ai.provider.name", &*deployment.provider);
                    }
                    if let Some(cache) = cache {
                        self.span.record("bulkhead.cache", cache.as_str());
                    }
                    if let Some(cost) = cost {
                        self.span.record("bulkhead.cost_usd", cost);
                    }
                    if let Some(report) = report {
                        self.span.record("bulkhead.attempts", report.attempts());
                    }
                }
            }
            Kind::Attempt {
                provider,
                upstream,
                keys,
            } => {
                if let Some(upstream) = upstream {
                    upstream.add(elapsed);
                }
                if outcome != OK {
                    metrics::histogram!(
                        names::OPERATION_DURATION,
                        "gen_ai_request_model" => keys.label.clone(),
                        "gen_ai_provider_name" => provider.clone(),
                        "outcome" => outcome,
                    )
                    .record(elapsed.as_secs_f64());
                }
                let first_chunk = self
                    .first_chunk
                    .map(|first| (first - self.start).as_secs_f64());
                let per_chunk = match (self.first_chunk, self.last_chunk) {
                    (Some(first), Some(last)) if self.output_chunks > 1 => {
                        #[allow(clippy::cast_precision_loss)] // chunk counts stay far below 2^52
                        let chunks = (self.output_chunks - 1) as f64;
                        Some((last - first).as_secs_f64() / chunks)
                    }
                    _ => None,
                };
                let usage = self.usage.as_ref();
                keys.record(|metrics| {
                    if outcome == OK {
                        metrics.duration_ok.record(elapsed.as_secs_f64());
                    }
                    if let Some(usage) = usage {
                        metrics.input_tokens.record(f64::from(usage.prompt_tokens));
                        metrics
                            .output_tokens
                            .record(f64::from(usage.completion_tokens));
                    }
                    if let Some(first_chunk) = first_chunk {
                        metrics.first_chunk.record(first_chunk);
                    }
                    if let Some(per_chunk) = per_chunk {
                        metrics.per_chunk.record(per_chunk);
                    }
                });
            }
        }
        self.record_span(outcome, elapsed);
    }

    fn record_span(&mut self, outcome: &'static str, elapsed: std::time::Duration) {
        let span = &self.span;
        if span.is_disabled() {
            return;
        }
        span.record("outcome", outcome);
        if outcome != names::OK {
            span.record("error.type", outcome);
            span.record("otel.status_code", "ERROR");
        }
        if let Some(model) = &self.response_model {
            span.record("gen_ai.response.model", model.as_str());
        }
        if let Some(usage) = &self.usage {
            span.record("gen_ai.usage.input_tokens", usage.prompt_tokens);
            span.record("gen_ai.usage.output_tokens", usage.completion_tokens);
        }
        if !self.finish_reasons.is_empty() {
            let reasons = serde_json::to_string(&self.finish_reasons).unwrap_or_default();
            span.record("gen_ai.response.finish_reasons", reasons);
        }
        if self.log_prompts && !self.completion.is_empty() {
            span.record(
                "gen_ai.output.messages",
                std::mem::take(&mut self.completion),
            );
        }
        let scope = match self.kind {
            Kind::Request { .. } => "request",
            Kind::Attempt { .. } => "attempt",
        };
        tracing::debug!(
            target: super::SPAN_TARGET,
            parent: span,
            outcome,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "gen_ai {scope} finished"
        );
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.finish(CANCELLED);
    }
}
