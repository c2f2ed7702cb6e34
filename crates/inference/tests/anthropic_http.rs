//! The Anthropic provider over real loopback HTTP against the testkit's `/v1/messages`
//! responder: headers, JSON, streams, tool round trips, errors and cut streams.

use std::time::Duration;

use bulkhead_core::{
    ChatModel, ChatRequest, ChatResponse, ErrorKind, FinishReason, Message, Result, StreamOptions,
    collect_stream,
};
use bulkhead_inference::{AnthropicConfig, AnthropicProvider, Timeouts};
use bulkhead_testkit::{MockUpstream, Step, anthropic};
use serde_json::json;

fn provider(upstream: &MockUpstream) -> AnthropicProvider {
    let mut config = AnthropicConfig::new("claude", upstream.root_url());
    config.api_key = Some("sk-ant-test".into());
    config.default_max_tokens = 100;
    config.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        first_token: Duration::from_secs(10),
        idle: Duration::from_secs(10),
        total: Duration::from_secs(20),
    };
    AnthropicProvider::new(config).expect("provider")
}

fn request(stream_usage: bool) -> ChatRequest {
    let mut request = ChatRequest::new(
        "claude-mock",
        vec![Message::system("be brief"), Message::user("Say hi")],
    );
    if stream_usage {
        request.stream_options = Some(StreamOptions {
            include_usage: Some(true),
            ..StreamOptions::default()
        });
    }
    request
}

async fn stream(provider: &AnthropicProvider, request: ChatRequest) -> Result<ChatResponse> {
    collect_stream(provider.stream(request).await?).await
}

#[tokio::test]
async fn json_round_trip_sends_anthropic_headers_and_body() {
    let upstream = MockUpstream::start().await;
    let response = provider(&upstream)
        .chat(request(false))
        .await
        .expect("chat");
    assert_eq!(response.choices[0].message.text(), "Mock answer to: Say hi");
    assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(response.model, "claude-mock");
    assert_eq!(response.usage.as_ref().map(|u| u.total_tokens), Some(2 + 5)); // the mock counts words of `messages`

    let sent = &upstream.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.body["system"], "be brief");
    assert_eq!(sent.body["max_tokens"], 100);
    assert!(sent.body.get("stream").is_none(), "{}", sent.body);
}

#[tokio::test]
async fn a_stream_folds_into_the_json_answer() {
    let upstream = MockUpstream::start().await;
    let provider = provider(&upstream);
    let json = provider.chat(request(false)).await.expect("chat");
    let folded = stream(&provider, request(true)).await.expect("stream");
    assert_eq!(upstream.requests()[1].body["stream"], true);
    assert_eq!(folded.choices, json.choices);
    assert_eq!(folded.usage, json.usage);
    assert_eq!(folded.model, json.model);
}

#[tokio::test]
async fn a_forced_tool_call_streams_the_same_call_as_json() {
    let upstream = MockUpstream::start().await;
    let provider = provider(&upstream);
    let mut request = request(false);
    request.tools = Some(vec![serde_json::from_value(json!({
        "type": "function",
        "function": { "name": "get_weather", "parameters": {
            "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] } }
    })).expect("tool")]);
    request.tool_choice = Some(serde_json::from_value(json!("required")).expect("choice"));
    let json = provider.chat(request.clone()).await.expect("chat");
    let folded = stream(&provider, request).await.expect("stream");
    assert_eq!(
        upstream.requests()[0].body["tool_choice"],
        json!({ "type": "any" })
    );

    for response in [&json, &folded] {
        let choice = &response.choices[0];
        assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
        let calls = choice.message.tool_calls.as_ref().expect("tool calls");
        assert_eq!(calls[0].function.name, "get_weather");
        assert_eq!(calls[0].function.arguments, r#"{"city":"mock"}"#);
        assert!(calls[0].id.starts_with("toolu_"), "{}", calls[0].id);
    }
}

#[tokio::test]
async fn upstream_errors_map_to_kinds_for_json_and_streams() {
    let upstream = MockUpstream::start().await;
    let provider = provider(&upstream);
    let too_long = "prompt is too long: 208310 tokens > 200000 maximum";
    let cases = [
        (
            Step::anthropic_error(529, "Overloaded"),
            ErrorKind::Overloaded,
        ),
        (
            Step::anthropic_error(400, too_long),
            ErrorKind::ContextWindowExceeded,
        ),
        (
            Step::anthropic_error(401, "invalid x-api-key"),
            ErrorKind::Authentication,
        ),
        (
            Step::anthropic_error(400, "messages: field required"),
            ErrorKind::BadRequest,
        ),
        (
            Step::anthropic_error(500, "Internal server error"),
            ErrorKind::ServerError,
        ),
    ];
    for (step, kind) in cases {
        upstream.push(step.clone());
        upstream.push(step);
        let error = provider.chat(request(false)).await.expect_err("json error");
        assert_eq!(error.kind(), kind, "{error}");
        let error = stream(&provider, request(true))
            .await
            .expect_err("stream error");
        assert_eq!(error.kind(), kind, "{error}");
    }

    upstream.push(Step::Error {
        status: 429,
        body: anthropic::error_for_status(429, "rate limited"),
        headers: vec![("retry-after".into(), "7".into())],
    });
    let error = provider.chat(request(false)).await.expect_err("429");
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(error.status(), Some(429));
}

#[tokio::test]
async fn cut_or_failing_streams_end_with_an_error() {
    let upstream = MockUpstream::start().await;
    let provider = provider(&upstream);

    upstream.push(Step::StreamCut { after_chunks: 2 });
    let error = stream(&provider, request(true)).await.expect_err("cut");
    assert_eq!(error.kind(), ErrorKind::Transport, "{error}");

    // A clean end of body, but no message_stop.
    let mut events = anthropic::text_stream(&["Hel", "lo"], "claude-mock");
    events.pop();
    upstream.push(Step::Stream {
        events,
        delay: Duration::ZERO,
    });
    let error = stream(&provider, request(true))
        .await
        .expect_err("no message_stop");
    assert_eq!(error.kind(), ErrorKind::Transport, "{error}");

    let mut events = anthropic::text_stream(&["Hel", "lo"], "claude-mock");
    events.truncate(4);
    events.push(anthropic::error_body("overloaded_error", "Overloaded").to_string());
    upstream.push(Step::Stream {
        events,
        delay: Duration::ZERO,
    });
    let error = stream(&provider, request(true))
        .await
        .expect_err("error event");
    assert_eq!(error.kind(), ErrorKind::Overloaded, "{error}");

    upstream.push(Step::anthropic_stream_text(&["Hel", "lo"]));
    let folded = stream(&provider, request(true))
        .await
        .expect("scripted stream");
    assert_eq!(folded.choices[0].message.text(), "Hello");
}

#[test]
fn the_api_key_is_redacted_in_debug() {
    let mut config = AnthropicConfig::new("claude", "https://api.anthropic.com");
    config.api_key = Some("sk-ant-secret".into());
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("sk-ant-secret") && debug.contains("<redacted>"),
        "{debug}"
    );
    assert_eq!(config.version, "2023-06-01");
    assert_eq!(config.default_max_tokens, 4096);
}
