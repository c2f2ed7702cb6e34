//! What the simulated provider says, and how it counts tokens.
//!
//! The token rule, used for prompts, answers and embedding inputs alike: a token is a maximal
//! run of alphanumeric characters, or any single other non-whitespace character; whitespace
//! belongs to the token after it. A prompt costs that count over all its text plus 3 per
//! message. Answers are built from whole tokens, so re-counting an answer gives exactly the
//! number of chunks that streamed it.

use std::borrow::Cow;

use bulkhead_core::{ChatRequest, FinishReason, Message, MessageContent, Role};

use super::rng::{SplitMix64, hash_bytes};

/// Tokens every message costs besides its text, as OpenAI's own accounting has it.
const PER_MESSAGE: u32 = 3;

/// Words the answers are made of; each must be one token by the rule above.
const VOCAB: &[&str] = &[
    " the",
    " model",
    " answer",
    " request",
    " gateway",
    " stream",
    " token",
    " simulated",
    " provider",
    " reply",
    " quickly",
    " carefully",
    " data",
    " cache",
    " route",
    " retry",
    " budget",
    " latency",
    " result",
    " value",
    " system",
    " prompt",
    " text",
    " chunk",
    " fast",
    " steady",
    " clear",
    " short",
    " simple",
    " useful",
    " today",
    " here",
];

/// The byte ranges of the tokens of `text`, each with the whitespace before it; trailing
/// whitespace joins the last token. Concatenated, the ranges cover the whole text (unless the
/// text is only whitespace, which has no tokens).
pub(super) fn token_ends(text: &str) -> Vec<usize> {
    token_ends_upto(text, usize::MAX)
}

/// The first `limit` entries of [`token_ends`], without scanning the rest of the text.
pub(super) fn token_ends_upto(text: &str, limit: usize) -> Vec<usize> {
    // Room for the common case up front: `limit` and one more, or a token per few bytes.
    let mut ends = Vec::with_capacity(limit.saturating_add(1).min(text.len() / 3 + 2));
    let mut in_word = false;
    let mut i = 0;
    while let Some((class, width)) = class_at(text, i) {
        if ends.len() > limit {
            // A later token exists, so none of the first `limit` is the last one.
            ends.truncate(limit);
            return ends;
        }
        match class {
            Class::Space => {
                if in_word {
                    ends.push(i);
                    in_word = false;
                }
            }
            Class::Word => in_word = true,
            Class::Other => {
                if in_word {
                    ends.push(i);
                    in_word = false;
                }
                // A single other character: its own token, ending right after it.
                ends.push(i + width);
            }
        }
        i += width;
    }
    if in_word {
        ends.push(text.len());
    } else if let Some(last) = ends.last_mut() {
        *last = text.len(); // trailing whitespace joins the last token
    }
    ends.truncate(limit);
    ends
}

/// What a character is to the token rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Space,
    Word,
    Other,
}

/// The class and UTF-8 width of the character starting at byte `at` of `text` (a character
/// boundary), or `None` at the end. ASCII, nearly every byte of a prompt, is classified from
/// the byte (as `char::is_whitespace` and `char::is_alphanumeric` would); other characters
/// are decoded and asked of Unicode's tables.
fn class_at(text: &str, at: usize) -> Option<(Class, usize)> {
    let &byte = text.as_bytes().get(at)?;
    if byte.is_ascii() {
        let class = match byte {
            b'\t'..=b'\r' | b' ' => Class::Space,
            b if b.is_ascii_alphanumeric() => Class::Word,
            _ => Class::Other,
        };
        return Some((class, 1));
    }
    let c = text.get(at..)?.chars().next()?;
    let class = if c.is_whitespace() {
        Class::Space
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Other
    };
    Some((class, c.len_utf8()))
}

/// How many tokens `text` has.
pub(super) fn count_tokens(text: &str) -> u32 {
    // Prompts are mostly ASCII: a byte loop counts them several times faster than `chars()`.
    if text.is_ascii() {
        return count_ascii_tokens(text.as_bytes());
    }
    count_char_tokens(text)
}

