//! The four deadlines of a provider call: connect, first token, idle gap and total.
//!
//! One duration alone cannot tell "the upstream is thinking hard" from "the upstream is gone";
//! separate limits let a long answer stream for minutes while a stalled one fails in seconds.

use std::time::Duration;

/// Deadlines applied to every call of a provider.
///
/// - `connect`: establishing the TCP (and TLS) connection; set on the HTTP client.
/// - `first_token`: from sending the request until the first streamed chunk arrives (streams),
///   or until the response headers arrive (JSON calls).
/// - `idle`: the longest gap allowed between two reads of the response body (between chunks
///   of a stream, between body reads of a JSON answer).
/// - `total`: the whole call, from sending the request to the last byte of the body.
///
/// Each expiry is an [`ErrorKind::Timeout`](bulkhead_core::ErrorKind::Timeout) whose message
/// names the timeout and its value.
///
/// Mind the JSON case: an upstream sends the headers of a non-streamed answer only once the
/// whole answer is generated, so for `chat` (not `stream`) `first_token` bounds the complete
/// generation. Any bytes read reset the idle clock, SSE comments (keep-alives) included;
/// only a parsed chunk counts as the first token. A [`Deadline`](bulkhead_core::Deadline) in the
/// request's extensions shortens `total` when it is earlier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// Time allowed to establish a connection.
    pub connect: Duration,
    /// Time allowed until the first chunk (streams) or the response headers (JSON calls).
    pub first_token: Duration,
    /// Longest gap allowed between two reads of the response body.
    pub idle: Duration,
    /// Time allowed for the whole call, body included.
    pub total: Duration,
}

impl Default for Timeouts {
    /// connect 5 s, first token 60 s, idle 30 s, total 300 s.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            first_token: Duration::from_secs(60),
            idle: Duration::from_secs(30),
            total: Duration::from_secs(300),
        }
    }
}
