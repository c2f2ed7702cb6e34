//! bulkhead-observability alone: a hand-written `ChatModel` wrapped in `Observe` at both
//! scopes, a few requests (answers, a failure, a stream, a stream dropped half-way), then the
//! Prometheus text a `/metrics` endpoint would serve and each request's cost.
//!
//! ```text
//! cargo run -p bulkhead-examples --example observability_alone
//! ```

use std::time::Duration;

use bulkhead_core::{
    CallReport, ChatModel, ChatRequest, ChatResponse, ChatStream, Choice, Error, ErrorKind,
    FinishReason, Map, Message, Nullable, Result, Usage, async_trait, replay_as_chunks,
};
use bulkhead_observability::{Observe, Price, Pricing, install_prometheus};
use futures_util::StreamExt as _;
use std::sync::Arc;

/// A model that answers "pong" after a short think, or fails when asked to.
struct PingPong;

fn pong(model: &str) -> ChatResponse {
    ChatResponse {
        id: "chatcmpl-pong".into(),
        object: "chat.completion".into(),
        created: 0,
        model: model.into(),
        choices: vec![Choice {
            index: 0,
            message: Message::assistant("pong"),
            finish_reason: Some(FinishReason::Stop),
            logprobs: Nullable::Absent,
            extra: Map::new(),
        }],
        usage: Some(Usage::new(12, 3)),
        service_tier: Nullable::Absent,
        system_fingerprint: Nullable::Absent,
        extra: Map::new(),
    }
}

#[async_trait]
impl ChatModel for PingPong {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if request.messages.iter().any(|m| m.text() == "fail") {
            return Err(Error::new(ErrorKind::RateLimited, "slow down"));
        }
        Ok(pong(&request.model))
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let chunks = replay_as_chunks(&pong(&request.model), true);
        Ok(Box::pin(futures_util::stream::iter(chunks).then(
            |chunk| async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(chunk)
            },
        )))
    }
}

fn ask(text: &str) -> (ChatRequest, CallReport) {
    let mut request = ChatRequest::new("ping-model", vec![Message::user(text)]);
    let report = CallReport::new();
    request.extensions.insert(report.clone());
    (request, report)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The application installs the exporter once; libraries only emit.
    let metrics = install_prometheus()?;

    // A price for our own model, on top of the built-in table.
    let pricing = Arc::new(Pricing::builtin().with_price("ping-model", Price::new(1.0, 2.0)));
    let model = Observe::request(Observe::attempt(PingPong, "local")).pricing(pricing);

    for text in ["ping", "ping", "fail"] {
        let (request, report) = ask(text);
        let outcome = match model.chat(request).await {
            Ok(response) => response.choices[0].message.text(),
            Err(e) => e.to_string(),
        };
        println!(
            "{text:>5} -> {outcome:<22} cost ${:.6}",
            report.cost_usd().unwrap_or(0.0)
        );
    }

    let (request, report) = ask("stream");
    let chunks = model.stream(request).await?.count().await;
    println!(
        "stream -> {chunks} chunks, cost ${:.6}",
        report.cost_usd().unwrap_or(0.0)
    );

    // A client that goes away after the first chunk is still counted (outcome "cancelled").
    let (request, _) = ask("stream");
    let mut stream = model.stream(request).await?;
    let _first = stream.next().await;
    drop(stream);

    // The text `/metrics` serves; histogram buckets left out here to keep the output short.
    println!("\n--- /metrics (without _bucket lines) ---");
    for line in metrics.render().lines() {
        if !line.contains("_bucket{") {
            println!("{line}");
        }
    }
    Ok(())
}
