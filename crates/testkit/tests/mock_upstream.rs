//! Behaviour of the mock upstream, seen from a real HTTP client.

use std::time::{Duration, Instant};

use bulkhead_testkit::{MockUpstream, Step, fixtures, refused_url};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .build()
        .expect("build reqwest client")
}

async fn post(client: &reqwest::Client, url: String, body: &Value) -> reqwest::Response {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-test")
        .body(body.to_string())
        .send()
        .await
        .expect("send request")
}

async fn json_of(response: reqwest::Response) -> Value {
    let bytes = response.bytes().await.expect("read body");
    serde_json::from_slice(&bytes).expect("body is JSON")
}

fn chat(prompt: &str, stream: bool) -> Value {
    json!({
        "model": "gpt-test",
        "messages": [
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": prompt },
        ],
        "stream": stream,
    })
}

/// The `data:` payloads of an SSE body.
fn events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

/// The concatenated content deltas of chunk payloads.
fn joined_content(events: &[String]) -> String {
    events
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str::<Value>(e).expect("chunk is JSON"))
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn steps_are_used_in_order_then_the_default_reply_answers() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::error(503, "busy"));
    upstream.push(Step::text("hello"));
    assert_eq!(upstream.pending_steps(), 2);
    let client = client();
    let url = format!("{}/chat/completions", upstream.base_url());

    let first = post(&client, url.clone(), &chat("hi there", false)).await;
    assert_eq!(first.status(), 503);
    assert_eq!(json_of(first).await["error"]["message"], "busy");

    let second = json_of(post(&client, url.clone(), &chat("hi there", false)).await).await;
    assert_eq!(second["choices"][0]["message"]["content"], "hello");

    let third = json_of(post(&client, url, &chat("hi there", false)).await).await;
    assert_eq!(third["object"], "chat.completion");
    assert_eq!(third["model"], "gpt-test");
    assert_eq!(
        third["choices"][0]["message"]["content"],
        "Mock answer to: hi there"
    );
    assert_eq!(third["choices"][0]["finish_reason"], "stop");
    // "be brief" + "hi there" = 4 words; "Mock answer to: hi there" = 5.
    assert_eq!(third["usage"]["prompt_tokens"], 4);
    assert_eq!(third["usage"]["completion_tokens"], 5);
    assert_eq!(third["usage"]["total_tokens"], 9);

    assert_eq!(upstream.calls(), 3);
    assert_eq!(upstream.pending_steps(), 0);
    let requests = upstream.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.path == "/v1/chat/completions"));
    assert_eq!(requests[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(requests[2].body["messages"][1]["content"], "hi there");
}

#[tokio::test]
async fn a_streamed_reply_matches_the_json_reply_and_ends_with_done() {
    let upstream = MockUpstream::start().await;
    let client = client();
    let url = format!("{}/chat/completions", upstream.base_url());

    let plain = json_of(post(&client, url.clone(), &chat("tell me", false)).await).await;
    let mut request = chat("tell me", true);
    request["stream_options"] = json!({ "include_usage": true });
    let response = post(&client, url, &request).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii header");
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let events = events(&response.text().await.expect("read stream"));

    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(
        joined_content(&events),
        plain["choices"][0]["message"]["content"]
    );
    let first: Value = serde_json::from_str(&events[0]).expect("JSON");
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).expect("JSON");
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"], plain["usage"]);
    let finish: Value = serde_json::from_str(&events[events.len() - 3]).expect("JSON");
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn a_forced_tool_choice_is_answered_with_a_tool_call_in_both_forms() {
    let upstream = MockUpstream::start().await;
    let client = client();
    let url = format!("{}/chat/completions", upstream.base_url());
    let mut request = chat("weather in Paris?", false);
    request["tools"] = json!([{ "type": "function", "function": {
        "name": "get_weather",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] },
    }}]);
    request["tool_choice"] = json!("required");

    let plain = json_of(post(&client, url.clone(), &request).await).await;
    let choice = &plain["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().expect("string"))
            .expect("arguments are JSON");
    assert_eq!(arguments, json!({ "city": "mock" }));

    request["stream"] = json!(true);
    let text = post(&client, url, &request)
        .await
        .text()
        .await
        .expect("read");
    let events = events(&text);
    let fragments: String = events
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str::<Value>(e).expect("JSON"))
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(fragments, r#"{"city":"mock"}"#);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
}

#[tokio::test]
async fn stream_text_sends_exactly_those_deltas() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::stream_text(&["Hel", "lo"]));
    let client = client();
    let text = post(
        &client,
        format!("{}/chat/completions", upstream.base_url()),
        &chat("x", true),
    )
    .await
    .text()
    .await
    .expect("read");
    let events = events(&text);
    assert_eq!(
        events.len(),
        5,
        "role, 2 deltas, finish, [DONE]: {events:?}"
    );
    assert_eq!(joined_content(&events), "Hello");
    assert_eq!(events[4], "[DONE]");
    assert_eq!(
        text,
        fixtures::sse_text(&fixtures::stream_events(
            &["Hel", "lo"],
            fixtures::MODEL,
            None
        ))
    );
}

