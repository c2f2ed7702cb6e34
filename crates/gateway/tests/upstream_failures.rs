//! Upstream failures reach the client with the right status, headers and body, over real HTTP
//! against the testkit's mock upstream.

mod common;

use std::time::{Duration, Instant};

use bulkhead_testkit::{MockUpstream, Step, refused_url};
use common::{JsonValue as _, client, data_lines, error_object, post_chat, serve_upstream};
use serde_json::Value;

const TIMEOUTS: &str = "connect_ms = 1000, first_token_ms = 300, idle_ms = 2000, total_ms = 10000";

#[tokio::test]
async fn a_refused_connection_is_a_502() {
    let url = serve_upstream(&refused_url(), TIMEOUTS).await;
    for stream in [false, true] {
        let response = post_chat(&client(), &url, "chat", stream).await;
        assert_eq!(response.status(), 502, "stream={stream}");
        assert_eq!(response.headers()["x-bulkhead-provider"], "mock");
        assert_eq!(response.headers()["x-bulkhead-model"], "mock-model");
        let body: Value = response.json_value().await;
        let error = error_object(&body);
        assert_eq!(error["type"], "upstream_error");
        assert_eq!(error["code"], "transport");
        assert!(!body.to_string().contains("sk-secret"), "{body}");
    }
}

#[tokio::test]
async fn a_hanging_upstream_is_a_504_after_the_first_token_timeout() {
    let upstream = MockUpstream::start().await;
    let url = serve_upstream(&upstream.base_url(), TIMEOUTS).await;
    for stream in [false, true] {
        upstream.push(Step::Hang);
        let started = Instant::now();
        let response = post_chat(&client(), &url, "chat", stream).await;
        let elapsed = started.elapsed();
        assert_eq!(response.status(), 504, "stream={stream}");
        assert!(
            elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(3),
            "stream={stream}: took {elapsed:?}, expected about the 300 ms first-token timeout"
        );
        let body: Value = response.json_value().await;
        let error = error_object(&body);
        assert_eq!(error["type"], "timeout_error");
        assert_eq!(error["code"], "timeout");
    }
}

#[tokio::test]
async fn an_upstream_429_keeps_its_retry_after() {
    let upstream = MockUpstream::start().await;
    let url = serve_upstream(&upstream.base_url(), TIMEOUTS).await;
    for stream in [false, true] {
        upstream.push(Step::rate_limited(7));
        let response = post_chat(&client(), &url, "chat", stream).await;
        assert_eq!(response.status(), 429, "stream={stream}");
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(response.headers()["x-bulkhead-provider"], "mock");
        let body: Value = response.json_value().await;
        let error = error_object(&body);
        assert_eq!(error["type"], "rate_limit_error");
        assert_eq!(error["code"], "rate_limit_exceeded");
    }
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_an_error_event_and_no_done() {
    let upstream = MockUpstream::start().await;
    let url = serve_upstream(&upstream.base_url(), TIMEOUTS).await;
    upstream.push(Step::StreamCut { after_chunks: 2 });
    let response = post_chat(&client(), &url, "chat", true).await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.expect("the body ends cleanly");
    let lines = data_lines(&body);
    assert!(!lines.contains(&"[DONE]"), "{body}");
    let (last, chunks) = lines.split_last().expect("events");
    assert!(!chunks.is_empty(), "chunks before the cut: {body}");
    for chunk in chunks {
        let chunk: Value = serde_json::from_str(chunk).expect("json");
        assert_eq!(chunk["object"], "chat.completion.chunk");
    }
    let error: Value = serde_json::from_str(last).expect("json error event");
    let error = error_object(&error);
    assert_eq!(error["type"], "upstream_error");
    assert_eq!(error["code"], "transport");
}

#[tokio::test]
async fn the_upstream_gets_the_upstream_model_and_the_client_its_answer() {
    let upstream = MockUpstream::start().await;
    let url = serve_upstream(&upstream.base_url(), TIMEOUTS).await;
    upstream.push(Step::text("hello there"));
    let response = post_chat(&client(), &url, "chat", false).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json_value().await;
    assert_eq!(body["choices"][0]["message"]["content"], "hello there");
    let sent = upstream.requests();
    assert_eq!(sent.len(), 1);
    let sent = &sent[0].body;
    assert_eq!(sent["model"], "mock-model");

    upstream.push(Step::stream_text(&["Hel", "lo"]));
    let body = post_chat(&client(), &url, "chat", true)
        .await
        .text()
        .await
        .expect("body");
    let lines = data_lines(&body);
    assert_eq!(lines.last(), Some(&"[DONE]"), "{body}");
}

#[tokio::test]
async fn upstream_credential_errors_are_502s_that_blame_the_gateway() {
    let upstream = MockUpstream::start().await;
    let url = serve_upstream(&upstream.base_url(), TIMEOUTS).await;
    for (status, code) in [
        (401, "upstream_authentication"),
        (403, "upstream_permission_denied"),
        (404, "upstream_not_found"),
    ] {
        upstream.push(Step::error(
            status,
            "Incorrect API key provided: sk-sec***own",
        ));
        let response = post_chat(&client(), &url, "chat", false).await;
        assert_eq!(response.status(), 502, "upstream {status}");
        let body: Value = response.json_value().await;
        let error = error_object(&body);
        assert_eq!(error["code"], code, "{body}");
        if status != 404 {
            assert!(!body.to_string().contains("sk-sec"), "{body}");
            assert!(
                error["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("provider `mock`"))
            );
        }
    }
}

#[tokio::test]
async fn an_upstream_400_passes_through_as_a_400() {
    let upstream = MockUpstream::start().await;
    let url = serve_upstream(&upstream.base_url(), TIMEOUTS).await;
    upstream.push(Step::error(400, "Invalid value for 'temperature'"));
    let response = post_chat(&client(), &url, "chat", false).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json_value().await;
    let error = error_object(&body);
    assert_eq!(error["type"], "invalid_request_error");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("temperature")),
        "{body}"
    );
}
