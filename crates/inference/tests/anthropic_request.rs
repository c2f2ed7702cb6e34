//! OpenAI request -> Anthropic request, and Anthropic JSON answer -> OpenAI response, on
//! realistic bodies.

use bulkhead_core::{ChatRequest, ErrorKind, FinishReason};
use bulkhead_inference::anthropic::wire::MessagesResponse;
use bulkhead_inference::anthropic::{to_anthropic, to_openai};
use serde_json::{Value, json};

fn translate(openai: Value) -> Value {
    let request: ChatRequest = serde_json::from_value(openai).expect("valid OpenAI request");
    serde_json::to_value(to_anthropic(&request, 4096).expect("translates")).expect("serializes")
}

fn translate_err(openai: Value) -> ErrorKind {
    let request: ChatRequest = serde_json::from_value(openai).expect("valid OpenAI request");
    to_anthropic(&request, 4096).expect_err("rejected").kind()
}

#[test]
fn a_tool_conversation_becomes_alternating_turns_with_system_tools_and_options() {
    let body = translate(json!({
        "model": "claude-sonnet-4-20250514",
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "developer", "content": "Use metric units." },
            { "role": "user", "content": "Weather in Paris" },
            { "role": "user", "content": [
                { "type": "text", "text": "and this picture?" },
                { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0KGgo=" } },
                { "type": "image_url", "image_url": { "url": "https://example.com/a.jpg", "detail": "high" } }
            ] },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "toolu_1", "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } },
                { "id": "toolu_2", "type": "function", "function": { "name": "get_time", "arguments": "" } }
            ] },
            { "role": "tool", "tool_call_id": "toolu_1", "content": "18C, cloudy" },
            { "role": "tool", "tool_call_id": "toolu_2", "content": "14:00" },
            { "role": "user", "content": "Thanks" }
        ],
        "tools": [
            { "type": "function", "function": { "name": "get_weather", "description": "Weather by city",
              "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] } } },
            { "type": "function", "function": { "name": "get_time" } }
        ],
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "max_completion_tokens": 300,
        "stop": "END",
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "user-42",
        "top_k": 5,
        "logit_bias": { "50256": -100 }
    }));
    assert_eq!(
        body,
        json!({
            "model": "claude-sonnet-4-20250514",
            "system": "Be brief.\n\nUse metric units.",
            "messages": [
                { "role": "user", "content": [
                    { "type": "text", "text": "Weather in Paris" },
                    { "type": "text", "text": "and this picture?" },
                    { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo=" } },
                    { "type": "image", "source": { "type": "url", "url": "https://example.com/a.jpg" } }
                ] },
                { "role": "assistant", "content": [
                    { "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": { "city": "Paris" } },
                    { "type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {} }
                ] },
                { "role": "user", "content": [
                    { "type": "tool_result", "tool_use_id": "toolu_1", "content": "18C, cloudy" },
                    { "type": "tool_result", "tool_use_id": "toolu_2", "content": "14:00" },
                    { "type": "text", "text": "Thanks" }
                ] }
            ],
            "max_tokens": 300,
            "stop_sequences": ["END"],
            "temperature": 0.2,
            "top_p": 0.9,
            "tools": [
                { "name": "get_weather", "description": "Weather by city",
                  "input_schema": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] } },
                { "name": "get_time", "input_schema": { "type": "object", "properties": {} } }
            ],
            "tool_choice": { "type": "any", "disable_parallel_tool_use": true },
            "metadata": { "user_id": "user-42" },
            "top_k": 5
        })
    );
}

#[test]
fn max_tokens_defaults_and_tool_choice_modes_map() {
    let base = |choice: Value| {
        json!({
            "model": "m", "messages": [{ "role": "user", "content": "hi" }], "stream": true,
            "tools": [{ "type": "function", "function": { "name": "f" } }], "tool_choice": choice
        })
    };
    let body = translate(base(json!("auto")));
    assert_eq!(body["max_tokens"], 4096);
    assert_eq!(body["stream"], true);
    assert_eq!(body["tool_choice"], json!({ "type": "auto" }));
    assert_eq!(
        translate(base(json!("none")))["tool_choice"],
        json!({ "type": "none" })
    );
    assert_eq!(
        translate(base(
            json!({ "type": "function", "function": { "name": "f" } })
        ))["tool_choice"],
        json!({ "type": "tool", "name": "f" })
    );
    // The legacy `max_tokens` counts too; no tools means no tool_choice.
    let body = translate(json!({
        "model": "m", "max_tokens": 7, "tool_choice": "auto",
        "messages": [{ "role": "user", "content": "hi" }]
    }));
    assert_eq!(body["max_tokens"], 7);
    assert!(
        body.get("tool_choice").is_none() && body.get("system").is_none(),
        "{body}"
    );
}

