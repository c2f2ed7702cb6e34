//! From [`ErrorKind`] to status, `type` and `code`: the table in the parent module's docs.

use std::borrow::Cow;

use bulkhead_core::{Error, ErrorKind};
use http::StatusCode;

use super::{ApiError, INVALID};
use crate::http::Origin;

impl ApiError {
    /// The answer for an error of the model stack, per the table in the module docs. Logs it:
    /// at `warn` for the gateway's and upstreams' failures, at `debug` for the client's.
    pub(crate) fn upstream(error: &Error, route: &Origin) -> Self {
        let provider = route.provider.as_deref();
        let (status, kind, code) = classify(error.kind());
        // Providers usually name themselves in their messages already; say it once.
        let named = |text: &str| -> Cow<'static, str> {
            match provider {
                Some(p) if !text.contains(&format!("provider `{p}`")) => {
                    format!("provider `{p}`: {text}").into()
                }
                _ => text.to_owned().into(),
            }
        };
        let message: Cow<'static, str> = match error.kind() {
            ErrorKind::Authentication => format!(
                "upstream rejected the gateway's credentials for provider `{}`",
                provider.unwrap_or("(unnamed)")
            )
            .into(),
            ErrorKind::PermissionDenied => format!(
                "upstream refused the gateway's credentials access for provider `{}`",
                provider.unwrap_or("(unnamed)")
            )
            .into(),
            ErrorKind::NotFound => format!(
                "{} (the upstream does not know the configured model or endpoint: this \
                 gateway's configuration needs fixing)",
                named(error.message())
            )
            .into(),
            _ if status.is_server_error() => named(&route.secrets.scrub(error.message())),
            // The client's own mistakes pass through word for word (but for any key an
            // upstream quotes): "maximum context length is ..." is what the client needs.
            _ => route.secrets.scrub(error.message()).into_owned().into(),
        };
        if status.is_server_error() {
            // An upstream's own words may quote the request (prompts stay out of logs), so
            // only the gateway's messages (timeouts, connection errors) are logged in full.
            let logged: &str = if error.status().is_some() {
                "(the upstream's message is not logged)"
            } else {
                &message
            };
            tracing::warn!(
                provider = provider.unwrap_or(""),
                kind = %error.kind(),
                upstream_status = error.status(),
                status = status.as_u16(),
                message = %logged,
                "request failed upstream"
            );
        } else {
            tracing::debug!(
                provider = provider.unwrap_or(""),
                kind = %error.kind(),
                upstream_status = error.status(),
                status = status.as_u16(),
                "request rejected"
            );
        }
        let mut api = Self::new(status, message, kind, code);
        if matches!(status.as_u16(), 429 | 503) {
            api.retry_after = error.retry_after();
        }
        api.provider_header.clone_from(&route.provider_header);
        api.model_header.clone_from(&route.model_header);
        api.attempts = Some(route.attempts);
        api
    }
}

/// Status, `type` and `code` of each kind; see the table in the module docs.
fn classify(kind: ErrorKind) -> (StatusCode, &'static str, &'static str) {
    const UPSTREAM: &str = "upstream_error";
    match kind {
        ErrorKind::BadRequest => (StatusCode::BAD_REQUEST, INVALID, "bad_request"),
        ErrorKind::ContextWindowExceeded => {
            (StatusCode::BAD_REQUEST, INVALID, "context_length_exceeded")
        }
        ErrorKind::ContentFiltered => (StatusCode::BAD_REQUEST, INVALID, "content_filter"),
        ErrorKind::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limit_exceeded",
        ),
        ErrorKind::QuotaExceeded => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "insufficient_quota",
        ),
        ErrorKind::Overloaded => (
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded_error",
            "overloaded",
        ),
        ErrorKind::CircuitOpen => (
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded_error",
            "circuit_open",
        ),
        ErrorKind::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout_error", "timeout"),
        ErrorKind::Transport => (StatusCode::BAD_GATEWAY, UPSTREAM, "transport"),
        ErrorKind::ServerError => (StatusCode::BAD_GATEWAY, UPSTREAM, "server_error"),
        ErrorKind::NotFound => (StatusCode::BAD_GATEWAY, UPSTREAM, "upstream_not_found"),
        ErrorKind::Authentication => (StatusCode::BAD_GATEWAY, UPSTREAM, "upstream_authentication"),
        ErrorKind::PermissionDenied => (
            StatusCode::BAD_GATEWAY,
            UPSTREAM,
            "upstream_permission_denied",
        ),
        ErrorKind::Cancelled => (client_closed(), "cancelled_error", "cancelled"),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal",
        ),
    }
}

/// 499, nginx's "client closed request".
fn client_closed() -> StatusCode {
    StatusCode::from_u16(499).unwrap_or(StatusCode::REQUEST_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_the_documented_status() {
        let cases = [
            (ErrorKind::BadRequest, 400),
            (ErrorKind::ContextWindowExceeded, 400),
            (ErrorKind::ContentFiltered, 400),
            (ErrorKind::RateLimited, 429),
            (ErrorKind::QuotaExceeded, 429),
            (ErrorKind::Overloaded, 503),
            (ErrorKind::CircuitOpen, 503),
            (ErrorKind::Timeout, 504),
            (ErrorKind::Transport, 502),
            (ErrorKind::ServerError, 502),
            (ErrorKind::NotFound, 502),
            (ErrorKind::Authentication, 502),
            (ErrorKind::PermissionDenied, 502),
            (ErrorKind::Cancelled, 499),
            (ErrorKind::Internal, 500),
        ];
        for (kind, status) in cases {
            assert_eq!(classify(kind).0.as_u16(), status, "{kind}");
        }
    }
}
