//! The simulated provider: deterministic answers, honest usage, limits, tool calls, faults,
//! pacing on a paused clock, and embeddings.

use std::time::Duration;

use bulkhead_core::{
    ChatModel, ChatRequest, EmbeddingInput, EmbeddingModel, EmbeddingRequest, EmbeddingVector,
    ErrorKind, FinishReason, FunctionDefinition, FunctionName, Map, Message, NamedToolChoice, Stop,
    StreamOptions, Tool, ToolChoice, ToolChoiceMode, collect_stream,
};
use bulkhead_inference::{Fault, FaultKind, SimulatedConfig, SimulatedProvider};
use futures_util::StreamExt;
use serde_json::json;

fn provider() -> SimulatedProvider {
    SimulatedProvider::new(SimulatedConfig::default())
}

fn request(prompt: &str) -> ChatRequest {
    let mut request = ChatRequest::new(
        "sim-model",
        vec![Message::system("Be brief."), Message::user(prompt)],
    );
    request.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..StreamOptions::default()
    });
    request
}

#[tokio::test]
async fn the_same_prompt_gets_the_same_answer() {
    let (a, b) = (provider(), provider());
    let first = a.chat(request("What is a bulkhead?")).await.expect("chat");
    let again = b.chat(request("What is a bulkhead?")).await.expect("chat");
    let other = a
        .chat(request("Something else entirely"))
        .await
        .expect("chat");
    assert_eq!(first.choices, again.choices);
    assert_ne!(first.choices, other.choices);
    assert_eq!(first.model, "sim-model");
    assert!(first.id.starts_with("chatcmpl-sim-"));
    let text = first.choices[0].message.text();
    assert!(text.starts_with("Echo: What is a bulkhead?."), "{text}");
}

#[tokio::test]
async fn usage_is_honest_and_stream_and_json_agree() {
    let provider = provider();
    for prompt in ["Hello", "Tell me about rate limits, retries and budgets."] {
        let json = provider.chat(request(prompt)).await.expect("chat");
        let mut stream = provider.stream(request(prompt)).await.expect("stream");
        let mut chunks = Vec::new();
        while let Some(chunk) = stream.next().await {
            chunks.push(chunk.expect("chunk"));
        }
        let content_chunks = chunks
            .iter()
            .filter(|c| {
                c.choices
                    .iter()
                    .any(|ch| ch.delta.content.as_ref().is_some_and(|t| !t.is_empty()))
            })
            .count() as u32;
        let usage = chunks
            .last()
            .and_then(|c| c.usage.as_ref())
            .expect("usage chunk");
        assert!(chunks.last().is_some_and(|c| c.choices.is_empty()));
        assert_eq!(usage.completion_tokens, content_chunks);
        assert_eq!(json.usage.as_ref(), Some(&**usage));
        // "Be brief." is 3 tokens, plus 3 per message.
        let prompt_words = prompt
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .count();
        let prompt_punct = prompt.chars().filter(|c| c.is_ascii_punctuation()).count();
        assert_eq!(
            usage.prompt_tokens as usize,
            3 + 3 + 3 + prompt_words + prompt_punct
        );

        let mut acc = bulkhead_core::ChunkAccumulator::new();
        chunks.iter().for_each(|c| acc.push(c));
        let folded = acc.finish();
        assert_eq!(folded.choices, json.choices);
        assert!(folded.id.starts_with("chatcmpl-sim-"));
    }
}

