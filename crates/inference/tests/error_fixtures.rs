//! Real-world upstream error answers, kept verbatim, each mapped to the kind every layer acts
//! on. The same table is in the docs of `bulkhead_inference::error`.

use std::time::Duration;

use bulkhead_core::ErrorKind;
use bulkhead_inference::error::{error_from_response, parse_duration, rate_limit_reset};
use http::HeaderMap;

struct Fixture {
    name: &'static str,
    status: u16,
    body: &'static str,
    kind: ErrorKind,
}

const CONTEXT_WINDOW: &[Fixture] = &[
    Fixture {
        name: "OpenAI chat completions",
        status: 400,
        body: r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 8200 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "OpenAI newer models",
        status: 400,
        body: r#"{"error":{"message":"Your input exceeds the context window of this model. Please adjust your input and try again.","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "Azure OpenAI",
        status: 400,
        body: r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded","status":400}}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "Anthropic prompt too long",
        status: 400,
        body: r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"}}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "Anthropic input + max_tokens",
        status: 400,
        body: r#"{"type":"error","error":{"type":"invalid_request_error","message":"input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000, decrease input length or `max_tokens` and try again"}}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "vLLM (flat body)",
        status: 400,
        body: r#"{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "vLLM (max_model_len)",
        status: 400,
        body: r#"{"error":{"message":"The decoder prompt (length 9000) is longer than the maximum model length of 8192. Make sure that `max_model_len` is no smaller than the number of text tokens.","type":"BadRequestError","param":null,"code":400}}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "Ollama",
        status: 400,
        body: r#"{"error":"the input length exceeds the context length"}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "llama.cpp server",
        status: 400,
        body: r#"{"error":{"code":400,"message":"the request exceeds the available context size. try increasing the context size or enable context shift","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "Mistral",
        status: 400,
        body: r#"{"object":"error","message":"Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length","type":"invalid_request_error","param":null,"code":null}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "DeepSeek",
        status: 400,
        body: r#"{"error":{"message":"This model's maximum context length is 65536 tokens. However, you requested 70000 tokens (70000 in the messages, 0 in the completion). Please reduce the length of the messages or completion.","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "Groq",
        status: 400,
        body: r#"{"error":{"message":"Please reduce the length of the messages or completion.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "OpenRouter",
        status: 400,
        body: r#"{"error":{"message":"This endpoint's maximum context length is 131072 tokens. However, you requested about 140000 tokens (140000 of text input). Please reduce the length of either one, or use the \"middle-out\" transform to compress your prompt automatically.","code":400,"metadata":{"provider_name":null}}}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "Together (TGI)",
        status: 400,
        body: r#"{"error":{"message":"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 32769. Given: 33000 `inputs` tokens and 512 `max_new_tokens`","type":"invalid_request_error","param":null,"code":null}}"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
    Fixture {
        name: "Gemini OpenAI-compatible (array body)",
        status: 400,
        body: r#"[{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}]"#,
        kind: ErrorKind::ContextWindowExceeded,
    },
];

const OTHERS: &[Fixture] = &[
    Fixture {
        name: "OpenAI insufficient_quota (not retryable)",
        status: 429,
        body: r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
        kind: ErrorKind::QuotaExceeded,
    },
    Fixture {
        name: "OpenAI content policy",
        status: 400,
        body: r#"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}"#,
        kind: ErrorKind::ContentFiltered,
    },
    Fixture {
        name: "Azure content filter",
        status: 400,
        body: r#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}"#,
        kind: ErrorKind::ContentFiltered,
    },
    Fixture {
        name: "Anthropic overloaded",
        status: 529,
        body: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        kind: ErrorKind::Overloaded,
    },
    Fixture {
        name: "OpenAI invalid key",
        status: 401,
        body: r#"{"error":{"message":"Incorrect API key provided: sk-abc***xyz.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
        kind: ErrorKind::Authentication,
    },
    Fixture {
        name: "a 400 that is not about length",
        status: 400,
        body: r#"{"error":{"message":"Invalid value for 'temperature': must be <= 2.","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}"#,
        kind: ErrorKind::BadRequest,
    },
];

#[test]
fn every_context_window_fixture_maps_to_context_window_exceeded() {
    assert!(CONTEXT_WINDOW.len() >= 10);
    for f in CONTEXT_WINDOW.iter().chain(OTHERS) {
        let error = error_from_response("p", f.status, &HeaderMap::new(), f.body.as_bytes());
        assert_eq!(error.kind(), f.kind, "{}: {error}", f.name);
        assert_eq!(error.status(), Some(f.status), "{}", f.name);
        assert!(
            !error.message().contains("{\""),
            "{}: raw JSON in {error}",
            f.name
        );
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().expect("header value"));
    }
    map
}

/// Header pairs of one case.
type Headers = &'static [(&'static str, &'static str)];

const RATE_LIMITED: &str = r#"{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;

#[test]
fn rate_limit_headers_become_retry_after() {
    let cases: &[(Headers, Option<Duration>)] = &[
        (&[("retry-after", "7")], Some(Duration::from_secs(7))),
        (&[("retry-after-ms", "20")], Some(Duration::from_millis(20))),
        (
            &[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "1s"),
                ("x-ratelimit-remaining-tokens", "9000"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ],
            Some(Duration::from_secs(1)),
        ),
        (
            &[
                ("x-ratelimit-remaining-requests", "59"),
                ("x-ratelimit-reset-requests", "6m0s"),
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "20ms"),
            ],
            Some(Duration::from_millis(20)),
        ),
        // Neither says which limit was hit: wait for both.
        (
            &[
                ("x-ratelimit-reset-requests", "1s"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ],
            Some(Duration::from_secs(360)),
        ),
        // Groq sends both kinds; the explicit Retry-After wins.
        (
            &[("retry-after", "2"), ("x-ratelimit-reset-tokens", "7.66s")],
            Some(Duration::from_secs(2)),
        ),
        (&[("x-ratelimit-reset-tokens", "soon")], None),
    ];
    for (pairs, wait) in cases {
        let error = error_from_response("p", 429, &headers(pairs), RATE_LIMITED.as_bytes());
        assert_eq!(error.kind(), ErrorKind::RateLimited, "{pairs:?}");
        assert_eq!(error.retry_after(), *wait, "{pairs:?}");
    }
    // On anything but a 429 the reset headers are bookkeeping, not a request to wait.
    let reset = headers(&[("x-ratelimit-reset-requests", "1s")]);
    let error = error_from_response("p", 500, &reset, b"{}");
    assert_eq!(error.retry_after(), None);
    assert_eq!(rate_limit_reset(&reset), Some(Duration::from_secs(1)));
}

#[test]
fn go_durations_parse() {
    let cases = [
        ("1s", Some(Duration::from_secs(1))),
        ("6m0s", Some(Duration::from_secs(360))),
        ("20ms", Some(Duration::from_millis(20))),
        ("2m59.56s", Some(Duration::from_millis(179_560))),
        ("1h0m0s", Some(Duration::from_secs(3600))),
        ("250us", Some(Duration::from_micros(250))),
        ("7", Some(Duration::from_secs(7))),
        ("", None),
        ("s", None),
        ("5 minutes", None),
        ("-1s", None),
    ];
    for (text, want) in cases {
        let got = parse_duration(text).map(|d| d.as_micros());
        assert_eq!(got, want.map(|d| d.as_micros()), "{text:?}");
    }
}
