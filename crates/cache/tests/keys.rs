//! Key sensitivity, by property: over 10,000 generated requests, changing any output-relevant
//! field changes the key every time; reordering JSON keys, toggling `stream`, setting
//! `stream_options` or `user`, or adding extensions never does.

use bulkhead_cache::{EmbeddingItem, chat_key, embedding_key};
use bulkhead_core::{CallReport, ChatRequest, EmbeddingRequest, RequestId, Tenant};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};

const CASES: u32 = 10_000;

/// Lowercase words of `len` characters; cheaper than a regex strategy in debug builds.
fn word(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::char::range('a', 'z'), len).prop_map(String::from_iter)
}

/// A generated request body, as JSON, with a random subset of the optional fields.
fn body() -> impl Strategy<Value = Value> {
    let message = (
        prop::sample::select(vec!["system", "user", "assistant"]),
        word(0..12),
    )
        .prop_map(|(role, text)| json!({"role": role, "content": text}));
    (
        word(1..8),
        prop::collection::vec(message, 1..4),
        prop::option::of(0u32..20),
        prop::option::of(0u32..10),
        prop::option::of(1u32..4),
        prop::option::of(1u32..500),
        prop::option::of(any::<i32>()),
        prop::option::of(prop::collection::vec(word(1..4), 1..3)),
        any::<u16>(),
    )
        .prop_map(
            |(model, messages, temp, top_p, n, max_tokens, seed, stop, extras)| {
                let mut b = Map::new();
                b.insert("model".into(), json!(model));
                b.insert("messages".into(), Value::Array(messages));
                if let Some(t) = temp {
                    b.insert("temperature".into(), json!(f64::from(t) / 10.0));
                }
                if let Some(p) = top_p {
                    b.insert("top_p".into(), json!(f64::from(p) / 10.0));
                }
                if let Some(n) = n {
                    b.insert("n".into(), json!(n));
                }
                if let Some(m) = max_tokens {
                    b.insert("max_tokens".into(), json!(m));
                }
                if let Some(s) = seed {
                    b.insert("seed".into(), json!(s));
                }
                if let Some(stop) = stop {
                    b.insert("stop".into(), json!(stop));
                }
                // Each bit of `extras` switches on one more optional field.
                let bit = |i: u16| extras & (1 << i) != 0;
                if bit(0) {
                    b.insert(
                        "tools".into(),
                        json!([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]),
                    );
                }
                if bit(1) {
                    b.insert("tool_choice".into(), json!("auto"));
                }
                if bit(2) {
                    b.insert("response_format".into(), json!({"type": "json_object"}));
                }
                if bit(3) {
                    b.insert("logit_bias".into(), json!({"50256": -100}));
                }
                if bit(4) {
                    b.insert("presence_penalty".into(), json!(0.5));
                }
                if bit(5) {
                    b.insert("frequency_penalty".into(), json!(0.25));
                }
                if bit(6) {
                    b.insert("max_completion_tokens".into(), json!(256));
                }
                if bit(7) {
                    b.insert("parallel_tool_calls".into(), json!(false));
                }
                if bit(8) {
                    b.insert("x_vendor_param".into(), json!({"depth": 2, "mode": "fast"}));
                }
                if bit(9) {
                    b.insert("reasoning_effort".into(), json!("low"));
                }
                Value::Object(b)
            },
        )
}

/// The output-relevant changes, each of which must change the key.
const MUTATIONS: usize = 22;

