//! A counting, scriptable `ChatModel` / `EmbeddingModel` for the cache's behaviour tests.
//!
//! Its answers are derived from the request, so a test can tell a right answer from a wrong
//! one: the text is `"<tenant>|<last user message>"`, and an embedding is a vector made from
//! the bytes of its input.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bulkhead_cache::Cache;
use bulkhead_core::{
    CacheStatus, CallReport, ChatChunk, ChatModel, ChatRequest, ChatResponse, ChatStream, Choice,
    ChunkChoice, Delta, Deployment, Embedding, EmbeddingInput, EmbeddingModel, EmbeddingRequest,
    EmbeddingResponse, EmbeddingUsage, EmbeddingVector, Error, ErrorKind, FinishReason, Message,
    Nullable, Result, Role, Tenant, Usage, async_trait,
};

/// How the model answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Answer normally.
    Ok,
    /// Fail before answering.
    Fail,
    /// Stream two content chunks, then an error (a cut stream).
    CutStream,
    /// Stream content chunks, then end without a finish_reason.
    NoFinish,
}

/// The scripted model.
#[derive(Debug)]
pub struct Model {
    calls: AtomicUsize,
    embedded_inputs: AtomicUsize,
    behavior: Mutex<Behavior>,
    /// Delay before the answer (JSON) or the first chunk (stream).
    pub delay: Duration,
    /// Delay between chunks.
    pub gap: Duration,
    /// Words per streamed answer (besides the role and finish chunks).
    pub words: usize,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            calls: AtomicUsize::new(0),
            embedded_inputs: AtomicUsize::new(0),
            behavior: Mutex::new(Behavior::Ok),
            delay: Duration::ZERO,
            gap: Duration::ZERO,
            words: 4,
        }
    }
}

impl Model {
    pub fn new() -> Arc<Self> {
        Arc::new(Model::default())
    }

    pub fn slow(delay: Duration, gap: Duration) -> Arc<Self> {
        Arc::new(Model {
            delay,
            gap,
            ..Model::default()
        })
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn embedded_inputs(&self) -> usize {
        self.embedded_inputs.load(Ordering::SeqCst)
    }

    pub fn set(&self, behavior: Behavior) {
        *self.behavior.lock().unwrap_or_else(PoisonError::into_inner) = behavior;
    }

    fn behavior(&self) -> Behavior {
        *self.behavior.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn start(&self, request: &ChatRequest) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(report) = request.extensions.get::<CallReport>() {
            report.record_attempt();
            report.set_deployment(Deployment {
                provider: "scripted".into(),
                model: request.model.clone().into(),
            });
        }
    }
}

/// The text the model answers `request` with.
pub fn answer_text(request: &ChatRequest) -> String {
    let tenant = request
        .extensions
        .get::<Tenant>()
        .map_or("-", |t| t.as_str())
        .to_owned();
    let last = request
        .messages
        .last()
        .map(Message::text)
        .unwrap_or_default();
    format!("{tenant}|{last}")
}

fn words(text: &str, n: usize) -> Vec<String> {
    // Split the answer into `n` pieces that concatenate back to it.
    let chars: Vec<char> = text.chars().collect();
    let per = chars.len().div_ceil(n.max(1)).max(1);
    chars.chunks(per).map(|c| c.iter().collect()).collect()
}

fn chunk(choices: Vec<ChunkChoice>, usage: Nullable<Box<Usage>>) -> ChatChunk {
    ChatChunk {
        id: "chatcmpl-test".into(),
        object: "chat.completion.chunk".into(),
        created: 1,
        model: "scripted-model".into(),
        choices,
        usage,
        service_tier: Nullable::Absent,
        system_fingerprint: Nullable::Absent,
        extra: Default::default(),
    }
}

fn delta(role: Option<Role>, content: Option<String>, finish: Option<FinishReason>) -> ChunkChoice {
    ChunkChoice {
        index: 0,
        delta: Delta {
            role,
            content: content.into(),
            tool_calls: None,
            extra: Default::default(),
        },
        finish_reason: finish,
        logprobs: Nullable::Absent,
        extra: Default::default(),
    }
}

pub fn usage() -> Usage {
    Usage {
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        prompt_tokens_details: Nullable::Absent,
        completion_tokens_details: Nullable::Absent,
        extra: Default::default(),
    }
}

#[async_trait]
impl ChatModel for Model {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.start(&request);
        tokio::time::sleep(self.delay).await;
        if self.behavior() == Behavior::Fail {
            return Err(Error::new(ErrorKind::ServerError, "scripted failure").with_status(500));
        }
        Ok(ChatResponse {
            id: "chatcmpl-test".into(),
            object: "chat.completion".into(),
            created: 1,
            model: "scripted-model".into(),
            choices: vec![Choice {
                index: 0,
                message: Message::assistant(answer_text(&request)),
                finish_reason: Some(FinishReason::Stop),
                logprobs: Nullable::Absent,
                extra: Default::default(),
            }],
            usage: Some(usage()),
            service_tier: Nullable::Absent,
            system_fingerprint: Nullable::Absent,
            extra: Default::default(),
        })
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        self.start(&request);
        tokio::time::sleep(self.delay).await;
        let behavior = self.behavior();
        if behavior == Behavior::Fail {
            return Err(Error::new(ErrorKind::ServerError, "scripted failure").with_status(500));
        }
        let mut items: Vec<Result<ChatChunk>> = vec![Ok(chunk(
            vec![delta(Some(Role::Assistant), Some(String::new()), None)],
            Nullable::Absent,
        ))];
        let pieces = words(&answer_text(&request), self.words);
        for (i, piece) in pieces.into_iter().enumerate() {
            if behavior == Behavior::CutStream && i == 2 {
                items.push(Err(Error::transport("connection reset mid-stream")));
                break;
            }
            items.push(Ok(chunk(
                vec![delta(None, Some(piece), None)],
                Nullable::Absent,
            )));
        }
        if behavior == Behavior::Ok {
            items.push(Ok(chunk(
                vec![delta(None, None, Some(FinishReason::Stop))],
                Nullable::Absent,
            )));
            if request.wants_stream_usage() {
                items.push(Ok(chunk(Vec::new(), Nullable::Value(Box::new(usage())))));
            }
        }
        let gap = self.gap;
        let stream = futures_util::stream::iter(items).then(move |item| async move {
            tokio::time::sleep(gap).await;
            item
        });
        Ok(Box::pin(stream))
    }
}

