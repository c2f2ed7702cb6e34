//! A provider that answers without a network: deterministic text, tool calls and embeddings,
//! honest token counts, configurable latency and injected faults.
//!
//! It is the default upstream of the reference server and the workhorse of tests and
//! benchmarks: the same prompt always gets the same answer, and `usage` counts exactly what
//! was sent.
//!
//! - Tokens: a maximal run of letters and digits, or any single other non-space character, is
//!   one token. `prompt_tokens` is that count over every message's text (content, name, tool
//!   calls) plus 3 per message; tool definitions are not counted. `completion_tokens` is the
//!   number of chunks that carried generated text (or, for a tool call, 1 for its name plus one
//!   per argument fragment), so the JSON and streamed answers report the same usage.
//! - Text: "Echo:" and the first words of the last user message, then words chosen by a hash
//!   of that message, 12 to 40 tokens; cut at the first `stop` sequence (finish `stop`) or at
//!   `max_completion_tokens`/`max_tokens` (finish `length`). One choice, whatever `n` says.
//! - Tools: with function tools and `tool_choice` other than `"none"`, it calls the named
//!   function or the first one, with the schema's `required` properties filled with examples.

mod embed;
mod fault;
mod rng;
mod stream;
mod text;
mod tools;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bulkhead_core::{
    ChatModel, ChatRequest, ChatResponse, ChatStream, EmbeddingModel, EmbeddingRequest,
    EmbeddingResponse, Error, Result, Usage, async_trait,
};
use tokio::time::Instant;

pub use fault::{Fault, FaultKind};
use fault::{draw, fault_error};
use stream::{Body, Pacing, Plan, SimStream};

/// How the simulated provider behaves.
#[derive(Debug, Clone)]
pub struct SimulatedConfig {
    /// The provider's name, used in error messages; default `"simulated"`.
    pub name: String,
    /// Delay before a JSON answer, or before a stream starts; default zero.
    pub latency: Duration,
    /// Extra delay before a stream's first chunk; default zero.
    pub time_to_first_token: Duration,
    /// Token rate of streams; `None` (the default) sends as fast as the reader takes them.
    pub tokens_per_second: Option<f64>,
    /// Faults to inject, each drawn per call against its probability.
    pub faults: Vec<Fault>,
    /// Seeds the fault draws; the same seed and call order give the same faults.
    pub seed: u64,
    /// Length of embedding vectors when the request does not ask for `dimensions`; default 64.
    pub embedding_dimensions: usize,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        Self {
            name: "simulated".to_owned(),
            latency: Duration::ZERO,
            time_to_first_token: Duration::ZERO,
            tokens_per_second: None,
            faults: Vec::new(),
            seed: 0,
            embedding_dimensions: 64,
        }
    }
}

/// The simulated provider. Cloning is cheap and shares the call counter.
///
/// A JSON call takes `latency + time_to_first_token + tokens / tokens_per_second`, the time the
/// same answer takes to stream, so both paths look alike to latency metrics.
#[derive(Debug, Clone)]
pub struct SimulatedProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SimulatedConfig,
    /// `config.name`, shared with every answer's plan without a copy.
    name: Arc<str>,
    per_token: Duration,
    calls: AtomicU64,
}

