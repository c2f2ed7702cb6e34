//! The metric keys of each model an [`Observe`](super::Observe) has seen, built once.
//!
//! `metrics::counter!` with runtime labels allocates the label list and hashes the key on
//! every call; a request records several metrics at each of two scopes. Instead each scope
//! keeps, per model name, the keys of its common case (`outcome = "ok"`) and hands them to the
//! recorder by reference. The recorder itself is still looked up on every call, as the macros
//! do, so one installed later (or a thread-local one in a test) is honoured; only the labels
//! are remembered. Error outcomes, rarer, build their keys as the macros do.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata};

use crate::names;

/// What the `metrics` macros would pass for a metric registered in this crate.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The `model` label of a request whose name is not among the known models.
pub(crate) const OTHER_MODEL: &str = "other";

/// At most this many model names keep their keys; past it (a client inventing names with no
/// `known_models` set) keys are built per call, so memory stays bounded.
const MAX_MODELS: usize = 1024;

pub(crate) static IN_FLIGHT: Key = Key::from_static_name(names::IN_FLIGHT_REQUESTS);
pub(crate) static GATEWAY_OVERHEAD: Key = Key::from_static_name(names::GATEWAY_OVERHEAD);

/// Built once per model name a scope sees.
pub(crate) trait ForModel: Sized {
    /// The keys of `label` (the model's name, or `other`); `provider` at the attempt scope.
    fn new(label: &Arc<str>, provider: &Arc<str>) -> Self;
}

/// The request scope's keys of one model.
#[derive(Debug)]
pub(crate) struct RequestKeys {
    /// `bulkhead_requests_total{model, outcome="ok"}`.
    pub(crate) requests_ok: Key,
    /// `bulkhead_cost_usd_total{model}`.
    pub(crate) cost: Key,
}

impl ForModel for RequestKeys {
    fn new(label: &Arc<str>, _: &Arc<str>) -> Self {
        let model = || Label::new("model", label.clone());
        Self {
            requests_ok: Key::from_parts(
                names::REQUESTS_TOTAL,
                vec![model(), Label::from_static_parts("outcome", names::OK)],
            ),
            cost: Key::from_parts(names::COST_USD_TOTAL, vec![model()]),
        }
    }
}

/// The attempt scope's keys of one model at one provider.
#[derive(Debug)]
pub(crate) struct AttemptKeys {
    /// `gen_ai_client_operation_duration_seconds{..., outcome="ok"}`.
    pub(crate) duration_ok: Key,
    /// `gen_ai_client_token_usage{gen_ai_token_type="input" | "output", ...}`.
    pub(crate) input_tokens: Key,
    pub(crate) output_tokens: Key,
    pub(crate) first_chunk: Key,
    pub(crate) per_chunk: Key,
}

impl ForModel for AttemptKeys {
    fn new(label: &Arc<str>, provider: &Arc<str>) -> Self {
        let key = |name: &'static str, extra: Option<Label>| {
            let mut labels = Vec::with_capacity(3);
            labels.extend(extra);
            labels.push(Label::new("gen_ai_request_model", label.clone()));
            labels.push(Label::new("gen_ai_provider_name", provider.clone()));
            Key::from_parts(name, labels)
        };
        let tokens = |kind| {
            key(
                names::TOKEN_USAGE,
                Some(Label::from_static_parts("gen_ai_token_type", kind)),
            )
        };
        Self {
            duration_ok: key(
                names::OPERATION_DURATION,
                Some(Label::from_static_parts("outcome", names::OK)),
            ),
            input_tokens: tokens("input"),
            output_tokens: tokens("output"),
            first_chunk: key(names::TIME_TO_FIRST_CHUNK, None),
            per_chunk: key(names::TIME_PER_OUTPUT_CHUNK, None),
        }
    }
}

/// A model's label and its keys.
#[derive(Debug)]
pub(crate) struct Labelled<K> {
    /// The metrics label: the model's name, or `other` when it is not a known model.
    pub(crate) label: Arc<str>,
    pub(crate) keys: K,
}

/// The keys of every model one scope has seen, by name.
#[derive(Debug)]
pub(crate) struct KeyCache<K> {
    provider: Arc<str>,
    by_model: RwLock<HashMap<Arc<str>, Arc<Labelled<K>>>>,
    /// Shared by every model outside `known_models`.
    other: Arc<Labelled<K>>,
}

impl<K: ForModel> KeyCache<K> {
    /// The cache of one scope; `provider` labels the attempt scope's keys.
    pub(crate) fn new(provider: Arc<str>) -> Self {
        let other = labelled(Arc::from(OTHER_MODEL), &provider);
        Self {
            provider,
            by_model: RwLock::new(HashMap::new()),
            other: Arc::new(other),
        }
    }

    /// The label and keys for `model`: `other`'s when `known` is set and lacks it.
    pub(crate) fn get(&self, known: Option<&HashSet<Arc<str>>>, model: &str) -> Arc<Labelled<K>> {
        if known.is_some_and(|known| !known.contains(model)) {
            return self.other.clone();
        }
        let read = self.by_model.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(keys) = read.get(model) {
            return keys.clone();
        }
        drop(read);
        let keys = Arc::new(labelled(Arc::from(model), &self.provider));
        let mut write = self
            .by_model
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if write.len() < MAX_MODELS {
            write.insert(keys.label.clone(), keys.clone());
        }
        keys
    }
}

fn labelled<K: ForModel>(label: Arc<str>, provider: &Arc<str>) -> Labelled<K> {
    Labelled {
        keys: K::new(&label, provider),
        label,
    }
}

pub(crate) fn counter(key: &Key) -> Counter {
    metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA))
}

pub(crate) fn gauge(key: &Key) -> Gauge {
    metrics::with_recorder(|recorder| recorder.register_gauge(key, &METADATA))
}

pub(crate) fn histogram(key: &Key) -> Histogram {
    metrics::with_recorder(|recorder| recorder.register_histogram(key, &METADATA))
}
