//! With the `otlp` feature: the spans `Observe` opens become OpenTelemetry spans with GenAI
//! attributes, and the OTLP/HTTP exporter delivers them to a collector on loopback.
//!
//! `cargo test -p bulkhead-observability --features otlp --test otlp`
#![cfg(feature = "otlp")]
#![allow(clippy::unwrap_used)] // a test should fail loudly

mod support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use bulkhead_core::{ChatModel as _, RequestId};
use bulkhead_observability::{Observe, otlp};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use support::*;
use tracing_subscriber::layer::SubscriberExt as _;

fn stack() -> Observe<FakeCache<FakeRouter<Observe<Script>>>> {
    Observe::request(FakeCache(FakeRouter {
        inner: Observe::attempt(Script, "primary"),
        work: Duration::ZERO,
    }))
}

/// One chat request through the stack with `provider`'s spans being recorded.
fn one_request(provider: &SdkTracerProvider) {
    let subscriber = tracing_subscriber::registry().with(otlp::layer(provider));
    let recorder = recorder();
    tracing::subscriber::with_default(subscriber, || {
        run(&recorder, async {
            let (mut request, _) = chat_request("hello");
            request.extensions.insert(RequestId::new("req-otel-1"));
            assert!(stack().chat(request).await.is_ok());
        });
    });
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|KeyValue { key: k, .. }| k.as_str() == key)
        .map(|kv| kv.value.to_string())
}

#[test]
fn spans_carry_gen_ai_attributes() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    one_request(&provider);
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let request = spans.iter().find(|s| s.name == "chat chat").unwrap();
    let attempt = spans.iter().find(|s| s.name == "chat gpt-4o-mini").unwrap();

    assert_eq!(attempt.parent_span_id, request.span_context.span_id());
    for (span, model) in [(request, "chat"), (attempt, UPSTREAM_MODEL)] {
        let expect = [
            ("gen_ai.operation.name", "chat"),
            ("gen_ai.request.model", model),
            ("gen_ai.provider.name", "primary"),
            ("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
            ("gen_ai.usage.input_tokens", "10"),
            ("gen_ai.usage.output_tokens", "5"),
            ("gen_ai.response.finish_reasons", "[\"stop\"]"),
            ("request_id", "req-otel-1"),
        ];
        for (key, value) in expect {
            assert_eq!(
                attribute(span, key).as_deref(),
                Some(value),
                "{key} of {}",
                span.name
            );
        }
        assert_eq!(attribute(span, "gen_ai.input.messages"), None);
    }
    assert_eq!(attempt.span_kind, opentelemetry::trace::SpanKind::Client);
}

/// Accept one HTTP request on `listener`, answer 200, and send back its head and body.
fn collector(listener: TcpListener) -> mpsc::Receiver<(String, Vec<u8>)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = reader.into_inner();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        let _ = tx.send((head, body));
    });
    rx
}

#[test]
fn the_exporter_delivers_spans_to_a_loopback_collector() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let received = collector(listener);
    let provider = otlp::tracer_provider(&endpoint, "bulkhead-test").unwrap();
    one_request(&provider);
    provider.force_flush().unwrap();
    let (head, body) = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(head.starts_with("POST /v1/traces HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-protobuf"),
        "{head}"
    );
    // Protobuf keeps strings verbatim: the service, the span names and attributes are there.
    let body = String::from_utf8_lossy(&body);
    for needle in [
        "bulkhead-test",
        "chat gpt-4o-mini",
        "gen_ai.request.model",
        "req-otel-1",
    ] {
        assert!(body.contains(needle), "{needle} missing from the export");
    }
    let _ = provider.shutdown();
}

#[test]
fn traces_url_appends_the_signal_path_once() {
    assert_eq!(otlp::traces_url("http://c:4318"), "http://c:4318/v1/traces");
    assert_eq!(
        otlp::traces_url("http://c:4318/"),
        "http://c:4318/v1/traces"
    );
    assert_eq!(
        otlp::traces_url("http://c:4318/v1/traces"),
        "http://c:4318/v1/traces"
    );
}