/// Apply mutation `which` (seeded by `s`); the result always differs from the input in an
/// output-relevant field.
fn mutate(body: &Value, which: usize, s: u32) -> Value {
    let mut b = body.as_object().cloned().unwrap_or_default();
    let bump_f = |b: &mut Map<String, Value>, field: &str| {
        let next = match b.get(field).and_then(Value::as_f64) {
            Some(v) => v + 0.05,
            None => 0.35,
        };
        b.insert(field.into(), json!(next));
    };
    let bump_u = |b: &mut Map<String, Value>, field: &str| {
        let next = match b.get(field).and_then(Value::as_i64) {
            Some(v) => v + 1,
            None => 7,
        };
        b.insert(field.into(), json!(next));
    };
    let toggle = |b: &mut Map<String, Value>, field: &str, value: Value| {
        if b.remove(field).is_none() {
            b.insert(field.into(), value);
        }
    };
    let messages = |b: &mut Map<String, Value>| -> Vec<Value> {
        b.get("messages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    match which {
        0 => {
            let model = b["model"].as_str().unwrap_or_default().to_owned();
            b.insert("model".into(), json!(format!("{model}x")));
        }
        1 => {
            let mut m = messages(&mut b);
            let last = m.len() - 1;
            let text = m[last]["content"].as_str().unwrap_or_default().to_owned();
            m[last]["content"] = json!(format!("{text}{}", char::from(b'a' + (s % 26) as u8)));
            b.insert("messages".into(), Value::Array(m));
        }
        2 => {
            let mut m = messages(&mut b);
            let role = if m[0]["role"] == "user" {
                "system"
            } else {
                "user"
            };
            m[0]["role"] = json!(role);
            b.insert("messages".into(), Value::Array(m));
        }
        3 => {
            let mut m = messages(&mut b);
            m.push(json!({"role": "user", "content": "and one more thing"}));
            b.insert("messages".into(), Value::Array(m));
        }
        4 => {
            let mut m = messages(&mut b);
            if m.len() > 1 {
                m.pop();
            } else {
                m[0]["name"] = json!("alice");
            }
            b.insert("messages".into(), Value::Array(m));
        }
        5 => bump_f(&mut b, "temperature"),
        6 => bump_f(&mut b, "top_p"),
        7 => bump_u(&mut b, "n"),
        8 => bump_u(&mut b, "max_tokens"),
        9 => bump_u(&mut b, "seed"),
        10 => {
            let mut stop: Vec<Value> = b
                .get("stop")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            stop.push(json!("END"));
            b.insert("stop".into(), Value::Array(stop));
        }
        11 => {
            if b.contains_key("tools") {
                b.insert(
                    "tools".into(),
                    json!([{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]),
                );
            } else {
                b.insert(
                    "tools".into(),
                    json!([{"type": "function", "function": {"name": "lookup"}}]),
                );
            }
        }
        12 => {
            let next = if b.get("tool_choice") == Some(&json!("auto")) {
                "none"
            } else {
                "auto"
            };
            b.insert("tool_choice".into(), json!(next));
        }
        13 => toggle(&mut b, "response_format", json!({"type": "json_object"})),
        14 => {
            let bias = if b.get("logit_bias") == Some(&json!({"50256": -100})) {
                100
            } else {
                -100
            };
            b.insert("logit_bias".into(), json!({"50256": bias}));
        }
        15 => bump_f(&mut b, "presence_penalty"),
        16 => bump_f(&mut b, "frequency_penalty"),
        17 => bump_u(&mut b, "max_completion_tokens"),
        18 => toggle(&mut b, "parallel_tool_calls", json!(true)),
        19 => {
            let depth = b
                .get("x_vendor_param")
                .and_then(|v| v["depth"].as_i64())
                .map_or(1, |d| d + 1);
            b.insert(
                "x_vendor_param".into(),
                json!({"depth": depth, "mode": "fast"}),
            );
        }
        20 => toggle(&mut b, "reasoning_effort", json!("high")),
        _ => {
            let mut m = messages(&mut b);
            m[0]["content"] = json!([{"type": "text", "text": m[0]["content"].clone()}]);
            b.insert("messages".into(), Value::Array(m));
        }
    }
    Value::Object(b)
}

/// `value` as JSON text with every object's keys in an order picked by `seed`.
fn shuffled_json(value: &Value, seed: &mut u64) -> String {
    let mut next = || {
        // xorshift: deterministic per case, different per object.
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    fn go(value: &Value, next: &mut dyn FnMut() -> u64, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                for i in (1..entries.len()).rev() {
                    let j = (next() % (i as u64 + 1)) as usize;
                    entries.swap(i, j);
                }
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    go(v, next, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go(v, next, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    go(value, &mut next, &mut out);
    out
}

fn parse(text: &str) -> Result<ChatRequest, TestCaseError> {
    serde_json::from_str(text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))
}

fn parse_value(value: &Value) -> Result<ChatRequest, TestCaseError> {
    parse(&value.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn every_output_relevant_change_changes_the_key(
        body in body(),
        which in 0..MUTATIONS,
        s in any::<u32>(),
        tenant in prop::option::of(word(1..3)),
    ) {
        let tenant = tenant.map(Tenant::new);
        let before = parse_value(&body)?;
        let after = parse_value(&mutate(&body, which, s))?;
        prop_assert_ne!(
            chat_key(tenant.as_ref(), &before),
            chat_key(tenant.as_ref(), &after),
            "mutation {} did not change the key", which
        );
        let other = Tenant::new("another-tenant");
        prop_assert_ne!(chat_key(tenant.as_ref(), &before), chat_key(Some(&other), &before));
    }

    #[test]
    fn key_order_stream_user_and_extensions_never_change_the_key(
        body in body(),
        seed in 1u64..,
        stream in prop::option::of(any::<bool>()),
        include_usage in prop::option::of(any::<bool>()),
        user in prop::option::of(word(1..6)),
    ) {
        let tenant = Tenant::new("t");
        let plain = parse_value(&body)?;
        let key = chat_key(Some(&tenant), &plain);

        let mut seed = seed;
        let reordered = parse(&shuffled_json(&body, &mut seed))?;
        prop_assert_eq!(chat_key(Some(&tenant), &reordered), key);

        let mut varied = body.as_object().cloned().unwrap_or_default();
        if let Some(stream) = stream {
            varied.insert("stream".into(), json!(stream));
        }
        if let Some(include_usage) = include_usage {
            varied.insert("stream_options".into(), json!({"include_usage": include_usage}));
        }
        if let Some(user) = user {
            varied.insert("user".into(), json!(user));
        }
        let mut varied = parse(&shuffled_json(&Value::Object(varied), &mut seed))?;
        varied.extensions.insert(RequestId::new(format!("req-{seed}")));
        varied.extensions.insert(CallReport::new());
        prop_assert_eq!(chat_key(Some(&tenant), &varied), key);
    }
}

#[test]
fn embedding_keys_depend_on_each_output_relevant_field_and_not_on_user() {
    let base: EmbeddingRequest =
        serde_json::from_str(r#"{"model":"e","input":"x"}"#).expect("valid");
    let key = |r: &EmbeddingRequest, item| embedding_key(None, r, item);
    let k = key(&base, EmbeddingItem::Text("x"));
    let variants = [
        r#"{"model":"e2","input":"x"}"#,
        r#"{"model":"e","input":"x","dimensions":256}"#,
        r#"{"model":"e","input":"x","encoding_format":"base64"}"#,
        r#"{"model":"e","input":"x","x_vendor":true}"#,
    ];
    for v in variants {
        let r: EmbeddingRequest = serde_json::from_str(v).expect("valid");
        assert_ne!(key(&r, EmbeddingItem::Text("x")), k, "{v}");
    }
    assert_ne!(key(&base, EmbeddingItem::Text("y")), k);
    assert_ne!(key(&base, EmbeddingItem::Tokens(&[120])), k);
    assert_ne!(
        embedding_key(Some(&Tenant::new("a")), &base, EmbeddingItem::Text("x")),
        k
    );
    let with_user: EmbeddingRequest =
        serde_json::from_str(r#"{"input":"x","user":"u","model":"e"}"#).expect("valid");
    assert_eq!(key(&with_user, EmbeddingItem::Text("x")), k);
}
