//! `POST /v1/messages`: Anthropic's Messages API in front of any model, so clients built on an
//! Anthropic SDK can use every provider behind the gateway.
//!
//! The request is translated to a chat request and runs through exactly the stack
//! `/v1/chat/completions` uses (same routes, retries, fallbacks, headers); the answer is
//! translated back, JSON or SSE. The translations live in
//! [`bulkhead_inference::anthropic::ingress`]; this module only moves bytes.
//!
//! Errors have the statuses of the OpenAI route (the table in [`super::error`]) and Anthropic's
//! body, `{"type": "error", "error": {"type", "message"}}`, whose `type` follows the status:
//!
//! | status | `error.type` |
//! |---|---|
//! | 400, 405, other 4xx | `invalid_request_error` |
//! | 401 | `authentication_error` |
//! | 403 | `permission_error` |
//! | 404 | `not_found_error` |
//! | 413 | `request_too_large` |
//! | 429 | `rate_limit_error` |
//! | 503, 529 | `overloaded_error` |
//! | 504 | `timeout_error` |
//! | 500, 502, other | `api_error` |
//!
//! As on the OpenAI route, the response head waits for the first chunk, so a stream that fails
//! before it starts gets its real status; a failure after that ends the stream with an
//! `event: error` and no `message_stop`. The client's `x-api-key` and `Authorization` headers
//! are never forwarded: only the translated body goes upstream.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bulkhead_core::{ChatChunk, ChatModel as _, ChatStream};
use bulkhead_inference::anthropic::ingress::{
    EventEncoder, error_event, from_anthropic, from_openai, write_event,
};
use bulkhead_inference::anthropic::wire::{MessagesRequest, StreamEvent};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::StatusCode;
use serde_json::{Value, json};

use super::admit::{Admission, Admitted, Settled, settle};
use super::error::ApiError;
use super::sse::event_stream_head;
use super::{Origin, RequestBody, json_answer, parse_body};
use crate::gateway::Gateway;

pub(crate) async fn handle(
    State(gateway): State<Gateway>,
    admission: Admission,
    body: RequestBody,
) -> Response {
    let wire: MessagesRequest = match parse_body(body, gateway.inner.max_body_bytes, |text| {
        serde_json::from_str(text)
    }) {
        Ok(request) => request,
        Err(error) => return anthropic_error(*error),
    };
    let mut request = match from_anthropic(wire) {
        Ok(request) => request,
        Err(e) => {
            return anthropic_error(ApiError::invalid(
                e.message().to_owned(),
                "invalid_request_body",
            ));
        }
    };
    let Admitted {
        route,
        report,
        permit,
    } = match admission.chat(&gateway, &mut request).await {
        Ok(admitted) => admitted,
        Err(e) => return anthropic_error(*e),
    };

    if !request.is_stream() {
        let result = route.chat.chat(request).await;
        let origin = Origin::of(&route, &report);
        return match result {
            Ok(answer) => {
                settle(permit, answer.usage.as_ref(), &report);
                json_answer(&from_openai(answer), &origin)
            }
            Err(e) => {
                settle(permit, None, &report);
                anthropic_error(ApiError::upstream(&e, &origin))
            }
        };
    }

    let mut stream = match route.chat.stream(request).await {
        Ok(stream) => Settled::wrap(stream, permit, &report),
        Err(e) => {
            settle(permit, None, &report);
            return anthropic_error(ApiError::upstream(&e, &Origin::of(&route, &report)));
        }
    };
    let first = match stream.next().await {
        Some(Ok(chunk)) => Some(chunk),
        Some(Err(e)) => {
            return anthropic_error(ApiError::upstream(&e, &Origin::of(&route, &report)));
        }
        None => None,
    };
    streaming_response(first, stream, Origin::of(&route, &report))
}

/// `error.type` for a status; see the table in the module docs.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// The status and message of an error answer, as the OpenAI route would give them.
fn status_and_message(error: ApiError) -> (Response, String) {
    let mut buf = BytesMut::with_capacity(256);
    error.write_json(&mut buf);
    let message = serde_json::from_slice::<Value>(&buf)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_default();
    (error.into_response(), message)
}

/// The OpenAI route's error answer (status and headers: `Retry-After`, `x-bulkhead-*`) with
/// Anthropic's body.
pub(crate) fn anthropic_error(error: ApiError) -> Response {
    let (mut response, message) = status_and_message(error);
    let body = json!({
        "type": "error",
        "error": { "type": error_type(response.status()), "message": message },
    });
    *response.body_mut() = Body::from(body.to_string());
    response
}

fn streaming_response(first: Option<ChatChunk>, upstream: ChatStream, origin: Origin) -> Response {
    let mut response = event_stream_head(&origin);
    let state = Events {
        first,
        upstream: Some(upstream),
        encoder: EventEncoder::new(),
        origin,
        events: Vec::new(),
    };
    let body = futures_util::stream::unfold(state, |mut state| async move {
        let bytes = state.next_frame().await?;
        Some((Ok::<Bytes, Infallible>(bytes), state))
    });
    *response.body_mut() = Body::from_stream(body);
    response
}

/// The state of one streamed answer.
struct Events {
    first: Option<ChatChunk>,
    /// `None` once the answer ended or failed; dropping it releases the upstream.
    upstream: Option<ChatStream>,
    encoder: EventEncoder,
    origin: Origin,
    events: Vec<StreamEvent>,
}

impl Events {
    /// The next non-empty frame of SSE bytes, or `None` when the body is complete.
    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.first.take() {
                self.encoder.push_chunk(&chunk, &mut self.events);
            } else {
                let upstream = self.upstream.as_mut()?;
                match upstream.next().await {
                    Some(Ok(chunk)) => self.encoder.push_chunk(&chunk, &mut self.events),
                    Some(Err(e)) => {
                        self.upstream = None;
                        let (response, message) =
                            status_and_message(ApiError::upstream(&e, &self.origin));
                        self.events
                            .push(error_event(error_type(response.status()), &message));
                    }
                    None => {
                        self.upstream = None;
                        self.encoder.finish(&mut self.events);
                    }
                }
            }
            if self.events.is_empty() {
                continue;
            }
            let mut buf = Vec::with_capacity(256 * self.events.len());
            for event in self.events.drain(..) {
                if write_event(&event, &mut buf).is_err() {
                    self.upstream = None;
                    let error = error_event("api_error", "could not encode an event");
                    // Plain strings always serialize.
                    let _ = write_event(&error, &mut buf);
                    break;
                }
            }
            self.events.clear();
            return Some(Bytes::from(buf));
        }
    }
}
