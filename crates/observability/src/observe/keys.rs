//! The metrics of each model an [`Observe`](super::Observe) has seen: keys built once, and
//! handles registered once per recorder.
//!
//! `metrics::counter!` with runtime labels allocates the label list, hashes the key and asks
//! the recorder to find (Prometheus: compare and copy) the key on every call, and a request
//! records several metrics at each of two scopes. Instead each scope keeps, per model name,
//! the keys of its common case (`outcome = "ok"`) and the handles the recorder gave for them,
//! together with which recorder that was. Each call still asks `metrics` for the current
//! recorder, as the macros do, and registers afresh when it is not the one the handles came
//! from, so one installed later (or a thread-local one in a test) is honoured. Error
//! outcomes, rarer, go through the macros.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};

use crate::names;

/// What the `metrics` macros would pass for a metric registered in this crate.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The `model` label of a request whose name is not among the known models.
pub(crate) const OTHER_MODEL: &str = "other";

/// At most this many model names keep their keys; past it (a client inventing names with no
/// `known_models` set) keys are built per call, so memory stays bounded.
const MAX_MODELS: usize = 1024;

static IN_FLIGHT: Key = Key::from_static_name(names::IN_FLIGHT_REQUESTS);
static GATEWAY_OVERHEAD: Key = Key::from_static_name(names::GATEWAY_OVERHEAD);

/// Built once per model name a scope sees.
pub(crate) trait ForModel: Sized {
    /// What a recorder gives for the keys.
    type Handles;

    /// The keys of `label` (the model's name, or `other`); `provider` at the attempt scope.
    fn new(label: &Arc<str>, provider: &Arc<str>) -> Self;

    /// Register every key with `recorder`.
    fn register(&self, recorder: &dyn Recorder) -> Self::Handles;
}

/// The request scope's keys of one model.
#[derive(Debug)]
pub(crate) struct RequestKeys {
    /// `bulkhead_requests_total{model, outcome="ok"}`.
    requests_ok: Key,
    /// `bulkhead_cost_usd_total{model}`.
    cost: Key,
}

/// The request scope's handles.
pub(crate) struct RequestHandles {
    pub(crate) in_flight: Gauge,
    pub(crate) overhead: Histogram,
    pub(crate) requests_ok: Counter,
    pub(crate) cost: Gauge,
}

impl ForModel for RequestKeys {
    type Handles = RequestHandles;

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

    fn register(&self, recorder: &dyn Recorder) -> RequestHandles {
        RequestHandles {
            in_flight: recorder.register_gauge(&IN_FLIGHT, &METADATA),
            overhead: recorder.register_histogram(&GATEWAY_OVERHEAD, &METADATA),
            requests_ok: recorder.register_counter(&self.requests_ok, &METADATA),
            cost: recorder.register_gauge(&self.cost, &METADATA),
        }
    }
}

/// The attempt scope's keys of one model at one provider.
#[derive(Debug)]
pub(crate) struct AttemptKeys {
    /// `gen_ai_client_operation_duration_seconds{..., outcome="ok"}`.
    duration_ok: Key,
    /// `gen_ai_client_token_usage{gen_ai_token_type="input" | "output", ...}`.
    input_tokens: Key,
    output_tokens: Key,
    first_chunk: Key,
    per_chunk: Key,
}

/// The attempt scope's handles.
pub(crate) struct AttemptHandles {
    pub(crate) duration_ok: Histogram,
    pub(crate) input_tokens: Histogram,
    pub(crate) output_tokens: Histogram,
    pub(crate) first_chunk: Histogram,
    pub(crate) per_chunk: Histogram,
}

impl ForModel for AttemptKeys {
    type Handles = AttemptHandles;

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

    fn register(&self, recorder: &dyn Recorder) -> AttemptHandles {
        let histogram = |key| recorder.register_histogram(key, &METADATA);
        AttemptHandles {
            duration_ok: histogram(&self.duration_ok),
            input_tokens: histogram(&self.input_tokens),
            output_tokens: histogram(&self.output_tokens),
            first_chunk: histogram(&self.first_chunk),
            per_chunk: histogram(&self.per_chunk),
        }
    }
}

/// A model's label, its keys, and the handles of the first recorder that saw them.
pub(crate) struct Labelled<K: ForModel> {
    /// The metrics label: the model's name, or `other` when it is not a known model.
    pub(crate) label: Arc<str>,
    keys: K,
    registered: OnceLock<Registered<K::Handles>>,
}

/// Handles, and the address of the recorder that gave them.
struct Registered<H> {
    recorder: usize,
    handles: H,
}

impl<K: ForModel> std::fmt::Debug for Labelled<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Labelled")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl<K: ForModel> Labelled<K> {
    /// Run `f` with the current recorder's handles: the remembered ones when that is the
    /// recorder they came from, else freshly registered ones (remembered if none were yet).
    pub(crate) fn record(&self, f: impl FnOnce(&K::Handles)) {
        metrics::with_recorder(|recorder| {
            let id = std::ptr::from_ref(recorder).cast::<()>() as usize;
            let registered = self.registered.get_or_init(|| Registered {
                recorder: id,
                handles: self.keys.register(recorder),
            });
            if registered.recorder == id {
                f(&registered.handles);
            } else {
                f(&self.keys.register(recorder));
            }
        });
    }
}

/// The keys of every model one scope has seen, by name.
#[derive(Debug)]
pub(crate) struct KeyCache<K: ForModel> {
    provider: Arc<str>,
    /// Looked up per request. Clients choose the names when no `known_models` is set, so
    /// the hash is foldhash's seeded `quality` one; SipHash cost more than the rest of the
    /// lookup.
    by_model: RwLock<HashMap<Arc<str>, Arc<Labelled<K>>, foldhash::quality::RandomState>>,
    /// Shared by every model outside `known_models`.
    other: Arc<Labelled<K>>,
}

impl<K: ForModel> KeyCache<K> {
    /// The cache of one scope; `provider` labels the attempt scope's keys.
    pub(crate) fn new(provider: Arc<str>) -> Self {
        let other = labelled(Arc::from(OTHER_MODEL), &provider);
        Self {
            provider,
            by_model: RwLock::new(HashMap::default()),
            other: Arc::new(other),
        }
    }

    /// The label and keys for `model`: `other`'s when `known` is set and lacks it.
    pub(crate) fn get(
        &self,
        known: Option<&foldhash::HashSet<Arc<str>>>,
        model: &str,
    ) -> Arc<Labelled<K>> {
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
        registered: OnceLock::new(),
    }
}
