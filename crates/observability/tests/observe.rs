//! Behaviour of `Observe` at both scopes, read back from Prometheus text exactly as `/metrics`
//! would serve it.
#![allow(clippy::unwrap_used)] // a test should fail loudly

mod support;

use std::time::Duration;

use bulkhead_core::{ChatModel as _, EmbeddingModel as _, EmbeddingRequest, RequestId};
use bulkhead_observability::{Observe, ObserveLayer, Pricing, names};
use futures_util::StreamExt as _;
use support::*;

type Stack = Observe<FakeCache<FakeRouter<Observe<Script>>>>;

fn stack(work: Duration) -> Stack {
    Observe::request(FakeCache(FakeRouter {
        inner: Observe::attempt(Script, "primary"),
        work,
    }))
}

fn requests(text: &str, outcome: &str) -> f64 {
    value(
        text,
        names::REQUESTS_TOTAL,
        &[("model", "chat"), ("outcome", outcome)],
    )
}

fn attempts(text: &str, outcome: &str) -> f64 {
    value(
        text,
        &format!("{}_count", names::OPERATION_DURATION),
        &[
            ("gen_ai_request_model", UPSTREAM_MODEL),
            ("gen_ai_provider_name", "primary"),
            ("outcome", outcome),
        ],
    )
}

fn tokens(text: &str, token_type: &str, suffix: &str) -> f64 {
    value(
        text,
        &format!("{}_{suffix}", names::TOKEN_USAGE),
        &[
            ("gen_ai_token_type", token_type),
            ("gen_ai_request_model", UPSTREAM_MODEL),
            ("gen_ai_provider_name", "primary"),
        ],
    )
}

#[test]
fn a_scripted_run_is_counted_exactly() {
    let recorder = recorder();
    let stack = stack(Duration::ZERO);
    let (ok_report, hit_report) = run(&recorder, async {
        let mut ok_report = None;
        for _ in 0..3 {
            let (request, report) = chat_request("hello");
            assert!(stack.chat(request).await.is_ok());
            ok_report = Some(report);
        }
        for failure in ["fail:rate_limited", "fail:bad_request", "fail:rate_limited"] {
            let (request, _) = chat_request(failure);
            assert!(stack.chat(request).await.is_err());
        }
        // A stream read to its end.
        let (request, _) = chat_request("stream me");
        let chunks: Vec<_> = stack.stream(request).await.unwrap().collect().await;
        assert!(chunks.iter().all(Result::is_ok) && chunks.len() > 2);
        // A stream the client drops after its first chunk.
        let (request, _) = chat_request("stream me");
        let mut stream = stack.stream(request).await.unwrap();
        assert!(stream.next().await.is_some());
        drop(stream);
        // A stream that fails before it starts.
        let (request, _) = chat_request("fail:timeout");
        assert!(stack.stream(request).await.is_err());
        // A cache hit.
        let (request, hit_report) = chat_request("cached please");
        assert!(stack.chat(request).await.is_ok());
        (ok_report, hit_report)
    });
    let text = recorder.handle().render();

    // Requests: 3 chats + 1 stream + 1 cache hit ok; errors by kind; the dropped stream.
    assert_eq!(requests(&text, "ok"), 5.0, "{text}");
    assert_eq!(requests(&text, "rate_limited"), 2.0);
    assert_eq!(requests(&text, "bad_request"), 1.0);
    assert_eq!(requests(&text, "timeout"), 1.0);
    assert_eq!(requests(&text, "cancelled"), 1.0);
    assert_eq!(value(&text, names::IN_FLIGHT_REQUESTS, &[]), 0.0);

    // Upstream attempts: the cache hit never reached the provider.
    assert_eq!(attempts(&text, "ok"), 4.0);
    assert_eq!(attempts(&text, "rate_limited"), 2.0);
    assert_eq!(attempts(&text, "bad_request"), 1.0);
    assert_eq!(attempts(&text, "timeout"), 1.0);
    assert_eq!(attempts(&text, "cancelled"), 1.0);

    // Tokens: the usage of the four upstream answers that reported it (the dropped stream
    // ended before its usage chunk).
    assert_eq!(tokens(&text, "input", "count"), 4.0);
    assert_eq!(tokens(&text, "input", "sum"), f64::from(4 * PROMPT_TOKENS));
    assert_eq!(
        tokens(&text, "output", "sum"),
        f64::from(4 * COMPLETION_TOKENS)
    );

    // Cost: the same four answers at gpt-4o-mini's price; the cache hit costs nothing.
    let one = Pricing::builtin()
        .cost(
            UPSTREAM_MODEL,
            &bulkhead_core::Usage::new(PROMPT_TOKENS, COMPLETION_TOKENS),
        )
        .unwrap();
    assert!(one > 0.0);
    let total = value(&text, names::COST_USD_TOTAL, &[("model", "chat")]);
    assert!(close(total, 4.0 * one), "{total} != 4 * {one}");
    assert!(
        ok_report
            .and_then(|r| r.cost_usd())
            .is_some_and(|c| close(c, one))
    );
    assert_eq!(hit_report.cost_usd(), Some(0.0));

    // Streams: both streams produced a first chunk; only the full one had a second.
    let stream_labels = [
        ("gen_ai_request_model", UPSTREAM_MODEL),
        ("gen_ai_provider_name", "primary"),
    ];
    let ttfc = format!("{}_count", names::TIME_TO_FIRST_CHUNK);
    let tpoc = format!("{}_count", names::TIME_PER_OUTPUT_CHUNK);
    assert_eq!(value(&text, &ttfc, &stream_labels), 2.0);
    assert_eq!(value(&text, &tpoc, &stream_labels), 1.0);
    assert_eq!(
        value(&text, &format!("{}_count", names::GATEWAY_OVERHEAD), &[]),
        10.0
    );
}

