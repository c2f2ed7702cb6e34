//! Embeddings, cached per input: only the inputs not in the cache go upstream.

use bulkhead_core::{
    CacheStatus, CallReport, Embedding, EmbeddingInput, EmbeddingModel, EmbeddingRequest,
    EmbeddingResponse, EmbeddingUsage, Error, ErrorKind, Map, Result, Tenant, async_trait,
};
use futures_util::future::join_all;

use super::{Cache, record};
use crate::{CacheDirective, CachedEmbedding, CachedValue, EmbeddingItem, Entry, embedding_key};

/// The inputs of a request, one item each.
fn items(input: &EmbeddingInput) -> Vec<EmbeddingItem<'_>> {
    match input {
        EmbeddingInput::Text(text) => vec![EmbeddingItem::Text(text)],
        EmbeddingInput::Texts(texts) => texts.iter().map(|t| EmbeddingItem::Text(t)).collect(),
        EmbeddingInput::Tokens(tokens) => vec![EmbeddingItem::Tokens(tokens)],
        EmbeddingInput::TokenBatches(batches) => {
            batches.iter().map(|t| EmbeddingItem::Tokens(t)).collect()
        }
    }
}

/// The request for the inputs at `positions` only (same model, options and extensions).
fn subset(request: &EmbeddingRequest, positions: &[usize]) -> EmbeddingRequest {
    let input = match &request.input {
        EmbeddingInput::Texts(texts) => {
            EmbeddingInput::Texts(positions.iter().map(|&i| texts[i].clone()).collect())
        }
        EmbeddingInput::TokenBatches(batches) => {
            EmbeddingInput::TokenBatches(positions.iter().map(|&i| batches[i].clone()).collect())
        }
        // A single input is either wholly cached or wholly sent.
        single => single.clone(),
    };
    EmbeddingRequest {
        model: request.model.clone(),
        input,
        encoding_format: request.encoding_format.clone(),
        dimensions: request.dimensions,
        user: request.user.clone(),
        extra: request.extra.clone(),
        extensions: request.extensions.clone(),
    }
}

fn mismatch() -> Error {
    Error::new(
        ErrorKind::Internal,
        "the embeddings upstream answered with a different number of vectors than inputs",
    )
}

#[async_trait]
impl<M: EmbeddingModel + 'static> EmbeddingModel for Cache<M> {
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        let report = request.extensions.get::<CallReport>().cloned();
        let directive = request
            .extensions
            .get::<CacheDirective>()
            .copied()
            .unwrap_or_default();
        if !directive.allows_store()
            || !self.policy.embedding_request(&request)
            || request.input.is_empty()
        {
            record(CacheStatus::Bypass, report.as_ref());
            return self.inner.embed(request).await;
        }

        let tenant = request.extensions.get::<Tenant>();
        let keys: Vec<_> = items(&request.input)
            .into_iter()
            .map(|item| embedding_key(tenant, &request, item))
            .collect();
        let mut found: Vec<Option<CachedEmbedding>> = if directive.skips_lookup() {
            record(CacheStatus::Bypass, report.as_ref());
            vec![None; keys.len()]
        } else {
            let found: Vec<_> = join_all(keys.iter().map(|k| self.lookup(k, directive.max_age)))
                .await
                .into_iter()
                .map(|entry| match entry.as_ref().map(Entry::value) {
                    Some(CachedValue::Embedding(e)) => Some(e.clone()),
                    _ => None,
                })
                .collect();
            let status = if found.iter().all(Option::is_some) {
                CacheStatus::Hit
            } else {
                CacheStatus::Miss
            };
            record(status, report.as_ref());
            found
        };

        let missing: Vec<usize> = (0..keys.len()).filter(|&i| found[i].is_none()).collect();
        let (model, usage, extra) = if missing.is_empty() {
            let model = found
                .first()
                .and_then(|f| f.as_ref())
                .map(|f| f.model.clone())
                .unwrap_or_else(|| request.model.clone());
            (model, EmbeddingUsage::default(), Map::new())
        } else {
            let upstream = if missing.len() == keys.len() {
                self.inner.embed(request).await?
            } else {
                self.inner.embed(subset(&request, &missing)).await?
            };
            if upstream.data.len() != missing.len() {
                return Err(mismatch());
            }
            let mut writes = Vec::with_capacity(missing.len());
            for embedding in upstream.data {
                let pos = *missing.get(embedding.index as usize).ok_or_else(mismatch)?;
                let value = CachedEmbedding {
                    model: upstream.model.clone(),
                    vector: embedding.embedding,
                };
                writes.push((
                    keys[pos],
                    Entry::new(CachedValue::Embedding(value.clone()), self.ttl),
                ));
                found[pos] = Some(value);
            }
            join_all(writes.iter().map(|(k, e)| self.store.put(k, e.clone()))).await;
            (upstream.model, upstream.usage, upstream.extra)
        };

        let mut data = Vec::with_capacity(found.len());
        for (index, value) in found.into_iter().enumerate() {
            let value = value.ok_or_else(mismatch)?;
            data.push(Embedding {
                object: "embedding".to_owned(),
                index: u32::try_from(index).unwrap_or(u32::MAX),
                embedding: value.vector,
            });
        }
        Ok(EmbeddingResponse {
            object: "list".to_owned(),
            data,
            model,
            usage,
            extra,
        })
    }
}
