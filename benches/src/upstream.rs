//! The static upstream: the cheapest server that still answers like OpenAI, so that "direct"
//! measures the loopback and the load generator, and nothing else.
//!
//! Every body is built once at start-up; a request costs a route match, a scan of its body for
//! `"stream":true`, and a refcount bump on a precomputed [`Bytes`]. Nothing is parsed.
//!
//! A streamed answer can also be paced ([`UpstreamConfig::chunk_interval`]), like a model
//! producing tokens, so that many streams stay open at once (the soak of
//! `bulkhead-bench-soak`) instead of each completing as soon as it starts.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

/// The `id` and `created` every answer carries; fixed, since nothing checks them.
const ID: &str = "chatcmpl-bench0123456789";
const CREATED: u64 = 1_722_000_000;
const MODEL: &str = "gpt-4o-mini-2024-07-18";
const FINGERPRINT: &str = "fp_0ba0d124f1";

/// What the static upstream answers.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamConfig {
    /// `chat.completion.chunk` events in a streamed answer (before `data: [DONE]`); at least 2.
    pub chunks: usize,
    /// Send each event as its own body frame (one chunked-encoding write each) instead of the
    /// whole stream as one body. One body is the cheapest; frames are closer to a real model.
    pub separate_frames: bool,
    /// The pause before each event after the first, up to the `finish_reason` chunk
    /// (`data: [DONE]` follows it at once): a 20-chunk stream lasts 19 intervals. Non-zero
    /// implies `separate_frames`. Zero (the default): no pacing.
    pub chunk_interval: Duration,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            chunks: 20,
            separate_frames: false,
            chunk_interval: Duration::ZERO,
        }
    }
}

/// The precomputed bodies.
#[derive(Debug)]
struct Bodies {
    chat: Bytes,
    /// The whole event stream, for `separate_frames = false`.
    stream: Bytes,
    /// One event per element, `data: [DONE]` last, for `separate_frames = true`.
    events: Vec<Bytes>,
    separate_frames: bool,
    chunk_interval: Duration,
    embeddings: Bytes,
}

/// The upstream's routes: `POST /v1/chat/completions` and `POST /v1/embeddings`.
pub fn router(config: UpstreamConfig) -> Router {
    let events = stream_events(config.chunks);
    let bodies = Bodies {
        chat: Bytes::from(chat_completion()),
        stream: Bytes::from(events.concat()),
        events: events.into_iter().map(Bytes::from).collect(),
        separate_frames: config.separate_frames || !config.chunk_interval.is_zero(),
        chunk_interval: config.chunk_interval,
        embeddings: Bytes::from(embeddings(64)),
    };
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/embeddings", post(embed))
        .with_state(Arc::new(bodies))
}

