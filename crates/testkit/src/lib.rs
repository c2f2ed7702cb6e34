//! Test support for Bulkhead: a mock upstream that is a real HTTP server on loopback, speaking
//! the OpenAI and Anthropic wire formats and following a script of answers and faults.
//!
//! Tests of providers, retries, timeouts and the gateway point a client at
//! [`MockUpstream::base_url`], [`push`](MockUpstream::push) the [`Step`]s the upstream should
//! take, one per request in order, and then check what the client did with
//! [`calls`](MockUpstream::calls) and [`requests`](MockUpstream::requests). When the script is
//! empty the mock answers normally ([`Step::Reply`]), so a test only scripts what it cares about.
//!
//! ```
//! use bulkhead_testkit::{MockUpstream, Step};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let upstream = MockUpstream::start().await;
//! upstream.push(Step::error(503, "busy"));   // the first request fails...
//! upstream.push(Step::text("hello"));         // ...the second gets this answer
//! // point the client under test at `upstream.base_url()`, run it, then:
//! assert_eq!(upstream.calls(), 0);
//! # }
//! ```
//!
//! [`refused_url`] gives an address where nothing listens, for connection-refused tests, and
//! [`fixtures`] builds realistic OpenAI bodies for [`Step::Json`] and [`Step::Stream`], and
//! [`anthropic`] the Anthropic ones; [`Immediate`] is a model that answers at once, for
//! benches of what a decorator adds. `POST /v1/messages` speaks Anthropic's format (point an
//! Anthropic client at [`MockUpstream::root_url`]); every other path is OpenAI's.
//!
//! The server separates what every wire format shares (the script, recording, delays, hangs,
//! cut connections: `server` and `respond`; the planned answer: `reply`) from what one format
//! says (`openai`, `anthropic`): another provider's format is one more responder module and one
//! more route.

pub mod anthropic;
mod edits;
mod immediate;
mod openai;
mod reply;
mod respond;
mod server;
mod step;

pub mod fixtures;
pub mod redis;

use axum::serve::ListenerExt as _;

pub use edits::each_edit;
pub use immediate::{Immediate, drain_stream};
pub use server::{MockUpstream, RecordedRequest};
pub use step::Step;

/// Serve `router` on `127.0.0.1:0` with `TCP_NODELAY` on every accepted connection, in a task
/// that runs as long as the test's runtime; returns the bound address.
///
/// For the test's own servers (a gateway under test, a proxy in front of a [`MockUpstream`]);
/// without `TCP_NODELAY`, reused connections stall on delayed ACKs and timings lie.
pub async fn serve_router(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    addr
}

/// A base URL (`http://127.0.0.1:PORT/v1`) on a port where nothing listens, so connecting to it
/// is refused.
///
/// The port is found by binding `127.0.0.1:0` and releasing it at once; another process could
/// in principle take it in between, which on a test machine is vanishingly rare.
pub fn refused_url() -> String {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    let port = listener
        .local_addr()
        .expect("a bound listener has an address")
        .port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1")
}
