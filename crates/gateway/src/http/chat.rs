//! `POST /v1/chat/completions`: parse, admit, call the model, answer JSON or SSE.

use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use bulkhead_core::{ChatModel as _, ChatRequest, RequestId};
use bytes::Bytes;
use http::HeaderMap;

use super::admit::{Ask, settle};
use super::auth::Caller;
use super::error::ApiError;
use super::{Origin, json_answer, parse_body, sse};
use crate::gateway::Gateway;

pub(crate) async fn handle(
    State(gateway): State<Gateway>,
    Extension(id): Extension<RequestId>,
    caller: Option<Extension<Arc<Caller>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut request: ChatRequest = match parse_body(body, gateway.inner.max_body_bytes) {
        Ok(request) => request,
        Err(error) => return (*error).into_response(),
    };
    if request.messages.is_empty() {
        return ApiError::empty("messages", "message").into_response();
    }
    let ask = Ask {
        gateway: &gateway,
        caller: caller.as_deref().map(|c| &**c),
        headers: &headers,
        id,
    };
    let admitted = match ask.chat(&mut request).await {
        Ok(admitted) => admitted,
        Err(e) => return (*e).into_response(),
    };
    let (route, report, permit) = (admitted.route, admitted.report, admitted.permit);

    if request.is_stream() {
        return sse::respond(route, request, report, permit).await;
    }
    let result = route.chat.chat(request).await;
    let origin = Origin::of(&route, &report);
    match result {
        Ok(answer) => {
            settle(permit, answer.usage.as_ref(), &report);
            json_answer(&answer, &origin)
        }
        Err(e) => {
            settle(permit, None, &report);
            ApiError::upstream(&e, &origin).into_response()
        }
    }
}
