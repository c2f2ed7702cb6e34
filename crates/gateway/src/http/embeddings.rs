//! `POST /v1/embeddings`: parse, admit, embed, answer JSON.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bulkhead_core::{EmbeddingRequest, Usage};

use super::admit::{Admission, Admitted, settle};
use super::error::ApiError;
use super::{Origin, RequestBody, json_answer, parse_body};
use crate::gateway::Gateway;

pub(crate) async fn handle(
    State(gateway): State<Gateway>,
    admission: Admission,
    body: RequestBody,
) -> Response {
    let mut request: EmbeddingRequest =
        match parse_body(body, gateway.inner.max_body_bytes, |text| {
            serde_json::from_str(text)
        }) {
            Ok(request) => request,
            Err(error) => return (*error).into_response(),
        };
    if request.input.is_empty() {
        return ApiError::empty("input", "input").into_response();
    }
    let Admitted {
        route,
        report,
        permit,
    } = match admission.embeddings(&gateway, &mut request).await {
        Ok(admitted) => admitted,
        Err(e) => return (*e).into_response(),
    };
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
