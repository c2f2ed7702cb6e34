//! The names of the metrics this crate emits, and their descriptions.
//!
//! Prometheus naming (`_seconds`, `_total`) with OpenTelemetry GenAI names where one exists.
//! Every label is low-cardinality: configured model names, provider names, an outcome from a
//! closed set. Never a request id, a user, a tenant or a key.

use metrics::Unit;

/// Histogram, per upstream attempt: seconds from the call to its answer (for a stream: to its
/// end). Labels `gen_ai_request_model` (the upstream model), `gen_ai_provider_name`, `outcome`.
pub const OPERATION_DURATION: &str = "gen_ai_client_operation_duration_seconds";
/// Histogram, per upstream attempt that reported usage: tokens. Labels `gen_ai_token_type`
/// (`input` | `output`), `gen_ai_request_model`, `gen_ai_provider_name`.
pub const TOKEN_USAGE: &str = "gen_ai_client_token_usage";
/// Histogram, per upstream stream that produced a chunk: seconds to its first chunk. Labels
/// `gen_ai_request_model`, `gen_ai_provider_name`.
pub const TIME_TO_FIRST_CHUNK: &str = "gen_ai_client_operation_time_to_first_chunk_seconds";
/// Histogram, per upstream stream with two chunks or more: mean seconds between chunks after
/// the first. Labels `gen_ai_request_model`, `gen_ai_provider_name`.
pub const TIME_PER_OUTPUT_CHUNK: &str = "gen_ai_client_operation_time_per_output_chunk_seconds";
/// Counter, per request: labels `model` (the model the client asked for) and `outcome` (`ok`,
/// the snake_case error kind, or `cancelled` when the caller went away).
pub const REQUESTS_TOTAL: &str = "bulkhead_requests_total";
/// Monotonic US dollars spent, per request; label `model` (the model the client asked for).
///
/// Exposed as a Prometheus *gauge* that only ever grows: the `metrics` facade's counters are
/// integers, and cost is fractional. `rate()` and `increase()` work on it unchanged.
pub const COST_USD_TOTAL: &str = "bulkhead_cost_usd_total";
/// Gauge: requests inside the request-level [`Observe`](crate::Observe) right now (a stream
/// counts until it ends).
pub const IN_FLIGHT_REQUESTS: &str = "bulkhead_in_flight_requests";
/// Histogram, per request: seconds spent in the stack itself, upstream attempts excluded
/// (whole-request time minus the time the attempt-level `Observe` layers measured).
pub const GATEWAY_OVERHEAD: &str = "bulkhead_gateway_overhead_seconds";

/// Label values of `outcome` besides the error kinds.
pub(crate) const OK: &str = "ok";
/// The caller dropped the call or the stream before it ended.
pub(crate) const CANCELLED: &str = "cancelled";

/// Register a description and unit for every metric above with the installed recorder, so
/// `/metrics` carries `# HELP` lines. Called by [`install_prometheus`](crate::install_prometheus);
/// call it yourself after installing another recorder.
pub fn describe_metrics() {
    metrics::describe_histogram!(
        OPERATION_DURATION,
        Unit::Seconds,
        "Duration of upstream GenAI operations (per attempt)"
    );
    metrics::describe_histogram!(
        TOKEN_USAGE,
        Unit::Count,
        "Tokens used by upstream GenAI operations, by token type"
    );
    metrics::describe_histogram!(
        TIME_TO_FIRST_CHUNK,
        Unit::Seconds,
        "Time from an upstream streaming call to its first chunk"
    );
    metrics::describe_histogram!(
        TIME_PER_OUTPUT_CHUNK,
        Unit::Seconds,
        "Mean time between output chunks of an upstream stream, after the first"
    );
    metrics::describe_counter!(
        REQUESTS_TOTAL,
        Unit::Count,
        "Requests served, by requested model and outcome"
    );
    metrics::describe_gauge!(
        COST_USD_TOTAL,
        "US dollars spent, from reported usage and the price table (monotonic)"
    );
    metrics::describe_gauge!(
        IN_FLIGHT_REQUESTS,
        Unit::Count,
        "Requests being served right now"
    );
    metrics::describe_histogram!(
        GATEWAY_OVERHEAD,
        Unit::Seconds,
        "Time spent in Bulkhead itself per request, upstream attempts excluded"
    );
}