fn count_char_tokens(text: &str) -> u32 {
    let mut count = 0u32;
    let mut in_word = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if !in_word {
                count += 1;
                in_word = true;
            }
        } else {
            in_word = false;
            if !c.is_whitespace() {
                count += 1;
            }
        }
    }
    count
}

/// [`count_tokens`] of ASCII text, byte by byte (the same rule: ASCII `char::is_whitespace`
/// is `\t`, `\n`, `\x0b`, `\x0c`, `\r` and space).
fn count_ascii_tokens(text: &[u8]) -> u32 {
    let mut count = 0u32;
    let mut in_word = false;
    for &b in text {
        if b.is_ascii_alphanumeric() {
            count += u32::from(!in_word);
            in_word = true;
        } else {
            in_word = false;
            count += u32::from(!matches!(b, b'\t'..=b'\r' | b' '));
        }
    }
    count
}

/// The prompt's token count: every message's text (content parts, name, tool calls' names and
/// arguments) plus [`PER_MESSAGE`] each. Tool definitions are not counted.
pub(super) fn prompt_tokens(messages: &[Message]) -> u32 {
    messages.iter().map(message_tokens).sum()
}

fn message_tokens(message: &Message) -> u32 {
    let content = match &message.content {
        None => 0,
        Some(MessageContent::Text(text)) => count_tokens(text),
        Some(content @ MessageContent::Parts(_)) => count_tokens(&content.text()),
    };
    let name = message.name.as_deref().map_or(0, count_tokens);
    let calls: u32 = message
        .tool_calls
        .iter()
        .flatten()
        .map(|call| count_tokens(&call.function.name) + count_tokens(&call.function.arguments))
        .sum();
    PER_MESSAGE + content + name + calls
}

/// The text the answer is about: the last user message, else the last message (borrowed when
/// it is plain text).
pub(super) fn subject(request: &ChatRequest) -> Cow<'_, str> {
    let message = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .or(request.messages.last());
    match message {
        Some(Message {
            content: Some(MessageContent::Text(text)),
            ..
        }) => Cow::Borrowed(text),
        Some(message) => Cow::Owned(message.text()),
        None => Cow::Borrowed(""),
    }
}

/// A composed answer: the text, where each token ends, and why it stopped.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub(super) text: String,
    pub(super) ends: Vec<usize>,
    pub(super) finish: FinishReason,
}

