//! An OpenAI client talking to the gateway, with an Anthropic-format upstream behind it
//! (`kind = "anthropic"`): JSON, streams, headers, and a model without embeddings.

mod common;

use bulkhead_testkit::{MockUpstream, Step};
use common::{
    JsonBody as _, JsonValue as _, anthropic_toml, client, data_lines, post_chat, serve_toml,
};
use serde_json::Value;

async fn gateway(upstream: &MockUpstream) -> String {
    serve_toml(&anthropic_toml(
        &upstream.root_url(),
        "sk-ant-secret",
        "chat",
    ))
    .await
}

#[tokio::test]
async fn json_answer_is_translated_to_a_chat_completion() {
    let upstream = MockUpstream::start().await;
    let url = gateway(&upstream).await;
    let response = post_chat(&client(), &url, "chat", false).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-bulkhead-provider"], "claude");
    assert_eq!(response.headers()["x-bulkhead-model"], "claude-sonnet-4");
    let body: Value = response.json_value().await;
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Mock answer to: Say hello"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["prompt_tokens"].as_u64() > Some(0));

    let seen = &upstream.requests()[0];
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some("sk-ant-secret"));
    assert!(seen.header("authorization").is_none());
    assert_eq!(seen.body["model"], "claude-sonnet-4");
    assert!(seen.body["max_tokens"].as_u64() > Some(0));
}

#[tokio::test]
async fn stream_carries_the_scripted_text_and_ends_with_done() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::anthropic_stream_text(&["Hel", "lo, ", "wörld"]));
    let url = gateway(&upstream).await;
    let body = post_chat(&client(), &url, "chat", true)
        .await
        .text()
        .await
        .expect("body");
    let events = data_lines(&body);
    assert_eq!(events.last(), Some(&"[DONE]"), "{body}");
    let text: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).expect("chunk"))
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Hello, wörld");
}

#[tokio::test]
async fn a_model_served_only_by_anthropic_has_no_embeddings() {
    let upstream = MockUpstream::start().await;
    let url = gateway(&upstream).await;
    let response = client()
        .post(format!("{url}/v1/embeddings"))
        .json_body(&serde_json::json!({"model": "chat", "input": "hello"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    let body: Value = response.json_value().await;
    assert_eq!(body["error"]["code"], "embeddings_not_supported");
    assert_eq!(upstream.calls(), 0);
}
