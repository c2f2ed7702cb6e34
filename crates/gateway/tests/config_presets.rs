//! Vendor presets: `kind = "<vendor>"` is an OpenAI-compatible provider with that vendor's
//! base URL, auth style and headers; checked from config parsing to the request on the wire.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::HeaderMap;
use axum::routing::post;
use bulkhead_gateway::{Config, ProviderKind};
use bulkhead_testkit::{MockUpstream, fixtures};
use common::{
    JsonValue as _, client, model_toml, post_chat, provider_toml, serve_router, serve_toml,
};
use serde_json::Value;

fn parse(source: &str) -> Result<Config, String> {
    Config::from_toml_str(source, "presets.toml").map_err(|e| e.to_string())
}

fn provider(kind_and_fields: &str) -> String {
    format!(
        r#"
[[providers]]
name = "vendor"
{kind_and_fields}

[[models]]
name = "chat"
targets = [{{ provider = "vendor", model = "some-model" }}]
"#
    )
}

fn http_settings(config: &Config) -> &bulkhead_gateway::HttpProviderConfig {
    match &config.providers[0].kind {
        ProviderKind::OpenAi(http) => http,
        other => panic!("expected an OpenAI-compatible provider, got {other:?}"),
    }
}

#[test]
fn a_preset_fills_in_the_vendor_defaults() {
    let config = parse(&provider("kind = \"groq\"\napi_key = \"gsk-1\"")).expect("valid");
    let http = http_settings(&config);
    assert_eq!(http.base_url, "https://api.groq.com/openai/v1");
    assert_eq!(http.api_key.as_deref(), Some("gsk-1"));
    assert!(http.headers.is_empty());

    for (kind, url) in [
        ("ollama", "http://127.0.0.1:11434/v1"),
        ("vllm", "http://127.0.0.1:8000/v1"),
        ("llamacpp", "http://127.0.0.1:8080/v1"),
    ] {
        let config = parse(&provider(&format!("kind = \"{kind}\""))).expect("no key needed");
        let http = http_settings(&config);
        assert_eq!(http.base_url, url);
        assert_eq!(http.api_key, None);
    }
}

#[test]
fn explicit_base_url_and_headers_override_the_preset() {
    let config = parse(&provider(
        r#"kind = "openrouter"
api_key = "sk-or"
base_url = "https://proxy.example/openrouter/v1"
headers = { "X-Title" = "My app", "HTTP-Referer" = "https://my.app" }"#,
    ))
    .expect("valid");
    let http = http_settings(&config);
    assert_eq!(http.base_url, "https://proxy.example/openrouter/v1");
    let title: Vec<&str> = http
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-title"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(title, ["My app"]);
}

#[test]
fn azure_takes_the_resource_endpoint_and_sends_the_key_as_api_key() {
    let config = parse(&provider(
        r#"kind = "azure"
base_url = "https://my-resource.openai.azure.com"
api_key = "azure-secret""#,
    ))
    .expect("valid");
    let http = http_settings(&config);
    assert_eq!(
        http.base_url,
        "https://my-resource.openai.azure.com/openai/deployments/{model}?api-version=2024-10-21"
    );
    assert_eq!(http.api_key, None, "no Bearer token for Azure");
    assert_eq!(
        http.headers,
        [("api-key".to_owned(), "azure-secret".to_owned())]
    );
    assert!(!format!("{config:?}").contains("azure-secret"));
}

#[test]
fn missing_pieces_and_unknown_vendors_are_errors_at_their_line() {
    let errors = parse(&provider("kind = \"azure\"\napi_key = \"k\"")).expect_err("no base_url");
    assert!(
        errors.contains("preset \"azure\" needs `base_url`"),
        "{errors}"
    );
    assert!(errors.contains("presets.toml:4:"), "{errors}");

    let errors = parse(&provider("kind = \"mistral\"")).expect_err("no key");
    assert!(
        errors.contains("preset \"mistral\" needs `api_key`"),
        "{errors}"
    );

    let errors = parse(&provider("kind = \"grok\"")).expect_err("unknown");
    assert!(
        errors.contains("unknown provider kind \"grok\""),
        "{errors}"
    );
    assert!(errors.contains("\"groq\""), "{errors}");

    let errors =
        parse(&provider("kind = \"ollama\"\nlatency_ms = 5")).expect_err("simulated field");
    assert!(errors.contains("`latency_ms`"), "{errors}");
}