#[test]
fn system_text_with_cache_control_stays_as_blocks() {
    let body = translate(json!({
        "model": "m",
        "messages": [
            { "role": "system", "content": [{ "type": "text", "text": "Long context",
              "cache_control": { "type": "ephemeral" } }] },
            { "role": "user", "content": "hi" }
        ]
    }));
    assert_eq!(
        body["system"],
        json!([{ "type": "text", "text": "Long context", "cache_control": { "type": "ephemeral" } }])
    );
}

#[test]
fn what_anthropic_cannot_express_is_a_bad_request() {
    let user = json!({ "role": "user", "content": "hi" });
    let bad_args = json!({ "role": "assistant", "content": null, "tool_calls": [
        { "id": "t", "type": "function", "function": { "name": "f", "arguments": "{not json" } } ] });
    for messages in [
        json!([user, bad_args]),
        json!([{ "role": "function", "name": "f", "content": "x" }]),
        json!([{ "role": "tool", "content": "no id" }]),
        json!([{ "role": "user", "content": [{ "type": "input_audio", "input_audio": { "data": "", "format": "wav" } }] }]),
        json!([{ "role": "user", "content": [{ "type": "image_url", "image_url": { "url": "ftp://x/y.png" } }] }]),
    ] {
        let kind = translate_err(json!({ "model": "m", "messages": messages }));
        assert_eq!(kind, ErrorKind::BadRequest, "{messages}");
    }
    let kind = translate_err(json!({ "model": "m", "n": 2, "messages": [user] }));
    assert_eq!(kind, ErrorKind::BadRequest);
}

fn fixture(name: &str) -> MessagesResponse {
    let path = format!(
        "{}/tests/fixtures/anthropic/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture parses")
}

#[test]
fn a_text_answer_joins_its_blocks() {
    let response = to_openai(fixture("message_text.json"));
    assert_eq!(response.id, "msg_01XFDUDYJgAACzvnptvVoYEL");
    assert_eq!(response.model, "claude-sonnet-4-20250514");
    let choice = &response.choices[0];
    assert_eq!(choice.message.text(), "Hello! How can I help you today?");
    assert_eq!(choice.finish_reason, Some(FinishReason::Stop));
    let usage = response.usage.expect("usage");
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (12, 10, 22)
    );
}

#[test]
fn a_tool_answer_has_tool_calls_cache_usage_and_reasoning() {
    let response = to_openai(fixture("message_tool_use.json"));
    let choice = &response.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.message.text(), "I'll check both cities.");
    assert_eq!(
        choice.message.extra["reasoning_content"],
        "The user wants the weather in two cities."
    );
    let calls = choice.message.tool_calls.as_ref().expect("tool calls");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].id, "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(calls[0].function.name, "get_weather");
    let arguments: Value = serde_json::from_str(&calls[0].function.arguments).expect("JSON");
    assert_eq!(
        arguments,
        json!({ "location": "San Francisco, CA", "unit": "celsius" })
    );
    assert_eq!(calls[1].function.arguments, "{}");
    let usage = response.usage.expect("usage");
    assert_eq!(usage.prompt_tokens, 472 + 1024 + 2048);
    assert_eq!(usage.completion_tokens, 89);
    assert_eq!(usage.cached_tokens(), 2048);
    let details = usage.prompt_tokens_details.as_ref().expect("details");
    assert_eq!(details.cache_write_tokens, Some(1024));
}

#[test]
fn stop_reasons_map_to_finish_reasons() {
    use bulkhead_inference::anthropic::finish_reason;
    assert_eq!(finish_reason("end_turn"), FinishReason::Stop);
    assert_eq!(finish_reason("stop_sequence"), FinishReason::Stop);
    assert_eq!(finish_reason("max_tokens"), FinishReason::Length);
    assert_eq!(finish_reason("tool_use"), FinishReason::ToolCalls);
    assert_eq!(finish_reason("refusal"), FinishReason::ContentFilter);
    assert_eq!(
        finish_reason("pause_turn"),
        FinishReason::Other("pause_turn".into())
    );
}
