//! Acceptance: streams are retried before their first chunk, never after.

mod support;

use bulkhead_core::{CallReport, ChatModel, Error, ErrorKind};
use bulkhead_retry::{ExponentialBackoff, Retry};
use futures_util::StreamExt;
use support::{Scripted, Step, request, unavailable};

async fn texts(model: &Retry<Scripted>) -> (Vec<Result<String, ErrorKind>>, u32) {
    let report = CallReport::new();
    let mut req = request();
    req.extensions.insert(report.clone());
    let stream = model
        .stream(req)
        .await
        .map_err(|e| e.kind())
        .expect("the stream starts");
    let items = stream
        .map(|item| {
            item.map(|c| {
                c.choices[0]
                    .delta
                    .content
                    .clone()
                    .into_option()
                    .unwrap_or_default()
            })
            .map_err(|e| e.kind())
        })
        .collect()
        .await;
    (items, report.attempts())
}

fn ok(s: &[&str]) -> Vec<Result<String, ErrorKind>> {
    s.iter().map(|s| Ok(s.to_string())).collect()
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_fails_to_start_is_retried() {
    let upstream = Scripted::new([Step::Fail(unavailable())]);
    let model = Retry::new(upstream.clone(), ExponentialBackoff::default());
    assert_eq!(texts(&model).await, (ok(&["a", "b", "c"]), 2));
    assert_eq!(upstream.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_stream_whose_first_item_is_an_error_is_retried() {
    let upstream = Scripted::new([
        Step::FailFirstItem(unavailable()),
        Step::FailFirstItem(Error::transport("reset")),
    ]);
    let model = Retry::new(upstream.clone(), ExponentialBackoff::default());
    assert_eq!(texts(&model).await, (ok(&["a", "b", "c"]), 3));
}

#[tokio::test(start_paused = true)]
async fn after_a_chunk_was_handed_on_errors_pass_through_unchanged() {
    let upstream = Scripted::new([Step::CutAfterTwo(Error::transport("cut"))]);
    let model = Retry::new(upstream.clone(), ExponentialBackoff::default());
    let (items, attempts) = texts(&model).await;
    let mut expected = ok(&["a", "b"]);
    expected.push(Err(ErrorKind::Transport));
    assert_eq!((items, attempts), (expected, 1));
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_never_starts_returns_the_last_error() {
    let upstream = Scripted::failing_forever(unavailable());
    let model = Retry::new(upstream.clone(), ExponentialBackoff::default());
    let err = model
        .stream(request())
        .await
        .err()
        .expect("the call should fail");
    assert_eq!((err.kind(), upstream.calls()), (ErrorKind::Overloaded, 3));
}
