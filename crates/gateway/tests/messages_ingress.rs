//! `POST /v1/messages`: an Anthropic-format client talking to the gateway, with the simulated
//! provider or an OpenAI-format mock upstream behind it, over real loopback HTTP.

mod common;

use bulkhead_testkit::{MockUpstream, Step};
use common::{JsonBody as _, JsonValue as _, anthropic_toml, client, serve_toml, serve_upstream};
use serde_json::{Value, json};

const SIMULATED: &str = r#"
[[providers]]
name = "sim"
kind = "simulated"

[[models]]
name = "claude-like"
targets = [{ provider = "sim", model = "simulated-1" }]
"#;

async fn post(url: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{url}/v1/messages"))
        .header("x-api-key", "sk-client-key")
        .header("anthropic-version", "2023-06-01")
        .json_body(body)
        .send()
        .await
        .expect("send")
}

/// The `(event, data)` pairs of an Anthropic SSE body, checking that both lines agree.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|event| {
            let (name, data) = event
                .strip_prefix("event: ")
                .and_then(|e| e.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("not an Anthropic event: {event:?}"));
            let data: Value = serde_json::from_str(data).expect("event data is JSON");
            assert_eq!(data["type"], name, "{event}");
            (name.to_owned(), data)
        })
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

fn weather_tool() -> Value {
    json!({
        "name": "get_weather",
        "description": "Weather in a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"]
        }
    })
}

fn assert_anthropic_error(body: &Value, kind: &str) -> String {
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(!message.is_empty());
    assert!(!message.contains("sk-"), "{message}");
    message.to_owned()
}

#[tokio::test]
async fn json_answer_from_the_simulated_provider_is_an_anthropic_message() {
    let url = serve_toml(SIMULATED).await;
    let response = post(
        &url,
        &json!({
            "model": "claude-like",
            "max_tokens": 64,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "Say hello"}],
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-bulkhead-provider"], "sim");
    let body = response.json_value().await;
    assert_eq!(body["type"], "message", "{body}");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["content"][0]["type"], "text");
    assert!(!body["content"][0]["text"].as_str().unwrap_or("").is_empty());
    assert!(matches!(
        body["stop_reason"].as_str(),
        Some("end_turn" | "max_tokens")
    ));
    assert!(body["usage"]["input_tokens"].as_u64() > Some(0), "{body}");
    assert!(body["usage"]["output_tokens"].as_u64() > Some(0), "{body}");
}

#[tokio::test]
async fn request_is_translated_for_an_openai_upstream_and_client_keys_stay_home() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::text("Hi from upstream"));
    let url = serve_upstream(&upstream.base_url(), "total_ms = 5000").await;
    let response = client()
        .post(format!("{url}/v1/messages"))
        .header("x-api-key", "sk-client-key")
        .header("authorization", "Bearer sk-client-bearer")
        .json_body(&json!({
            "model": "chat",
            "max_tokens": 100,
            "system": [{"type": "text", "text": "You are terse."}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
                ]},
            ],
            "temperature": 0.5,
            "top_p": 0.9,
            "stop_sequences": ["END"],
            "metadata": {"user_id": "user-42"},
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let body = response.json_value().await;
    assert_eq!(body["content"][0]["text"], "Hi from upstream", "{body}");
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["type"], "message");

    let seen = &upstream.requests()[0];
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer sk-secret-never-shown")
    );
    assert!(seen.header("x-api-key").is_none());
    let sent = &seen.body;
    assert_eq!(sent["model"], "mock-model");
    assert_eq!(sent["max_tokens"], 100);
    assert_eq!(sent["temperature"], 0.5);
    assert_eq!(sent["top_p"], 0.9);
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["user"], "user-42");
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(sent["messages"][0]["content"][0]["text"], "You are terse.");
    assert_eq!(sent["messages"][1]["role"], "user");
    assert_eq!(sent["messages"][1]["content"][1]["type"], "image_url");
    assert_eq!(
        sent["messages"][1]["content"][1]["image_url"]["url"],
        "data:image/png;base64,iVBORw0KGgo="
    );
}

