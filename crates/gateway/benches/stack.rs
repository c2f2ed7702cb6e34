//! `gateway_stack`: the gateway's own per-request and per-chunk cost, with nothing else in
//! the way.
//!
//! The embedded default gateway (one zero-latency simulated provider, model `simulated`) is
//! called through the service `bulkhead-server` serves (`Gateway::service`) with
//! `tower::ServiceExt::oneshot`: no socket and no hyper, but everything the gateway itself
//! does (request id, key check, body limit, routing, JSON parse, model lookup, the provider
//! call, JSON or SSE encoding, response headers), and the response body read to its end.
//!
//! - `json`: `POST /v1/chat/completions` with a small realistic body; time per request.
//! - `stream/N_chunks`: the same with `"stream": true` and `include_usage`, body drained;
//!   throughput counts the SSE chunk events (`data: [DONE]` not counted), so criterion prints
//!   a per-chunk rate. The simulated provider's per-answer work is included.
//! - `stream_min/N_chunks`: the same stream capped at `max_tokens: 1`; the difference from
//!   `stream` divided by the difference in chunks is the marginal cost of one more chunk.
//! - `json_cache_hit`, `stream_cache_hit/N_chunks`: the embedded default, whose in-memory
//!   cache answers every iteration after the first: the cost of a hit, end to end.
//!
//! The process is set up as `bulkhead-server` sets itself up: mimalloc as the allocator and
//! the Prometheus recorder installed (with its upkeep task), so every metric is recorded as it
//! is in production.
//!
//! The three above run with the cache off, so each iteration goes through the whole stack:
//! the request's `Observe`, the router, retry and breaker, the attempt's `Observe`, the
//! provider.
//!
//! Targets from the issue: at most 10 µs per JSON request and 1 µs per streamed chunk.
//!
//! ```text
//! cargo bench -p bulkhead-gateway --bench stack
//! # a quick look:
//! cargo bench -p bulkhead-gateway --bench stack -- --warm-up-time 1 --measurement-time 3
//! # before and after a change:
//! cargo bench -p bulkhead-gateway --bench stack -- --save-baseline before
//! cargo bench -p bulkhead-gateway --bench stack -- --baseline before
//! ```
//!
//! Instruction counts (repeatable on a loaded machine): with `STACK_PROFILE=SCENARIO:N` the
//! binary skips criterion and runs N iterations of one scenario (`json`, `stream`,
//! `stream_min`, `json_cache_hit`, `stream_cache_hit`) after one warm-up call, so two runs
//! under callgrind with different N give the instructions per request by difference. (Under
//! valgrind, sha2 cannot use the CPU's SHA extensions, so the cache key's SHA-256 counts far
//! more than it costs natively.)
//!
//! ```text
//! cargo bench -p bulkhead-gateway --bench stack --no-run
//! STACK_PROFILE=json:2000 valgrind --tool=callgrind target/release/deps/stack-<hash> --bench
//! ```

use std::hint::black_box;

use axum::body::Body;
use bulkhead_gateway::{Config, Gateway, GatewayService};
use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use http::{Method, Request, StatusCode, header};
use tower::ServiceExt as _;

/// As in `bulkhead-server`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const JSON_BODY: &str = r#"{"model":"simulated","messages":[{"role":"system","content":"You are a concise assistant."},{"role":"user","content":"Summarise why per-request overhead matters for an AI gateway."}],"temperature":0.7,"max_tokens":256}"#;

const STREAM_BODY: &str = r#"{"model":"simulated","messages":[{"role":"system","content":"You are a concise assistant."},{"role":"user","content":"Summarise why per-request overhead matters for an AI gateway."}],"temperature":0.7,"max_tokens":256,"stream":true,"stream_options":{"include_usage":true}}"#;

const STREAM_MIN_BODY: &str = r#"{"model":"simulated","messages":[{"role":"system","content":"You are a concise assistant."},{"role":"user","content":"Summarise why per-request overhead matters for an AI gateway."}],"temperature":0.7,"max_tokens":1,"stream":true,"stream_options":{"include_usage":true}}"#;

fn request(body: &'static str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/v1/chat/completions")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(Bytes::from_static(body.as_bytes())))
        .expect("a valid request")
}

