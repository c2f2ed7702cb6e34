//! Reading a non-streamed chat completion laid out as OpenAI lays it out, with serde_json for
//! anything else.
//!
//! Why it exists: parsing the upstream's answer with serde_json was the largest single cost of
//! a proxied JSON request (~14 k of its ~95 k instructions for a 661-byte OpenAI answer;
//! serde_json needs ~7.6 k just to scan those bytes). Reading members in any order by hand
//! costs as much (finding each key and choosing its field is most of the work), but OpenAI
//! sends its members in one order: [`read`] expects that order (`id`, `object`, `created`,
//! `model`, `choices`, `usage`, `service_tier`, `system_fingerprint`; in a choice `index`,
//! `message`, `logprobs`, `finish_reason`; ...), with any JSON whitespace between tokens (OpenAI
//! indents its answers; servers that copy its layout often do not), text or no content, and
//! gives up (`None`) on anything else: another order, a tool call, logprobs, an unknown member.
//! That answer then goes to serde_json whole, so the result, and any error, is always exactly
//! what `serde_json::from_str::<ChatResponse>` gives: the tests check that over the answers of
//! several servers and every truncation and one-byte edit of them.

use bulkhead_core::{
    ChatResponse, Choice, CompletionTokensDetails, FinishReason, Map, Message, MessageContent,
    PromptTokensDetails, Role, Usage,
};
use serde_json::Value;

use bulkhead_core::json::read::{Cursor, from_name};

#[cfg(test)]
mod tests;

/// The chat completion in `text`, exactly as `serde_json::from_str` reads it, in a fraction of
/// its time for an answer laid out as OpenAI lays it out (see the module docs).
///
/// ```
/// let text = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m",
///   "choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}"#;
/// let answer = bulkhead_inference::openai::decode_response(text)?;
/// assert_eq!(answer, serde_json::from_str(text)?);
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// # Errors
/// serde_json's error when `text` is not a chat completion.
pub fn decode_response(text: &str) -> serde_json::Result<ChatResponse> {
    match read(text) {
        Some(response) => Ok(response),
        None => serde_json::from_str(text),
    }
}

/// The answer in `text`, or `None` when it is not laid out as [`read`] expects.
///
/// `{"id":S,"object":S,"created":N,"model":S,"choices":[CHOICE,...],"usage":USAGE|null
/// [,"service_tier":S|null][,"system_fingerprint":S|null]}`, whitespace allowed between tokens.
pub(super) fn read(text: &str) -> Option<ChatResponse> {
    let mut cursor = Cursor { rest: text };
    cursor.token("{")?;
    cursor.key("\"id\":")?;
    let id = cursor.string()?;
    cursor.next_key("\"object\":")?;
    let object = cursor.string()?;
    cursor.next_key("\"created\":")?;
    let created = cursor.integer()?;
    cursor.next_key("\"model\":")?;
    let model = cursor.string()?;
    cursor.next_key("\"choices\":")?;
    let choices = cursor.array(choice)?;
    let usage = if cursor.next_key("\"usage\":").is_some() {
        cursor.or_null(usage)?
    } else {
        None
    };
    let service_tier = cursor.nullable_member("\"service_tier\":", Cursor::string)?;
    let system_fingerprint = cursor.nullable_member("\"system_fingerprint\":", Cursor::string)?;
    cursor.token("}")?;
    cursor.skip_space();
    if !cursor.rest.is_empty() {
        return None;
    }
    Some(ChatResponse {
        id,
        object,
        created,
        model,
        choices,
        usage,
        service_tier,
        system_fingerprint,
        extra: Map::new(),
    })
}

