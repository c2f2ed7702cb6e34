//! Virtual keys over real HTTP: who gets in, who gets 401/403, and that nothing of the
//! client's credentials reaches the upstream.

mod common;

use bulkhead_gateway::serve::LiveRouter;
use bulkhead_gateway::{Config, Gateway, ServerConfig};
use bulkhead_testkit::MockUpstream;
use common::{
    JsonBody as _, JsonValue as _, chat_body, client, error_object, fetch, key_hash, model_toml,
    post_keyed, provider_toml,
};

const KEY_A: &str = "bh-team-a-0123456789";
const KEY_B: &str = "bh-team-b-0123456789";
const KEY_C: &str = "bh-team-c-0123456789";
const PROVIDER_KEY: &str = "sk-provider-credential";

/// A config with keys A (every model), B (only `other`) and, when `with_c`, C.
fn config(upstream: &str, with_c: bool) -> Config {
    let c = if with_c {
        format!(
            "[[keys]]\nname = \"team-c\"\nhash = \"{}\"\n",
            key_hash(KEY_C)
        )
    } else {
        String::new()
    };
    let provider = provider_toml(
        "mock",
        "openai",
        upstream,
        &format!("api_key = \"{PROVIDER_KEY}\""),
    );
    let models = [
        model_toml("chat", "mock", "mock-model"),
        model_toml("other", "mock", "mock-model"),
    ]
    .concat();
    let toml = format!(
        r#"{provider}{models}
[[keys]]
name = "team-a"
hash = "{a}"

[[keys]]
name = "team-b"
hash = "{b}"
models = ["other"]

{c}
"#,
        a = key_hash(KEY_A),
        b = key_hash(KEY_B),
    );
    Config::from_toml_str(&toml, "keys.toml").expect("valid config")
}

/// Serve `router` with the production serve loop; returns its root URL.
async fn serve_live(router: LiveRouter) -> String {
    format!(
        "http://{}",
        common::serve_live(router, ServerConfig::default()).await
    )
}

#[tokio::test]
async fn bad_absent_revoked_and_disallowed_keys_never_reach_the_upstream() {
    let upstream = MockUpstream::start().await;
    let gateway = Gateway::build(&config(&upstream.base_url(), true)).expect("gateway");
    assert!(gateway.requires_keys());
    let live = LiveRouter::new(gateway.service());
    let url = format!("{}/v1/chat/completions", serve_live(live.clone()).await);
    let http = client();

    // Key C works before it is revoked.
    let ok = post_keyed(&http, &url, KEY_C, &chat_body("chat", false)).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(upstream.calls(), 1);

    // Revoke C by reloading a config without it.
    let without_c = Gateway::build(&config(&upstream.base_url(), false)).expect("gateway");
    live.replace(without_c.service());

    let attempts: [(&str, Option<String>, &str, u16, &str); 5] = [
        ("absent", None, "chat", 401, "missing_api_key"),
        (
            "malformed",
            Some("Basic dXNlcjpwYXNz".into()),
            "chat",
            401,
            "invalid_api_key",
        ),
        (
            "unknown",
            Some("Bearer bh-made-up".into()),
            "chat",
            401,
            "invalid_api_key",
        ),
        (
            "revoked",
            Some(format!("Bearer {KEY_C}")),
            "chat",
            401,
            "invalid_api_key",
        ),
        (
            "disallowed model",
            Some(format!("Bearer {KEY_B}")),
            "chat",
            403,
            "model_not_allowed",
        ),
    ];
    let mut refused = 0;
    for i in 0..1_000 {
        let (what, auth, model, status, code) = &attempts[i % attempts.len()];
        let mut request = http.post(&url).json_body(&chat_body(model, i % 2 == 0));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.expect("send");
        assert_eq!(response.status(), *status, "{what}");
        let body = response.json_value().await;
        assert_eq!(error_object(&body)["code"], *code, "{what}: {body}");
        let text = body.to_string();
        for key in [KEY_B, KEY_C, "bh-made-up", "dXNlcjpwYXNz"] {
            assert!(
                !text.contains(key),
                "{what}: the error echoes a key: {text}"
            );
        }
        refused += 1;
    }
    assert_eq!(refused, 1_000);
    assert_eq!(
        upstream.calls(),
        1,
        "a refused request reached the upstream"
    );

    // The allowed ones still work, and the upstream sees only the provider's credential.
    for (key, model) in [(KEY_A, "chat"), (KEY_B, "other")] {
        let response = post_keyed(&http, &url, key, &chat_body(model, false)).await;
        assert_eq!(response.status(), 200, "{key} on {model}");
    }
    let seen = upstream.requests();
    assert_eq!(seen.len(), 3);
    for request in &seen {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {PROVIDER_KEY}").as_str())
        );
        let everything = format!("{request:?}");
        for key in [KEY_A, KEY_B, KEY_C] {
            assert!(
                !everything.contains(key),
                "the upstream saw a client key: {everything}"
            );
        }
    }
}

#[tokio::test]
async fn probes_and_model_lists_follow_the_rules_of_their_paths() {
    let upstream = MockUpstream::start().await;
    let gateway = Gateway::build(&config(&upstream.base_url(), false)).expect("gateway");
    let root = serve_live(LiveRouter::new(gateway.service())).await;
    let http = client();
    // Probes need no key: load balancers and orchestrators call them.
    for probe in ["/healthz", "/readyz"] {
        let response = fetch(&http, &format!("{root}{probe}")).await;
        assert_eq!(response.status(), 200, "{probe}");
    }
    // The API does.
    let response = fetch(&http, &format!("{root}/v1/models")).await;
    assert_eq!(response.status(), 401);
    let response = http
        .get(format!("{root}/v1/models"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn anthropic_clients_authenticate_with_x_api_key_and_get_anthropic_errors() {
    let upstream = MockUpstream::start().await;
    let gateway = Gateway::build(&config(&upstream.base_url(), false)).expect("gateway");
    let root = serve_live(LiveRouter::new(gateway.service())).await;
    let url = format!("{root}/v1/messages");
    let http = client();
    let body = serde_json::json!({
        "model": "chat", "max_tokens": 16,
        "messages": [{"role": "user", "content": "Say hello"}],
    });

    let ok = http
        .post(&url)
        .header("x-api-key", KEY_A)
        .header("anthropic-version", "2023-06-01")
        .json_body(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json_value().await["type"], "message");

    for key in ["bh-wrong", ""] {
        let refused = http
            .post(&url)
            .header("x-api-key", key)
            .json_body(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(refused.status(), 401);
        let error = refused.json_value().await;
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(error["error"]["type"], "authentication_error", "{error}");
    }
    // B may not use `chat` on this route either.
    let forbidden = http
        .post(&url)
        .header("x-api-key", KEY_B)
        .json_body(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(forbidden.status(), 403);
    assert_eq!(
        forbidden.json_value().await["error"]["type"],
        "permission_error"
    );
    assert_eq!(upstream.calls(), 1);
}