use futures_util::StreamExt;

/// The vector the model gives `input`.
pub fn vector_of(input: &str) -> Vec<f64> {
    input
        .bytes()
        .take(4)
        .map(f64::from)
        .chain([input.len() as f64])
        .collect()
}

#[async_trait]
impl EmbeddingModel for Model {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.behavior() == Behavior::Fail {
            return Err(Error::new(ErrorKind::ServerError, "scripted failure"));
        }
        let texts: Vec<String> = match &request.input {
            EmbeddingInput::Text(t) => vec![t.clone()],
            EmbeddingInput::Texts(t) => t.clone(),
            EmbeddingInput::Tokens(t) => vec![format!("{t:?}")],
            EmbeddingInput::TokenBatches(b) => b.iter().map(|t| format!("{t:?}")).collect(),
        };
        self.embedded_inputs
            .fetch_add(texts.len(), Ordering::SeqCst);
        Ok(EmbeddingResponse {
            object: "list".into(),
            data: texts
                .iter()
                .enumerate()
                .map(|(i, t)| Embedding {
                    object: "embedding".into(),
                    index: i as u32,
                    embedding: EmbeddingVector::Float(vector_of(t)),
                })
                .collect(),
            model: "scripted-embedder".into(),
            usage: EmbeddingUsage {
                prompt_tokens: texts.len() as u32,
                total_tokens: texts.len() as u32,
            },
            extra: Default::default(),
        })
    }
}

/// A chat request with one user message, for `tenant` (if any), carrying a fresh report.
pub fn request(tenant: Option<&str>, text: &str) -> (ChatRequest, CallReport) {
    let mut request = ChatRequest::new("chat", vec![Message::user(text)]);
    if let Some(t) = tenant {
        request.extensions.insert(Tenant::new(t));
    }
    let report = CallReport::new();
    request.extensions.insert(report.clone());
    (request, report)
}

/// Drain a stream into its chunks, or the error that ended it.
pub async fn drain(mut stream: ChatStream) -> (Vec<ChatChunk>, Option<Error>) {
    let mut chunks = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => chunks.push(chunk),
            Err(error) => return (chunks, Some(error)),
        }
    }
    (chunks, None)
}

/// The text content of a stream's chunks.
pub fn text_of(chunks: &[ChatChunk]) -> String {
    chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.as_ref().cloned())
        .collect()
}

/// The text of a JSON answer.
pub fn response_text(response: &ChatResponse) -> String {
    response.choices[0].message.text()
}

/// What [`isolation_run`] saw.
#[derive(Debug, Clone, Copy)]
pub struct Isolation {
    /// Answers that belonged to another tenant (or were wrong).
    pub cross: usize,
    /// Requests the cache answered (`CacheStatus::Hit` in their report).
    pub hits: usize,
}

/// 10,000 requests from 20 tenants over 25 prompts, half JSON and half streams, in parallel
/// (1,000 at a time), through `cache`.
pub async fn isolation_run<M: ChatModel + 'static>(cache: &Cache<M>) -> Isolation {
    let mut seen = Isolation { cross: 0, hits: 0 };
    for round in 0..10 {
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let cache = cache.clone();
                tokio::spawn(async move {
                    let n = round * 1000 + i;
                    let tenant = format!("tenant-{}", n % 20);
                    let prompt = format!("prompt {}", (n / 20) % 25);
                    let (mut req, report) = request(Some(&tenant), &prompt);
                    let text = if n % 2 == 0 {
                        response_text(&cache.chat(req).await.expect("answer"))
                    } else {
                        req.stream = Some(true);
                        text_of(&drain(cache.stream(req).await.expect("stream")).await.0)
                    };
                    (text != format!("{tenant}|{prompt}"), report.cache())
                })
            })
            .collect();
        for task in tasks {
            let (wrong, status) = task.await.expect("task");
            seen.cross += usize::from(wrong);
            seen.hits += usize::from(status == Some(CacheStatus::Hit));
        }
    }
    seen
}
