//! The reverse direction, for a gateway's `POST /v1/messages`: an Anthropic Messages request in,
//! an OpenAI-shaped [`ChatRequest`](bulkhead_core::ChatRequest) to run through any model stack,
//! and the answer (JSON or chunks) back out in Anthropic's wire format.
//!
//! Pure functions and a synchronous state machine over the same [`wire`](super::wire) types the
//! provider uses, so the HTTP handler only moves bytes:
//!
//! ```
//! use bulkhead_inference::anthropic::ingress::{EventEncoder, from_anthropic, from_openai};
//! use bulkhead_inference::anthropic::wire::MessagesRequest;
//!
//! let body = r#"{"model":"chat","max_tokens":64,"system":"Be brief.",
//!                "messages":[{"role":"user","content":"Hello"}]}"#;
//! let request: MessagesRequest = serde_json::from_str(body).unwrap();
//! let chat = from_anthropic(request).unwrap();
//! assert_eq!(chat.messages.len(), 2); // the system prompt became a system message
//! assert_eq!(chat.max_tokens, Some(64));
//! # let _ = (from_openai, EventEncoder::new());
//! ```

mod events;
mod request;
mod response;

pub use events::{EventEncoder, error_event, event_name, write_event};
pub use request::from_anthropic;
pub use response::{from_openai, stop_reason, usage};
