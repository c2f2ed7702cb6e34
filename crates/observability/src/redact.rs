//! A wrapper that keeps a secret out of logs: its `Debug` and `Display` print `[redacted]`.

use std::fmt;

/// A value that never prints: wrap API keys, `Authorization` values and provider keys in it,
/// so a `{:?}` of a config struct, an error or a span field cannot leak them.
///
/// ```
/// use bulkhead_observability::Redacted;
///
/// let key = Redacted::new("sk-live-123".to_owned());
/// assert_eq!(format!("{key:?} {key}"), "[redacted] [redacted]");
/// assert_eq!(key.expose(), "sk-live-123");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wrap a secret.
    pub const fn new(secret: T) -> Self {
        Self(secret)
    }

    /// The secret itself, for the one place that must send it (an `Authorization` header).
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwrap the secret.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(secret: T) -> Self {
        Self(secret)
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