/// `{"index":N,"message":MESSAGE[,"logprobs":null],"finish_reason":S|null}`.
fn choice(c: &mut Cursor<'_>) -> Option<Choice> {
    c.token("{")?;
    c.key("\"index\":")?;
    let index = c.number_u32()?;
    c.next_key("\"message\":")?;
    let message = message(c)?;
    // Only `null` is read here: logprobs themselves are left to serde_json.
    let logprobs = c.nullable_member("\"logprobs\":", |_| None::<Value>)?;
    c.next_key("\"finish_reason\":")?;
    let finish_reason = match c.or_null(Cursor::string)? {
        Some(name) => Some(from_name::<FinishReason>(name)?),
        None => None,
    };
    c.token("}")?;
    Some(Choice {
        index,
        message,
        logprobs,
        finish_reason,
        extra: Map::new(),
    })
}

/// `{"role":"assistant","content":S|null[,"refusal":null][,"annotations":[]]}`.
fn message(c: &mut Cursor<'_>) -> Option<Message> {
    c.expect("{")?;
    c.key("\"role\":")?;
    let role = from_name::<Role>(c.string()?)?;
    c.next_key("\"content\":")?;
    let content = c.or_null(Cursor::string)?.map(MessageContent::Text);
    let mut extra = Map::new();
    if c.next_key("\"refusal\":").is_some() {
        c.expect("null")?;
        extra.insert("refusal".to_owned(), Value::Null);
    }
    if c.next_key("\"annotations\":").is_some() {
        c.expect("[")?;
        c.token("]")?;
        extra.insert("annotations".to_owned(), Value::Array(Vec::new()));
    }
    c.token("}")?;
    Some(Message {
        role,
        content,
        name: None,
        tool_calls: None,
        tool_call_id: None,
        extra,
    })
}

/// `{"prompt_tokens":N,"completion_tokens":N,"total_tokens":N
/// [,"prompt_tokens_details":{"cached_tokens":N,"audio_tokens":N}|null]
/// [,"completion_tokens_details":{"reasoning_tokens":N,"audio_tokens":N,
/// "accepted_prediction_tokens":N,"rejected_prediction_tokens":N}|null]}`, where each
/// count in a breakdown may be `null`.
fn usage(c: &mut Cursor<'_>) -> Option<Usage> {
    c.expect("{")?;
    c.key("\"prompt_tokens\":")?;
    let prompt_tokens = c.number_u32()?;
    c.next_key("\"completion_tokens\":")?;
    let completion_tokens = c.number_u32()?;
    c.next_key("\"total_tokens\":")?;
    let total_tokens = c.number_u32()?;
    let prompt_tokens_details = c.nullable_member("\"prompt_tokens_details\":", |cursor| {
        cursor.expect("{")?;
        cursor.key("\"cached_tokens\":")?;
        let cached_tokens = cursor.optional_u32()?;
        cursor.next_key("\"audio_tokens\":")?;
        let audio_tokens = cursor.optional_u32()?;
        cursor.token("}")?;
        Some(PromptTokensDetails {
            cached_tokens,
            audio_tokens,
            cache_write_tokens: None,
            extra: Map::new(),
        })
    })?;
    let completion_tokens_details =
        c.nullable_member("\"completion_tokens_details\":", |cursor| {
            cursor.expect("{")?;
            cursor.key("\"reasoning_tokens\":")?;
            let reasoning_tokens = cursor.optional_u32()?;
            cursor.next_key("\"audio_tokens\":")?;
            let audio_tokens = cursor.optional_u32()?;
            cursor.next_key("\"accepted_prediction_tokens\":")?;
            let accepted_prediction_tokens = cursor.optional_u32()?;
            cursor.next_key("\"rejected_prediction_tokens\":")?;
            let rejected_prediction_tokens = cursor.optional_u32()?;
            cursor.token("}")?;
            Some(CompletionTokensDetails {
                reasoning_tokens,
                audio_tokens,
                accepted_prediction_tokens,
                rejected_prediction_tokens,
                extra: Map::new(),
            })
        })?;
    c.token("}")?;
    Some(Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens,
        prompt_tokens_details,
        completion_tokens_details,
        extra: Map::new(),
    })
}
