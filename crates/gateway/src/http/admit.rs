//! Everything between a parsed request and the model stack, in one place for every endpoint:
//! the key's allow-list, the model's route, the key's limits, and the extensions the layers
//! below read (request id, tenant, cache directive, call report).
//!
//! Order matters and is the same everywhere: a model outside the key's allow-list is 403
//! whether or not it exists (a key learns nothing about models it may not use); then an
//! unknown model is 404; only then are limits charged, so a typo never costs a request of the
//! key's rate.
//!
//! After the answer, [`settle`] (JSON) or [`Settled`] (streams) reports the usage and cost to
//! the limiter: tokens are corrected from the estimate, the budget is charged, and the
//! concurrency slot is released when the answer (or the client) is done.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse as _, Response};
use bulkhead_cache::CacheDirective;
use bulkhead_core::{
    CallReport, ChatChunk, ChatRequest, ChatStream, EmbeddingRequest, RequestId, Result, Usage,
};
use bulkhead_limits::{Denied, LimitKind, Permit};
use futures_util::Stream;
use http::header::CACHE_CONTROL;
use http::request::Parts;
use http::{Extensions, StatusCode};

use super::auth::{Caller, authorize};
use super::error::ApiError;
use crate::gateway::{Gateway, Route};

/// A request let through: where it goes, its report, and its hold on the key's limits.
pub(crate) struct Admitted {
    pub(crate) route: Arc<Route>,
    pub(crate) report: CallReport,
    pub(crate) permit: Option<Permit>,
}

/// What admission needs from the request's head, whatever the endpoint: its id, the caller
/// the key layer found, and its `Cache-Control` directive. An extractor, so handlers take it
/// as one argument and no header map is copied.
pub(crate) struct Admission {
    id: RequestId,
    caller: Option<Arc<Caller>>,
    directive: Option<CacheDirective>,
}

impl<S: Send + Sync> FromRequestParts<S> for Admission {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(id) = parts.extensions.get::<RequestId>().cloned() else {
            // The request-id layer wraps every route; missing it is a wiring bug.
            return Err(ApiError::internal("the request has no id").into_response());
        };
        let directive = parts
            .headers
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(CacheDirective::parse);
        Ok(Self {
            id,
            caller: parts.extensions.get::<Arc<Caller>>().cloned(),
            directive,
        })
    }
}

impl Admission {
    /// Admit a chat request; its tokens are estimated for a `tpm` limit.
    pub(crate) async fn chat(
        self,
        gateway: &Gateway,
        request: &mut ChatRequest,
    ) -> Result<Admitted, Box<ApiError>> {
        let route = self.route(gateway, &request.model, &mut request.extensions)?;
        let limiter = &gateway.inner.limiter;
        let permit = self
            .hold(|caller| limiter.admit_chat(&caller.config.name, &caller.limits, request))
            .await?;
        Ok(self.finish(route, &mut request.model, &mut request.extensions, permit))
    }

    /// Admit an embedding request (no token estimate: its usage is charged after).
    pub(crate) async fn embeddings(
        self,
        gateway: &Gateway,
        request: &mut EmbeddingRequest,
    ) -> Result<Admitted, Box<ApiError>> {
        let route = self.route(gateway, &request.model, &mut request.extensions)?;
        let limiter = &gateway.inner.limiter;
        let permit = self
            .hold(|caller| limiter.admit(&caller.config.name, &caller.limits, 0))
            .await?;
        Ok(self.finish(route, &mut request.model, &mut request.extensions, permit))
    }

    fn route(
        &self,
        gateway: &Gateway,
        model: &str,
        extensions: &mut Extensions,
    ) -> Result<Arc<Route>, Box<ApiError>> {
        authorize(self.caller.as_deref(), model, extensions)?;
        gateway
            .inner
            .routes
            .get(model)
            .cloned()
            .ok_or_else(|| Box::new(ApiError::model_not_found(model)))
    }

    /// Take the caller's limits with `admit`, when it has any: `None` for an open gateway
    /// or an unlimited key, a 429 when a limit says no.
    async fn hold<'a, F>(
        &'a self,
        admit: impl FnOnce(&'a Caller) -> F,
    ) -> Result<Option<Permit>, Box<ApiError>>
    where
        F: Future<Output = Result<Permit, Denied>>,
    {
        match self.caller.as_deref().filter(|c| !c.limits.is_unlimited()) {
            None => Ok(None),
            Some(caller) => admit(caller).await.map(Some).map_err(denied),
        }
    }

    fn finish(
        self,
        route: Arc<Route>,
        model: &mut String,
        extensions: &mut Extensions,
        permit: Option<Permit>,
    ) -> Admitted {
        if let Some(upstream) = &route.upstream_model {
            model.clone_from(upstream);
        }
        if let Some(directive) = self.directive {
            extensions.insert(directive);
        }
        extensions.insert(self.id);
        let report = CallReport::new();
        extensions.insert(report.clone());
        Admitted {
            route,
            report,
            permit,
        }
    }
}

/// 429 with `Retry-After` and the limiter's message (which names the key, never its secret).
fn denied(d: Denied) -> Box<ApiError> {
    let code = match d.limit {
        LimitKind::Requests => "rate_limit_exceeded",
        LimitKind::Tokens => "tokens_rate_limit_exceeded",
        LimitKind::Concurrency => "concurrency_limit_exceeded",
        LimitKind::Budget => "budget_exceeded",
        LimitKind::Unavailable => "limits_unavailable",
    };
    let status = if d.limit == LimitKind::Unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::TOO_MANY_REQUESTS
    };
    Box::new(ApiError::limited(status, d.message, code, d.retry_after))
}

/// After a JSON answer (or an error): correct the token charge, charge the cost, release the
/// slot. Runs in the background so the client never waits for the limits store.
pub(crate) fn settle(permit: Option<Permit>, usage: Option<&Usage>, report: &CallReport) {
    if let Some(permit) = permit {
        let cost = report.cost_usd().unwrap_or(0.0);
        let finish = permit.finish(usage, cost);
        // Off a runtime (a stream dropped by a synchronous owner) the permit is simply
        // released: the estimate stays charged, which errs on the safe side.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(finish);
        }
    }
}

/// A stream that holds its request's permit until it ends or is dropped, then settles it with
/// the last usage it saw (`stream_options.include_usage` or a provider that always reports it)
/// and the cost the observing layer recorded.
pub(crate) struct Settled {
    inner: Option<ChatStream>,
    permit: Option<Permit>,
    report: CallReport,
    usage: Option<Usage>,
}

impl Settled {
    /// `stream` as is when there is nothing to settle.
    pub(crate) fn wrap(
        stream: ChatStream,
        permit: Option<Permit>,
        report: &CallReport,
    ) -> ChatStream {
        match permit {
            None => stream,
            Some(permit) => Box::pin(Settled {
                inner: Some(stream),
                permit: Some(permit),
                report: report.clone(),
                usage: None,
            }),
        }
    }

    fn settle(&mut self) {
        // The inner stack goes first: its observing layer records the cost as it ends.
        self.inner = None;
        settle(self.permit.take(), self.usage.as_ref(), &self.report);
    }
}

impl Stream for Settled {
    type Item = Result<ChatChunk>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let next = inner.as_mut().poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(usage) = chunk.usage.as_ref() {
                    this.usage = Some(usage.counts());
                }
            }
            Poll::Ready(Some(Err(_)) | None) => this.settle(),
            Poll::Pending => {}
        }
        next
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        if self.permit.is_some() {
            self.settle();
        }
    }
}