#[tokio::test]
async fn stream_is_the_anthropic_event_sequence_with_the_upstream_text() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::stream_text(&["Hel", "lo, ", "wörld"]));
    let url = serve_upstream(&upstream.base_url(), "total_ms = 5000").await;
    let response = post(
        &url,
        &json!({
            "model": "chat",
            "max_tokens": 50,
            "stream": true,
            "messages": [{"role": "user", "content": "hi"}],
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = events(&response.text().await.expect("body"));
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[0].1["message"]["role"], "assistant");
    assert_eq!(events[0].1["message"]["type"], "message");
    assert_eq!(events[1].1["content_block"]["type"], "text");
    let text: String = events
        .iter()
        .filter_map(|(_, e)| e["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello, wörld");
    assert_eq!(events[6].1["delta"]["stop_reason"], "end_turn");
    assert!(events[6].1["usage"]["output_tokens"].is_u64());
}

#[tokio::test]
async fn tool_use_round_trip_json_and_stream() {
    let url = serve_toml(SIMULATED).await;
    let ask = json!({
        "model": "claude-like",
        "max_tokens": 200,
        "tools": [weather_tool()],
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
    });
    let body = post(&url, &ask).await.json_value().await;
    assert_eq!(body["stop_reason"], "tool_use", "{body}");
    let call = body["content"]
        .as_array()
        .and_then(|c| c.iter().find(|b| b["type"] == "tool_use"))
        .expect("a tool_use block")
        .clone();
    assert_eq!(call["name"], "get_weather");
    assert!(call["input"]["city"].is_string(), "{call}");
    assert!(call["id"].as_str().is_some_and(|id| !id.is_empty()));

    // The same call streamed: a tool_use block whose input_json_delta fragments add up to the
    // same input.
    let mut streamed = ask.clone();
    streamed["stream"] = json!(true);
    let events = events(&post(&url, &streamed).await.text().await.expect("body"));
    let start = events
        .iter()
        .find(|(n, e)| n == "content_block_start" && e["content_block"]["type"] == "tool_use")
        .expect("tool_use block start");
    assert_eq!(start.1["content_block"]["name"], "get_weather");
    let index = &start.1["index"];
    let json: String = events
        .iter()
        .filter(|(_, e)| &e["index"] == index && e["delta"]["type"] == "input_json_delta")
        .filter_map(|(_, e)| e["delta"]["partial_json"].as_str())
        .collect();
    let input: Value = serde_json::from_str(&json).expect("fragments form JSON");
    assert_eq!(input, call["input"]);
    let delta = events
        .iter()
        .find(|(n, _)| n == "message_delta")
        .expect("delta");
    assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");
    assert_eq!(names(&events).last(), Some(&"message_stop"));

    // The result goes back as a tool_result block and the conversation continues.
    let follow_up = json!({
        "model": "claude-like",
        "max_tokens": 200,
        "tools": [weather_tool()],
        "tool_choice": {"type": "none"},
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": call["id"], "content": "18°C, sunny"}
            ]},
        ],
    });
    let response = post(&url, &follow_up).await;
    assert_eq!(response.status(), 200);
    let body = response.json_value().await;
    assert_eq!(body["content"][0]["type"], "text", "{body}");
    assert_ne!(body["stop_reason"], "tool_use");
}

#[tokio::test]
async fn tool_calls_reach_an_openai_upstream_in_its_format() {
    let upstream = MockUpstream::start().await;
    let url = serve_upstream(&upstream.base_url(), "total_ms = 5000").await;
    let response = post(
        &url,
        &json!({
            "model": "chat",
            "max_tokens": 100,
            "tools": [weather_tool()],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "-3°C"}]},
                    {"type": "text", "text": "And Paris?"}
                ]},
            ],
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body = response.json_value().await;
    assert_eq!(body["stop_reason"], "tool_use", "{body}");
    assert_eq!(body["content"][0]["type"], "tool_use");
    assert_eq!(body["content"][0]["input"]["city"], "mock");

    let sent = &upstream.requests()[0].body;
    assert_eq!(sent["tools"][0]["type"], "function");
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(sent["tool_choice"], "required");
    assert_eq!(sent["parallel_tool_calls"], false);
    let messages = sent["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 4, "{sent}");
    assert_eq!(messages[1]["content"], "Checking.");
    assert_eq!(messages[1]["tool_calls"][0]["id"], "toolu_1");
    let arguments: Value = serde_json::from_str(
        messages[1]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .expect("arguments"),
    )
    .expect("JSON arguments");
    assert_eq!(arguments, json!({"city": "Oslo"}));
    assert_eq!(messages[2]["role"], "tool");
    assert_eq!(messages[2]["tool_call_id"], "toolu_1");
    assert_eq!(messages[2]["content"], "-3°C");
    assert_eq!(messages[3]["role"], "user");
    assert_eq!(messages[3]["content"], "And Paris?");
}