#[tokio::test]
async fn bearer_presets_send_the_key_as_a_bearer_token_and_keyless_ones_send_none() {
    let upstream = MockUpstream::start().await;
    let base = upstream.base_url();
    let url = serve_toml(
        &[
            provider_toml("gpu", "vllm", &base, "api_key = \"vllm-token\""),
            provider_toml("local", "ollama", &base, ""),
            model_toml("big", "gpu", "qwen"),
            model_toml("small", "local", "llama3.2"),
        ]
        .concat(),
    )
    .await;
    for model in ["big", "small"] {
        let response = post_chat(&client(), &url, model, false).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json_value().await["object"], "chat.completion");
    }
    let seen = upstream.requests();
    assert_eq!(seen[0].header("authorization"), Some("Bearer vllm-token"));
    assert_eq!(seen[0].body["model"], "qwen");
    assert_eq!(seen[1].header("authorization"), None);
    assert_eq!(seen[1].body["model"], "llama3.2");
}

#[derive(Debug, Clone)]
struct Seen {
    deployment: String,
    query: Option<String>,
    headers: HeaderMap,
}

/// An Azure-OpenAI-shaped upstream: `POST /openai/deployments/{deployment}/chat/completions`.
async fn azure_upstream() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    let app = Router::new().route(
        "/openai/deployments/{deployment}/chat/completions",
        post(
            move |Path(deployment): Path<String>,
                  RawQuery(query): RawQuery,
                  headers: HeaderMap,
                  body: Bytes| {
                let log = log.clone();
                async move {
                    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let model = body["model"].as_str().unwrap_or("").to_owned();
                    log.lock().expect("log").push(Seen {
                        deployment,
                        query,
                        headers,
                    });
                    (
                        [("content-type", "application/json")],
                        fixtures::chat_completion("from azure", &model).to_string(),
                    )
                }
            },
        ),
    );
    (serve_router(app).await, seen)
}

#[tokio::test]
async fn azure_preset_reaches_the_deployment_with_api_key_and_api_version() {
    let (base, seen) = azure_upstream().await;
    let url = serve_toml(
        &[
            provider_toml("azure", "azure", &base, "api_key = \"azure-secret\""),
            model_toml("chat", "azure", "gpt4o-prod"),
        ]
        .concat(),
    )
    .await;
    let response = post_chat(&client(), &url, "chat", false).await;
    assert_eq!(response.status(), 200);
    let body = response.json_value().await;
    assert_eq!(body["choices"][0]["message"]["content"], "from azure");

    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].deployment, "gpt4o-prod");
    assert_eq!(seen[0].query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(seen[0].headers["api-key"], "azure-secret");
    assert!(seen[0].headers.get("authorization").is_none());
}

#[test]
fn preset_on_an_openai_provider_is_the_same_as_naming_the_vendor_as_kind() {
    let by_preset = bulkhead_gateway::Config::from_toml_str(
        "[[providers]]\nname = \"local\"\nkind = \"openai\"\npreset = \"ollama\"\n",
        "preset.toml",
    )
    .expect("preset config");
    let by_kind = bulkhead_gateway::Config::from_toml_str(
        "[[providers]]\nname = \"local\"\nkind = \"ollama\"\n",
        "kind.toml",
    )
    .expect("kind config");
    assert_eq!(by_preset.providers, by_kind.providers);

    let unknown = bulkhead_gateway::Config::from_toml_str(
        "[[providers]]\nname = \"x\"\nkind = \"openai\"\npreset = \"nope\"\n",
        "bad.toml",
    )
    .expect_err("unknown preset")
    .to_string();
    assert!(unknown.contains("bad.toml:4:10"), "{unknown}");
    assert!(unknown.contains("unknown preset \"nope\""), "{unknown}");
    let misplaced = bulkhead_gateway::Config::from_toml_str(
        "[[providers]]\nname = \"x\"\nkind = \"simulated\"\npreset = \"ollama\"\n",
        "bad.toml",
    )
    .expect_err("preset on simulated")
    .to_string();
    assert!(
        misplaced.contains("applies to kind \"openai\" only"),
        "{misplaced}"
    );
}
