//! Shared test scaffolding: a scripted model, stand-ins for the cache and router layers, a
//! local Prometheus recorder and a reader of its text output.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use bulkhead_core::{
    CacheStatus, CallReport, ChatModel, ChatRequest, ChatResponse, ChatStream, Choice, Deployment,
    Embedding, EmbeddingModel, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage,
    EmbeddingVector, Error, ErrorKind, FinishReason, Map, Message, Nullable, Result, Usage,
    async_trait, replay_as_chunks,
};
use futures_util::StreamExt as _;
use metrics_exporter_prometheus::PrometheusRecorder;

/// The upstream model the stand-in router sends requests to.
pub const UPSTREAM_MODEL: &str = "gpt-4o-mini";
/// Usage every scripted answer reports.
pub const PROMPT_TOKENS: u32 = 10;
pub const COMPLETION_TOKENS: u32 = 5;
/// Stream timings on the paused clock.
pub const FIRST_CHUNK_DELAY: Duration = Duration::from_millis(200);
pub const CHUNK_GAP: Duration = Duration::from_millis(50);

/// A provider whose behaviour the prompt picks: `fail:<kind>`, `sleep:<ms>`, anything else
/// answers at once with `answer: <prompt>`.
#[derive(Debug, Clone, Copy)]
pub struct Script;

fn prompt(request: &ChatRequest) -> String {
    request
        .messages
        .last()
        .map(Message::text)
        .unwrap_or_default()
}

fn kind(name: &str) -> ErrorKind {
    match name.split_whitespace().next().unwrap_or_default() {
        "rate_limited" => ErrorKind::RateLimited,
        "bad_request" => ErrorKind::BadRequest,
        "timeout" => ErrorKind::Timeout,
        _ => ErrorKind::ServerError,
    }
}

pub fn response(model: &str, content: &str) -> ChatResponse {
    ChatResponse {
        id: "chatcmpl-1".into(),
        object: "chat.completion".into(),
        created: 0,
        model: model.into(),
        choices: vec![Choice {
            index: 0,
            message: Message::assistant(content),
            finish_reason: Some(FinishReason::Stop),
            logprobs: Nullable::Absent,
            extra: Map::new(),
        }],
        usage: Some(Usage::new(PROMPT_TOKENS, COMPLETION_TOKENS)),
        service_tier: Nullable::Absent,
        system_fingerprint: Nullable::Absent,
        extra: Map::new(),
    }
}

#[async_trait]
impl ChatModel for Script {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let prompt = prompt(&request);
        if let Some(kind_name) = prompt.strip_prefix("fail:") {
            return Err(Error::new(kind(kind_name), "scripted failure"));
        }
        if let Some(ms) = prompt.strip_prefix("sleep:") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
        }
        Ok(response(
            &format!("{}-2024-07-18", request.model),
            &format!("answer: {prompt}"),
        ))
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let prompt = prompt(&request);
        if let Some(kind_name) = prompt.strip_prefix("fail:") {
            return Err(Error::new(kind(kind_name), "scripted failure"));
        }
        let chunks = replay_as_chunks(
            &response(
                &format!("{}-2024-07-18", request.model),
                &format!("answer: {prompt}"),
            ),
            true,
        );
        let stream = futures_util::stream::iter(chunks.into_iter().enumerate()).then(
            |(i, chunk)| async move {
                let wait = if i == 0 { FIRST_CHUNK_DELAY } else { CHUNK_GAP };
                tokio::time::sleep(wait).await;
                Ok(chunk)
            },
        );
        Ok(Box::pin(stream))
    }
}

#[async_trait]
impl EmbeddingModel for Script {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        Ok(EmbeddingResponse {
            object: "list".into(),
            data: vec![Embedding {
                object: "embedding".into(),
                index: 0,
                embedding: EmbeddingVector::Float(vec![0.0, 1.0]),
            }],
            model: request.model,
            usage: EmbeddingUsage {
                prompt_tokens: 1000,
                total_tokens: 1000,
            },
            extra: Map::new(),
        })
    }
}

/// Stands in for bulkhead-cache: a prompt starting `cached` is a hit (no call), anything else
/// a miss.
#[derive(Debug)]
pub struct FakeCache<M>(pub M);

#[async_trait]
impl<M: ChatModel> ChatModel for FakeCache<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let report = request.extensions.get::<CallReport>().cloned().unwrap();
        if prompt(&request).starts_with("cached") {
            report.set_cache(CacheStatus::Hit);
            return Ok(response(UPSTREAM_MODEL, "from the cache"));
        }
        report.set_cache(CacheStatus::Miss);
        self.0.chat(request).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let report = request.extensions.get::<CallReport>().cloned().unwrap();
        report.set_cache(CacheStatus::Miss);
        self.0.stream(request).await
    }
}

/// Stands in for bulkhead-orchestration: spends `work` of gateway time, records the
/// deployment and rewrites the model to the upstream one.
#[derive(Debug)]
pub struct FakeRouter<M> {
    pub inner: M,
    pub work: Duration,
}

impl<M> FakeRouter<M> {
    async fn route(&self, request: &mut ChatRequest) {
        tokio::time::sleep(self.work).await;
        request.model = UPSTREAM_MODEL.into();
        if let Some(report) = request.extensions.get::<CallReport>() {
            report.set_deployment(Deployment {
                provider: "primary".into(),
                model: UPSTREAM_MODEL.into(),
            });
        }
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for FakeRouter<M> {
    async fn chat(&self, mut request: ChatRequest) -> Result<ChatResponse> {
        self.route(&mut request).await;
        self.inner.chat(request).await
    }

    async fn stream(&self, mut request: ChatRequest) -> Result<ChatStream> {
        self.route(&mut request).await;
        self.inner.stream(request).await
    }
}

/// A request for alias `chat` carrying a fresh report; returns both.
pub fn chat_request(prompt: &str) -> (ChatRequest, CallReport) {
    let mut request = ChatRequest::new("chat", vec![Message::user(prompt)]);
    let report = CallReport::new();
    request.extensions.insert(report.clone());
    (request, report)
}

/// A recorder built exactly as the application's, but local to the test.
pub fn recorder() -> PrometheusRecorder {
    bulkhead_observability::prometheus_builder()
        .unwrap()
        .build_recorder()
}

/// Run `future` on a current-thread runtime with a paused clock, with `recorder` as the
/// thread's metrics recorder.
pub fn run<F: Future>(recorder: &PrometheusRecorder, future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(recorder, || runtime.block_on(future))
}

/// One sample line of Prometheus text: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

pub fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().unwrap(),
            }
        })
        .collect()
}

/// The value of the series `name` with exactly `labels`, or 0 when it does not exist.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples(text)
        .into_iter()
        .find(|s| s.name == name && s.labels == wanted)
        .map_or(0.0, |s| s.value)
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}
