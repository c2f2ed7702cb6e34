//! Failover, fallbacks, context-window jumps and stream failover, with in-process models.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bulkhead_core::{CallReport, ChatModel as _, ErrorKind};
use bulkhead_orchestration::{BuildError, RoundRobin, Route, Router, Routes, Target, Weighted};
use common::{Act, Scripted, request};
use futures_util::StreamExt as _;

fn target(provider: &'static str, model: &'static str, m: &Arc<Scripted>) -> Target {
    Target::new(provider, model, m.clone())
}

#[tokio::test]
async fn thirty_percent_503s_with_one_fallback_almost_always_succeed_and_report_who_answered() {
    // Deterministic "30%": calls whose number is 3, 6 or 9 mod 10 fail.
    let primary = Scripted::new("primary", |n| {
        if matches!(n % 10, 3 | 6 | 9) {
            Act::Fail(ErrorKind::Overloaded)
        } else {
            Act::Answer
        }
    });
    let fallback = Scripted::with_tokens("fallback", 42);
    let routes = Routes::builder()
        .route(
            Route::new(
                Router::builder("chat")
                    .target(target("p", "primary-model", &primary))
                    .build()
                    .expect("router"),
            )
            .fallback("backup"),
        )
        .route(Route::new(
            Router::builder("backup")
                .target(target("f", "fallback-model", &fallback))
                .build()
                .expect("router"),
        ))
        .build()
        .expect("routes");
    let chat = routes.model("chat").expect("alias");
    let mut ok = 0;
    for _ in 0..2000 {
        let mut req = request("chat");
        let report = CallReport::new();
        req.extensions.insert(report.clone());
        let answer = chat.chat(req).await.expect("served");
        ok += 1;
        let deployment = report.deployment().expect("recorded");
        assert_eq!(
            answer.model, &*deployment.model,
            "body model is the answering one"
        );
        let tokens = answer.usage.expect("usage").completion_tokens;
        match &*deployment.provider {
            "p" => assert_eq!(tokens, 7),
            "f" => assert_eq!((tokens, &*deployment.model), (42, "fallback-model")),
            other => panic!("unexpected provider {other}"),
        }
    }
    assert_eq!(ok, 2000);
    assert_eq!(fallback.calls(), 600);
}

#[tokio::test]
async fn a_failed_target_is_followed_by_the_next_and_all_failing_is_a_503_naming_them() {
    let a = Scripted::new("a", |_| Act::Fail(ErrorKind::CircuitOpen));
    let b = Scripted::new("b", |_| Act::Fail(ErrorKind::Timeout));
    let router = Router::builder("chat")
        .target(target("pa", "ma", &a))
        .target(target("pb", "mb", &b))
        .strategy(RoundRobin::new())
        .build()
        .expect("router");
    let error = router.chat(request("chat")).await.expect_err("all fail");
    assert_eq!(error.kind(), ErrorKind::Overloaded);
    assert!(
        error
            .message()
            .starts_with("no healthy deployment for model `chat`: tried "),
        "{error}"
    );
    assert!(
        error.message().contains("provider `pa` (ma: circuit_open)"),
        "{error}"
    );
    assert!(
        error.message().contains("provider `pb` (mb: timeout)"),
        "{error}"
    );
    assert_eq!((a.calls(), b.calls()), (1, 1));
}

