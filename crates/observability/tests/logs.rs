//! What reaches the logs: prompts and completions only with `log_prompts`, at any level.
#![allow(clippy::unwrap_used)] // a test should fail loudly

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulkhead_core::{ChatModel as _, RequestId};
use bulkhead_observability::Observe;
use bulkhead_observability::telemetry::{LogFormat, fmt_layer};
use futures_util::StreamExt as _;
use support::*;
use tracing_subscriber::layer::SubscriberExt as _;

const CANARY_PROMPT: &str = "CANARY-PROMPT-5e1f0c";

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Everything written at `trace` level while a chat, a stream and a failure go through a
/// two-scope stack with `log_prompts` as given.
fn logs(format: LogFormat, log_prompts: bool) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(fmt_layer(format, move || writer.clone()))
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    let stack = Observe::request(FakeCache(FakeRouter {
        inner: Observe::attempt(Script, "primary").log_prompts(log_prompts),
        work: Duration::ZERO,
    }))
    .log_prompts(log_prompts);
    let recorder = recorder();
    tracing::subscriber::with_default(subscriber, || {
        run(&recorder, async {
            let (mut request, _) = chat_request(CANARY_PROMPT);
            request.extensions.insert(RequestId::new("req-canary-1"));
            assert!(stack.chat(request).await.is_ok());
            let (request, _) = chat_request(CANARY_PROMPT);
            let chunks: Vec<_> = stack.stream(request).await.unwrap().collect().await;
            assert!(chunks.iter().all(Result::is_ok));
            let (request, _) = chat_request(&format!("fail:bad_request {CANARY_PROMPT}"));
            assert!(stack.chat(request).await.is_err());
        });
    });
    captured.text()
}

#[test]
fn prompts_and_completions_stay_out_of_logs_by_default() {
    for format in [LogFormat::Json, LogFormat::Pretty] {
        let text = logs(format, false);
        // The run was logged (the request id and the GenAI attributes are there)...
        assert!(text.contains("req-canary-1"), "{text}");
        assert!(text.contains("gen_ai.request.model"), "{text}");
        assert!(text.contains("bad_request"), "{text}");
        // ...but neither the prompt nor the answer (which echoes it).
        assert_eq!(text.matches("CANARY-PROMPT").count(), 0, "{text}");
    }
}

#[test]
fn log_prompts_records_prompt_and_completion() {
    let text = logs(LogFormat::Json, true);
    assert!(text.contains("gen_ai.input.messages"), "{text}");
    assert!(text.contains("gen_ai.output.messages"), "{text}");
    assert!(text.contains(&format!("answer: {CANARY_PROMPT}")), "{text}");
}
