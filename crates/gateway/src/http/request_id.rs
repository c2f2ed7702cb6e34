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

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::response::Response;
use bulkhead_core::RequestId;
use http::HeaderValue;
use tower::Service;

use super::X_REQUEST_ID;

/// The longest client-supplied id that is echoed; longer ones are replaced.
const MAX_LEN: usize = 128;

/// The outermost layer: resolve the id, put it in the request's extensions, set it on the
/// response.
///
/// A plain `tower` service rather than `axum::middleware::from_fn`, which clones the inner
/// service and boxes a future on every request; this runs on every request.
#[derive(Debug, Clone)]
pub(crate) struct SetRequestId<S>(pub(crate) S);

impl<S> Service<Request> for SetRequestId<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = WithRequestId<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let header = match request.headers().get(&X_REQUEST_ID) {
            Some(value) if is_sane(value.as_bytes()) => value.clone(),
            _ => generate(),
        };
        // `is_sane` and `generate` only admit visible ASCII, so this never falls back.
        let id = RequestId::new(header.to_str().unwrap_or_default());
        request.extensions_mut().insert(id);
        WithRequestId {
            inner: self.0.call(request),
            header: Some(header),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's response future; sets `x-request-id` on its response.
    pub(crate) struct WithRequestId<F> {
        #[pin]
        inner: F,
        header: Option<HeaderValue>,
    }
}

impl<F, E> Future for WithRequestId<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(header) = this.header.take() {
            response.headers_mut().insert(X_REQUEST_ID, header);
        }
        Poll::Ready(Ok(response))
    }
}

/// 1 to 128 visible ASCII characters: safe to echo in a header and to put in logs.
fn is_sane(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

fn generate() -> HeaderValue {
    static PREFIX: OnceLock<[u8; PREFIX_LEN]> = OnceLock::new();
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
        let mut prefix = [0; PREFIX_LEN];
        prefix[..4].copy_from_slice(b"req_");
        write_hex(&mut prefix[4..], hasher.finish());
        prefix
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // `req_{random:016x}{n:08x}`, written into a stack buffer rather than with `format!`
    // (this runs on every request).
    let digits = counter_digits(n);
    let mut id = [0u8; PREFIX_LEN + 16];
    id[..PREFIX_LEN].copy_from_slice(prefix);
    let len = PREFIX_LEN + digits;
    write_hex(&mut id[PREFIX_LEN..len], n);
    HeaderValue::from_bytes(&id[..len]).unwrap_or_else(|_| HeaderValue::from_static("req_invalid"))
}

/// `req_` and 16 hex digits.
const PREFIX_LEN: usize = 20;

/// The hex digits of `{n:08x}`: as many as `n` needs, at least 8.
fn counter_digits(n: u64) -> usize {
    (64 - n.leading_zeros() as usize).div_ceil(4).max(8)
}

/// The low `out.len()` hex digits of `n`, zero-padded, lowercase.
fn write_hex(out: &mut [u8], mut n: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(n & 0xf) as usize];
        n >>= 4;
    }
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
        assert_eq!(a.len(), 28);
    }

    #[test]
    fn hex_is_zero_padded_and_grows_past_eight_digits() {
        let mut out = [0; 8];
        write_hex(&mut out, 0x2a);
        assert_eq!(&out, b"0000002a");
        let mut out = [0; 16];
        write_hex(&mut out, u64::MAX - 1);
        assert_eq!(&out, b"fffffffffffffffe");
        for n in [0, 1, 0xffff_ffff, 0x1_0000_0000, 0x1_2345_6789, u64::MAX] {
            assert_eq!(counter_digits(n), format!("{n:08x}").len(), "{n:x}");
        }
    }
}
