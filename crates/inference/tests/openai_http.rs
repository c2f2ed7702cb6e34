//! The OpenAI-compatible provider against a real HTTP server on loopback: round trips,
//! streams folded into responses, and the four timeouts.

mod support;

use std::time::{Duration, Instant};

use bulkhead_core::{
    ChatModel, ChatRequest, EmbeddingInput, EmbeddingModel, EmbeddingRequest, EmbeddingVector,
    ErrorKind, FinishReason, Message, StreamOptions, collect_stream,
};
use bulkhead_inference::{OpenAiConfig, OpenAiProvider, Timeouts};
use futures_util::StreamExt;
use support::{Upstream, relaxed};

fn request() -> ChatRequest {
    let mut request = ChatRequest::new("gpt-4o-mini", vec![Message::user("Say hi")]);
    request.stream = Some(true); // the provider decides, whatever the client sent
    request.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..StreamOptions::default()
    });
    request
}

#[tokio::test]
async fn json_chat_round_trip_sends_key_headers_and_no_stream_flag() {
    let upstream = Upstream::start().await;
    let provider = upstream.provider("ok", relaxed());
    let response = provider.chat(request()).await.expect("chat");
    assert_eq!(response.model, "gpt-4o-mini");
    assert_eq!(response.choices[0].message.text(), "Hi there!");
    assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(response.usage.as_ref().map(|u| u.total_tokens), Some(12));
    assert_eq!(
        response.system_fingerprint.as_ref().map(String::as_str),
        Some("fp_1")
    );

    let received = upstream.received();
    let sent = &received[0];
    assert_eq!(sent.path, "/ok/v1/chat/completions");
    assert_eq!(sent.headers["authorization"], "Bearer sk-test-secret");
    assert_eq!(sent.headers["x-vendor"], "yes");
    assert_eq!(sent.headers["content-type"], "application/json");
    assert!(sent.body.get("stream").is_none(), "{}", sent.body);
    assert!(sent.body.get("stream_options").is_none(), "{}", sent.body);
    assert_eq!(sent.body["messages"][0]["content"], "Say hi");
}

#[tokio::test]
async fn an_answer_laid_out_as_openai_sends_it_reads_whole() {
    let upstream = Upstream::start().await;
    let provider = upstream.provider("openai_layout", relaxed());
    let response = provider.chat(request()).await.expect("chat");
    assert_eq!(response.model, "gpt-4o-mini-2024-07-18");
    let text = response.choices[0].message.text();
    assert!(text.starts_with("Friday morning in Paris"), "{text}");
    assert!(text.contains("(11 °C).\n\nFrom CDG"), "{text}");
    assert!(
        text.ends_with("€11.80 at the machines in Terminal 2."),
        "{text}"
    );
    assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(
        response.choices[0].message.extra["refusal"],
        serde_json::Value::Null
    );
    let usage = response.usage.as_ref().expect("usage");
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (412, 86, 498)
    );
    let cached = usage
        .prompt_tokens_details
        .as_ref()
        .map(|d| d.cached_tokens);
    assert_eq!(cached, Some(Some(256)));
    assert_eq!(
        response.service_tier.as_ref().map(String::as_str),
        Some("default")
    );
}

#[tokio::test]
async fn stream_round_trip_folds_into_the_full_answer() {
    let upstream = Upstream::start().await;
    for scenario in ["ok", "crlf"] {
        let provider = upstream.provider(scenario, relaxed());
        let stream = provider.stream(request()).await.expect("stream");
        let response = collect_stream(stream).await.expect("complete stream");
        assert_eq!(
            response.choices[0].message.text(),
            "Bonjour! Le café est à 5 € ✓ — 東京 ok."
        );
        assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
        assert_eq!(
            response.usage.as_ref().map(|u| u.completion_tokens),
            Some(13)
        );
    }
    let sent = &upstream.received()[0];
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["stream_options"]["include_usage"], true);
    assert_eq!(sent.headers["accept"], "text/event-stream");
}

#[tokio::test]
async fn tool_call_deltas_fold_into_two_calls() {
    let upstream = Upstream::start().await;
    let provider = upstream.provider("tools", relaxed());
    let stream = provider.stream(request()).await.expect("stream");
    let response = collect_stream(stream).await.expect("complete stream");
    let choice = &response.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.message.content, None);
    let calls = choice.message.tool_calls.as_ref().expect("tool calls");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].id, "call_DdmO9pD3xa9XTPNJ32zg2hcA");
    assert_eq!(calls[0].function.name, "get_weather");
    assert_eq!(
        calls[0].function.arguments,
        r#"{"city":"Paris","unit":"celsius"}"#
    );
    assert_eq!(calls[1].function.name, "get_time");
    assert_eq!(calls[1].function.arguments, r#"{"tz":"Europe/Paris"}"#);
}

#[tokio::test]
async fn embeddings_round_trip() {
    let upstream = Upstream::start().await;
    let provider = upstream.provider("ok", relaxed());
    let request = EmbeddingRequest {
        model: "text-embedding-3-small".into(),
        input: EmbeddingInput::Text("hello world".into()),
        ..EmbeddingRequest::default()
    };
    let response = provider.embed(request).await.expect("embed");
    assert_eq!(response.model, "text-embedding-3-small");
    assert_eq!(
        response.data[0].embedding,
        EmbeddingVector::Float(vec![0.25, -0.5, 0.125])
    );
    assert_eq!(upstream.received()[0].body["input"], "hello world");
}

