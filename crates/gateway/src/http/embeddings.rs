//! `POST /v1/embeddings`: parse, admit, embed, answer JSON.

use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use bulkhead_core::{EmbeddingRequest, RequestId, Usage};
use bytes::Bytes;
use http::HeaderMap;

use super::admit::{Ask, settle};
use super::auth::Caller;
use super::error::ApiError;
use super::{Origin, json_answer, parse_body};
use crate::gateway::Gateway;

pub(crate) async fn handle(
    State(gateway): State<Gateway>,
    Extension(id): Extension<RequestId>,
    caller: Option<Extension<Arc<Caller>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut request: EmbeddingRequest = match parse_body(body, gateway.inner.max_body_bytes) {
        Ok(request) => request,
        Err(error) => return (*error).into_response(),
    };
    if request.input.is_empty() {
        return ApiError::empty("input", "input").into_response();
    }
    let ask = Ask {
        gateway: &gateway,
        caller: caller.as_deref().map(|c| &**c),
        headers: &headers,
        id,
    };
    let admitted = match ask
        .embeddings(&mut request.model, &mut request.extensions)
        .await
    {
        Ok(admitted) => admitted,
        Err(e) => return (*e).into_response(),
    };
    let (route, report, permit) = (admitted.route, admitted.report, admitted.permit);
    let Some(model) = route.embeddings.clone() else {
        settle(permit, None, &report);
        return ApiError::no_embeddings(&request.model).into_response();
    };

    let result = model.embed(request).await;
    let origin = Origin::of(&route, &report);
    match result {
        Ok(answer) => {
            let usage = Usage {
                prompt_tokens: answer.usage.prompt_tokens,
                completion_tokens: 0,
                total_tokens: answer.usage.total_tokens,
                ..Usage::default()
            };
            settle(permit, Some(&usage), &report);
            json_answer(&answer, &origin)
        }
        Err(e) => {
            settle(permit, None, &report);
            ApiError::upstream(&e, &origin).into_response()
        }
    }
}
