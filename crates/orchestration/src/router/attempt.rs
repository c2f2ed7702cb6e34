//! The attempt loop shared by chat, streams and embeddings, and the error told when every
//! deployment failed.

use std::fmt::Write as _;
use std::time::Duration;

use bulkhead_core::{Deployment, Error, ErrorKind, Result};
use tokio::time::Instant;

use super::op::Op;
use super::{Disposition, Router, disposition};
use crate::strategy::Candidates;
use crate::target::nanos_since;

/// The longest a retry-after may keep a target out of rotation.
const MAX_COOL_DOWN: Duration = Duration::from_secs(60);

/// How one router's attempts ended.
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    /// An answer, or an error that must reach the caller as it is.
    Done(Result<T>),
    /// Every target failed or was skipped; the fallbacks may help.
    Exhausted,
    /// A target said the prompt is too long for it.
    ContextWindow(Error),
}

/// What was tried for one request, across every alias of its chain: for the final error.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    failed: Vec<(Deployment, Error)>,
    skipped: Vec<Deployment>,
    /// The soonest a skipped deployment comes back into rotation.
    skipped_until: Option<Duration>,
}

impl Attempts {
    /// The error for a request nothing could serve. The only deployment tried, when exactly
    /// one was, answers with its own error (a single deployment stays transparent: a 429 keeps
    /// its retry-after, a timeout stays a timeout); otherwise 503 naming everything tried.
    /// Deployments are named "provider `p`" so the gateway, which prefixes a message with the
    /// provider recorded last unless the message names it, adds no misleading prefix.
    /// The 503 carries a retry-after when one is known: the soonest of the failures' own and
    /// the time until a skipped deployment's cool-down ends.
    pub(crate) fn into_error(mut self, alias: &str) -> Error {
        if self.failed.len() == 1
            && self.skipped.is_empty()
            && let Some((_, e)) = self.failed.pop()
        {
            return e;
        }
        let mut message = format!("no healthy deployment for model `{alias}`");
        let mut sep = ": tried ";
        for (d, e) in &self.failed {
            let _ = write!(
                message,
                "{sep}provider `{}` ({}: {})",
                d.provider,
                d.model,
                e.kind()
            );
            sep = ", ";
        }
        let mut sep = if self.failed.is_empty() {
            ": skipped "
        } else {
            "; skipped "
        };
        for d in &self.skipped {
            let _ = write!(
                message,
                "{sep}provider `{}` ({}: cooling down)",
                d.provider, d.model
            );
            sep = ", ";
        }
        let mut error = Error::new(ErrorKind::Overloaded, message);
        if let Some(after) = self
            .failed
            .iter()
            .filter_map(|(_, e)| e.retry_after())
            .chain(self.skipped_until)
            .min()
        {
            error = error.with_retry_after(after);
        }
        error
    }
}

impl Router {
    /// Try the targets in `mask` in the strategy's order until one answers.
    pub(crate) async fn run<O: Op>(
        &self,
        request: &O::Req,
        mask: u64,
        log: &mut Attempts,
    ) -> Outcome<O::Final> {
        let now_ns = nanos_since(self.epoch, Instant::now());
        let cooling = self.cooling(now_ns) & mask;
        if cooling != 0 {
            let candidates = Candidates::new(&self.slots, cooling, now_ns);
            for i in candidates.available() {
                log.skipped.push(candidates.deployment(i).clone());
                let until = self.slots[i].stats.cooling_for(now_ns);
                log.skipped_until = log.skipped_until.into_iter().chain(until).min();
            }
        }
        let mut available = mask & !cooling;
        while available != 0 {
            let picked = self
                .strategy
                .pick(&Candidates::new(&self.slots, available, now_ns));
            // A strategy that returns nothing, or an index it may not, ends the alias.
            let Some(i) = picked.filter(|&i| i < 64 && available & (1 << i) != 0) else {
                break;
            };
            available &= !(1 << i);
            match self.attempt::<O>(i, request.clone()).await {
                Ok(answer) => return Outcome::Done(Ok(answer)),
                Err(e) => match disposition(e.kind()) {
                    Disposition::NextTarget => {
                        self.maybe_cool_down(i, &e);
                        let deployment = self.slots[i].target.deployment.clone();
                        tracing::debug!(
                            alias = %self.name,
                            provider = %deployment.provider,
                            model = %deployment.model,
                            kind = %e.kind(),
                            "deployment failed; trying the next"
                        );
                        log.failed.push((deployment, e));
                    }
                    Disposition::ContextWindow => return Outcome::ContextWindow(e),
                    Disposition::Stop => return Outcome::Done(Err(e)),
                },
            }
        }
        Outcome::Exhausted
    }

    /// One call to target `i`, taking the request by value: the alias with a single target
    /// and no fallbacks uses this directly, with no clone and no cool-down.
    pub(crate) async fn attempt<O: Op>(&self, i: usize, request: O::Req) -> Result<O::Final> {
        let slot = &self.slots[i];
        let request = O::prepare(request, &slot.target.deployment);
        let mut guard = slot.stats.start(self.epoch);
        let result = O::call(slot, request).await;
        let failed = result
            .as_ref()
            .err()
            .is_some_and(|e| disposition(e.kind()) == Disposition::NextTarget);
        guard.observe(failed);
        result.map(|out| O::finish(out, guard))
    }

    fn maybe_cool_down(&self, i: usize, error: &Error) {
        let health = matches!(
            error.kind(),
            ErrorKind::CircuitOpen | ErrorKind::Overloaded | ErrorKind::RateLimited
        );
        if let (true, Some(after)) = (health, error.retry_after()) {
            let until = Instant::now() + after.min(MAX_COOL_DOWN);
            self.slots[i]
                .stats
                .cool_down(nanos_since(self.epoch, until));
        }
    }
}
