//! The OpenAI wire format: which paths it serves and what [`Step::Reply`](crate::Step::Reply)
//! and [`Step::StreamCut`](crate::Step::StreamCut) send on each.

use std::time::Duration;

use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::Value;

use crate::fixtures;
use crate::reply::is_stream;
use crate::respond::{self, End, Framing, Shutdown};

mod chat;
mod embeddings;

use chat::{Answer, wants_usage};
use embeddings::embeddings;

/// An OpenAI endpoint the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `GET /v1/models`.
    Models,
}

impl Endpoint {
    /// The endpoint for a method and path, if OpenAI has one there.
    pub(crate) fn route(method: &Method, path: &str) -> Option<Endpoint> {
        match (method.as_str(), path.trim_end_matches('/')) {
            ("POST", "/v1/chat/completions") => Some(Endpoint::ChatCompletions),
            ("POST", "/v1/embeddings") => Some(Endpoint::Embeddings),
            ("GET", "/v1/models") => Some(Endpoint::Models),
            _ => None,
        }
    }

    /// The normal answer to `body`; `seq` (the request's 1-based number) makes ids unique.
    pub(crate) fn reply(self, body: &Value, seq: usize, shutdown: Shutdown) -> Response {
        match self {
            Endpoint::ChatCompletions => {
                let answer = Answer::plan(body, seq);
                if is_stream(body) {
                    let parts = answer.chunks(wants_usage(body));
                    let mut events = parts.all();
                    events.push("[DONE]".to_owned());
                    respond::event_stream(
                        events,
                        Framing::Data,
                        Duration::ZERO,
                        End::Clean,
                        shutdown,
                    )
                } else {
                    respond::json(StatusCode::OK, &answer.completion())
                }
            }
            Endpoint::Embeddings => respond::json(StatusCode::OK, &embeddings(body)),
            Endpoint::Models => {
                respond::json(StatusCode::OK, &fixtures::models(&[fixtures::MODEL]))
            }
        }
    }

    /// The normal answer cut after `after_chunks` content chunks (streams), or after half its
    /// bytes (JSON answers).
    pub(crate) fn cut(
        self,
        body: &Value,
        seq: usize,
        after_chunks: usize,
        shutdown: Shutdown,
    ) -> Response {
        match self {
            Endpoint::ChatCompletions if is_stream(body) => {
                let parts = Answer::plan(body, seq).chunks(wants_usage(body));
                let mut events = vec![parts.head];
                events.extend(parts.content.into_iter().take(after_chunks));
                respond::event_stream(events, Framing::Data, Duration::ZERO, End::Cut, shutdown)
            }
            Endpoint::ChatCompletions => {
                respond::cut_json(&Answer::plan(body, seq).completion(), shutdown)
            }
            Endpoint::Embeddings => respond::cut_json(&embeddings(body), shutdown),
            Endpoint::Models => respond::cut_json(&fixtures::models(&[fixtures::MODEL]), shutdown),
        }
    }
}
