//! `GET /v1/models` and `GET /v1/models/{id}`, in OpenAI's list shape.
//!
//! The list never changes after the gateway is built, so its body is serialized once.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderValue;
use http::header::CONTENT_TYPE;
use serde::Serialize;

use super::error::ApiError;
use crate::gateway::Gateway;

#[derive(Serialize)]
struct ModelObject<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

impl<'a> ModelObject<'a> {
    fn new(id: &'a str, created: u64) -> Self {
        Self {
            id,
            object: "model",
            created,
            owned_by: "bulkhead",
        }
    }
}

#[derive(Serialize)]
struct List<'a> {
    object: &'static str,
    data: Vec<ModelObject<'a>>,
}

/// The body of `GET /v1/models` for these ids.
pub(crate) fn list_body(ids: &[Box<str>], created: u64) -> Bytes {
    let list = List {
        object: "list",
        data: ids.iter().map(|id| ModelObject::new(id, created)).collect(),
    };
    serde_json::to_vec(&list).map_or_else(|_| Bytes::from_static(b"{}"), Bytes::from)
}

pub(crate) async fn list(State(gateway): State<Gateway>) -> Response {
    json(gateway.inner.models_body.clone())
}

pub(crate) async fn retrieve(State(gateway): State<Gateway>, Path(id): Path<String>) -> Response {
    if !gateway.inner.routes.contains_key(id.as_str()) {
        return ApiError::model_not_found(&id).into_response();
    }
    match serde_json::to_vec(&ModelObject::new(&id, gateway.inner.created)) {
        Ok(body) => json(Bytes::from(body)),
        Err(_) => ApiError::internal("could not serialize the model").into_response(),
    }
}

fn json(body: Bytes) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}