#[test]
fn stream_timings_come_from_the_chunks_on_the_clock() {
    let recorder = recorder();
    let stack = stack(Duration::ZERO);
    run(&recorder, async {
        let (request, report) = chat_request("stream me");
        let chunks: Vec<_> = stack.stream(request).await.unwrap().collect().await;
        assert!(chunks.len() > 2);
        // The cost of a stream is known once its usage chunk has passed.
        assert!(report.cost_usd().is_some_and(|c| c > 0.0));
    });
    let text = recorder.handle().render();
    let labels = [
        ("gen_ai_request_model", UPSTREAM_MODEL),
        ("gen_ai_provider_name", "primary"),
    ];
    let ttfc = value(
        &text,
        &format!("{}_sum", names::TIME_TO_FIRST_CHUNK),
        &labels,
    );
    let tpoc = value(
        &text,
        &format!("{}_sum", names::TIME_PER_OUTPUT_CHUNK),
        &labels,
    );
    assert!(close(ttfc, FIRST_CHUNK_DELAY.as_secs_f64()), "{ttfc}");
    assert!(close(tpoc, CHUNK_GAP.as_secs_f64()), "{tpoc}");
}

#[test]
fn overhead_excludes_the_time_spent_upstream() {
    let recorder = recorder();
    // Three milliseconds of "routing" around a provider that takes two seconds.
    let stack = stack(Duration::from_millis(3));
    run(&recorder, async {
        let (request, _) = chat_request("sleep:2000");
        assert!(stack.chat(request).await.is_ok());
    });
    let text = recorder.handle().render();
    let overhead = value(&text, &format!("{}_sum", names::GATEWAY_OVERHEAD), &[]);
    let upstream = value(
        &text,
        &format!("{}_sum", names::OPERATION_DURATION),
        &[
            ("gen_ai_request_model", UPSTREAM_MODEL),
            ("gen_ai_provider_name", "primary"),
            ("outcome", "ok"),
        ],
    );
    assert!(close(overhead, 0.003), "overhead {overhead}");
    assert!(close(upstream, 2.0), "upstream {upstream}");
    // And it lands in a sub-5 ms bucket, where a gateway's overhead belongs.
    let bucket = value(
        &text,
        &format!("{}_bucket", names::GATEWAY_OVERHEAD),
        &[("le", "0.005")],
    );
    assert_eq!(bucket, 1.0);
}

