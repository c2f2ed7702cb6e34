//! [`Routes`]: every alias of a gateway, with fallbacks between them by name.
//!
//! Fallbacks name other aliases rather than holding their routers, so an alias is defined
//! once and can be the fallback of many; the registry resolves names, rejects unknown names
//! and cycles when it is built, and precomputes each alias's chain so serving a request never
//! walks the graph.
//!
//! Serving alias `a`: try `a`'s targets; when every one failed with a retryable or health
//! error, or was cooling down, try each fallback alias in order, as that alias would serve
//! the request itself (its own fallbacks included, each alias at most once). When a target
//! says the prompt is too long, and its alias names an `on_context_window_exceeded` alias, the
//! request goes to that alias (and its chain) only; without one the error is the answer. Any
//! other non-retryable error (bad request, content filtered, authentication, ...) is the
//! answer at once: those never fall back.

mod graph;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bulkhead_core::{
    ChatModel, ChatRequest, ChatResponse, ChatStream, EmbeddingModel, EmbeddingRequest,
    EmbeddingResponse, Result, async_trait,
};

use crate::error::BuildError;
use crate::router::{Attempts, Chat, Embed, Op, Outcome, Router, Stream};

/// One alias for [`RoutesBuilder::route`]: its router, and where its requests go when the
/// router cannot serve them.
#[derive(Debug)]
pub struct Route {
    router: Router,
    fallbacks: Vec<String>,
    on_context_window_exceeded: Option<String>,
}

impl Route {
    /// An alias served by `router` (the alias is the router's name), with no fallbacks.
    pub fn new(router: Router) -> Self {
        Self {
            router,
            fallbacks: Vec::new(),
            on_context_window_exceeded: None,
        }
    }

    /// Add a fallback alias, tried after the ones added before it.
    pub fn fallback(mut self, alias: impl Into<String>) -> Self {
        self.fallbacks.push(alias.into());
        self
    }

    /// Send requests whose prompt is too long for this alias to `alias`, and only there.
    pub fn on_context_window_exceeded(mut self, alias: impl Into<String>) -> Self {
        self.on_context_window_exceeded = Some(alias.into());
        self
    }
}

/// Every alias, resolved; cheap to clone.
#[derive(Clone)]
pub struct Routes(Arc<Inner>);

struct Inner {
    index: HashMap<Arc<str>, usize>,
    nodes: Box<[Node]>,
}

struct Node {
    router: Router,
    /// Aliases tried in order: this one first.
    chain: Box<[usize]>,
    on_context_window: Option<usize>,
    /// One target and nothing after it: the request is passed through without a clone.
    single: bool,
    embeddings: bool,
}

/// Builds [`Routes`].
#[derive(Debug, Default)]
pub struct RoutesBuilder {
    routes: Vec<Route>,
}

impl Routes {
    /// Start building.
    pub fn builder() -> RoutesBuilder {
        RoutesBuilder::default()
    }

    /// The model that serves `alias` (with its fallbacks), if it is defined.
    pub fn model(&self, alias: &str) -> Option<RoutedModel> {
        self.0.index.get(alias).map(|&index| RoutedModel {
            routes: self.clone(),
            index,
        })
    }

    /// Like [`model`](Self::model), but only when some alias of its chain serves embeddings.
    pub fn embeddings(&self, alias: &str) -> Option<RoutedModel> {
        self.model(alias)
            .filter(|m| self.0.nodes[m.index].embeddings)
    }

    /// The router of `alias`.
    pub fn router(&self, alias: &str) -> Option<&Router> {
        self.0.index.get(alias).map(|&i| &self.0.nodes[i].router)
    }

    /// The aliases, in the order they were added.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.0.nodes.iter().map(|n| n.router.name())
    }

    async fn serve<O: Op>(&self, index: usize, request: O::Req) -> Result<O::Final> {
        let nodes = &self.0.nodes;
        let node = &nodes[index];
        if node.single {
            return node.router.attempt::<O>(0, request).await;
        }
        let mut log = Attempts::default();
        let mut chain: &[usize] = &node.chain;
        let mut k = 0;
        while let Some(&alias) = chain.get(k) {
            let current = &nodes[alias];
            let mask = O::mask(&current.router);
            match current.router.run::<O>(&request, mask, &mut log).await {
                Outcome::Done(result) => return result,
                Outcome::Exhausted => k += 1,
                Outcome::ContextWindow(error) => match current.on_context_window {
                    // Acyclic, so this terminates: each jump goes further down the graph.
                    Some(long) => {
                        chain = &nodes[long].chain;
                        k = 0;
                    }
                    None => return Err(error),
                },
            }
        }
        Err(log.into_error(node.router.name()))
    }
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.nodes.iter().map(|n| &n.router))
            .finish()
    }
}