#[tokio::test]
async fn a_stream_without_done_is_an_error_not_a_short_answer() {
    let upstream = Upstream::start().await;
    let provider = upstream.provider("truncated", relaxed());
    let mut stream = provider.stream(request()).await.expect("stream");
    let mut chunks = 0;
    let error = loop {
        match stream.next().await.expect("an item before the end") {
            Ok(_) => chunks += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(chunks, 4);
    assert_eq!(error.kind(), ErrorKind::Transport);
    assert!(error.message().contains("ended before [DONE]"), "{error}");
    assert!(stream.next().await.is_none(), "nothing follows an error");
}

#[tokio::test]
async fn a_mid_stream_error_event_ends_the_stream_with_its_kind() {
    let upstream = Upstream::start().await;
    let provider = upstream.provider("midstream_error", relaxed());
    let stream = provider.stream(request()).await.expect("stream");
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 4);
    assert!(items[..3].iter().all(Result::is_ok));
    let error = items[3].as_ref().expect_err("error item");
    assert_eq!(error.kind(), ErrorKind::ServerError);
    assert!(
        error
            .message()
            .starts_with("provider `test`: The server had an error")
    );
}

#[tokio::test]
async fn malformed_chunks_and_overlong_lines_are_errors() {
    let upstream = Upstream::start().await;
    for (scenario, kind) in [
        ("garbage", ErrorKind::Internal),
        ("huge_line", ErrorKind::Transport),
    ] {
        let provider = upstream.provider(scenario, relaxed());
        let stream = provider.stream(request()).await.expect("stream");
        let error = collect_stream(stream).await.expect_err("error");
        assert_eq!(error.kind(), kind, "{scenario}: {error}");
    }
}

#[tokio::test]
async fn a_json_error_answering_a_stream_request_is_mapped() {
    let upstream = Upstream::start().await;
    let provider = upstream.provider("json_error_200", relaxed());
    let Err(error) = provider.stream(request()).await else {
        panic!("a JSON answer is not a stream")
    };
    assert_eq!(error.kind(), ErrorKind::Overloaded);
    assert_eq!(error.message(), "provider `test`: Overloaded");
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_naming_the_upstream() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base_url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    drop(listener);
    let mut config = OpenAiConfig::new("local", base_url.clone());
    config.api_key = Some("sk-never-shown".into());
    let provider = OpenAiProvider::new(config).expect("provider");
    let error = provider.chat(request()).await.expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::Transport);
    // The innermost cause follows: what the operator can act on.
    assert_eq!(
        error.message(),
        format!(
            "could not connect to provider `local` at {base_url}: Connection refused (os error 111)"
        )
    );
    assert!(!format!("{error:?}").contains("sk-never-shown"));
}

fn short(first_token_ms: u64, idle_ms: u64, total_ms: u64) -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_token: Duration::from_millis(first_token_ms),
        idle: Duration::from_millis(idle_ms),
        total: Duration::from_millis(total_ms),
    }
}

#[tokio::test]
async fn first_token_timeout_when_the_upstream_never_answers() {
    let upstream = Upstream::start().await;
    let provider = upstream.provider("hang", short(200, 5_000, 10_000));
    let started = Instant::now();
    let error = provider.chat(request()).await.expect_err("timeout");
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.message().contains("within 200 ms"), "{error}");
    let Err(error) = provider.stream(request()).await else {
        panic!("the stream should not start")
    };
    assert_eq!(
        error.message(),
        "no first token from provider `test` within 200 ms"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    // Headers arrive but no chunk does: still the first-token timeout, as a stream item.
    let provider = upstream.provider("headers_then_silence", short(200, 5_000, 10_000));
    let stream = provider.stream(request()).await.expect("headers");
    let error = collect_stream(stream).await.expect_err("timeout");
    assert_eq!(
        error.message(),
        "no first token from provider `test` within 200 ms"
    );
}

#[tokio::test]
async fn idle_timeout_mid_stream_is_an_error_item() {
    let upstream = Upstream::start().await;
    let provider = upstream.provider("stall", short(5_000, 200, 10_000));
    let stream = provider.stream(request()).await.expect("stream");
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 4, "three chunks, then the timeout");
    let error = items[3].as_ref().expect_err("timeout");
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(
        error.message(),
        "provider `test` sent nothing for 200 ms (idle timeout)"
    );
}

#[tokio::test]
async fn total_timeout_ends_a_stream_that_never_finishes() {
    let upstream = Upstream::start().await;
    // Chunks every 40 ms keep the idle timeout happy; the total one still ends it.
    let provider = upstream.provider("drip", short(5_000, 1_000, 400));
    let stream = provider.stream(request()).await.expect("stream");
    let items: Vec<_> = stream.collect().await;
    assert!(
        items.len() > 3,
        "some chunks arrived first: {}",
        items.len()
    );
    let error = items.last().expect("items").as_ref().expect_err("timeout");
    assert_eq!(
        error.message(),
        "provider `test` did not finish within 400 ms (total timeout)"
    );
}

#[test]
fn config_debug_never_shows_the_key() {
    let mut config = OpenAiConfig::new("openai", "https://api.openai.com/v1");
    config.api_key = Some("sk-live-abcdef".into());
    config.headers = vec![("api-key".into(), "azure-secret".into())];
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("sk-live-abcdef") && !shown.contains("azure-secret"),
        "{shown}"
    );
    assert!(shown.contains("<redacted>"));
    let provider = OpenAiProvider::new(config).expect("provider");
    assert!(!format!("{provider:?}").contains("sk-live"));
}

#[test]
fn invalid_base_url_is_rejected_at_construction() {
    let error = OpenAiProvider::new(OpenAiConfig::new("x", "not a url")).expect_err("invalid");
    assert_eq!(error.kind(), ErrorKind::BadRequest);
}