#[test]
fn series_stay_flat_over_ten_thousand_distinct_requests() {
    let recorder = recorder();
    let stack = stack(Duration::ZERO);
    let send = |from: usize, to: usize| {
        let stack = &stack;
        async move {
            for i in from..to {
                let (mut request, _) = chat_request(if i % 7 == 0 {
                    "fail:rate_limited"
                } else {
                    "hi"
                });
                request
                    .extensions
                    .insert(RequestId::new(format!("request-id-{i}")));
                request.user = Some(format!("user-{i}"));
                let _ = stack.chat(request).await;
            }
        }
    };
    run(&recorder, send(0, 100));
    let before = samples(&recorder.handle().render()).len();
    run(&recorder, send(100, 10_100));
    let text = recorder.handle().render();
    assert_eq!(samples(&text).len(), before);
    assert!(!text.contains("request-id-") && !text.contains("user-"));
    let total = requests(&text, "ok") + requests(&text, "rate_limited");
    assert_eq!(total, 10_100.0);
}

#[test]
fn embeddings_are_counted_and_priced() {
    let recorder = recorder();
    let stack = Observe::request(Observe::attempt(Script, "primary"));
    let report = run(&recorder, async {
        let mut request = EmbeddingRequest {
            model: "text-embedding-3-small".into(),
            input: bulkhead_core::EmbeddingInput::Text("embed me".into()),
            ..EmbeddingRequest::default()
        };
        let report = bulkhead_core::CallReport::new();
        request.extensions.insert(report.clone());
        assert!(stack.embed(request).await.is_ok());
        report
    });
    let text = recorder.handle().render();
    let model = "text-embedding-3-small";
    assert_eq!(
        value(
            &text,
            names::REQUESTS_TOTAL,
            &[("model", model), ("outcome", "ok")]
        ),
        1.0
    );
    // 1000 tokens at $0.02 per million.
    let expected = 1000.0 * 0.02 / 1e6;
    assert!(close(
        value(&text, names::COST_USD_TOTAL, &[("model", model)]),
        expected
    ));
    assert!(report.cost_usd().is_some_and(|c| close(c, expected)));
}

#[test]
fn unknown_model_names_share_the_other_label() {
    use tower_layer::Layer as _;
    let recorder = recorder();
    let stack = ObserveLayer::request()
        .known_models(["chat"])
        .layer(FakeCache(FakeRouter {
            inner: ObserveLayer::attempt("primary").layer(Script),
            work: Duration::ZERO,
        }));
    run(&recorder, async {
        for i in 0..50 {
            let (mut request, _) = chat_request("hi");
            if i % 2 == 1 {
                request.model = format!("made-up-{i}");
            }
            assert!(stack.chat(request).await.is_ok());
        }
    });
    let text = recorder.handle().render();
    assert_eq!(requests(&text, "ok"), 25.0);
    assert_eq!(
        value(
            &text,
            names::REQUESTS_TOTAL,
            &[("model", "other"), ("outcome", "ok")]
        ),
        25.0
    );
    assert!(!text.contains("made-up-"));
}

#[test]
fn a_call_abandoned_by_its_caller_is_counted_as_cancelled() {
    let recorder = recorder();
    let stack = stack(Duration::ZERO);
    run(&recorder, async {
        let (request, _) = chat_request("sleep:60000");
        let abandoned = tokio::time::timeout(Duration::from_millis(10), stack.chat(request)).await;
        assert!(abandoned.is_err());
    });
    let text = recorder.handle().render();
    assert_eq!(requests(&text, "cancelled"), 1.0);
    assert_eq!(attempts(&text, "cancelled"), 1.0);
    assert_eq!(value(&text, names::IN_FLIGHT_REQUESTS, &[]), 0.0);
}

#[test]
fn a_recorder_installed_after_the_first_requests_gets_every_later_one() {
    // `Observe` remembers the handles a recorder gave it; a different recorder (installed
    // later, or another test's) must still get its own counts, and the first none of them.
    let stack = stack(Duration::ZERO);
    let first = recorder();
    let second = recorder();
    let send = |recorder, n| {
        run(recorder, async {
            for _ in 0..n {
                let (request, _) = chat_request("hello");
                stack.chat(request).await.unwrap();
            }
        });
    };
    send(&first, 3);
    send(&second, 5);
    send(&first, 1);
    let (first, second) = (first.handle().render(), second.handle().render());
    assert_eq!(requests(&first, "ok"), 4.0);
    assert_eq!(attempts(&first, "ok"), 4.0);
    assert_eq!(requests(&second, "ok"), 5.0);
    assert_eq!(attempts(&second, "ok"), 5.0);
    assert_eq!(tokens(&second, "input", "count"), 5.0);
}
