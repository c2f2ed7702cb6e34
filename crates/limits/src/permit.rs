//! The guard of an admitted request: holds its concurrency slot, settles its usage and cost.

use std::future::Future;
use std::sync::Arc;

use bulkhead_core::Usage;
use tokio::task::AbortHandle;

use crate::gcra::Gcra;
use crate::limiter::Limiter;
use crate::store::{BudgetCheck, Lease, Settlement};

/// An admitted request. Holds its concurrency slot until dropped; [`Permit::finish`] reports
/// what the request really used and cost.
///
/// Keep it alive as long as the request runs: for a stream, move it into the stream so the slot
/// is released when the stream ends or the client goes away.
#[must_use = "dropping a permit ends the request: its concurrency slot is released"]
#[derive(Debug)]
pub struct Permit {
    pub(crate) limiter: Limiter,
    pub(crate) key: Arc<str>,
    pub(crate) lease: Option<Lease>,
    pub(crate) estimated_tokens: u32,
    pub(crate) tokens: Option<Gcra>,
    pub(crate) budget: Option<BudgetCheck>,
    pub(crate) renewal: Option<AbortHandle>,
}

impl Permit {
    /// The key's name.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The tokens reserved at admission.
    pub fn estimated_tokens(&self) -> u32 {
        self.estimated_tokens
    }

    /// Report the request's outcome, then release its slot: the token charge is corrected to
    /// `usage.total_tokens` (charging more or refunding; no correction without usage) and
    /// `cost_usd` is added to the key's budget.
    ///
    /// The returned future owns everything it needs (`Send + 'static`), so a stream's wrapper can
    /// `tokio::spawn` it from a `Drop` or a poll. It never fails: a store error is logged and
    /// counted, and the estimate stays charged.
    pub fn finish(
        self,
        usage: Option<&Usage>,
        cost_usd: f64,
    ) -> impl Future<Output = ()> + Send + 'static {
        let total = usage.map(|u| u.total_tokens);
        self.finish_tokens(total, cost_usd)
    }

    /// [`Permit::finish`] without waiting: the settlement runs as a task on the current Tokio
    /// runtime. For places that cannot await, such as a stream's `poll_next` on its final chunk
    /// or a `Drop`. Outside a runtime the permit is only dropped (slot released, estimate kept).
    pub fn finish_detached(self, usage: Option<&Usage>, cost_usd: f64) {
        let total = usage.map(|u| u.total_tokens);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(self.finish_tokens(total, cost_usd));
        }
    }

    /// [`Permit::finish`] with the total token count instead of a [`Usage`].
    pub async fn finish_tokens(self, total_tokens: Option<u32>, cost_usd: f64) {
        let mut permit = self;
        let delta = total_tokens.map(|t| i64::from(t) - i64::from(permit.estimated_tokens));
        let tokens = match (permit.tokens.take(), delta) {
            (Some(g), Some(d)) if d != 0 => Some((g, d)),
            _ => None,
        };
        let budget = match permit.budget.take() {
            Some(b) if cost_usd > 0.0 && cost_usd.is_finite() => Some((b, cost_usd)),
            _ => None,
        };
        if tokens.is_none() && budget.is_none() {
            return;
        }
        let inner = &permit.limiter.inner;
        let settlement = Settlement {
            key: &permit.key,
            now_us: inner.clock.now().as_micros() as f64,
            tokens,
            budget,
        };
        let result =
            tokio::time::timeout(inner.config.store_timeout, inner.store.settle(&settlement)).await;
        let error = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        metrics::counter!("bulkhead_limits_store_errors_total", "op" => "settle").increment(1);
        permit.limiter.warn("settle", &error, true);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        if let Some(lease) = self.lease.take() {
            self.limiter.inner.store.release(&self.key, &lease);
        }
    }
}