/// One request through the gateway's service, the body read to its end.
async fn call(router: GatewayService, request: Request<Body>) -> (StatusCode, Bytes) {
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body reads");
    (status, body)
}

/// The chunk events of an SSE body (`data: [DONE]` excluded).
fn chunk_events(body: &[u8]) -> usize {
    let text = std::str::from_utf8(body).expect("SSE is UTF-8");
    assert!(text.ends_with("data: [DONE]\n\n"), "a complete stream");
    text.split("\n\n")
        .filter(|event| event.starts_with("data: {"))
        .count()
}

/// A current-thread runtime with the Prometheus recorder installed, as the server runs.
fn runtime() -> tokio::runtime::Runtime {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let handle = bulkhead_observability::install_prometheus().expect("the first recorder");
    runtime.spawn(bulkhead_observability::upkeep(handle));
    runtime
}

fn gateway_stack(c: &mut Criterion) {
    let runtime = runtime();
    // Without the cache every iteration runs the whole stack down to the provider; with it
    // (the embedded default) every iteration after the first is a hit.
    let mut uncached = Config::embedded_default();
    uncached.cache.enabled = false;
    let gateway = Gateway::build(&uncached).expect("the default config builds");
    let router = gateway.service();
    let cached = Gateway::build(&Config::embedded_default())
        .expect("the default config builds")
        .service();

    let check = |body| {
        let (status, bytes) = runtime.block_on(call(router.clone(), request(body)));
        assert_eq!(
            status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        bytes
    };
    check(JSON_BODY);
    let stream_chunks = chunk_events(&check(STREAM_BODY));
    let stream_min_chunks = chunk_events(&check(STREAM_MIN_BODY));

    let mut group = c.benchmark_group("gateway_stack");
    let mut bench_on =
        |router: &GatewayService, name: String, body: &'static str, chunks: Option<usize>| {
            // Requests for JSON, chunks for streams (set every time: criterion keeps it).
            group.throughput(Throughput::Elements(chunks.map_or(1, |c| c as u64)));
            group.bench_function(name, |b| {
                b.to_async(&runtime).iter_batched(
                    || (router.clone(), request(body)),
                    |(router, request)| async move { black_box(call(router, request).await) },
                    BatchSize::SmallInput,
                )
            });
        };
    bench_on(&router, "json".to_owned(), JSON_BODY, None);
    bench_on(
        &router,
        format!("stream/{stream_chunks}_chunks"),
        STREAM_BODY,
        Some(stream_chunks),
    );
    bench_on(
        &router,
        format!("stream_min/{stream_min_chunks}_chunks"),
        STREAM_MIN_BODY,
        Some(stream_min_chunks),
    );
    bench_on(&cached, "json_cache_hit".to_owned(), JSON_BODY, None);
    bench_on(
        &cached,
        format!("stream_cache_hit/{stream_chunks}_chunks"),
        STREAM_BODY,
        Some(stream_chunks),
    );
    group.finish();
}

/// `STACK_PROFILE=SCENARIO:N`: N iterations of one scenario, for a profiler (see the module
/// docs); `None` when the variable is unset.
fn profile_run() -> Option<()> {
    let spec = std::env::var("STACK_PROFILE").ok()?;
    let (scenario, count) = spec.split_once(':').expect("STACK_PROFILE=SCENARIO:N");
    let count: usize = count.parse().expect("N is a number");
    let (cache, body) = match scenario {
        "json" => (false, JSON_BODY),
        "stream" => (false, STREAM_BODY),
        "stream_min" => (false, STREAM_MIN_BODY),
        "json_cache_hit" => (true, JSON_BODY),
        "stream_cache_hit" => (true, STREAM_BODY),
        other => panic!("unknown scenario {other}"),
    };
    let runtime = runtime();
    let mut config = Config::embedded_default();
    config.cache.enabled = cache;
    let router = Gateway::build(&config)
        .expect("the default config builds")
        .service();
    runtime.block_on(async {
        // One warm-up call (fills the cache when it is on).
        let (status, _) = call(router.clone(), request(body)).await;
        assert_eq!(status, StatusCode::OK);
        for _ in 0..count {
            black_box(call(router.clone(), request(body)).await);
        }
    });
    Some(())
}

criterion_group!(benches, gateway_stack);

fn main() {
    if profile_run().is_some() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
