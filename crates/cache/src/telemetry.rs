//! The metrics this crate emits, through the `metrics` facade (the application installs the
//! exporter).

use bulkhead_core::CacheStatus;

/// Counter: requests that met the cache; label `result` = `hit` | `miss` | `bypass`.
pub const CACHE_REQUESTS_TOTAL: &str = "bulkhead_cache_requests_total";

pub(crate) fn request(status: CacheStatus) {
    metrics::counter!(CACHE_REQUESTS_TOTAL, "result" => status.as_str()).increment(1);
}