/// Compose the answer to `subject`: "Echo:" and up to six of its tokens and a period, then words
/// picked by its hash and a period, 12 to 40 tokens in all; then cut at the first stop sequence and at the token limit.
pub(super) fn compose(subject: &str, stop: &[&str], limit: Option<u32>) -> Answer {
    let mut rng = SplitMix64::new(hash_bytes(subject.as_bytes()));
    let target = 12 + rng.below(29);
    let mut text = String::with_capacity(target * 9);
    let mut ends = Vec::with_capacity(target);
    fn push(text: &mut String, ends: &mut Vec<usize>, piece: &str) {
        text.push_str(piece);
        ends.push(text.len());
    }
    push(&mut text, &mut ends, "Echo");
    push(&mut text, &mut ends, ":");
    let mut start = 0;
    for end in token_ends_upto(subject, 6) {
        let piece = &subject[start..end];
        start = end;
        // One space before a token that had whitespace before it (and before the first).
        if piece.starts_with(char::is_whitespace) || ends.len() == 2 {
            text.push(' ');
        }
        push(&mut text, &mut ends, piece.trim());
    }
    if ends.len() > 2 {
        push(&mut text, &mut ends, ".");
    }
    let sentence_start = text.len();
    while ends.len() + 1 < target {
        push(&mut text, &mut ends, VOCAB[rng.below(VOCAB.len())]);
    }
    // Capitalise the sentence (vocabulary words are ASCII, so this keeps every token's length).
    if let Some(first) = text.get_mut(sentence_start + 1..sentence_start + 2) {
        first.make_ascii_uppercase();
    }
    push(&mut text, &mut ends, ".");

    let mut finish = FinishReason::Stop;
    if let Some(at) = stop
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s))
        .min()
    {
        text.truncate(at);
        ends.retain(|&end| end < at);
        if ends.last().is_none_or(|&end| end < at) && !text.is_empty() {
            ends.push(at); // a token cut by the stop sequence still streamed
        }
    }
    if let Some(limit) = limit
        && ends.len() > limit as usize
    {
        ends.truncate(limit as usize);
        text.truncate(ends.last().copied().unwrap_or(0));
        finish = FinishReason::Length;
    }
    Answer { text, ends, finish }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPTS: &[&str] = &[
        "",
        "Hello",
        "  Hello, world!  How are you?\n",
        "What's the weather in Paris (France) — today?",
        "naïve café: ünïcödé ✓ 東京",
        "a,b,,c...d",
    ];

    #[test]
    fn token_ends_cover_the_text_and_agree_with_the_count() {
        for text in PROMPTS {
            let ends = token_ends(text);
            assert_eq!(ends.len() as u32, count_tokens(text), "{text:?}");
            if !text.trim().is_empty() {
                assert_eq!(ends.last(), Some(&text.len()), "{text:?}");
            }
            assert!(ends.windows(2).all(|w| w[0] < w[1]), "{text:?}");
        }
        assert_eq!(count_tokens("Hello, world!"), 4);
        for limit in 0..12 {
            let mut ends = token_ends(text_all_kinds());
            ends.truncate(limit);
            assert_eq!(token_ends_upto(text_all_kinds(), limit), ends, "{limit}");
        }
    }

    fn text_all_kinds() -> &'static str {
        "  Hi, there!  x\t\x0b y \u{85}z  "
    }

    #[test]
    fn the_ascii_count_matches_the_char_rule() {
        let all_ascii: String = (0u8..128).map(char::from).collect();
        for text in PROMPTS
            .iter()
            .copied()
            .chain([all_ascii.as_str(), text_all_kinds()])
        {
            let by_chars = count_char_tokens(text);
            assert_eq!(count_tokens(text), by_chars, "{text:?}");
            if text.is_ascii() {
                assert_eq!(count_ascii_tokens(text.as_bytes()), by_chars, "{text:?}");
            }
        }
        assert_eq!(count_tokens("don't"), 3);
    }

    #[test]
    fn answers_are_deterministic_and_recount_to_their_token_number() {
        for prompt in PROMPTS {
            let answer = compose(prompt, &[], None);
            assert_eq!(answer.text, compose(prompt, &[], None).text);
            assert!((12..=40).contains(&answer.ends.len()), "{prompt:?}");
            assert_eq!(
                answer.ends.len() as u32,
                count_tokens(&answer.text),
                "{prompt:?}"
            );
            assert_eq!(answer.ends.last(), Some(&answer.text.len()));
            assert_eq!(answer.finish, FinishReason::Stop);
            assert!(answer.text.starts_with("Echo:"));
        }
    }

    #[test]
    fn token_limit_and_stop_sequences_cut_the_answer() {
        let answer = compose("Hello there", &[], Some(5));
        assert_eq!(answer.ends.len(), 5);
        assert_eq!(answer.finish, FinishReason::Length);
        assert_eq!(answer.text, "Echo: Hello there.");

        let answer = compose("Hello there", &["there"], None);
        assert_eq!(answer.text, "Echo: Hello ");
        assert_eq!(answer.finish, FinishReason::Stop);
        assert_eq!(answer.ends, vec![4, 5, 11, 12]);
    }

    #[test]
    fn prompt_counts_text_and_three_per_message() {
        let messages = [Message::system("Be brief."), Message::user("Hello, world!")];
        assert_eq!(prompt_tokens(&messages), (3 + 3) + (3 + 4));
    }
}