#[tokio::test]
async fn first_chunk_has_the_role_and_empty_content() {
    let mut stream = provider().stream(request("hi")).await.expect("stream");
    let first = stream.next().await.expect("chunk").expect("ok");
    let delta = &first.choices[0].delta;
    assert_eq!(delta.role, Some(bulkhead_core::Role::Assistant));
    assert_eq!(delta.content.as_ref().map(String::as_str), Some(""));
    assert_eq!(
        serde_json::to_value(&first).expect("json")["usage"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn max_tokens_cuts_with_length_and_stop_cuts_with_stop() {
    let provider = provider();
    let mut limited = request("Hello there");
    limited.max_completion_tokens = Some(4);
    let response = provider.chat(limited.clone()).await.expect("chat");
    assert_eq!(
        response.choices[0].finish_reason,
        Some(FinishReason::Length)
    );
    assert_eq!(
        response.usage.as_ref().map(|u| u.completion_tokens),
        Some(4)
    );
    assert_eq!(response.choices[0].message.text(), "Echo: Hello there");
    let streamed = collect_stream(provider.stream(limited).await.expect("stream"))
        .await
        .expect("ok");
    assert_eq!(streamed.choices, response.choices);

    let mut stopped = request("Hello there");
    stopped.stop = Some(Stop::Many(vec!["there".into()]));
    let response = provider.chat(stopped).await.expect("chat");
    assert_eq!(response.choices[0].message.text(), "Echo: Hello ");
    assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
}

fn weather_tool(name: &str) -> Tool {
    Tool {
        kind: "function".into(),
        function: Some(FunctionDefinition {
            name: name.into(),
            description: None,
            parameters: Some(json!({
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "metric": {"type": "boolean"}},
                "required": ["city", "days", "metric"]
            })),
            strict: None,
            extra: Map::new(),
        }),
        extra: Map::new(),
    }
}

#[tokio::test]
async fn tools_are_called_with_example_arguments() {
    let provider = provider();
    let mut with_tools = request("What's the weather?");
    with_tools.tools = Some(vec![
        weather_tool("get_weather"),
        weather_tool("get_forecast"),
    ]);

    let response = provider.chat(with_tools.clone()).await.expect("chat");
    let choice = &response.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.message.content, None);
    let call = &choice.message.tool_calls.as_ref().expect("calls")[0];
    assert_eq!(call.function.name, "get_weather");
    let arguments: serde_json::Value =
        serde_json::from_str(&call.function.arguments).expect("json");
    assert_eq!(
        arguments,
        json!({"city": "example", "days": 1, "metric": true})
    );

    let stream = provider.stream(with_tools.clone()).await.expect("stream");
    let streamed = collect_stream(stream).await.expect("ok");
    assert_eq!(streamed.choices, response.choices);
    assert_eq!(streamed.usage, response.usage);

    with_tools.tool_choice = Some(ToolChoice::Named(NamedToolChoice {
        kind: "function".into(),
        function: FunctionName {
            name: "get_forecast".into(),
        },
    }));
    let named = provider.chat(with_tools.clone()).await.expect("chat");
    let calls = named.choices[0].message.tool_calls.as_ref().expect("calls");
    assert_eq!(calls[0].function.name, "get_forecast");

    with_tools.tool_choice = Some(ToolChoice::Mode(ToolChoiceMode::None));
    let plain = provider.chat(with_tools).await.expect("chat");
    assert!(plain.choices[0].message.tool_calls.is_none());
    assert_eq!(plain.choices[0].finish_reason, Some(FinishReason::Stop));
}

fn faulty(kind: FaultKind) -> SimulatedProvider {
    SimulatedProvider::new(SimulatedConfig {
        faults: vec![Fault::always(kind)],
        ..SimulatedConfig::default()
    })
}

#[tokio::test]
async fn every_fault_kind_produces_its_error() {
    let cases = [
        (
            FaultKind::RateLimited {
                retry_after: Duration::from_secs(2),
            },
            ErrorKind::RateLimited,
            Some(429),
        ),
        (FaultKind::ServerError, ErrorKind::ServerError, Some(500)),
        (FaultKind::Unavailable, ErrorKind::Overloaded, Some(503)),
        (FaultKind::Timeout, ErrorKind::Timeout, None),
        (
            FaultKind::StreamCut { after_chunks: 3 },
            ErrorKind::Transport,
            None,
        ),
    ];
    for (fault, kind, status) in cases {
        let provider = faulty(fault.clone());
        let error = provider.chat(request("hi")).await.expect_err("fault");
        assert_eq!((error.kind(), error.status()), (kind, status), "{fault:?}");
        if kind == ErrorKind::RateLimited {
            assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
        }
        if kind != ErrorKind::Transport {
            assert!(provider.stream(request("hi")).await.is_err());
        }
    }
}

#[tokio::test]
async fn stream_cut_yields_n_chunks_then_a_transport_error() {
    let stream = faulty(FaultKind::StreamCut { after_chunks: 3 })
        .stream(request("hi"))
        .await
        .expect("stream starts");
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 4);
    assert!(items[..3].iter().all(Result::is_ok));
    assert_eq!(
        items[3].as_ref().expect_err("cut").kind(),
        ErrorKind::Transport
    );
}

