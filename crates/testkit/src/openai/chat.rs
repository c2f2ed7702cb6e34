//! `POST /v1/chat/completions`: the answer the mock derives from a request, as JSON or chunks.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::fixtures::{self, chunk_with, completion, tool_call, usage, words};
use crate::reply::{self, TextReply};

pub(super) fn wants_usage(body: &Value) -> bool {
    body["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false)
}

/// The answer the mock gives to one chat request, before it is rendered as JSON or chunks.
#[derive(Debug)]
pub(super) struct Answer {
    id: String,
    created: u64,
    model: String,
    kind: AnswerKind,
    finish_reason: &'static str,
    prompt_tokens: u32,
    completion_tokens: u32,
}

#[derive(Debug)]
enum AnswerKind {
    /// Content, as the pieces it is streamed in (words, each but the first with its space).
    Text(Vec<String>),
    /// A call to one function with JSON-encoded arguments.
    Tool { name: String, arguments: String },
}

/// A streamed answer: the role chunk, the content chunks, and what follows them.
#[derive(Debug)]
pub(super) struct Chunks {
    pub(super) head: String,
    pub(super) content: Vec<String>,
    tail: Vec<String>,
}

impl Chunks {
    pub(super) fn all(self) -> Vec<String> {
        let mut events = vec![self.head];
        events.extend(self.content);
        events.extend(self.tail);
        events
    }
}

impl Answer {
    pub(super) fn plan(body: &Value, seq: usize) -> Answer {
        let messages = reply::messages(body);
        let prompt_tokens = reply::prompt_tokens(messages);
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(fixtures::CREATED);
        let model = body["model"].as_str().unwrap_or(fixtures::MODEL).to_owned();
        let id = format!("chatcmpl-mock-{seq}");

        if let Some((name, arguments)) = forced_tool_call(body) {
            return Answer {
                id,
                created,
                model,
                completion_tokens: words(&arguments).max(1),
                kind: AnswerKind::Tool { name, arguments },
                finish_reason: "tool_calls",
                prompt_tokens,
            };
        }

        // The last user message, or the last message when no user spoke.
        let prompt = reply::last_user_text(messages)
            .or_else(|| messages.last().map(|m| reply::content_text(&m["content"])))
            .unwrap_or_default();
        let text = if prompt.trim().is_empty() {
            "Mock answer.".to_owned()
        } else {
            reply::answer_to(&prompt)
        };
        let limit = body["max_completion_tokens"]
            .as_u64()
            .or_else(|| body["max_tokens"].as_u64());
        let text = TextReply::new(&text, limit);
        Answer {
            id,
            created,
            model,
            completion_tokens: text.tokens(),
            finish_reason: if text.cut { "length" } else { "stop" },
            kind: AnswerKind::Text(text.pieces),
            prompt_tokens,
        }
    }

    fn usage(&self) -> Value {
        usage(self.prompt_tokens, self.completion_tokens)
    }

    pub(super) fn completion(&self) -> Value {
        let message = match &self.kind {
            AnswerKind::Text(pieces) => json!({
                "role": "assistant",
                "content": pieces.concat(),
                "refusal": null,
                "annotations": [],
            }),
            AnswerKind::Tool { name, arguments } => json!({
                "role": "assistant",
                "content": null,
                "refusal": null,
                "annotations": [],
                "tool_calls": [tool_call(0, name, arguments)],
            }),
        };
        completion(
            &self.id,
            self.created,
            &self.model,
            message,
            self.finish_reason,
            self.usage(),
        )
    }

    pub(super) fn chunks(&self, include_usage: bool) -> Chunks {
        let chunk = |delta: Value, finish: Option<&str>| {
            chunk_with(
                &self.id,
                self.created,
                &self.model,
                delta,
                finish,
                include_usage,
            )
            .to_string()
        };
        let (head, content) = match &self.kind {
            AnswerKind::Text(pieces) => (
                chunk(
                    json!({ "role": "assistant", "content": "", "refusal": null }),
                    None,
                ),
                pieces
                    .iter()
                    .map(|p| chunk(json!({ "content": p }), None))
                    .collect(),
            ),
            AnswerKind::Tool { name, arguments } => {
                let mut first = tool_call(0, name, "");
                first["index"] = json!(0);
                let head = chunk(
                    json!({ "role": "assistant", "content": null, "tool_calls": [first] }),
                    None,
                );
                let content = split_in_two(arguments)
                    .into_iter()
                    .map(|fragment| {
                        chunk(
                            json!({ "tool_calls": [{ "index": 0, "function": { "arguments": fragment } }] }),
                            None,
                        )
                    })
                    .collect();
                (head, content)
            }
        };
        let mut tail = vec![chunk(json!({}), Some(self.finish_reason))];
        if include_usage {
            let mut last =
                fixtures::usage_chunk(&self.model, self.prompt_tokens, self.completion_tokens);
            last["id"] = json!(self.id);
            last["created"] = json!(self.created);
            tail.push(last.to_string());
        }
        Chunks {
            head,
            content,
            tail,
        }
    }
}

/// `text` in two fragments split near the middle (one when the other half is empty), so
/// argument fragments must be concatenated.
fn split_in_two(text: &str) -> Vec<String> {
    let (a, b) = reply::halves(text);
    [a, b]
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The tool call a request forces (`tool_choice` `"required"` or a named function): its name
/// and arguments giving every required property the string `"mock"`.
fn forced_tool_call(body: &Value) -> Option<(String, String)> {
    let tools = body["tools"].as_array().filter(|t| !t.is_empty())?;
    let name = match &body["tool_choice"] {
        Value::String(mode) if mode == "required" => tools[0]["function"]["name"].as_str()?,
        Value::Object(choice) => choice.get("function")?.get("name")?.as_str()?,
        _ => return None,
    };
    let tool = tools
        .iter()
        .find(|t| t["function"]["name"] == name)
        .unwrap_or(&tools[0]);
    let arguments = reply::mock_arguments(&tool["function"]["parameters"]);
    Some((name.to_owned(), arguments.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_tokens_cuts_the_answer_with_finish_reason_length() {
        let body = json!({
            "model": "m",
            "max_tokens": 2,
            "messages": [{ "role": "user", "content": "one two three" }],
        });
        let answer = Answer::plan(&body, 1).completion();
        assert_eq!(answer["choices"][0]["message"]["content"], "Mock answer");
        assert_eq!(answer["choices"][0]["finish_reason"], "length");
        assert_eq!(answer["usage"]["completion_tokens"], 2);
        assert_eq!(answer["usage"]["prompt_tokens"], 3);
    }

    #[test]
    fn a_named_tool_choice_forces_that_tool_with_its_required_arguments() {
        let body = json!({
            "model": "m",
            "messages": [{ "role": "user", "content": "weather?" }],
            "tools": [
                { "type": "function", "function": { "name": "other" } },
                { "type": "function", "function": { "name": "get_weather",
                  "parameters": { "type": "object", "required": ["city"] } } },
            ],
            "tool_choice": { "type": "function", "function": { "name": "get_weather" } },
        });
        let (name, arguments) = forced_tool_call(&body).expect("tool is forced");
        assert_eq!(name, "get_weather");
        assert_eq!(arguments, r#"{"city":"mock"}"#);
        assert_eq!(split_in_two(&arguments).concat(), arguments);
    }
}
