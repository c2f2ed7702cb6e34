//! `POST /v1/messages`: the answer the mock derives from an Anthropic request, as a message or
//! as the real event sequence.

use std::time::Duration;

use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{message, message_delta, message_start, text_delta, usage};
use crate::fixtures::words;
use crate::reply::{self, TextReply, is_stream};
use crate::respond::{self, End, Framing, Shutdown};

/// The Anthropic endpoint the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `POST /v1/messages`.
    Messages,
}

impl Endpoint {
    pub(crate) fn route(method: &Method, path: &str) -> Option<Endpoint> {
        (method == Method::POST && path.trim_end_matches('/') == "/v1/messages")
            .then_some(Endpoint::Messages)
    }

    pub(crate) fn reply(self, body: &Value, seq: usize, shutdown: Shutdown) -> Response {
        let answer = Answer::plan(body, seq);
        if is_stream(body) {
            stream(answer.events(), End::Clean, shutdown)
        } else {
            respond::json(StatusCode::OK, &answer.message())
        }
    }

    pub(crate) fn cut(
        self,
        body: &Value,
        seq: usize,
        after_chunks: usize,
        shutdown: Shutdown,
    ) -> Response {
        let answer = Answer::plan(body, seq);
        if is_stream(body) {
            // message_start, content_block_start and ping, then `after_chunks` deltas.
            let events = answer.events().into_iter().take(3 + after_chunks).collect();
            stream(events, End::Cut, shutdown)
        } else {
            respond::cut_json(&answer.message(), shutdown)
        }
    }
}

/// Events as Anthropic sends them: `event: <type>` and `data: <payload>`.
pub(crate) fn stream(events: Vec<String>, end: End, shutdown: Shutdown) -> Response {
    respond::event_stream(events, Framing::Named, Duration::ZERO, end, shutdown)
}

#[derive(Debug)]
struct Answer {
    id: String,
    model: String,
    input_tokens: u32,
    kind: Kind,
    stop_reason: &'static str,
}

#[derive(Debug)]
enum Kind {
    Text(Vec<String>),
    Tool { name: String, input: Value },
}

impl Answer {
    /// Like the OpenAI responder: `"Mock answer to: <last user text>"` cut to `max_tokens`
    /// words, or, when `tool_choice` is `any` or `tool`, a call whose input gives every required
    /// property `"mock"`.
    fn plan(body: &Value, seq: usize) -> Answer {
        let messages = reply::messages(body);
        let input_tokens = reply::prompt_tokens(messages);
        let id = format!("msg_mock_{seq}");
        let model = body["model"].as_str().unwrap_or("claude-mock").to_owned();
        if let Some((name, input)) = forced_tool(body) {
            let kind = Kind::Tool { name, input };
            return Answer {
                id,
                model,
                input_tokens,
                kind,
                stop_reason: "tool_use",
            };
        }
        let prompt = reply::last_user_text(messages).unwrap_or_default();
        let text = TextReply::new(&reply::answer_to(&prompt), body["max_tokens"].as_u64());
        Answer {
            id,
            model,
            input_tokens,
            stop_reason: if text.cut { "max_tokens" } else { "end_turn" },
            kind: Kind::Text(text.pieces),
        }
    }

    fn output_tokens(&self) -> usize {
        match &self.kind {
            Kind::Text(pieces) => pieces.len(),
            Kind::Tool { input, .. } => words(&input.to_string()).max(1) as usize,
        }
    }

    fn message(&self) -> Value {
        let block = match &self.kind {
            Kind::Text(pieces) => json!({ "type": "text", "text": pieces.concat() }),
            Kind::Tool { name, input } => tool_block(&self.id, name, input.clone()),
        };
        let output = u32::try_from(self.output_tokens()).unwrap_or(u32::MAX);
        message(
            &self.id,
            &self.model,
            vec![block],
            self.stop_reason,
            usage(self.input_tokens, output),
        )
    }

    /// The real sequence: start, block start, ping, deltas, block stop, delta, stop.
    fn events(&self) -> Vec<String> {
        let mut events = vec![message_start(&self.id, &self.model, self.input_tokens)];
        match &self.kind {
            Kind::Text(pieces) => {
                events.push(json!({ "type": "content_block_start", "index": 0,
                                    "content_block": { "type": "text", "text": "" } }));
                events.extend(pieces.iter().map(|p| text_delta(0, p)));
            }
            Kind::Tool { name, input } => {
                events.push(json!({ "type": "content_block_start", "index": 0,
                                    "content_block": tool_block(&self.id, name, json!({})) }));
                let input = input.to_string();
                let (a, b) = reply::halves(&input);
                for fragment in ["", a, b] {
                    events.push(json!({ "type": "content_block_delta", "index": 0,
                        "delta": { "type": "input_json_delta", "partial_json": fragment } }));
                }
            }
        }
        events.insert(2.min(events.len()), json!({ "type": "ping" }));
        events.push(json!({ "type": "content_block_stop", "index": 0 }));
        events.push(message_delta(self.stop_reason, self.output_tokens()));
        events.push(json!({ "type": "message_stop" }));
        events.iter().map(Value::to_string).collect()
    }
}

fn tool_block(message_id: &str, name: &str, input: Value) -> Value {
    let id = format!("toolu_{}", message_id.trim_start_matches("msg_"));
    json!({ "type": "tool_use", "id": id, "name": name, "input": input })
}

/// The tool a request forces (`tool_choice` `any` or `tool`), with its required properties
/// set to `"mock"`.
fn forced_tool(body: &Value) -> Option<(String, Value)> {
    let tools = body["tools"].as_array().filter(|t| !t.is_empty())?;
    let name = match body["tool_choice"]["type"].as_str()? {
        "any" => tools[0]["name"].as_str()?,
        "tool" => body["tool_choice"]["name"].as_str()?,
        _ => return None,
    };
    let tool = tools
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or(&tools[0]);
    Some((
        name.to_owned(),
        reply::mock_arguments(&tool["input_schema"]),
    ))
}