#[tokio::test]
async fn bad_input_is_a_400_in_anthropics_shape() {
    let url = serve_toml(SIMULATED).await;
    let cases = [
        // max_tokens is required by the Messages API.
        json!({"model": "claude-like", "messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": "claude-like", "max_tokens": 10, "messages": []}),
        json!({"model": "claude-like", "max_tokens": 10,
               "messages": [{"role": "system", "content": "hi"}]}),
        json!({"model": "claude-like", "max_tokens": 10,
               "messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}),
        json!({"model": "claude-like", "max_tokens": 10, "tool_choice": {"type": "maybe"},
               "messages": [{"role": "user", "content": "hi"}]}),
    ];
    for case in cases {
        let response = post(&url, &case).await;
        assert_eq!(response.status(), 400, "{case}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = response.json_value().await;
        assert_anthropic_error(&body, "invalid_request_error");
    }
    let response = client()
        .post(format!("{url}/v1/messages"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    assert_anthropic_error(&response.json_value().await, "invalid_request_error");

    let response = post(
        &url,
        &json!({"model": "nope", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(response.status(), 404);
    let message = assert_anthropic_error(&response.json_value().await, "not_found_error");
    assert!(message.contains("`nope`"), "{message}");
}

#[tokio::test]
async fn upstream_failures_keep_their_status_and_use_anthropics_shape() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::rate_limited(7));
    upstream.push(Step::rate_limited(7));
    let url = serve_upstream(&upstream.base_url(), "total_ms = 5000").await;
    let ask = json!({"model": "chat", "max_tokens": 10,
                     "messages": [{"role": "user", "content": "hi"}]});
    for stream in [false, true] {
        let mut body = ask.clone();
        body["stream"] = json!(stream);
        let response = post(&url, &body).await;
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(response.headers()["x-bulkhead-attempts"], "1");
        assert_anthropic_error(&response.json_value().await, "rate_limit_error");
    }
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event_and_no_message_stop() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::StreamCut { after_chunks: 2 });
    let url = serve_upstream(&upstream.base_url(), "total_ms = 5000").await;
    let response = post(
        &url,
        &json!({"model": "chat", "max_tokens": 50, "stream": true,
                "messages": [{"role": "user", "content": "tell me a long story"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.expect("body"));
    let names = names(&events);
    assert_eq!(names[0], "message_start");
    assert_eq!(names.last(), Some(&"error"), "{names:?}");
    assert!(!names.contains(&"message_stop"));
    let (_, error) = events.last().expect("error event");
    assert_anthropic_error(error, "api_error");
}

#[tokio::test]
async fn an_anthropic_upstream_behind_anthropic_clients_round_trips_text_and_usage() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::anthropic_stream_text(&["Bon", "jour", " à tous"]));
    let toml = anthropic_toml(&upstream.root_url(), "sk-ant-gateway", "claude");
    let url = serve_toml(&toml).await;
    let ask = json!({"model": "claude", "max_tokens": 50, "system": "Be nice.",
                     "messages": [{"role": "user", "content": "Say hello"}]});
    let mut streamed = ask.clone();
    streamed["stream"] = json!(true);
    let events = events(&post(&url, &streamed).await.text().await.expect("body"));
    let text: String = events
        .iter()
        .filter_map(|(_, e)| e["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Bonjour à tous");
    assert_eq!(names(&events).last(), Some(&"message_stop"));

    let body = post(&url, &ask).await.json_value().await;
    assert_eq!(body["type"], "message", "{body}");
    assert_eq!(body["content"][0]["text"], "Mock answer to: Say hello");
    assert_eq!(body["stop_reason"], "end_turn");
    assert!(body["usage"]["input_tokens"].as_u64() > Some(0), "{body}");

    // The upstream got the gateway's key and the system prompt back in Anthropic's shape.
    let seen = &upstream.requests()[1];
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some("sk-ant-gateway"));
    assert_eq!(seen.body["system"], "Be nice.");
    assert_eq!(seen.body["max_tokens"], 50);
}
