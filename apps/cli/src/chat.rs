//! `bulkhead chat`: stream an answer through the gateway, printing tokens as they arrive.

use std::io::Write as _;

use bulkhead_core::{ChatModel as _, ChatRequest, Message};
use bulkhead_inference::{OpenAiConfig, OpenAiProvider};
use futures_util::StreamExt as _;

use crate::Endpoint;

/// Arguments of `bulkhead chat`.
#[derive(Debug, clap::Args)]
pub(crate) struct ChatArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// The model to ask, as the gateway names it.
    #[arg(long, short, default_value = "simulated")]
    model: String,
    /// The prompt; several words are joined with spaces.
    #[arg(required = true, value_name = "PROMPT")]
    prompt: Vec<String>,
}

pub(crate) async fn run(args: ChatArgs) -> anyhow::Result<()> {
    let mut config = OpenAiConfig::new("gateway", args.endpoint.url);
    config.api_key = args.endpoint.api_key;
    let provider = OpenAiProvider::new(config)?;
    let request = ChatRequest::new(args.model, vec![Message::user(args.prompt.join(" "))]);

    let mut stream = provider.stream(request).await?;
    let mut stdout = std::io::stdout().lock();
    let mut started = false;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                // End the partial answer's line so the error starts on its own.
                if started {
                    writeln!(stdout)?;
                }
                return Err(e.into());
            }
        };
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            if let Some(text) = choice.delta.content.as_ref().filter(|t| !t.is_empty()) {
                stdout.write_all(text.as_bytes())?;
                stdout.flush()?;
                started = true;
            }
        }
    }
    writeln!(stdout)?;
    Ok(())
}