#[tokio::test]
async fn a_paced_stream_waits_between_events_but_not_before_the_first() {
    let upstream = MockUpstream::start().await;
    let delay = Duration::from_millis(150);
    upstream.push(Step::Stream {
        events: vec!["{\"a\":1}".into(), "{\"a\":2}".into(), "[DONE]".into()],
        delay,
    });
    let client = client();
    let started = Instant::now();
    let mut response = post(
        &client,
        format!("{}/chat/completions", upstream.base_url()),
        &chat("x", true),
    )
    .await;
    let first = response.chunk().await.expect("read").expect("a chunk");
    let first_at = started.elapsed();
    assert_eq!(&first[..], b"data: {\"a\":1}\n\n");
    assert!(first_at < delay, "first event came after {first_at:?}");
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("read") {
        rest.extend_from_slice(&chunk);
    }
    assert!(started.elapsed() >= delay * 2, "{:?}", started.elapsed());
    assert_eq!(rest, b"data: {\"a\":2}\n\ndata: [DONE]\n\n");
}

#[tokio::test]
async fn hang_never_answers() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::Hang);
    let client = client();
    let result = client
        .post(format!("{}/chat/completions", upstream.base_url()))
        .body(chat("x", false).to_string())
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    let error = result.expect_err("a hanging upstream must not answer");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(upstream.calls(), 1);

    // The next request gets the default answer on a fresh connection.
    let next = post(
        &client,
        format!("{}/chat/completions", upstream.base_url()),
        &chat("x", false),
    )
    .await;
    assert_eq!(next.status(), 200);
}

#[tokio::test]
async fn stream_cut_stops_after_n_chunks_without_done_and_breaks_the_connection() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::StreamCut { after_chunks: 2 });
    let client = client();
    let mut response = post(
        &client,
        format!("{}/chat/completions", upstream.base_url()),
        &chat("one two three", true),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut received = Vec::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("the stream ended cleanly; it should break"),
            Err(error) => break error,
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    let events = events(&String::from_utf8(received).expect("utf-8"));
    assert_eq!(events.len(), 3, "role chunk + 2 content chunks: {events:?}");
    assert_eq!(joined_content(&events), "Mock answer");
    assert!(!events.iter().any(|e| e == "[DONE]"));
}

#[tokio::test]
async fn errors_carry_their_status_body_and_headers_and_delay_waits() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::rate_limited(7).after(Duration::from_millis(200)));
    let client = client();
    let started = Instant::now();
    let response = post(
        &client,
        format!("{}/chat/completions", upstream.base_url()),
        &chat("x", false),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body = json_of(response).await;
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn embeddings_are_deterministic_and_models_are_listed() {
    let upstream = MockUpstream::start().await;
    let client = client();
    let url = format!("{}/embeddings", upstream.base_url());
    let request = json!({ "model": "embed-test", "input": ["alpha", "beta"] });
    let a = json_of(post(&client, url.clone(), &request).await).await;
    let b = json_of(post(&client, url, &request).await).await;
    assert_eq!(a, b);
    assert_eq!(a["object"], "list");
    assert_eq!(a["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(a["data"][0]["embedding"].as_array().map(Vec::len), Some(8));
    assert_ne!(a["data"][0]["embedding"], a["data"][1]["embedding"]);

    let models = client
        .get(format!("{}/models", upstream.base_url()))
        .send()
        .await
        .expect("send");
    let models = json_of(models).await;
    assert_eq!(models["data"][0]["id"], fixtures::MODEL);
    assert_eq!(upstream.calls(), 3);
}

#[tokio::test]
async fn unknown_paths_get_404_without_using_a_step() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::text("kept"));
    let client = client();
    let response = post(
        &client,
        format!("{}/completions", upstream.base_url()),
        &json!({}),
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(upstream.calls(), 1);
    assert_eq!(upstream.pending_steps(), 1);
}

#[tokio::test]
async fn refused_url_refuses_connections() {
    let client = client();
    let error = client
        .get(format!("{}/models", refused_url()))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect_err("nothing listens there");
    assert!(error.is_connect(), "{error:?}");
}

#[tokio::test]
async fn dropping_the_mock_cuts_hanging_requests_and_stops_listening() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::Hang);
    let base = upstream.base_url();
    let client = client();
    let pending = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/chat/completions");
        async move {
            client
                .post(url)
                .body("{}")
                .timeout(Duration::from_secs(10))
                .send()
                .await
        }
    });
    // Wait until the hanging request has arrived.
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.calls() == 0 {
        assert!(Instant::now() < deadline, "request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(upstream);
    let outcome = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .expect("the hanging request ends soon after the drop")
        .expect("task");
    if let Ok(response) = outcome {
        assert!(response.bytes().await.is_err(), "the body must break");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let fresh = reqwest::Client::new();
        match fresh.get(format!("{base}/models")).send().await {
            Err(error) if error.is_connect() => break,
            _ => assert!(Instant::now() < deadline, "still listening after drop"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stream_cut_on_a_json_request_breaks_the_body() {
    let upstream = MockUpstream::start().await;
    upstream.push(Step::StreamCut { after_chunks: 0 });
    let client = client();
    let response = post(
        &client,
        format!("{}/chat/completions", upstream.base_url()),
        &chat("x", false),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err(), "the body must break");
}
