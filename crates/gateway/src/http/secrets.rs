//! Strings that must never leave the gateway in an error body: the providers' API keys.
//!
//! An upstream may quote the credential it was sent in its error message ("Incorrect API key
//! provided: sk-...", often only partly masked). Messages of upstream 401/403 are replaced
//! outright (see `error`); every other upstream message that is passed to the client goes
//! through [`Secrets::scrub`] first, so a key is replaced wherever it appears.

use std::borrow::Cow;

/// Keys shorter than this are not scrubbed: replacing a 3-character "key" would mangle
/// ordinary words, and no real credential is that short.
const MIN_LEN: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct Secrets(Box<[Box<str>]>);

impl Secrets {
    pub(crate) fn new<I: IntoIterator<Item = String>>(secrets: I) -> Self {
        let mut all: Vec<Box<str>> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_LEN)
            .map(String::into_boxed_str)
            .collect();
        // Longest first, so a key that contains another is replaced whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        all.dedup();
        Self(all.into_boxed_slice())
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub(crate) fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.0 {
            if out.contains(&**secret) {
                out = Cow::Owned(out.replace(&**secret, "[redacted]"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_replaced_wherever_they_appear_and_short_ones_are_ignored() {
        let secrets = Secrets::new([
            "sk-abcdef123".to_owned(),
            "sk-abcdef123456".to_owned(),
            "ab".to_owned(),
        ]);
        assert_eq!(
            secrets.scrub("bad key sk-abcdef123456 and sk-abcdef123; ab"),
            "bad key [redacted] and [redacted]; ab"
        );
        assert!(matches!(secrets.scrub("nothing here"), Cow::Borrowed(_)));
    }
}
