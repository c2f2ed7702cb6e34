use bulkhead_testkit::{each_edit, fixtures};

use super::{common_request, read_chat_request};
use crate::ChatRequest;

/// Requests in the shapes read by hand: member orders of the SDKs, whitespace, nulls, escapes.
const COMMON: &[&str] = &[
    r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello."}],"temperature":0.2,"max_tokens":64,"stream":false}"#,
    r#"{"messages":[{"content":"Hi \"there\"\n\tback\\slash \/ \u00e9 \ud83c\udf89","role":"user","name":"ann"}],"model":"m","stream":true,"stream_options":{"include_usage":true},"n":1,"top_p":1,"seed":-42,"user":"u-1"}"#,
    "{\n  \"model\" : \"m\" ,\n  \"messages\" : [ { \"role\" : \"assistant\" , \"content\" : null } , {\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"42\"} ] ,\n  \"presence_penalty\": -0.5, \"frequency_penalty\": 1e-3, \"max_completion_tokens\": 4294967295,\n  \"parallel_tool_calls\": null, \"stream_options\": {}, \"seed\": 9223372036854775807 }\n",
    r#"{"model":"m","messages":[],"temperature":null,"top_p":null,"n":null,"stream":null,"stream_options":null,"max_tokens":null,"seed":-9223372036854775808,"user":null}"#,
    r#"{"model":"m","messages":[{"role":"critic","content":"","name":null,"tool_call_id":null}],"temperature":0,"top_p":1.0,"presence_penalty":-0.0}"#,
];

/// Requests the hand reader leaves to serde_json, valid or not.
const OTHERS: &[&str] = &[
    r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#,
    r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["\n"],"x_vendor":{"a":1}}"#,
    r#"{"model":"m","messages":[{"role":"user","content":"hi","x_m":1}]}"#,
    r#"{"mod\u0065l":"m","messages":[]}"#,
    r#"{"model":"m","model":"n","messages":[]}"#,
    r#"{"model":"m","messages":[{"role":"user","role":"user"}]}"#,
    r#"{"model":"m","messages":[],"seed":-0}"#,
    r#"{"model":"m","messages":[],"seed":9223372036854775808}"#,
    r#"{"model":"m","messages":[],"max_tokens":4294967296}"#,
    r#"{"model":"m","messages":[],"max_tokens":1.0}"#,
    r#"{"model":"m","messages":[],"temperature":01}"#,
    r#"{"model":"m","messages":[],"stream":"yes"}"#,
    r#"{"model":"m","messages":[{"content":"hi"}]}"#,
    r#"{"messages":[]}"#,
    r#"{"model":"m","messages":[]} x"#,
    r#"{"model":"m","messages":[],}"#,
    "{\"model\":\"m\u{1}\",\"messages\":[]}",
    r#"[]"#,
    "",
];

/// Same outcome as serde_json: the same request (compared as the JSON it writes, which keeps
/// every field and number form) or the same error.
fn assert_reads_as_serde(text: &str) {
    let ours = read_chat_request(text);
    let theirs: serde_json::Result<ChatRequest> = serde_json::from_str(text);
    match (&ours, &theirs) {
        (Ok(ours), Ok(theirs)) => assert_eq!(
            serde_json::to_string(ours).expect("serializes"),
            serde_json::to_string(theirs).expect("serializes"),
            "{text:?}"
        ),
        (Err(ours), Err(theirs)) => assert_eq!(ours.to_string(), theirs.to_string(), "{text:?}"),
        _ => panic!("{text:?}: ours {ours:?}, serde_json's {theirs:?}"),
    }
}

#[test]
fn common_requests_are_read_by_hand_as_serde_reads_them() {
    let long = fixtures::long_conversation_request();
    for text in COMMON.iter().copied().chain([long.as_str()]) {
        assert!(common_request(text).is_some(), "not read by hand: {text:?}");
        assert_reads_as_serde(text);
    }
}

#[test]
fn other_requests_are_left_to_serde() {
    for text in OTHERS
        .iter()
        .copied()
        .chain([fixtures::realistic_request()])
    {
        assert!(common_request(text).is_none(), "read by hand: {text:?}");
        assert_reads_as_serde(text);
    }
}

#[test]
fn every_edit_of_a_request_reads_as_serde_reads_it() {
    const BYTES: &[u8] = b"\"{}[],:0-1.e\\ nt\x01";
    for text in &COMMON[..3] {
        each_edit(text, BYTES, assert_reads_as_serde);
    }
}
