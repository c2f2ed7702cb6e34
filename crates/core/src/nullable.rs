//! A field that can be absent, explicitly `null`, or set — kept apart so a body round-trips.
//!
//! Providers send `"usage": null` on every chunk but the last, `"content": null` in tool-call
//! deltas and `"prompt_tokens_details": null` from vLLM. `Option` would fold `null` into absent
//! and a forwarded body would change shape; `Nullable` keeps the difference at no cost.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A field that is absent, `null`, or holds a value.
///
/// Use it with `#[serde(default, skip_serializing_if = "Nullable::is_absent")]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Nullable<T> {
    /// The field was not in the body.
    #[default]
    Absent,
    /// The field was `null`.
    Null,
    /// The field held a value.
    Value(T),
}

impl<T> Nullable<T> {
    /// The value, treating absent and `null` alike.
    pub fn as_ref(&self) -> Option<&T> {
        match self {
            Nullable::Value(v) => Some(v),
            _ => None,
        }
    }

    /// A reference to what the field holds, keeping absent and `null` apart.
    pub fn as_value(&self) -> Nullable<&T> {
        match self {
            Nullable::Absent => Nullable::Absent,
            Nullable::Null => Nullable::Null,
            Nullable::Value(v) => Nullable::Value(v),
        }
    }

    /// The value converted by `f`, keeping absent and `null` apart.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Nullable<U> {
        match self {
            Nullable::Absent => Nullable::Absent,
            Nullable::Null => Nullable::Null,
            Nullable::Value(v) => Nullable::Value(f(v)),
        }
    }

    /// The value, mutably.
    pub fn as_mut(&mut self) -> Option<&mut T> {
        match self {
            Nullable::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The value, treating absent and `null` alike.
    pub fn into_option(self) -> Option<T> {
        match self {
            Nullable::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the field was absent (used by `skip_serializing_if`).
    pub fn is_absent(&self) -> bool {
        matches!(self, Nullable::Absent)
    }

    /// Whether the field holds a value.
    pub fn is_value(&self) -> bool {
        matches!(self, Nullable::Value(_))
    }
}

impl<T> From<Option<T>> for Nullable<T> {
    /// `None` becomes [`Nullable::Absent`].
    fn from(value: Option<T>) -> Self {
        match value {
            Some(v) => Nullable::Value(v),
            None => Nullable::Absent,
        }
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Nullable::Value(v) => v.serialize(serializer),
            _ => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    /// A present field is `null` or a value; an absent one takes `#[serde(default)]`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(v) => Nullable::Value(v),
            None => Nullable::Null,
        })
    }
}
