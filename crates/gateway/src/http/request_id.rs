//! `x-request-id`: echo the client's when it is sane, otherwise make one, and attach it to the
//! request as [`RequestId`] and to every response (errors and 404s included).
//!
//! Generated ids are a per-process random prefix plus an atomic counter: unique across
//! replicas with overwhelming probability, and free of syscalls and locks per request.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use bulkhead_core::RequestId;
use bytes::Bytes;
use http::HeaderValue;

use super::X_REQUEST_ID;

/// The longest client-supplied id that is echoed; longer ones are replaced.
const MAX_LEN: usize = 128;

/// Middleware: resolve the id, put it in the request's extensions, set it on the response.
pub(crate) async fn layer(mut request: Request, next: Next) -> Response {
    let header = match request.headers().get(&X_REQUEST_ID) {
        Some(value) if is_sane(value.as_bytes()) => value.clone(),
        _ => generate(),
    };
    // `is_sane` and `generate` only admit visible ASCII, so this never falls back.
    let id = RequestId::new(header.to_str().unwrap_or_default());
    request.extensions_mut().insert(id);
    let mut response = next.run(request).await;
    response.headers_mut().insert(X_REQUEST_ID, header);
    response
}

/// 1 to 128 visible ASCII characters: safe to echo in a header and to put in logs.
fn is_sane(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

fn generate() -> HeaderValue {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        // std's RandomState is seeded from the OS once per thread; mixing in the time and
        // the pid makes the prefix differ between processes started together.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.write_u32(std::process::id());
        format!("req_{:016x}", hasher.finish())
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = format!("{prefix}{n:08x}");
    HeaderValue::from_maybe_shared(Bytes::from(id))
        .unwrap_or_else(|_| HeaderValue::from_static("req_invalid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_visible_ascii_ids_are_echoed() {
        assert!(is_sane(b"abc-123_XYZ"));
        assert!(is_sane(&[b'a'; 128]));
        assert!(!is_sane(&[b'a'; 129]));
        assert!(!is_sane(b""));
        assert!(!is_sane(b"has space"));
        assert!(!is_sane("é".as_bytes()));
    }

    #[test]
    fn generated_ids_are_distinct_and_sane() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(is_sane(a.as_bytes()));
        assert!(a.as_bytes().starts_with(b"req_"));
    }
}
