//! What the HTTP providers show of themselves: one `Debug` shape for a provider and one for its
//! config, both without keys, and the sensitive header values that carry them.

use std::fmt;

use http::HeaderValue;

use super::Upstream;
use crate::Timeouts;

impl Upstream {
    /// `Debug` of a provider built on this upstream, printed as `provider`: its name, base URL
    /// and deadlines. The client (and the key in its default headers) is never shown.
    pub(crate) fn debug_provider(&self, f: &mut fmt::Formatter<'_>, provider: &str) -> fmt::Result {
        f.debug_struct(provider)
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

/// The fields every HTTP provider's config shares, as its `Debug` shows them.
#[derive(Clone, Copy)]
pub(crate) struct ConfigFields<'a> {
    pub(crate) name: &'a str,
    pub(crate) base_url: &'a str,
    pub(crate) api_key: Option<&'a str>,
    pub(crate) timeouts: &'a Timeouts,
    pub(crate) headers: &'a [(String, String)],
}

impl ConfigFields<'_> {
    /// Start the `Debug` of config type `config` with these fields: the key as `<redacted>` and
    /// only the names of the extra headers, whose values may be credentials too (`api-key` for
    /// Azure). The caller adds its own fields and finishes.
    pub(crate) fn debug<'a, 'b: 'a>(
        &self,
        f: &'a mut fmt::Formatter<'b>,
        config: &str,
    ) -> fmt::DebugStruct<'a, 'b> {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        let mut out = f.debug_struct(config);
        out.field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.map(|_| "<redacted>"))
            .field("timeouts", self.timeouts)
            .field("headers", &header_names);
        out
    }
}

/// `value` as a header value marked sensitive (kept out of HTTP/2 compression tables and
/// `Debug`), or `None` when it has characters a header cannot carry.
pub(crate) fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::try_from(value).ok()?;
    value.set_sensitive(true);
    Some(value)
}
