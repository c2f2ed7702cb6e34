//! `POST /v1/chat/completions`: parse, admit, call the model, answer JSON or SSE.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bulkhead_core::{ChatModel as _, ChatRequest};

use super::admit::{Admission, Admitted, settle};
use super::error::ApiError;
use super::{Origin, RequestBody, chat_answer, parse_body, sse};
use crate::gateway::Gateway;

pub(crate) async fn handle(
    State(gateway): State<Gateway>,
    admission: Admission,
    body: RequestBody,
) -> Response {
    let mut request: ChatRequest = match parse_body(
        body,
        gateway.inner.max_body_bytes,
        bulkhead_core::json::read_chat_request,
    ) {
        Ok(request) => request,
        Err(error) => return (*error).into_response(),
    };
    if request.messages.is_empty() {
        return ApiError::empty("messages", "message").into_response();
    }
    let Admitted {
        route,
        report,
        permit,
    } = match admission.chat(&gateway, &mut request).await {
        Ok(admitted) => admitted,
        Err(e) => return (*e).into_response(),
    };

    if request.is_stream() {
        return sse::respond(route, request, report, permit).await;
    }
    let result = route.chat.chat(request).await;
    let origin = Origin::of(&route, &report);
    match result {
        Ok(answer) => {
            settle(permit, answer.usage.as_ref(), &report);
            chat_answer(&answer, &origin)
        }
        Err(e) => {
            settle(permit, None, &report);
            ApiError::upstream(&e, &origin).into_response()
        }
    }
}
