//! [`SharedStr`]: an immutable string whose clones share one allocation.
//!
//! Every chunk of a streamed answer repeats the same `id`, `object` and `model` (and OpenAI's
//! `service_tier` and `system_fingerprint`). As `String`s, each chunk allocated, copied and later
//! freed each of them again: ~0.5 k instructions, an eighth of the gateway's work per proxied
//! chunk. As `SharedStr`s, a provider reads them once per stream and every chunk holds a
//! reference count.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// An immutable string; cloning it increments a reference count instead of copying.
///
/// It reads like a `&str` (it derefs to one), compares with `str`, `&str` and `String`, and is
/// built from either with `into()`:
///
/// ```
/// use bulkhead_core::SharedStr;
///
/// let model = SharedStr::from("gpt-4o-mini");
/// let again = model.clone(); // no allocation: both point at the same bytes
/// assert_eq!(again, "gpt-4o-mini");
/// assert!(SharedStr::ptr_eq(&model, &again));
/// assert!(model.starts_with("gpt-"));
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedStr(Arc<str>);

impl SharedStr {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `a` and `b` share one allocation (then they are certainly equal).
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for SharedStr {
    fn from(value: &str) -> Self {
        Self(Arc::from(value))
    }
}

impl From<String> for SharedStr {
    fn from(value: String) -> Self {
        Self(Arc::from(value))
    }
}

impl From<&String> for SharedStr {
    fn from(value: &String) -> Self {
        Self(Arc::from(value.as_str()))
    }
}

impl From<SharedStr> for String {
    fn from(value: SharedStr) -> Self {
        String::from(&*value.0)
    }
}

impl From<&SharedStr> for String {
    fn from(value: &SharedStr) -> Self {
        String::from(&*value.0)
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<SharedStr> for str {
    fn eq(&self, other: &SharedStr) -> bool {
        *self == *other.0
    }
}

impl PartialEq<SharedStr> for &str {
    fn eq(&self, other: &SharedStr) -> bool {
        **self == *other.0
    }
}

impl PartialEq<SharedStr> for String {
    fn eq(&self, other: &SharedStr) -> bool {
        **self == *other.0
    }
}

impl Serialize for SharedStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SharedStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SharedStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<SharedStr, E> {
                Ok(SharedStr::from(value))
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::SharedStr;

    #[test]
    fn clones_share_and_compare_as_strings() {
        let a = SharedStr::from(String::from("chatcmpl-1"));
        let b = a.clone();
        assert!(SharedStr::ptr_eq(&a, &b));
        assert_eq!(a, "chatcmpl-1");
        assert_eq!("chatcmpl-1", a);
        assert_eq!(a, String::from("chatcmpl-1"));
        assert_ne!(a, SharedStr::from("chatcmpl-2"));
        assert!(!SharedStr::ptr_eq(&a, &SharedStr::from("chatcmpl-1")));
        assert_eq!(SharedStr::default(), "");
        assert_eq!(String::from(a), "chatcmpl-1");
    }

    #[test]
    fn round_trips_as_a_json_string_with_escapes() {
        let s: SharedStr = serde_json::from_str(r#""a\"b\u00e9""#).expect("a string");
        assert_eq!(s, "a\"bé");
        assert_eq!(serde_json::to_string(&s).expect("encodes"), r#""a\"bé""#);
        assert!(serde_json::from_str::<SharedStr>("1").is_err());
        assert_eq!(format!("{s} {s:?}"), "a\"bé \"a\\\"bé\"");
    }
}
