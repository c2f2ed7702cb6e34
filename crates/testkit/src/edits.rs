//! Edited JSON texts, for the tests that hold a hand-written JSON reader to serde_json: what
//! the reader returns for each edit, a value or a refusal, must be what serde_json returns.

/// Call `check` with every edit of `text` that matters to a JSON reader: every truncation,
/// every deletion of one byte, and every insertion and replacement of one of `bytes` at every
/// position. Edits that are not UTF-8 are skipped (the readers take a `str`).
pub fn each_edit(text: &str, bytes: &[u8], mut check: impl FnMut(&str)) {
    let mut edited = |candidate: &[u8]| {
        if let Ok(candidate) = std::str::from_utf8(candidate) {
            check(candidate);
        }
    };
    let text = text.as_bytes();
    for at in 0..=text.len() {
        edited(&text[..at]);
        if at < text.len() {
            edited(&[&text[..at], &text[at + 1..]].concat());
        }
        for &b in bytes {
            edited(&[&text[..at], &[b], &text[at..]].concat());
            if at < text.len() {
                edited(&[&text[..at], &[b], &text[at + 1..]].concat());
            }
        }
    }
}
