//! Virtual keys: who is calling. Runs before anything reads the body.
//!
//! The config holds only each key's SHA-256 (`[[keys]] hash`), so a leaked config file leaks no
//! key. A request's key is hashed and looked up by its digest; the stored digest found is then
//! compared in constant time. (The table lookup itself branches on the digest, not on the
//! key: learning how a guess's SHA-256 compares with a stored one tells an attacker nothing
//! about the key.)
//!
//! - No `[[keys]]` configured: the gateway is open (the server says so when it starts), and
//!   requests carry no tenant.
//! - Keys configured: a missing, malformed or unknown key gets 401 before the body is read;
//!   a known key's name becomes the request's [`Tenant`] (caches never cross it, limits count
//!   per it), and a model outside its allow-list gets 403 once the body names the model.
//!
//! The key is read from `Authorization: Bearer KEY`, or, on `/v1/messages` (where Anthropic's
//! SDKs send it), from `x-api-key`. It is never logged and never sent upstream: providers
//! build their upstream requests from their own credentials only.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bulkhead_core::Tenant;
use futures_util::future::{Either, Ready, ready};
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tower::Service;

use super::error::ApiError;
use crate::config::{BudgetPeriod, KeyConfig};
use crate::gateway::Gateway;
use bulkhead_limits::{Budget, BudgetPeriod as LimitsPeriod, Limits};

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// The configured keys, by digest.
#[derive(Default)]
pub(crate) struct Keys {
    by_digest: HashMap<[u8; 32], Arc<Caller>>,
}

/// A caller that presented a known key.
pub(crate) struct Caller {
    digest: [u8; 32],
    pub(crate) config: KeyConfig,
    pub(crate) tenant: Tenant,
    pub(crate) limits: Limits,
    allowed: Option<HashSet<Box<str>>>,
}

impl Caller {
    /// Whether this key may use the model the client named.
    pub(crate) fn allows(&self, model: &str) -> bool {
        self.allowed.as_ref().is_none_or(|set| set.contains(model))
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

impl Keys {
    pub(crate) fn new(keys: &[KeyConfig]) -> Self {
        let by_digest = keys
            .iter()
            .map(|key| {
                let caller = Caller {
                    digest: key.sha256,
                    tenant: Tenant::new(key.name.as_str()),
                    limits: limits_of(key),
                    allowed: key
                        .models
                        .as_ref()
                        .map(|m| m.iter().map(|m| m.as_str().into()).collect()),
                    config: key.clone(),
                };
                (key.sha256, Arc::new(caller))
            })
            .collect();
        Self { by_digest }
    }

    /// Whether any key is configured; without one the gateway is open.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// The caller whose key is `presented`, if any.
    fn find(&self, presented: &str) -> Option<&Arc<Caller>> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.by_digest
            .get(&digest)
            .filter(|caller| bool::from(caller.digest.ct_eq(&digest)))
    }
}

/// A key's limits as bulkhead-limits' plain numbers.
pub(crate) fn limits_of(key: &KeyConfig) -> Limits {
    Limits {
        rpm: key.rpm,
        tpm: key.tpm,
        max_concurrent: key.max_concurrent,
        budget: key.budget_usd.map(|usd| Budget {
            usd,
            period: match key.budget_period {
                BudgetPeriod::Day => LimitsPeriod::Day,
                BudgetPeriod::Month => LimitsPeriod::Month,
            },
        }),
    }
}

/// Around the router: on the API's routes, resolve the caller, or answer 401 without calling
/// the route (and so before the body is read); probes and unknown paths pass.
///
/// A plain `tower` service rather than `axum::middleware::from_fn_with_state`, which clones
/// the inner service and boxes a future on every request.
#[derive(Clone)]
pub(crate) struct Authenticate<S> {
    pub(crate) gateway: Gateway,
    pub(crate) inner: S,
}

impl<S> Service<Request> for Authenticate<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        match identify(&self.gateway.inner.keys, &request) {
            Ok(None) => {}
            Ok(Some(caller)) => {
                request.extensions_mut().insert(caller);
            }
            Err(refusal) => return Either::Right(ready(Ok(*refusal))),
        }
        Either::Left(self.inner.call(request))
    }
}

