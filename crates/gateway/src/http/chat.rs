//! `POST /v1/chat/completions`: parse, resolve the model, call it, answer JSON or SSE.

use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use bulkhead_core::{CallReport, ChatModel as _, ChatRequest, RequestId};
use bytes::Bytes;

use std::sync::Arc;

use super::auth::{Caller, authorize};
use super::error::ApiError;
use super::{Origin, json_answer, parse_body, sse};
use crate::gateway::Gateway;

pub(crate) async fn handle(
    State(gateway): State<Gateway>,
    Extension(id): Extension<RequestId>,
    caller: Option<Extension<Arc<Caller>>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut request: ChatRequest = match parse_body(body, gateway.inner.max_body_bytes) {
        Ok(request) => request,
        Err(error) => return (*error).into_response(),
    };
    if request.messages.is_empty() {
        return ApiError::empty("messages", "message").into_response();
    }
    if let Err(e) = authorize(
        caller.as_deref().map(|c| &**c),
        &request.model,
        &mut request.extensions,
    ) {
        return (*e).into_response();
    }
    let Some(route) = gateway.inner.routes.get(request.model.as_str()).cloned() else {
        return ApiError::model_not_found(&request.model).into_response();
    };
    if let Some(upstream) = &route.upstream_model {
        request.model.clone_from(upstream);
    }
    request.extensions.insert(id);
    let report = CallReport::new();
    request.extensions.insert(report.clone());

    if request.is_stream() {
        return sse::respond(route, request, report).await;
    }
    let result = route.chat.chat(request).await;
    let origin = Origin::of(&route, &report);
    match result {
        Ok(answer) => json_answer(&answer, &origin),
        Err(e) => ApiError::upstream(&e, &origin).into_response(),
    }
}
