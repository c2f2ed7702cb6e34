//! Upstream errors mapped to error kinds: over real HTTP for each status the gateway cares
//! about, and directly through `error_from_response` for the body and header variants.

mod support;

use std::time::{Duration, SystemTime};

use bulkhead_core::{ChatModel, ChatRequest, ErrorKind, Message};
use bulkhead_inference::error::{error_from_response, retry_after};
use http::HeaderMap;
use support::{Upstream, relaxed};

fn request() -> ChatRequest {
    ChatRequest::new("gpt-4o-mini", vec![Message::user("hi")])
}

#[tokio::test]
async fn statuses_and_bodies_map_to_kinds_for_json_and_stream_calls() {
    let upstream = Upstream::start().await;
    let cases = [
        (
            "rate_secs",
            ErrorKind::RateLimited,
            429,
            Some(Duration::from_secs(7)),
        ),
        (
            "rate_ms",
            ErrorKind::RateLimited,
            429,
            Some(Duration::from_millis(1500)),
        ),
        ("quota", ErrorKind::QuotaExceeded, 429, None),
        ("context", ErrorKind::ContextWindowExceeded, 400, None),
        ("vllm_context", ErrorKind::ContextWindowExceeded, 400, None),
        ("bad_request", ErrorKind::BadRequest, 400, None),
        ("filtered", ErrorKind::ContentFiltered, 400, None),
        ("unauthorized", ErrorKind::Authentication, 401, None),
        ("forbidden", ErrorKind::PermissionDenied, 403, None),
        ("ollama_missing", ErrorKind::NotFound, 404, None),
        ("server_error", ErrorKind::ServerError, 500, None),
        ("bad_gateway", ErrorKind::ServerError, 502, None),
        ("unavailable", ErrorKind::Overloaded, 503, None),
        ("overloaded", ErrorKind::Overloaded, 529, None),
        ("gateway_timeout", ErrorKind::Timeout, 504, None),
    ];
    for (scenario, kind, status, wait) in cases {
        let provider = upstream.provider(scenario, relaxed());
        let json = provider.chat(request()).await.expect_err(scenario);
        let stream = match provider.stream(request()).await {
            Ok(_) => panic!("{scenario}: stream should fail before it starts"),
            Err(e) => e,
        };
        for error in [json, stream] {
            assert_eq!(error.kind(), kind, "{scenario}: {error}");
            assert_eq!(error.status(), Some(status), "{scenario}");
            assert_eq!(error.retry_after(), wait, "{scenario}");
            assert!(error.message().starts_with("provider `test`: "), "{error}");
            assert!(!error.message().contains("sk-test-secret"));
        }
    }
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_a_duration_from_now() {
    let upstream = Upstream::start().await;
    let error = upstream
        .provider("rate_date", relaxed())
        .chat(request())
        .await
        .expect_err("429");
    let wait = error.retry_after().expect("retry-after");
    assert!(
        wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
}

#[test]
fn messages_come_from_every_body_shape() {
    let headers = HeaderMap::new();
    let cases: [(&[u8], &str); 5] = [
        (
            br#"{"error":{"message":"Rate limit reached","type":"requests"}}"#,
            "Rate limit reached",
        ),
        (br#"{"error":"model not found"}"#, "model not found"),
        (br#"{"message":"upstream says no"}"#, "upstream says no"),
        (br#"{"detail":"Not authenticated"}"#, "Not authenticated"),
        (b"<html>bad gateway</html>", "HTTP 502 Bad Gateway"),
    ];
    for (body, message) in cases {
        let error = error_from_response("p", 502, &headers, body);
        assert_eq!(error.message(), format!("provider `p`: {message}"));
    }
    let plain = error_from_response("p", 500, &headers, b"boom");
    assert_eq!(
        plain.message(),
        "provider `p`: HTTP 500 Internal Server Error: boom"
    );
}

#[test]
fn kinds_follow_status_then_body() {
    let headers = HeaderMap::new();
    let kind =
        |status, body: &str| error_from_response("p", status, &headers, body.as_bytes()).kind();
    assert_eq!(
        kind(
            429,
            r#"{"error":{"message":"x","type":"insufficient_quota"}}"#
        ),
        ErrorKind::QuotaExceeded
    );
    assert_eq!(
        kind(
            400,
            r#"{"error":{"message":"Please reduce the length; the context window is 8k"}}"#
        ),
        ErrorKind::ContextWindowExceeded
    );
    assert_eq!(
        kind(400, r#"{"error":{"message":"x","code":"content_filter"}}"#),
        ErrorKind::ContentFiltered
    );
    assert_eq!(kind(422, "{}"), ErrorKind::BadRequest);
    assert_eq!(kind(413, ""), ErrorKind::BadRequest);
    assert_eq!(kind(408, ""), ErrorKind::Timeout);
    assert_eq!(kind(501, ""), ErrorKind::ServerError);
    assert_eq!(kind(599, ""), ErrorKind::ServerError);
}

#[test]
fn retry_after_forms() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let headers = |pairs: &[(&'static str, &str)]| {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("value"));
        }
        map
    };
    assert_eq!(
        retry_after(&headers(&[("retry-after", "3")]), now),
        Some(Duration::from_secs(3))
    );
    assert_eq!(
        retry_after(&headers(&[("retry-after", "0.5")]), now),
        Some(Duration::from_millis(500))
    );
    let date = httpdate::fmt_http_date(now + Duration::from_secs(90));
    assert_eq!(
        retry_after(&headers(&[("retry-after", &date)]), now),
        Some(Duration::from_secs(90))
    );
    let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
    assert_eq!(
        retry_after(&headers(&[("retry-after", &past)]), now),
        Some(Duration::ZERO)
    );
    assert_eq!(
        retry_after(
            &headers(&[("retry-after-ms", "250"), ("retry-after", "9")]),
            now
        ),
        Some(Duration::from_millis(250))
    );
    assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
    assert_eq!(retry_after(&headers(&[("retry-after", "-1")]), now), None);
    assert_eq!(retry_after(&HeaderMap::new(), now), None);
}