async fn chat(State(bodies): State<Arc<Bodies>>, request: Bytes) -> Response {
    if !is_stream(&request) {
        return with_type(Body::from(bodies.chat.clone()), "application/json");
    }
    let body = if !bodies.chunk_interval.is_zero() {
        Body::from_stream(paced(bodies.events.clone(), bodies.chunk_interval))
    } else if bodies.separate_frames {
        let frames = bodies.events.clone().into_iter().map(Ok::<_, Infallible>);
        Body::from_stream(futures_util::stream::iter(frames))
    } else {
        Body::from(bodies.stream.clone())
    };
    let mut response = with_type(body, "text/event-stream");
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `events` as body frames, `interval` apart: none before the first, nor before the last
/// (`data: [DONE]` goes out with the `finish_reason` chunk, as OpenAI sends it).
fn paced(
    events: Vec<Bytes>,
    interval: Duration,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let last = events.len().saturating_sub(1);
    futures_util::stream::iter(events.into_iter().enumerate()).then(move |(i, event)| async move {
        if i > 0 && i < last {
            tokio::time::sleep(interval).await;
        }
        Ok(event)
    })
}

async fn embed(State(bodies): State<Arc<Bodies>>) -> Response {
    with_type(Body::from(bodies.embeddings.clone()), "application/json")
}

fn with_type(body: Body, content_type: &'static str) -> Response {
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Whether a JSON request body asks for a stream: `"stream"`, optional whitespace, `:`,
/// optional whitespace, `true`. A byte scan, not a parse: `"stream_options"` does not match,
/// and a string value that happens to contain `"stream":true` would (nothing sends one here).
pub fn is_stream(body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"stream\"";
    let mut rest = body;
    while let Some(at) = rest.windows(KEY.len()).position(|w| w == KEY) {
        rest = &rest[at + KEY.len()..];
        let after_key = skip_space(rest);
        if let Some(value) = after_key.strip_prefix(b":") {
            return skip_space(value).starts_with(b"true");
        }
    }
    false
}

fn skip_space(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// A realistic non-streamed answer (~600 bytes, the shape OpenAI sends today).
pub fn chat_completion() -> String {
    format!(
        concat!(
            r#"{{"id":"{id}","object":"chat.completion","created":{created},"model":"{model}","#,
            r#""choices":[{{"index":0,"message":{{"role":"assistant","content":"{content}","#,
            r#""refusal":null,"annotations":[]}},"logprobs":null,"finish_reason":"stop"}}],"#,
            r#""usage":{{"prompt_tokens":19,"completion_tokens":18,"total_tokens":37,"#,
            r#""prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"#,
            r#""completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"#,
            r#""accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}},"#,
            r#""service_tier":"default","system_fingerprint":"{fp}"}}"#
        ),
        id = ID,
        created = CREATED,
        model = MODEL,
        fp = FINGERPRINT,
        content = WORDS.concat(),
    )
}

/// The words streamed as content, one per chunk, cycling when more are needed.
const WORDS: [&str; 18] = [
    "Hello",
    "!",
    " How",
    " can",
    " I",
    " assist",
    " you",
    " with",
    " your",
    " gateway",
    " benchmark",
    " today",
    "?",
    " Ask",
    " me",
    " anything",
    " at",
    " all",
];

/// `chunks` SSE events (a role chunk, content chunks, a `finish_reason` chunk), then
/// `data: [DONE]`, each a complete `data: ...\n\n` event.
pub fn stream_events(chunks: usize) -> Vec<String> {
    let chunks = chunks.max(2);
    let event = |delta: &str, finish: &str| {
        format!(
            concat!(
                r#"data: {{"id":"{id}","object":"chat.completion.chunk","created":{created},"#,
                r#""model":"{model}","service_tier":"default","system_fingerprint":"{fp}","#,
                r#""choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]}}"#,
                "\n\n"
            ),
            id = ID,
            created = CREATED,
            model = MODEL,
            fp = FINGERPRINT,
            delta = delta,
            finish = finish,
        )
    };
    let mut events = Vec::with_capacity(chunks + 1);
    events.push(event(
        r#"{"role":"assistant","content":"","refusal":null}"#,
        "null",
    ));
    for word in WORDS.iter().cycle().take(chunks - 2) {
        events.push(event(&format!(r#"{{"content":"{word}"}}"#), "null"));
    }
    events.push(event("{}", r#""stop""#));
    events.push("data: [DONE]\n\n".to_owned());
    events
}

/// A `list` of one embedding of `dimensions` floats.
pub fn embeddings(dimensions: usize) -> String {
    let vector: Vec<String> = (0..dimensions)
        .map(|i| format!("{:.6}", ((i * 37 % 101) as f64 - 50.0) / 500.0))
        .collect();
    format!(
        r#"{{"object":"list","data":[{{"object":"embedding","index":0,"embedding":[{}]}}],"model":"text-embedding-3-small","usage":{{"prompt_tokens":8,"total_tokens":8}}}}"#,
        vector.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_stream_true_with_or_without_spaces() {
        assert!(is_stream(br#"{"model":"m","stream":true}"#));
        assert!(is_stream(br#"{"model":"m", "stream": true}"#));
        assert!(is_stream(br#"{"stream_options":{},"stream" :	true}"#));
        assert!(!is_stream(br#"{"model":"m","stream":false}"#));
        assert!(!is_stream(br#"{"stream_options":{"include_usage":true}}"#));
        assert!(!is_stream(br#"{"model":"m"}"#));
    }

    #[test]
    fn stream_has_the_asked_number_of_chunks_then_done() {
        let events = stream_events(20);
        assert_eq!(events.len(), 21);
        assert_eq!(events[20], "data: [DONE]\n\n");
        assert!(events[19].contains(r#""finish_reason":"stop""#));
    }

    #[tokio::test(start_paused = true)]
    async fn paced_frames_are_an_interval_apart_and_done_follows_the_last_chunk() {
        let events: Vec<Bytes> = stream_events(5).into_iter().map(Bytes::from).collect();
        let interval = Duration::from_millis(50);
        let start = tokio::time::Instant::now();
        let mut at = Vec::new();
        let mut frames = std::pin::pin!(paced(events.clone(), interval));
        while let Some(Ok(frame)) = frames.next().await {
            at.push((start.elapsed(), frame));
        }
        let times: Vec<u64> = at.iter().map(|(t, _)| t.as_millis() as u64).collect();
        assert_eq!(times, [0, 50, 100, 150, 200, 200]);
        let sent: Vec<Bytes> = at.into_iter().map(|(_, frame)| frame).collect();
        assert_eq!(sent, events);
    }

    #[tokio::test]
    async fn a_paced_upstream_sends_every_event_as_its_own_frame() {
        let config = UpstreamConfig {
            chunks: 4,
            chunk_interval: Duration::from_millis(20),
            ..UpstreamConfig::default()
        };
        let addr = crate::spawn_server("paced-upstream", 1, move || router(config))
            .expect("a loopback server");
        let client = crate::load::client(1).expect("a client");
        let mut response = client
            .post(format!("http://{addr}/v1/chat/completions"))
            .body(r#"{"model":"m","stream":true}"#)
            .send()
            .await
            .expect("an answer");
        let mut frames = Vec::new();
        while let Some(frame) = response.chunk().await.expect("the body") {
            frames.push(frame);
        }
        // Frames 20 ms apart cannot be merged into one read; the last two may be.
        assert!(frames.len() >= 4, "{} frames", frames.len());
        assert_eq!(frames.concat(), stream_events(4).concat().into_bytes());
    }
}
