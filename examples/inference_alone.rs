//! `bulkhead-inference` on its own, without the gateway: a simulated provider answers a chat and
//! streams another token by token; with `OPENAI_API_KEY` set, the OpenAI-compatible provider
//! does the same against `OPENAI_BASE_URL` (default `https://api.openai.com/v1`, model from
//! `OPENAI_MODEL`, default `gpt-4o-mini`). Without a key it runs fully offline.
//!
//! Run it with:
//!
//! ```text
//! cargo run -p bulkhead-examples --example inference_alone
//! ```

use std::io::Write;

use bulkhead_core::{ChatModel, ChatRequest, Message, StreamOptions};
use bulkhead_inference::{OpenAiConfig, OpenAiProvider, SimulatedConfig, SimulatedProvider};
use futures_util::StreamExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A provider is just a `ChatModel`: nothing here knows about routing, retries or caching.
    let simulated = SimulatedProvider::new(SimulatedConfig::default());
    run("simulated", &simulated, "sim-1").await?;

    match std::env::var("OPENAI_API_KEY") {
        Ok(key) if !key.is_empty() => {
            let base_url = std::env::var("OPENAI_BASE_URL")
                .unwrap_or_else(|_| "https://api.openai.com/v1".to_owned());
            let model = std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4o-mini".to_owned());
            let mut config = OpenAiConfig::new("openai", base_url);
            config.api_key = Some(key);
            let openai = OpenAiProvider::new(config)?;
            run("openai", &openai, &model).await?;
        }
        _ => println!("\n(OPENAI_API_KEY is not set: skipping the OpenAI-compatible provider)"),
    }
    Ok(())
}

/// One JSON chat and one streamed chat against `model`.
async fn run(label: &str, provider: &dyn ChatModel, model: &str) -> anyhow::Result<()> {
    let question = "In one sentence, what is a bulkhead in a ship?";
    let request = ChatRequest::new(model, vec![Message::user(question)]);

    let response = provider.chat(request.clone()).await?;
    println!("[{label}] chat: {}", response.choices[0].message.text());
    if let Some(usage) = &response.usage {
        println!(
            "[{label}] usage: {} prompt + {} completion tokens",
            usage.prompt_tokens, usage.completion_tokens
        );
    }

    let mut request = request;
    request.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..StreamOptions::default()
    });
    let mut stream = provider.stream(request).await?;
    print!("[{label}] stream: ");
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        for choice in &chunk.choices {
            if let Some(text) = choice.delta.content.as_ref() {
                print!("{text}");
                std::io::stdout().flush()?;
            }
        }
        if let Some(usage) = chunk.usage.as_ref() {
            print!(" [{} completion tokens]", usage.completion_tokens);
        }
        chunks += 1;
    }
    println!("\n[{label}] {chunks} chunks streamed");
    Ok(())
}