/// Open circuits (as the retry crate's breaker reports them) keep their targets out of
/// rotation for their retry-after, and the 503 for an alias with every target skipped still
/// says when to come back: the soonest cool-down's end.
#[tokio::test(start_paused = true)]
async fn skipped_targets_are_not_called_and_the_503_says_when_the_first_comes_back() {
    let a = Scripted::new("a", |_| {
        Act::FailRetryAfter(ErrorKind::CircuitOpen, Duration::from_secs(10))
    });
    let b = Scripted::new("b", |_| {
        Act::FailRetryAfter(ErrorKind::CircuitOpen, Duration::from_secs(30))
    });
    let router = Router::builder("chat")
        .target(target("pa", "ma", &a))
        .target(target("pb", "mb", &b))
        .build()
        .expect("router");
    let first = router.chat(request("chat")).await.expect_err("both open");
    assert_eq!(first.kind(), ErrorKind::Overloaded);
    assert_eq!(first.retry_after(), Some(Duration::from_secs(10)));

    tokio::time::advance(Duration::from_secs(4)).await;
    let skipped = router
        .chat(request("chat"))
        .await
        .expect_err("both cooling");
    assert_eq!(skipped.kind(), ErrorKind::Overloaded);
    assert_eq!(
        skipped.message(),
        "no healthy deployment for model `chat`: skipped provider `pa` (ma: cooling down), \
         provider `pb` (mb: cooling down)"
    );
    assert_eq!(skipped.retry_after(), Some(Duration::from_secs(6)));
    assert_eq!(
        (a.calls(), b.calls()),
        (1, 1),
        "cooling targets are not called"
    );

    // Once `a`'s cool-down is over it is asked again; `b` is still skipped.
    tokio::time::advance(Duration::from_secs(6)).await;
    let again = router
        .chat(request("chat"))
        .await
        .expect_err("a still open");
    assert_eq!((a.calls(), b.calls()), (2, 1));
    assert!(again.message().contains("skipped provider `pb`"), "{again}");
}

#[tokio::test]
async fn client_errors_never_fail_over_or_fall_back() {
    for kind in [
        ErrorKind::BadRequest,
        ErrorKind::Authentication,
        ErrorKind::ContentFiltered,
    ] {
        let a = Scripted::new("a", move |_| Act::Fail(kind));
        let b = Scripted::ok("b");
        let routes = Routes::builder()
            .route(
                Route::new(
                    Router::builder("chat")
                        .target(target("pa", "ma", &a))
                        .target(target("pb", "mb", &b))
                        .strategy(RoundRobin::new())
                        .build()
                        .expect("router"),
                )
                .fallback("other"),
            )
            .route(Route::new(
                Router::builder("other")
                    .target(target("pb", "mb", &b))
                    .build()
                    .expect("router"),
            ))
            .build()
            .expect("routes");
        let error = routes
            .model("chat")
            .expect("alias")
            .chat(request("chat"))
            .await
            .expect_err("client error");
        assert_eq!(error.kind(), kind);
        assert_eq!(b.calls(), 0, "{kind} must not fall back");
    }
}

#[tokio::test]
async fn context_window_exceeded_tries_only_the_named_alias() {
    let short = Scripted::new("short", |_| Act::Fail(ErrorKind::ContextWindowExceeded));
    let other = Scripted::ok("other");
    let long = Scripted::ok("long");
    let routes = Routes::builder()
        .route(
            Route::new(
                Router::builder("chat-8k")
                    .target(target("p", "small", &short))
                    .build()
                    .expect("router"),
            )
            .fallback("chat-other")
            .on_context_window_exceeded("chat-long"),
        )
        .route(Route::new(
            Router::builder("chat-other")
                .target(target("p", "other", &other))
                .build()
                .expect("router"),
        ))
        .route(Route::new(
            Router::builder("chat-long")
                .target(target("p", "long-128k", &long))
                .build()
                .expect("router"),
        ))
        .build()
        .expect("routes");
    let mut req = request("chat-8k");
    let report = CallReport::new();
    req.extensions.insert(report.clone());
    let answer = routes
        .model("chat-8k")
        .expect("alias")
        .chat(req)
        .await
        .expect("served");
    assert_eq!(answer.model, "long-128k");
    assert_eq!((short.calls(), long.calls(), other.calls()), (1, 1, 0));
    assert_eq!(&*report.deployment().expect("recorded").model, "long-128k");

    // Without a named alias the error is the answer, and no fallback is tried.
    let routes = Routes::builder()
        .route(
            Route::new(
                Router::builder("a")
                    .target(target("p", "small", &short))
                    .build()
                    .expect("router"),
            )
            .fallback("b"),
        )
        .route(Route::new(
            Router::builder("b")
                .target(target("p", "other", &other))
                .build()
                .expect("router"),
        ))
        .build()
        .expect("routes");
    let error = routes
        .model("a")
        .expect("alias")
        .chat(request("a"))
        .await
        .expect_err("too long");
    assert_eq!(error.kind(), ErrorKind::ContextWindowExceeded);
    assert_eq!(other.calls(), 0);
}