impl SimulatedProvider {
    /// A simulated provider with the given behaviour.
    pub fn new(config: SimulatedConfig) -> Self {
        let per_token = match config.tokens_per_second {
            Some(rate) if rate.is_finite() && rate > 0.0 => Duration::from_secs_f64(1.0 / rate),
            _ => Duration::ZERO,
        };
        Self {
            inner: Arc::new(Inner {
                name: config.name.as_str().into(),
                config,
                per_token,
                calls: AtomicU64::new(0),
            }),
        }
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// How many calls (chat, stream and embed) it has received.
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// Number this call and draw its fault.
    fn begin(&self) -> (u64, Option<&FaultKind>) {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        (call, draw(&self.config.faults, self.config.seed, call))
    }

    fn plan(&self, request: &ChatRequest, call: u64) -> Result<Plan> {
        let provider = &self.config.name;
        if request.messages.is_empty() {
            return Err(Error::bad_request(format!(
                "provider `{provider}`: messages must not be empty"
            ))
            .with_status(400));
        }
        let body = match tools::choose(request, provider)? {
            Some(call) => {
                let ends = text::token_ends(&call.arguments);
                Body::Tool(call, ends)
            }
            None => {
                let stop = request
                    .stop
                    .as_ref()
                    .map(|s| s.sequences())
                    .unwrap_or_default();
                let subject = text::subject(request);
                Body::Text(text::compose(&subject, &stop, request.token_limit()))
            }
        };
        let mut plan = Plan {
            provider: self.name.clone(),
            id: completion_id(call),
            model: request.model.clone(),
            created: unix_now(),
            body,
            usage: Usage::default(),
        };
        let completion = plan.completion_tokens() as u32;
        plan.usage = Usage::new(text::prompt_tokens(&request.messages), completion);
        Ok(plan)
    }

    fn pacing(&self) -> Option<Pacing> {
        let first_token = self.config.time_to_first_token;
        (!first_token.is_zero() || !self.per_token.is_zero()).then(|| Pacing {
            start: Instant::now(),
            first_token,
            per_token: self.per_token,
        })
    }
}

/// `chatcmpl-sim-{call:x}`, without `format!` (this runs on every call).
fn completion_id(call: u64) -> String {
    const PREFIX: &str = "chatcmpl-sim-";
    let digits = (64 - call.leading_zeros() as usize).div_ceil(4).max(1);
    let mut id = String::with_capacity(PREFIX.len() + digits);
    id.push_str(PREFIX);
    for shift in (0..digits).rev() {
        id.push(char::from(
            b"0123456789abcdef"[((call >> (shift * 4)) & 0xf) as usize],
        ));
    }
    id
}

/// Sleep only when there is something to wait for: zero-latency calls never touch a timer.
async fn wait(duration: Duration) {
    if !duration.is_zero() {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
#[test]
fn completion_ids_are_lowercase_hex() {
    for call in [0, 1, 0xa, 0x10, 0xdead_beef, u64::MAX] {
        assert_eq!(completion_id(call), format!("chatcmpl-sim-{call:x}"));
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[async_trait]
impl ChatModel for SimulatedProvider {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let inner = &*self.inner;
        let (call, fault) = inner.begin();
        let plan = inner.plan(&request, call)?;
        if let Some(kind) = fault {
            let error = fault_error(kind, &inner.config.name);
            wait(inner.config.latency).await;
            return Err(error);
        }
        let tokens = plan.completion_tokens() as u32;
        wait(inner.config.latency + inner.config.time_to_first_token + inner.per_token * tokens)
            .await;
        Ok(plan.response())
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let inner = &*self.inner;
        let (call, fault) = inner.begin();
        let plan = inner.plan(&request, call)?;
        let cut_after = match fault {
            Some(FaultKind::StreamCut { after_chunks }) => Some(*after_chunks),
            Some(kind) => {
                let error = fault_error(kind, &inner.config.name);
                wait(inner.config.latency).await;
                return Err(error);
            }
            None => None,
        };
        wait(inner.config.latency).await;
        let include_usage = request.wants_stream_usage();
        Ok(Box::pin(SimStream::new(
            plan,
            include_usage,
            cut_after,
            inner.pacing(),
        )))
    }
}

#[async_trait]
impl EmbeddingModel for SimulatedProvider {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        let inner = &*self.inner;
        let (_, fault) = inner.begin();
        let response = embed::embed(
            &request,
            inner.config.embedding_dimensions,
            &inner.config.name,
        )?;
        wait(inner.config.latency).await;
        match fault {
            Some(kind) => Err(fault_error(kind, &inner.config.name)),
            None => Ok(response),
        }
    }
}
