use serde_json::{Value, json};

use super::{write_chat_request, write_str};
use crate::ChatRequest;

#[test]
fn strings_escape_as_serde_does_wherever_the_escape_falls_in_a_word() {
    // Every byte that needs escaping, and its neighbours, at each offset of the 32-byte blocks
    // and 8-byte words the scan reads, inside runs of plain ASCII and of multi-byte UTF-8.
    let specials: Vec<char> = (0u8..0x20)
        .map(char::from)
        .chain([
            '"', '\\', ' ', '!', '#', '[', ']', '\u{7f}', 'é', '\u{2028}', '🎉',
        ])
        .collect();
    for filler in ["abcdefghijklmnopqrstuvwxyz".repeat(4), "é".repeat(60)] {
        for &special in &specials {
            for at in 0..70 {
                let mut text: String = filler.chars().take(at).collect();
                text.push(special);
                // A second escape close behind the first, sometimes in the same word.
                text.extend(filler.chars().take(at % 11));
                text.push(special);
                text.push_str(&filler);
                let mut ours = Vec::new();
                write_str(&mut ours, &text);
                let theirs = serde_json::to_vec(&text).expect("a string serializes");
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&theirs),
                    "{text:?}"
                );
            }
        }
    }
}

/// Every member a request can carry, each with a value that exercises its writer.
fn members() -> Vec<(&'static str, Value)> {
    vec![
        ("temperature", json!(0.7)),
        ("top_p", json!(1)),
        ("n", json!(2)),
        ("stream", json!(true)),
        (
            "stream_options",
            json!({"include_usage": false, "x_opt": [1, "two"]}),
        ),
        ("stop", json!(["\n\n", "END"])),
        ("max_tokens", json!(256)),
        ("max_completion_tokens", json!(4_294_967_295_u64)),
        ("presence_penalty", json!(-0.5)),
        ("frequency_penalty", json!(1.25e-3)),
        ("seed", json!(-9_223_372_036_854_775_808_i64)),
        ("user", json!("user \"42\" \u{1}")),
        (
            "tools",
            json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]),
        ),
        (
            "tool_choice",
            json!({"type": "function", "function": {"name": "f"}}),
        ),
        ("parallel_tool_calls", json!(false)),
        (
            "response_format",
            json!({"type": "json_schema", "json_schema": {"name": "s", "schema": {}}}),
        ),
        ("x_vendor", json!({"nested": [null, true, 1.5]})),
    ]
}

fn messages() -> Value {
    json!([
        {"role": "system", "content": "Be brief.\tReally."},
        {"role": "developer", "content": "naïve 🎉 \u{7f}", "name": "dev"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}], "x_m": 1},
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
        {"role": "function", "content": "old", "name": "f"},
        {"role": "critic", "content": ""}
    ])
}

fn assert_writes_as_serde(body: &Value) {
    let request: ChatRequest = serde_json::from_value(body.clone()).expect("a request parses");
    let mut ours = Vec::new();
    write_chat_request(&mut ours, &request).expect("writes");
    let theirs = serde_json::to_vec(&request).expect("serializes");
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs),
        "{body}"
    );
}

#[test]
fn requests_write_exactly_as_serde_does_with_any_set_of_members() {
    let members = members();
    // Every member alone, every member but one, and all of them, over every kind of message.
    let mut sets: Vec<Vec<usize>> = vec![vec![], (0..members.len()).collect()];
    for i in 0..members.len() {
        sets.push(vec![i]);
        sets.push((0..members.len()).filter(|&j| j != i).collect());
    }
    for set in sets {
        let mut body = json!({"model": "gpt-4o-mini", "messages": messages()});
        for i in set {
            body[members[i].0] = members[i].1.clone();
        }
        assert_writes_as_serde(&body);
    }
}

#[test]
fn stream_options_write_as_serde_does_with_and_without_known_members() {
    for options in [
        json!({}),
        json!({"include_usage": true}),
        json!({"x_only": 1}),
        json!({"x_a": 1, "x_b": [2]}),
        json!({"include_usage": true, "x_a": "é"}),
    ] {
        assert_writes_as_serde(&json!({
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": true,
            "stream_options": options,
        }));
    }
}

#[test]
fn edge_values_write_as_serde_does() {
    for body in [
        json!({"model": "", "messages": []}),
        json!({"model": "m\"\\/", "messages": [{"role": "user"}]}),
        json!({"model": "m", "messages": [], "seed": 0, "n": 0, "max_tokens": 0}),
        json!({"model": "m", "messages": [], "seed": 9_223_372_036_854_775_807_i64}),
        json!({"model": "m", "messages": [], "seed": -1}),
        json!({"model": "m", "messages": [], "temperature": 0, "top_p": 0.1, "stop": "x"}),
        json!({"model": "m", "messages": [], "temperature": 1e300, "presence_penalty": -2}),
    ] {
        assert_writes_as_serde(&body);
    }
}

#[test]
fn text_is_checked_as_utf8_as_std_checks_it() {
    // Long enough for the SIMD path (64-byte blocks), with multi-byte characters across blocks.
    let text = "plain ASCII, then é, ü, € and ✓ across the blocks; ".repeat(20);
    assert_eq!(super::from_utf8(text.as_bytes()), Ok(text.as_str()));
    for at in [0, 1, 63, 64, 65, 500, text.len() - 1] {
        for bad in [&b"\xff"[..], b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"] {
            let mut bytes = text.clone().into_bytes();
            bytes.splice(at..at, bad.iter().copied());
            assert_eq!(
                super::from_utf8(&bytes),
                std::str::from_utf8(&bytes),
                "{bad:?} at {at}"
            );
            assert!(super::from_utf8(&bytes).is_err());
        }
    }
}
