//! Streaming edge cases with hand-built models: disconnects, empty streams, late errors.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bulkhead_core::{
    ChatChunk, ChatModel, ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, Result,
    async_trait,
};
use bulkhead_gateway::Gateway;
use common::{client, data_lines, error_object, post_chat, serve};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

fn chunk(text: &str) -> ChatChunk {
    serde_json::from_value(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "scripted",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}],
    }))
    .expect("a valid chunk")
}

/// Sets its flag when dropped: proves the upstream stream was released.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// What the scripted model's stream does.
#[derive(Clone, Copy)]
enum Script {
    /// A chunk every 10 ms, forever.
    Endless,
    /// Ends at once, with no chunk.
    Empty,
    /// Two chunks, then a rate-limit error.
    FailAfterTwo,
}

struct Scripted {
    script: Script,
    dropped: Arc<AtomicBool>,
}

#[async_trait]
impl ChatModel for Scripted {
    async fn chat(&self, _request: ChatRequest) -> Result<ChatResponse> {
        Err(Error::internal("stream only"))
    }

    async fn stream(&self, _request: ChatRequest) -> Result<ChatStream> {
        let guard = DropFlag(self.dropped.clone());
        let stream: ChatStream = match self.script {
            Script::Endless => Box::pin(futures_util::stream::unfold(guard, |guard| async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                Some((Ok(chunk("tick ")), guard))
            })),
            Script::Empty => Box::pin(futures_util::stream::empty()),
            Script::FailAfterTwo => Box::pin(futures_util::stream::iter([
                Ok(chunk("one ")),
                Ok(chunk("two ")),
                Err(Error::new(ErrorKind::RateLimited, "slow down")
                    .with_retry_after(Duration::from_secs(3))),
            ])),
        };
        Ok(stream)
    }
}

async fn serve_script(script: Script) -> (String, Arc<AtomicBool>) {
    let dropped = Arc::new(AtomicBool::new(false));
    let model = Arc::new(Scripted {
        script,
        dropped: dropped.clone(),
    });
    let gateway = Gateway::builder()
        .model("scripted", model, None)
        .build()
        .expect("builds");
    (serve(&gateway).await, dropped)
}

#[tokio::test]
async fn a_client_that_goes_away_releases_the_upstream_stream() {
    let (url, dropped) = serve_script(Script::Endless).await;
    let response = post_chat(&client(), &url, "scripted", true).await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let first = body.next().await.expect("a frame").expect("bytes");
    assert!(first.starts_with(b"data: {"), "{first:?}");
    assert!(!dropped.load(Ordering::SeqCst), "still streaming");
    drop(body);
    for _ in 0..200 {
        if dropped.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the upstream stream was not dropped after the client left");
}

#[tokio::test]
async fn an_empty_stream_is_a_complete_answer() {
    let (url, _) = serve_script(Script::Empty).await;
    let response = post_chat(&client(), &url, "scripted", true).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "data: [DONE]\n\n");
}

#[tokio::test]
async fn an_error_after_chunks_is_the_last_event_and_done_never_comes() {
    let (url, dropped) = serve_script(Script::FailAfterTwo).await;
    let response = post_chat(&client(), &url, "scripted", true).await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.expect("body");
    let lines = data_lines(&body);
    assert_eq!(lines.len(), 3, "{body}");
    let error: Value = serde_json::from_str(lines[2]).expect("json");
    let error = error_object(&error);
    assert_eq!(error["type"], "rate_limit_error");
    assert_eq!(error["message"], "slow down");
    assert!(dropped.load(Ordering::SeqCst));
}