impl RoutesBuilder {
    /// Add an alias.
    pub fn route(mut self, route: Route) -> Self {
        self.routes.push(route);
        self
    }

    /// The registry. Fails on a repeated alias, a fallback naming an unknown alias, or a
    /// cycle of fallbacks and context-window jumps.
    pub fn build(self) -> Result<Routes, BuildError> {
        let mut index = HashMap::with_capacity(self.routes.len());
        for (i, route) in self.routes.iter().enumerate() {
            let name: Arc<str> = route.router.name.clone();
            if index.insert(name, i).is_some() {
                return Err(BuildError::DuplicateAlias {
                    alias: route.router.name().to_owned(),
                });
            }
        }
        let resolve = |from: &Route, to: &str| {
            index
                .get(to)
                .copied()
                .ok_or_else(|| BuildError::UnknownAlias {
                    alias: from.router.name().to_owned(),
                    refers_to: to.to_owned(),
                })
        };
        let mut fallbacks = Vec::with_capacity(self.routes.len());
        let mut jumps = Vec::with_capacity(self.routes.len());
        for route in &self.routes {
            let list = route
                .fallbacks
                .iter()
                .map(|to| resolve(route, to))
                .collect::<Result<Vec<_>, _>>()?;
            fallbacks.push(list);
            jumps.push(
                route
                    .on_context_window_exceeded
                    .as_deref()
                    .map(|to| resolve(route, to))
                    .transpose()?,
            );
        }
        let edges: Vec<Vec<usize>> = fallbacks
            .iter()
            .zip(&jumps)
            .map(|(f, j)| f.iter().copied().chain(*j).collect())
            .collect();
        if let Some(cycle) = graph::find_cycle(&edges) {
            return Err(BuildError::Cycle {
                path: cycle
                    .into_iter()
                    .map(|i| self.routes[i].router.name().to_owned())
                    .collect(),
            });
        }
        let chains: Vec<Vec<usize>> = (0..self.routes.len())
            .map(|i| graph::chain(i, &fallbacks))
            .collect();
        let embeddable: Vec<bool> = self
            .routes
            .iter()
            .map(|r| r.router.has_embeddings())
            .collect();
        let nodes = self
            .routes
            .into_iter()
            .zip(chains)
            .zip(jumps)
            .map(|((route, chain), jump)| Node {
                single: chain.len() == 1 && jump.is_none() && route.router.slots.len() == 1,
                embeddings: chain.iter().any(|&i| embeddable[i]),
                router: route.router,
                chain: chain.into(),
                on_context_window: jump,
            })
            .collect();
        Ok(Routes(Arc::new(Inner { index, nodes })))
    }
}

/// One alias of [`Routes`] as a model: what the gateway serves under the alias's name.
#[derive(Clone)]
pub struct RoutedModel {
    routes: Routes,
    index: usize,
}

impl RoutedModel {
    /// The alias served.
    pub fn alias(&self) -> &str {
        self.routes.0.nodes[self.index].router.name()
    }
}

impl fmt::Debug for RoutedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutedModel")
            .field("alias", &self.alias())
            .finish()
    }
}

#[async_trait]
impl ChatModel for RoutedModel {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.routes.serve::<Chat>(self.index, request).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        self.routes.serve::<Stream>(self.index, request).await
    }
}

#[async_trait]
impl EmbeddingModel for RoutedModel {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        self.routes.serve::<Embed>(self.index, request).await
    }
}

/// A lone router serves its alias with no fallbacks.
#[async_trait]
impl ChatModel for Router {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.serve_alone::<Chat>(request).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        self.serve_alone::<Stream>(request).await
    }
}

#[async_trait]
impl EmbeddingModel for Router {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        self.serve_alone::<Embed>(request).await
    }
}

impl Router {
    async fn serve_alone<O: Op>(&self, request: O::Req) -> Result<O::Final> {
        let mut log = Attempts::default();
        match self.run::<O>(&request, O::mask(self), &mut log).await {
            Outcome::Done(result) => result,
            Outcome::ContextWindow(error) => Err(error),
            Outcome::Exhausted => Err(log.into_error(self.name())),
        }
    }
}
