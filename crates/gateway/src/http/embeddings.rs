//! `POST /v1/embeddings`: parse, resolve the model, embed, answer JSON.

use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use bulkhead_core::{EmbeddingRequest, RequestId};
use bytes::Bytes;
use http::HeaderValue;
use http::header::CONTENT_TYPE;

use super::error::ApiError;
use super::set_route_headers;
use crate::gateway::Gateway;

pub(crate) async fn handle(
    State(gateway): State<Gateway>,
    Extension(id): Extension<RequestId>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return ApiError::body_rejected(rejection.status(), gateway.inner.max_body_bytes)
                .into_response();
        }
    };
    let mut request: EmbeddingRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return ApiError::invalid_body(&e).into_response(),
    };
    drop(body);
    if request.input.is_empty() {
        return ApiError::empty("input", "input").into_response();
    }
    let Some(route) = gateway.inner.routes.get(request.model.as_str()).cloned() else {
        return ApiError::model_not_found(&request.model).into_response();
    };
    let Some(model) = route.embeddings.clone() else {
        return ApiError::no_embeddings(&request.model).into_response();
    };
    if let Some(upstream) = &route.upstream_model {
        request.model.clone_from(upstream);
    }
    request.extensions.insert(id);

    match model.embed(request).await {
        Ok(answer) => match serde_json::to_vec(&answer) {
            Ok(json) => {
                let mut response = Response::new(Body::from(json));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                set_route_headers(&mut response, &route);
                response
            }
            Err(_) => ApiError::internal("could not serialize the answer").into_response(),
        },
        Err(e) => ApiError::upstream(&e, &route).into_response(),
    }
}