#[tokio::test]
async fn faults_are_deterministic_for_a_seed() {
    let outcomes = |seed| async move {
        let provider = SimulatedProvider::new(SimulatedConfig {
            faults: vec![Fault::new(FaultKind::ServerError, 0.5)],
            seed,
            ..SimulatedConfig::default()
        });
        let mut outcomes = Vec::new();
        for _ in 0..32 {
            outcomes.push(provider.chat(request("hi")).await.is_ok());
        }
        outcomes
    };
    let first = outcomes(9).await;
    assert_eq!(first, outcomes(9).await);
    assert!(first.iter().any(|ok| *ok) && first.iter().any(|ok| !*ok));
}

#[tokio::test(start_paused = true)]
async fn latency_ttft_and_token_rate_pace_the_stream() {
    let provider = SimulatedProvider::new(SimulatedConfig {
        latency: Duration::from_millis(100),
        time_to_first_token: Duration::from_millis(200),
        tokens_per_second: Some(10.0),
        ..SimulatedConfig::default()
    });
    let start = tokio::time::Instant::now();
    let mut stream = provider.stream(request("hi")).await.expect("stream");
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    stream.next().await.expect("role chunk").expect("ok");
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    stream.next().await.expect("token").expect("ok");
    assert_eq!(start.elapsed(), Duration::from_millis(400));
    let rest: Vec<_> = stream.collect().await;
    let usage = rest
        .last()
        .and_then(|c| c.as_ref().ok()?.usage.as_ref().cloned())
        .expect("usage");
    let expected = 300 + 100 * u64::from(usage.completion_tokens);
    assert_eq!(start.elapsed(), Duration::from_millis(expected));

    // A JSON answer takes as long as the stream would.
    let start = tokio::time::Instant::now();
    provider.chat(request("hi")).await.expect("chat");
    assert_eq!(start.elapsed(), Duration::from_millis(expected));
}

#[tokio::test]
async fn embeddings_are_deterministic_unit_vectors() {
    let provider = provider();
    let embed = |input: EmbeddingInput, dimensions: Option<u32>| {
        let provider = provider.clone();
        async move {
            let request = EmbeddingRequest {
                model: "sim-embed".into(),
                input,
                dimensions,
                ..EmbeddingRequest::default()
            };
            provider.embed(request).await.expect("embed")
        }
    };
    let texts = || {
        EmbeddingInput::Texts(vec![
            "alpha beta".into(),
            "gamma".into(),
            "alpha beta".into(),
        ])
    };
    let response = embed(texts(), None).await;
    assert_eq!(response.model, "sim-embed");
    assert_eq!(response.usage.prompt_tokens, 2 + 1 + 2);
    let vectors: Vec<Vec<f64>> = response
        .data
        .iter()
        .map(|e| match &e.embedding {
            EmbeddingVector::Float(v) => v.clone(),
            EmbeddingVector::Base64(_) => panic!("floats expected"),
        })
        .collect();
    for v in &vectors {
        assert_eq!(v.len(), 64);
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-9, "{norm}");
    }
    assert_eq!(vectors[0], vectors[2]);
    assert_ne!(vectors[0], vectors[1]);
    assert_eq!(embed(texts(), None).await.data, response.data);
    let short = embed(EmbeddingInput::Text("gamma".into()), Some(8)).await;
    assert!(matches!(&short.data[0].embedding, EmbeddingVector::Float(v) if v.len() == 8));
}