#[tokio::test]
async fn a_stream_failing_before_its_first_chunk_fails_over_invisibly() {
    // Half fail in stream(), half as the first item.
    let primary = Scripted::new("primary", |n| {
        if n % 2 == 0 {
            Act::Fail(ErrorKind::ServerError)
        } else {
            Act::FailFirstItem(ErrorKind::Transport)
        }
    });
    let secondary = Scripted::ok("secondary");
    let router = Router::builder("chat")
        .target(target("p", "primary-model", &primary).weight(1_000_000))
        .target(target("s", "secondary-model", &secondary))
        .strategy(Weighted::with_seed(7))
        .build()
        .expect("router");
    let mut invisible = 0;
    for _ in 0..1000 {
        let mut req = request("chat");
        let report = CallReport::new();
        req.extensions.insert(report.clone());
        let stream = router.stream(req).await.expect("stream");
        let items: Vec<_> = stream.collect().await;
        if items.len() == 5 && items.iter().all(Result::is_ok) {
            invisible += 1;
        }
        let model = report.deployment().expect("recorded").model;
        for item in items.iter().flatten() {
            assert_eq!(item.model, &*model);
        }
    }
    assert_eq!(invisible, 1000);
    assert!(primary.calls() > 900, "the primary was tried first");
}

#[tokio::test]
async fn a_stream_cut_after_chunks_ends_with_its_error_not_a_failover() {
    let primary = Scripted::new("primary", |_| Act::CutAfterFive);
    let secondary = Scripted::ok("secondary");
    let router = Router::builder("chat")
        .target(target("p", "m", &primary))
        .target(target("s", "m", &secondary))
        .strategy(RoundRobin::new())
        .build()
        .expect("router");
    let items: Vec<_> = router
        .stream(request("chat"))
        .await
        .expect("stream")
        .collect()
        .await;
    assert_eq!(items.len(), 6);
    assert_eq!(
        items
            .last()
            .and_then(|r| r.as_ref().err())
            .map(|e| e.kind()),
        Some(ErrorKind::Transport)
    );
    assert_eq!(secondary.calls(), 0);
}

#[test]
fn unknown_aliases_and_cycles_are_rejected_when_built() {
    let m = Scripted::ok("m");
    let router = |name: &str| {
        Router::builder(name.to_owned())
            .target(target("p", "m", &m))
            .build()
            .expect("router")
    };
    let unknown = Routes::builder()
        .route(Route::new(router("a")).fallback("nope"))
        .build()
        .expect_err("unknown");
    assert!(
        matches!(unknown, BuildError::UnknownAlias { .. }),
        "{unknown}"
    );
    let cycle = Routes::builder()
        .route(Route::new(router("a")).fallback("b"))
        .route(Route::new(router("b")).on_context_window_exceeded("c"))
        .route(Route::new(router("c")).fallback("a"))
        .build()
        .expect_err("cycle");
    assert_eq!(
        cycle.to_string(),
        "fallbacks form a cycle: a -> b -> c -> a; a fallback chain must end"
    );
    let zero = Router::builder("z")
        .target(target("p", "m", &m).weight(0))
        .build()
        .expect_err("zero weight");
    assert!(matches!(zero, BuildError::ZeroWeight { .. }));
}
