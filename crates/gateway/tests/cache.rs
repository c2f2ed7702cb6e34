//! The response cache through the HTTP API: `x-bulkhead-cache`, `Cache-Control`, tenants, and
//! answers served either way (JSON or SSE) whichever way they were stored.

mod common;

use bulkhead_testkit::{MockUpstream, Step};
use common::{
    JsonBody as _, JsonValue as _, chat_body, client, data_lines, header, key_hash, mock_toml,
    post_chat, serve_toml,
};

async fn gateway(upstream: &MockUpstream, keys: &str) -> String {
    let base = mock_toml(&upstream.base_url(), "");
    serve_toml(&format!("{base}\n[cache]\nttl_secs = 60\n\n{keys}\n")).await
}

fn cache_header(response: &reqwest::Response) -> Option<&str> {
    header(response, "x-bulkhead-cache")
}

#[tokio::test]
async fn a_repeat_is_a_hit_served_as_json_or_as_a_stream() {
    let upstream = MockUpstream::start().await;
    let root = gateway(&upstream, "").await;
    let http = client();

    let first = post_chat(&http, &root, "chat", false).await;
    assert_eq!(first.status(), 200);
    assert_eq!(cache_header(&first), Some("miss"));
    let first = first.json_value().await;

    let second = post_chat(&http, &root, "chat", false).await;
    assert_eq!(cache_header(&second), Some("hit"));
    let second = second.json_value().await;
    assert_eq!(
        second["choices"][0]["message"]["content"],
        first["choices"][0]["message"]["content"]
    );
    assert_eq!(upstream.calls(), 1, "a hit called the upstream");

    // The same request streamed: served from the entry a JSON answer made.
    let streamed = post_chat(&http, &root, "chat", true).await;
    assert_eq!(streamed.status(), 200);
    assert_eq!(cache_header(&streamed), Some("hit"));
    let text = streamed.text().await.expect("body");
    let lines = data_lines(&text);
    assert_eq!(lines.last(), Some(&"[DONE]"));
    let content: String = lines[..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("chunk"))
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(content, first["choices"][0]["message"]["content"]);
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test]
async fn cache_control_no_store_and_no_cache_bypass_the_lookup() {
    let upstream = MockUpstream::start().await;
    let root = gateway(&upstream, "").await;
    let url = format!("{root}/v1/chat/completions");
    let http = client();
    let ask = |directive: Option<&'static str>| {
        let mut request = http.post(&url).json_body(&chat_body("chat", false));
        if let Some(d) = directive {
            request = request.header("cache-control", d);
        }
        request.send()
    };

    // no-store: neither looked up nor stored.
    let r = ask(Some("no-store")).await.expect("send");
    assert_eq!(cache_header(&r), Some("bypass"));
    let r = ask(None).await.expect("send");
    assert_eq!(cache_header(&r), Some("miss"), "no-store stored");
    assert_eq!(upstream.calls(), 2);

    // no-cache: a fresh answer even though one is cached, and that answer is stored.
    upstream.push(Step::text("a fresher answer"));
    let r = ask(Some("no-cache")).await.expect("send");
    assert_eq!(cache_header(&r), Some("bypass"));
    assert_eq!(upstream.calls(), 3);
    let r = ask(None).await.expect("send");
    assert_eq!(cache_header(&r), Some("hit"));
    let body = r.json_value().await;
    assert_eq!(body["choices"][0]["message"]["content"], "a fresher answer");
    assert_eq!(upstream.calls(), 3);
}

#[tokio::test]
async fn tenants_never_share_answers_and_errors_are_never_stored() {
    let upstream = MockUpstream::start().await;
    let keys = format!(
        "[[keys]]\nname = \"a\"\nhash = \"{}\"\n\n[[keys]]\nname = \"b\"\nhash = \"{}\"\n",
        key_hash("bh-a"),
        key_hash("bh-b")
    );
    let root = gateway(&upstream, &keys).await;
    let url = format!("{root}/v1/chat/completions");
    let http = client();
    let ask = |key: &'static str| {
        http.post(&url)
            .bearer_auth(key)
            .json_body(&chat_body("chat", false))
            .send()
    };

    upstream.push(Step::text("for tenant a"));
    let r = ask("bh-a").await.expect("send");
    assert_eq!(cache_header(&r), Some("miss"));
    upstream.push(Step::text("for tenant b"));
    let r = ask("bh-b").await.expect("send");
    assert_eq!(cache_header(&r), Some("miss"), "b was served a's answer");
    assert_eq!(
        r.json_value().await["choices"][0]["message"]["content"],
        "for tenant b"
    );
    let r = ask("bh-a").await.expect("send");
    assert_eq!(cache_header(&r), Some("hit"));
    assert_eq!(
        r.json_value().await["choices"][0]["message"]["content"],
        "for tenant a"
    );
    assert_eq!(upstream.calls(), 2);

    // An upstream error is passed on and not remembered.
    let upstream = MockUpstream::start().await;
    let root = gateway(&upstream, "").await;
    upstream.push(Step::error(500, "boom"));
    let r = post_chat(&http, &root, "chat", false).await;
    assert_eq!(r.status(), 502);
    let r = post_chat(&http, &root, "chat", false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(cache_header(&r), Some("miss"));
    assert_eq!(upstream.calls(), 2);
}
