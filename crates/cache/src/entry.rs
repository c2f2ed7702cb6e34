//! What a store holds: an answer, when it was made and when it expires, and its byte encoding.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bulkhead_core::{ChatResponse, EmbeddingVector};
use serde::{Deserialize, Serialize};

/// A cached answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "an entry holds it behind an `Arc`, made once per stored answer and never moved"
)]
pub enum CachedValue {
    /// A whole chat answer (a stream is stored as the response its chunks add up to, and
    /// replayed as chunks for streaming requests).
    Chat(ChatResponse),
    /// The vector of one embeddings input.
    Embedding(CachedEmbedding),
}

/// The cached vector of one embeddings input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedEmbedding {
    /// The model that answered.
    pub model: String,
    /// The vector, in the encoding that was asked for.
    pub vector: EmbeddingVector,
}

/// A stored answer with its creation and expiry times (Unix milliseconds, see [`now_ms`]).
///
/// The creation time travels with the entry so `Cache-Control: max-age` can be enforced by
/// whichever process reads it, and the expiry so a store never serves an entry past its TTL
/// even when its own eviction is lazy.
#[derive(Debug, Clone)]
pub struct Entry {
    created_ms: u64,
    expires_ms: u64,
    size: u32,
    value: Arc<CachedValue>,
}

/// Prefix of the byte encoding; a new layout gets a new version byte, and old bytes are misses.
const MAGIC: &[u8; 4] = b"BKC1";
const HEADER: usize = MAGIC.len() + 16;

impl Entry {
    /// An entry made now that lives for `ttl`.
    pub fn new(value: CachedValue, ttl: Duration) -> Self {
        let created_ms = now_ms();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let size = encoded_len(&value);
        Entry {
            created_ms,
            expires_ms: created_ms.saturating_add(ttl_ms),
            size,
            value: Arc::new(value),
        }
    }

    /// The answer.
    pub fn value(&self) -> &CachedValue {
        &self.value
    }

    /// When the entry was made, in Unix milliseconds.
    pub fn created_ms(&self) -> u64 {
        self.created_ms
    }

    /// When the entry expires, in Unix milliseconds.
    pub fn expires_ms(&self) -> u64 {
        self.expires_ms
    }

    /// How old the entry is at `now_ms`.
    pub fn age_at(&self, now_ms: u64) -> Duration {
        Duration::from_millis(now_ms.saturating_sub(self.created_ms))
    }

    /// How long the entry has left to live at `now_ms` (zero once expired).
    pub fn remaining_at(&self, now_ms: u64) -> Duration {
        Duration::from_millis(self.expires_ms.saturating_sub(now_ms))
    }

    /// Whether the entry has expired at `now_ms`.
    pub fn is_expired_at(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_ms
    }

    /// The size of the encoded entry in bytes: the weight a byte-bounded store charges.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The compact byte form: `BKC1`, the creation and expiry times (little-endian `u64`s),
    /// then the value as JSON.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.size as usize);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.created_ms.to_le_bytes());
        out.extend_from_slice(&self.expires_ms.to_le_bytes());
        // Writing a derived `Serialize` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut out, &*self.value);
        out
    }

    /// Read [`encode`](Self::encode)'s form back; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Entry> {
        let rest = bytes.strip_prefix(MAGIC)?;
        let created_ms = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
        let expires_ms = u64::from_le_bytes(rest.get(8..16)?.try_into().ok()?);
        let json = rest.get(16..)?;
        let value: CachedValue = serde_json::from_slice(json).ok()?;
        Some(Entry {
            created_ms,
            expires_ms,
            size: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            value: Arc::new(value),
        })
    }
}

fn encoded_len(value: &CachedValue) -> u32 {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    u32::try_from(HEADER + count.0).unwrap_or(u32::MAX)
}

/// The time entries are stamped and judged with, in Unix milliseconds.
///
/// It is the wall clock read once, advanced by tokio's monotonic clock since then. Entries
/// shared through Redis need wall-clock times, and reading time through tokio means TTL and
/// `max-age` are testable on tokio's paused clock (`tokio::time::advance`) like every other
/// time-dependent rule of Bulkhead.
pub fn now_ms() -> u64 {
    static BASE: OnceLock<(u64, std::time::Instant)> = OnceLock::new();
    let (unix_ms, at) = *BASE.get_or_init(|| {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        (
            u64::try_from(unix.as_millis()).unwrap_or(u64::MAX),
            std::time::Instant::now(),
        )
    });
    // A paused runtime's clock may start before `at` (another runtime set it): count
    // backwards then, rather than saturating, so differences between readings stay exact.
    let now = tokio::time::Instant::now().into_std();
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    match now.checked_duration_since(at) {
        Some(ahead) => unix_ms.saturating_add(ms(ahead)),
        None => unix_ms.saturating_sub(ms(at.duration_since(now))),
    }
}

#[cfg(test)]
mod tests {
    use bulkhead_core::{ChatResponse, Choice, Message, Nullable};

    use super::*;

    fn response() -> ChatResponse {
        ChatResponse {
            id: "c1".into(),
            object: "chat.completion".into(),
            created: 1,
            model: "m".into(),
            choices: vec![Choice {
                index: 0,
                message: Message::assistant("hello"),
                finish_reason: Some(bulkhead_core::FinishReason::Stop),
                logprobs: Nullable::Absent,
                extra: Default::default(),
            }],
            usage: None,
            service_tier: Nullable::Absent,
            system_fingerprint: Nullable::Absent,
            extra: Default::default(),
        }
    }

    #[test]
    fn encoding_round_trips_and_size_is_the_encoded_length() {
        let entry = Entry::new(CachedValue::Chat(response()), Duration::from_secs(60));
        let bytes = entry.encode();
        assert_eq!(bytes.len(), entry.size() as usize);
        let back = Entry::decode(&bytes).expect("decodes");
        assert_eq!(back.value(), entry.value());
        assert_eq!(back.created_ms(), entry.created_ms());
        assert_eq!(back.expires_ms(), entry.created_ms() + 60_000);
    }

    #[test]
    fn garbage_is_not_an_entry() {
        assert!(Entry::decode(b"").is_none());
        assert!(Entry::decode(b"BKC1short").is_none());
        assert!(Entry::decode(b"xxxx0123456789abcdef{}").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_follows_tokio_time() {
        let before = now_ms();
        tokio::time::advance(Duration::from_secs(3600)).await;
        let after = now_ms();
        assert!(after - before >= 3_600_000, "{before} -> {after}");
    }
}