/// The caller a request's key names: `None` for an open gateway (no keys configured), or the
/// 401 answer to give.
fn identify(keys: &Keys, request: &Request) -> Result<Option<Arc<Caller>>, Box<Response>> {
    let path = request.uri().path();
    if keys.is_empty() || !super::needs_key(path) {
        return Ok(None);
    }
    let anthropic_style = path == super::MESSAGES;
    // Anthropic's SDKs read errors in Anthropic's shape; everyone else in OpenAI's.
    let refuse = |error: ApiError| {
        Box::new(if anthropic_style {
            super::messages::anthropic_error(error)
        } else {
            error.into_response()
        })
    };
    match presented_key(request.headers(), anthropic_style) {
        Presented::Missing => Err(refuse(ApiError::missing_key())),
        Presented::Malformed => Err(refuse(ApiError::invalid_key())),
        Presented::Key(key) => match keys.find(key) {
            Some(caller) => Ok(Some(caller.clone())),
            None => Err(refuse(ApiError::invalid_key())),
        },
    }
}

/// Once the body names the model: refuse a model outside the caller's allow-list (403), and
/// mark the request with the caller's tenant for the layers below.
pub(crate) fn authorize(
    caller: Option<&Caller>,
    model: &str,
    extensions: &mut http::Extensions,
) -> Result<(), Box<ApiError>> {
    let Some(caller) = caller else { return Ok(()) };
    if !caller.allows(model) {
        return Err(Box::new(ApiError::model_not_allowed(model)));
    }
    extensions.insert(caller.tenant.clone());
    Ok(())
}

enum Presented<'a> {
    Missing,
    Malformed,
    Key(&'a str),
}

fn presented_key(headers: &HeaderMap, anthropic_style: bool) -> Presented<'_> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let Ok(text) = value.to_str() else {
            return Presented::Malformed;
        };
        let mut parts = text.trim().splitn(2, ' ');
        let scheme = parts.next().unwrap_or_default();
        let key = parts.next().unwrap_or_default().trim();
        if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
            return Presented::Malformed;
        }
        return Presented::Key(key);
    }
    if anthropic_style && let Some(value) = headers.get(X_API_KEY) {
        return match value.to_str() {
            Ok(key) if !key.trim().is_empty() => Presented::Key(key.trim()),
            _ => Presented::Malformed,
        };
    }
    Presented::Missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, secret: &str, models: Option<&[&str]>) -> KeyConfig {
        KeyConfig {
            name: name.into(),
            sha256: Sha256::digest(secret.as_bytes()).into(),
            models: models.map(|m| m.iter().map(|s| (*s).to_owned()).collect()),
            rpm: None,
            tpm: None,
            max_concurrent: None,
            budget_usd: None,
            budget_period: BudgetPeriod::Month,
        }
    }

    #[test]
    fn keys_are_found_by_their_hash_only() {
        let keys = Keys::new(&[
            key("a", "bh-secret-a", None),
            key("b", "bh-b", Some(&["m"])),
        ]);
        assert_eq!(
            keys.find("bh-secret-a").map(|c| c.config.name.as_str()),
            Some("a")
        );
        assert!(keys.find("bh-secret-").is_none());
        assert!(keys.find("BH-SECRET-A").is_none());
        let b = keys.find("bh-b").expect("b");
        assert!(b.allows("m"));
        assert!(!b.allows("other"));
    }

    #[test]
    fn the_key_comes_from_bearer_or_on_messages_from_x_api_key() {
        let mut h = HeaderMap::new();
        assert!(matches!(presented_key(&h, false), Presented::Missing));
        h.insert(X_API_KEY, "k1".parse().expect("value"));
        assert!(matches!(presented_key(&h, false), Presented::Missing));
        assert!(matches!(presented_key(&h, true), Presented::Key("k1")));
        h.insert(AUTHORIZATION, "Bearer  k2 ".parse().expect("value"));
        assert!(matches!(presented_key(&h, false), Presented::Key("k2")));
        h.insert(AUTHORIZATION, "Basic abc".parse().expect("value"));
        assert!(matches!(presented_key(&h, false), Presented::Malformed));
        h.insert(AUTHORIZATION, "Bearer".parse().expect("value"));
        assert!(matches!(presented_key(&h, false), Presented::Malformed));
    }
}
