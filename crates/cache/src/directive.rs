//! A request's `Cache-Control` directives, as the gateway reads them from the header.

use std::time::Duration;

/// What the client asked of the cache for one request (`Cache-Control` request directives).
///
/// The gateway parses the header with [`CacheDirective::parse`] and inserts the result into
/// the request's extensions; the cache reads it from there. No directive means the default:
/// look up, and store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheDirective {
    /// `no-cache`: skip the lookup (the answer is fresh) but store the answer.
    pub no_cache: bool,
    /// `no-store`: neither look up nor store.
    pub no_store: bool,
    /// `max-age=N`: accept only an entry younger than N seconds (`max-age=0` acts like
    /// `no-cache`).
    pub max_age: Option<Duration>,
}

impl CacheDirective {
    /// Parse a `Cache-Control` header value: comma-separated, case-insensitive directives.
    /// Unknown directives and malformed `max-age` values are ignored, as RFC 9111 asks; of
    /// repeated `max-age`s the smallest wins (the stricter reading).
    ///
    /// ```
    /// use std::time::Duration;
    /// use bulkhead_cache::CacheDirective;
    ///
    /// let d = CacheDirective::parse("No-Cache, max-age=60");
    /// assert!(d.no_cache && !d.no_store);
    /// assert_eq!(d.max_age, Some(Duration::from_secs(60)));
    /// ```
    pub fn parse(header: &str) -> Self {
        let mut directive = CacheDirective::default();
        for part in header.split(',') {
            let part = part.trim();
            let (name, value) = match part.split_once('=') {
                Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
                None => (part, None),
            };
            if name.eq_ignore_ascii_case("no-cache") {
                directive.no_cache = true;
            } else if name.eq_ignore_ascii_case("no-store") {
                directive.no_store = true;
            } else if name.eq_ignore_ascii_case("max-age")
                && let Some(secs) = value.and_then(|v| v.parse::<u64>().ok())
            {
                let age = Duration::from_secs(secs);
                directive.max_age = Some(directive.max_age.map_or(age, |a| a.min(age)));
            }
        }
        directive
    }

    /// Whether the lookup is skipped: `no-cache`, `no-store`, or `max-age=0`.
    pub fn skips_lookup(&self) -> bool {
        self.no_cache || self.no_store || self.max_age == Some(Duration::ZERO)
    }

    /// Whether the answer may be stored (not `no-store`).
    pub fn allows_store(&self) -> bool {
        !self.no_store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_directive_and_ignores_the_rest() {
        assert_eq!(CacheDirective::parse(""), CacheDirective::default());
        assert!(CacheDirective::parse("no-cache").no_cache);
        assert!(CacheDirective::parse("NO-STORE").no_store);
        let d = CacheDirective::parse(" private , max-age = \"30\" , must-revalidate");
        assert_eq!(d.max_age, Some(Duration::from_secs(30)));
        assert!(!d.no_cache && !d.no_store);
        assert_eq!(CacheDirective::parse("max-age=abc").max_age, None);
        assert_eq!(CacheDirective::parse("max-age=-5").max_age, None);
        assert_eq!(
            CacheDirective::parse("max-age=60, max-age=10").max_age,
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn max_age_zero_skips_the_lookup() {
        assert!(CacheDirective::parse("max-age=0").skips_lookup());
        assert!(!CacheDirective::parse("max-age=1").skips_lookup());
        assert!(CacheDirective::parse("no-store").skips_lookup());
        assert!(CacheDirective::parse("no-cache").skips_lookup());
    }
}
