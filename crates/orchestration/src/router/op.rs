//! The three calls a router makes — chat, stream, embed — behind one small trait, so the
//! attempt loop and the fallback chain are written once.
//!
//! A stream counts as answered once its first chunk arrived: `Stream::call` waits for it, so
//! a target that fails before that (an `Err` from `stream()` or as the first item) is just a
//! failed attempt and the next target is tried, invisibly to the client. From the first chunk
//! on the stream is handed on as it is: a later error is its last item, never a silent end.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bulkhead_core::{
    CallReport, ChatChunk, ChatRequest, ChatResponse, ChatStream, Deployment, EmbeddingRequest,
    EmbeddingResponse, Error, ErrorKind, Result,
};
use futures_util::StreamExt as _;

use super::Slot;
use crate::target::InFlight;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One kind of call a router makes.
pub(crate) trait Op {
    type Req: Clone + Send + Sync;
    type Out: Send;
    type Final: Send;
    /// The targets that can serve this kind of call.
    fn mask(router: &super::Router) -> u64;
    /// Address the request to `deployment` and record it as the one now serving.
    fn prepare(request: Self::Req, deployment: &Deployment) -> Self::Req;
    fn call(slot: &Slot, request: Self::Req) -> BoxFuture<'_, Result<Self::Out>>;
    /// The answer handed on; `guard` counts the call in flight until dropped.
    fn finish(out: Self::Out, guard: InFlight) -> Self::Final;
}

/// `ChatModel::chat`.
#[derive(Debug)]
pub(crate) struct Chat;

impl Op for Chat {
    type Req = ChatRequest;
    type Out = ChatResponse;
    type Final = ChatResponse;
    fn mask(router: &super::Router) -> u64 {
        router.all
    }
    fn prepare(mut request: ChatRequest, deployment: &Deployment) -> ChatRequest {
        if let Some(report) = request.extensions.get::<CallReport>() {
            report.set_deployment(deployment.clone());
        }
        request.model.clear();
        request.model.push_str(&deployment.model);
        request
    }
    fn call(slot: &Slot, request: ChatRequest) -> BoxFuture<'_, Result<ChatResponse>> {
        slot.target.chat.chat(request)
    }
    fn finish(out: ChatResponse, _guard: InFlight) -> ChatResponse {
        out
    }
}

/// `ChatModel::stream`, answered once the first chunk is in.
#[derive(Debug)]
pub(crate) struct Stream;

/// A stream whose first item has been read: `None` first means it ended with no chunk.
pub(crate) struct Primed {
    first: Option<ChatChunk>,
    rest: ChatStream,
}

impl Op for Stream {
    type Req = ChatRequest;
    type Out = Primed;
    type Final = ChatStream;
    fn mask(router: &super::Router) -> u64 {
        router.all
    }
    fn prepare(request: ChatRequest, deployment: &Deployment) -> ChatRequest {
        Chat::prepare(request, deployment)
    }
    fn call(slot: &Slot, request: ChatRequest) -> BoxFuture<'_, Result<Primed>> {
        Box::pin(async move {
            let mut rest = slot.target.chat.stream(request).await?;
            match rest.next().await {
                Some(Ok(chunk)) => Ok(Primed {
                    first: Some(chunk),
                    rest,
                }),
                Some(Err(e)) => Err(e),
                None => Ok(Primed { first: None, rest }),
            }
        })
    }
    fn finish(out: Primed, guard: InFlight) -> ChatStream {
        let ended = out.first.is_none();
        Box::pin(Resumed {
            first: out.first,
            rest: (!ended).then_some(out.rest),
            _guard: guard,
        })
    }
}

/// The primed stream handed on: its first chunk, then the rest as the target sends it. Holds
/// the in-flight guard, so an open stream counts as load until it ends or is dropped.
struct Resumed {
    first: Option<ChatChunk>,
    rest: Option<ChatStream>,
    _guard: InFlight,
}

impl futures_core::Stream for Resumed {
    type Item = Result<ChatChunk>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(chunk) = this.first.take() {
            return Poll::Ready(Some(Ok(chunk)));
        }
        let Some(rest) = this.rest.as_mut() else {
            return Poll::Ready(None);
        };
        match rest.as_mut().poll_next(cx) {
            Poll::Ready(None) => {
                this.rest = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                // An error ends the answer: nothing may follow it.
                this.rest = None;
                Poll::Ready(Some(Err(e)))
            }
            other => other,
        }
    }
}

/// `EmbeddingModel::embed`, over the targets that have embeddings.
#[derive(Debug)]
pub(crate) struct Embed;

impl Op for Embed {
    type Req = EmbeddingRequest;
    type Out = EmbeddingResponse;
    type Final = EmbeddingResponse;
    fn mask(router: &super::Router) -> u64 {
        router.embeddable
    }
    fn prepare(mut request: EmbeddingRequest, deployment: &Deployment) -> EmbeddingRequest {
        if let Some(report) = request.extensions.get::<CallReport>() {
            report.set_deployment(deployment.clone());
        }
        request.model.clear();
        request.model.push_str(&deployment.model);
        request
    }
    fn call(slot: &Slot, request: EmbeddingRequest) -> BoxFuture<'_, Result<EmbeddingResponse>> {
        match &slot.target.embeddings {
            Some(model) => model.embed(request),
            // Unreachable through `mask`; an error rather than a panic all the same.
            None => Box::pin(async {
                Err(Error::new(
                    ErrorKind::BadRequest,
                    "this deployment serves no embeddings",
                ))
            }),
        }
    }
    fn finish(out: EmbeddingResponse, _guard: InFlight) -> EmbeddingResponse {
        out
    }
}
