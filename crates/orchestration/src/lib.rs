//! Which deployment serves a request, and what happens when it fails.
//!
//! A gateway serves *aliases* ("chat") that clients send as `model`; each alias is a
//! [`Router`] over weighted [`Target`]s (a provider and an upstream model), balanced by a
//! [`Strategy`]: [`Weighted`], [`RoundRobin`], [`LeastInFlight`] or [`P2c`] (power of two
//! choices over peak-EWMA latency), or your own. [`Routes`] holds every alias and the
//! fallbacks between them by name.
//!
//! The rules, decided from [`ErrorKind`](bulkhead_core::ErrorKind) alone (see
//! [`disposition`]):
//!
//! - A target that fails with a retryable or health error is followed at once by the next
//!   target in the strategy's order; one that answered circuit-open, overloaded or rate
//!   limited with a retry-after is skipped, without waiting, until that time has passed.
//! - When every target of an alias failed, its fallback aliases are tried in order; when
//!   nothing is left the answer is `Overloaded` (HTTP 503) naming every deployment tried.
//!   (A request that reached exactly one deployment gets that deployment's own error, so an
//!   alias with one target behaves exactly like its provider.)
//! - Context window exceeded jumps to the alias's `on_context_window_exceeded`, and only
//!   there. The client's own errors (bad request, content filtered, ...) never fall back.
//! - A stream fails over only before its first chunk, which the router waits for; after it,
//!   an error is the stream's last item, so a truncated answer can never pass for a whole one.
//! - Each attempt records its deployment in the request's
//!   [`CallReport`](bulkhead_core::CallReport); the last one recorded answered.
//!
//! ```
//! use std::sync::Arc;
//! use bulkhead_inference::{SimulatedConfig, SimulatedProvider};
//! use bulkhead_orchestration::{Route, Router, Routes, Target};
//!
//! let sim = Arc::new(SimulatedProvider::new(SimulatedConfig::default()));
//! let routes = Routes::builder()
//!     .route(Route::new(
//!         Router::builder("chat").target(Target::new("sim", "small", sim.clone())).build()?,
//!     ).fallback("chat-big"))
//!     .route(Route::new(
//!         Router::builder("chat-big").target(Target::new("sim", "big", sim)).build()?,
//!     ))
//!     .build()?;
//! let chat = routes.model("chat").unwrap(); // an `impl ChatModel`
//! # drop(chat);
//! # Ok::<(), bulkhead_orchestration::BuildError>(())
//! ```
//!
//! This crate depends on `bulkhead-core` only: a circuit breaker or retry layer inside a
//! target speaks to it through error kinds, never through a type of its own.

mod error;
mod ewma;
mod router;
mod routes;
mod strategy;
mod target;

pub use error::BuildError;
pub use ewma::FAILURE_PENALTY;
pub use router::{
    DEFAULT_LATENCY_DECAY, Disposition, MAX_TARGETS, Router, RouterBuilder, disposition,
};
pub use routes::{Route, RoutedModel, Routes, RoutesBuilder};
pub use strategy::{Candidates, LeastInFlight, P2c, RoundRobin, Strategy, Weighted};
pub use target::Target;
