//! A hand-written JSON encoder for `chat.completion` answers, byte for byte what serde_json
//! writes.
//!
//! Why it exists: serializing the answer with serde_json was the largest single cost of a
//! JSON request in the stack bench (~6k of ~42k instructions), most of it escaping the
//! answer's text a byte at a time. The fields every answer has are written here, with the
//! writers of [`bulkhead_core::json`] (its word-at-a-time escaper); what is rarer (multi-part
//! content, usage details, unknown fields) is handed to serde_json in place, so every answer
//! takes this path and none changes shape.

use bulkhead_core::json::{
    write_array, write_extra, write_finish_reason, write_message, write_str, write_u64,
};
use bulkhead_core::{ChatResponse, Choice, MessageContent};

use super::chunk_json::{self, write_logprobs, write_nullable_str};

/// `answer` as JSON, exactly as `serde_json::to_vec` writes it.
pub(crate) fn encode(answer: &ChatResponse) -> serde_json::Result<Vec<u8>> {
    let text: usize = answer
        .choices
        .iter()
        .map(|c| match &c.message.content {
            Some(MessageContent::Text(text)) => text.len(),
            _ => 0,
        })
        .sum();
    // Room for the text (escapes aside) and the fields around it (~550 bytes from OpenAI, with
    // its usage breakdowns), so the buffer rarely grows.
    let mut out = Vec::with_capacity(text + 640);
    out.extend_from_slice(b"{\"id\":");
    write_str(&mut out, &answer.id);
    out.extend_from_slice(b",\"object\":");
    write_str(&mut out, &answer.object);
    out.extend_from_slice(b",\"created\":");
    write_u64(&mut out, answer.created);
    out.extend_from_slice(b",\"model\":");
    write_str(&mut out, &answer.model);
    out.extend_from_slice(b",\"choices\":");
    write_array(&mut out, &answer.choices, write_choice)?;
    if let Some(usage) = &answer.usage {
        out.extend_from_slice(b",\"usage\":");
        chunk_json::write_any_usage(&mut out, usage)?;
    }
    write_nullable_str(&mut out, b",\"service_tier\":", &answer.service_tier);
    write_nullable_str(
        &mut out,
        b",\"system_fingerprint\":",
        &answer.system_fingerprint,
    );
    write_extra(&mut out, &answer.extra)?;
    out.push(b'}');
    Ok(out)
}

fn write_choice(out: &mut Vec<u8>, choice: &Choice) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"index\":");
    write_u64(out, choice.index.into());
    out.extend_from_slice(b",\"message\":");
    write_message(out, &choice.message)?;
    write_logprobs(out, &choice.logprobs)?;
    out.extend_from_slice(b",\"finish_reason\":");
    write_finish_reason(out, choice.finish_reason.as_ref());
    write_extra(out, &choice.extra)?;
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use bulkhead_core::{
        ChatResponse, Choice, ContentPart, FinishReason, FunctionCall, Map, Message,
        MessageContent, Nullable, PromptTokensDetails, Role, ToolCall, Usage,
    };
    use serde_json::json;

    fn answer(message: Message, finish: Option<FinishReason>) -> ChatResponse {
        ChatResponse {
            id: "chatcmpl-1".to_owned(),
            object: "chat.completion".to_owned(),
            created: 1_700_000_000,
            model: "gpt-4o-mini-2024-07-18".to_owned(),
            choices: vec![Choice {
                index: 0,
                message,
                logprobs: Nullable::Absent,
                finish_reason: finish,
                extra: Map::new(),
            }],
            usage: Some(Usage::new(12, 34)),
            service_tier: Nullable::Absent,
            system_fingerprint: Nullable::Absent,
            extra: Map::new(),
        }
    }

    fn map(value: serde_json::Value) -> Map {
        match value {
            serde_json::Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn answers() -> Vec<ChatResponse> {
        let mut all = Vec::new();
        for text in [
            "",
            "Plain answer.",
            "quotes \" and \\ and\nlines\tand \u{1} and 東京 🎉",
        ] {
            all.push(answer(Message::assistant(text), Some(FinishReason::Stop)));
        }
        for finish in [
            None,
            Some(FinishReason::Length),
            Some(FinishReason::ContentFilter),
            Some(FinishReason::Other("end_\"turn".to_owned())),
        ] {
            all.push(answer(Message::assistant("x"), finish));
        }
        // A tool call, no content; a named message with a tool call id and an unknown role.
        let mut calling = Message::assistant("");
        calling.content = None;
        calling.tool_calls = Some(vec![
            ToolCall {
                id: "call_1".to_owned(),
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: "get_weather".to_owned(),
                    arguments: r#"{"city":"Paris"}"#.to_owned(),
                },
            },
            ToolCall {
                id: "call_2".to_owned(),
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: "noop".to_owned(),
                    arguments: "{}".to_owned(),
                },
            },
        ]);
        all.push(answer(calling, Some(FinishReason::ToolCalls)));
        let mut odd = Message::new(Role::Other("critic".to_owned()), "hm");
        odd.name = Some("n\"ame".to_owned());
        odd.tool_call_id = Some("call_9".to_owned());
        all.push(answer(odd, Some(FinishReason::Stop)));
        // Multi-part content, unknown fields at every level, usage with details and extras,
        // several choices, no usage.
        let mut parts = Message::assistant("");
        parts.content = Some(MessageContent::Parts(vec![ContentPart::Text {
            text: "part".to_owned(),
            extra: Map::new(),
        }]));
        parts.extra = map(json!({"refusal": null, "annotations": [], "audio": {"id": "a"}}));
        let mut rich = answer(parts, Some(FinishReason::Stop));
        rich.service_tier = Nullable::Value("default".to_owned());
        rich.system_fingerprint = Nullable::Value("fp_\"1".to_owned());
        rich.extra = map(json!({"obfuscation": "x", "zz": [1, {"a": null}]}));
        rich.choices[0].logprobs = Nullable::Null;
        rich.choices[0].extra = map(json!({"stop_reason": null}));
        rich.choices.push(Choice {
            index: 1,
            message: Message::assistant("second"),
            logprobs: Nullable::Value(json!({"content": [{"token": "x", "logprob": -0.5}]})),
            finish_reason: Some(FinishReason::Stop),
            extra: Map::new(),
        });
        let usage = rich.usage.as_mut().expect("usage");
        usage.prompt_tokens_details = Nullable::Value(PromptTokensDetails {
            cached_tokens: Some(3),
            ..PromptTokensDetails::default()
        });
        all.push(rich.clone());
        rich.usage.as_mut().expect("usage").prompt_tokens_details = Nullable::Absent;
        rich.usage.as_mut().expect("usage").extra = map(json!({"cost": 0.5}));
        all.push(rich.clone());
        rich.usage = None;
        all.push(rich);
        all
    }

    #[test]
    fn answers_encode_exactly_as_serde_does() {
        for answer in answers() {
            let ours = super::encode(&answer).expect("encodes");
            let theirs = serde_json::to_vec(&answer).expect("serde encodes");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
    }
}
