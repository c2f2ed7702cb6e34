//! An upstream that answers with a redirect: the provider must not follow it, since following
//! would send the provider's API key to whatever host the `Location` names.

use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use bulkhead_core::{ChatModel, ChatRequest, ErrorKind, Message};
use bulkhead_inference::{
    AnthropicConfig, AnthropicProvider, OpenAiConfig, OpenAiProvider, Timeouts,
};
use tokio::net::TcpListener;

/// A loopback listener that must never see a connection, and an upstream redirecting to it.
async fn redirect_to_trap(status: StatusCode) -> (String, TcpListener) {
    let trap = TcpListener::bind("127.0.0.1:0").await.expect("bind trap");
    let location = format!("http://{}/stolen", trap.local_addr().expect("addr"));
    let redirect = move || {
        let location = location.clone();
        async move { (status, [(header::LOCATION, location)]).into_response() }
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(redirect.clone()))
        .route("/v1/messages", post(redirect));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (base, trap)
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_token: Duration::from_secs(5),
        idle: Duration::from_secs(5),
        total: Duration::from_secs(10),
    }
}

async fn assert_untouched(trap: &TcpListener) {
    let accepted = tokio::time::timeout(Duration::from_millis(200), trap.accept()).await;
    assert!(
        accepted.is_err(),
        "the redirect target received a connection"
    );
}

fn assert_clear(error: &bulkhead_core::Error, status: u16) {
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
    assert_eq!(error.status(), Some(status));
    let message = error.message();
    assert!(message.contains("redirect"), "{message}");
    assert!(message.contains("base_url"), "{message}");
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(!message.contains("sk-"), "{message}");
}

fn request() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("hi")])
}

#[tokio::test]
async fn openai_provider_does_not_follow_redirects() {
    for status in [
        StatusCode::TEMPORARY_REDIRECT,
        StatusCode::MOVED_PERMANENTLY,
    ] {
        let (base, trap) = redirect_to_trap(status).await;
        let mut config = OpenAiConfig::new("redirecting", format!("{base}/v1"));
        config.api_key = Some("sk-never-leaves".into());
        config.timeouts = timeouts();
        let provider = OpenAiProvider::new(config).expect("provider");

        let error = provider.chat(request()).await.expect_err("redirect");
        assert_clear(&error, status.as_u16());
        let error = match provider.stream(request()).await {
            Ok(_) => panic!("a redirected stream must fail"),
            Err(error) => error,
        };
        assert_clear(&error, status.as_u16());
        assert_untouched(&trap).await;
    }
}

#[tokio::test]
async fn anthropic_provider_does_not_follow_redirects() {
    let (base, trap) = redirect_to_trap(StatusCode::TEMPORARY_REDIRECT).await;
    let mut config = AnthropicConfig::new("redirecting", base);
    config.api_key = Some("sk-ant-never-leaves".into());
    config.timeouts = timeouts();
    let provider = AnthropicProvider::new(config).expect("provider");
    let error = provider.chat(request()).await.expect_err("redirect");
    assert_clear(&error, 307);
    assert_untouched(&trap).await;
}
