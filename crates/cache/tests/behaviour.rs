//! The cache decorator on the in-memory store: hits and misses, JSON and streams served either
//! way, directives, policy, TTL and max-age on the paused clock, no poisoning, embeddings.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bulkhead_cache::{
    Cache, CacheDirective, CachedValue, DeterministicOnly, Entry, MemoryStore, Store, chat_key,
};
use bulkhead_core::{
    CacheStatus, CallReport, ChatModel, EmbeddingInput, EmbeddingModel, EmbeddingRequest,
    EmbeddingVector, StreamOptions, Tenant,
};
use support::{Behavior, Model, drain, isolation_run, request, response_text, text_of, vector_of};

fn cache(model: &Arc<Model>) -> (Cache<Arc<Model>>, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new(16 * 1024 * 1024));
    (Cache::new(model.clone(), store.clone()), store)
}

async fn stored(store: &MemoryStore, tenant: Option<&str>, text: &str) -> bool {
    let (req, _) = request(tenant, text);
    let tenant = tenant.map(Tenant::new);
    store.get(&chat_key(tenant.as_ref(), &req)).await.is_some()
}

#[tokio::test]
async fn a_json_answer_is_stored_and_served_again_without_calling_the_model() {
    let model = Model::new();
    let (cache, _) = cache(&model);

    let (req, report) = request(Some("a"), "hello");
    let first = cache.chat(req).await.expect("answer");
    assert_eq!(report.cache(), Some(CacheStatus::Miss));
    assert_eq!(response_text(&first), "a|hello");

    let (req, report) = request(Some("a"), "hello");
    let second = cache.chat(req).await.expect("answer");
    assert_eq!(report.cache(), Some(CacheStatus::Hit));
    assert_eq!(second, first);
    assert_eq!(model.calls(), 1);
}

#[tokio::test]
async fn a_stored_stream_serves_json_and_a_stored_json_answer_serves_streams() {
    let model = Model::new();
    let (cache, _) = cache(&model);

    // Stored as a stream, asked for as JSON.
    let (mut req, _) = request(None, "streamed first");
    req.stream = Some(true);
    let (chunks, error) = drain(cache.stream(req).await.expect("stream")).await;
    assert!(error.is_none());
    assert_eq!(text_of(&chunks), "-|streamed first");
    let (req, report) = request(None, "streamed first");
    let json = cache.chat(req).await.expect("answer");
    assert_eq!(report.cache(), Some(CacheStatus::Hit));
    assert_eq!(response_text(&json), "-|streamed first");
    assert_eq!(
        json.usage.as_ref().map(|u| u.total_tokens),
        Some(15),
        "a shared stream is recorded with its usage"
    );

    // Stored as JSON, asked for as a stream, with and without usage.
    let (req, _) = request(None, "json first");
    cache.chat(req).await.expect("answer");
    let (mut req, report) = request(None, "json first");
    req.stream = Some(true);
    req.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });
    let (chunks, error) = drain(cache.stream(req).await.expect("stream")).await;
    assert!(error.is_none());
    assert_eq!(report.cache(), Some(CacheStatus::Hit));
    assert_eq!(text_of(&chunks), "-|json first");
    assert!(
        chunks
            .last()
            .is_some_and(|c| c.choices.is_empty() && c.usage.as_ref().is_some())
    );
    let (req, _) = request(None, "json first");
    let (chunks, _) = drain(cache.stream(req).await.expect("stream")).await;
    assert!(chunks.iter().all(|c| c.usage.as_ref().is_none()));
    assert_eq!(model.calls(), 2);
}

#[tokio::test]
async fn no_cache_skips_the_lookup_but_stores_and_no_store_does_neither() {
    let model = Model::new();
    let (cache, store) = cache(&model);

    let (req, _) = request(None, "q");
    cache.chat(req).await.expect("answer");

    let (mut req, report) = request(None, "q");
    req.extensions.insert(CacheDirective::parse("no-cache"));
    cache.chat(req).await.expect("answer");
    assert_eq!(report.cache(), Some(CacheStatus::Bypass));
    assert_eq!(
        model.calls(),
        2,
        "no-cache calls the model even though q is cached"
    );

    let (mut req, report) = request(None, "fresh");
    req.extensions.insert(CacheDirective::parse("no-cache"));
    cache.chat(req).await.expect("answer");
    assert_eq!(report.cache(), Some(CacheStatus::Bypass));
    assert!(stored(&store, None, "fresh").await, "no-cache still stores");

    let (mut req, report) = request(None, "private");
    req.extensions.insert(CacheDirective::parse("no-store"));
    cache.chat(req).await.expect("answer");
    assert_eq!(report.cache(), Some(CacheStatus::Bypass));
    assert!(
        !stored(&store, None, "private").await,
        "no-store stores nothing"
    );
    let (mut req, _) = request(None, "private");
    req.stream = Some(true);
    req.extensions.insert(CacheDirective::parse("no-store"));
    drain(cache.stream(req).await.expect("stream")).await;
    assert!(!stored(&store, None, "private").await);
}

#[tokio::test(start_paused = true)]
async fn entries_expire_after_their_ttl_and_max_age_refuses_older_ones() {
    let model = Model::new();
    let (cache, _) = cache(&model);
    let cache = cache.with_ttl(Duration::from_secs(600));

    let (req, _) = request(None, "q");
    cache.chat(req).await.expect("answer");
    tokio::time::advance(Duration::from_secs(120)).await;

    let (mut req, report) = request(None, "q");
    req.extensions.insert(CacheDirective::parse("max-age=300"));
    cache.chat(req).await.expect("answer");
    assert_eq!(
        report.cache(),
        Some(CacheStatus::Hit),
        "120 s old < max-age 300"
    );

    let (mut req, report) = request(None, "q");
    req.extensions.insert(CacheDirective::parse("max-age=60"));
    cache.chat(req).await.expect("answer");
    assert_eq!(
        report.cache(),
        Some(CacheStatus::Miss),
        "120 s old > max-age 60"
    );
    assert_eq!(model.calls(), 2);

    // The refreshed entry (from the max-age miss) is 0 s old; 601 s later it is gone.
    tokio::time::advance(Duration::from_secs(599)).await;
    let (req, report) = request(None, "q");
    cache.chat(req).await.expect("answer");
    assert_eq!(report.cache(), Some(CacheStatus::Hit), "599 s < ttl 600");
    tokio::time::advance(Duration::from_secs(2)).await;
    let (req, report) = request(None, "q");
    cache.chat(req).await.expect("answer");
    assert_eq!(report.cache(), Some(CacheStatus::Miss), "601 s > ttl 600");
    assert_eq!(model.calls(), 3);
}

#[tokio::test]
async fn the_deterministic_policy_bypasses_sampled_requests() {
    let model = Model::new();
    let (cache, _) = cache(&model);
    let cache = cache.with_policy(Arc::new(DeterministicOnly));

    for _ in 0..2 {
        let (mut req, report) = request(None, "creative");
        req.temperature = Some(serde_json::Number::from_f64(0.9).expect("finite"));
        cache.chat(req).await.expect("answer");
        assert_eq!(report.cache(), Some(CacheStatus::Bypass));
    }
    assert_eq!(model.calls(), 2);
    for _ in 0..2 {
        let (mut req, _) = request(None, "exact");
        req.temperature = Some(0.into());
        cache.chat(req).await.expect("answer");
    }
    assert_eq!(model.calls(), 3, "temperature 0 is cached");
}

#[tokio::test]
async fn errors_cut_streams_and_unfinished_streams_store_nothing() {
    let model = Model::new();
    let (cache, store) = cache(&model);

    model.set(Behavior::Fail);
    let (req, _) = request(None, "q");
    let error = cache.chat(req).await.expect_err("scripted failure");
    assert_eq!(error.status(), Some(500));
    let (mut req, _) = request(None, "q");
    req.stream = Some(true);
    let Err(error) = cache.stream(req).await else {
        panic!("a failure before the stream starts is the call's error");
    };
    assert_eq!(error.status(), Some(500));
    assert!(!stored(&store, None, "q").await);

    model.set(Behavior::CutStream);
    let (mut req, _) = request(None, "q");
    req.stream = Some(true);
    let (chunks, error) = drain(cache.stream(req).await.expect("stream starts")).await;
    assert!(!chunks.is_empty());
    assert!(error.is_some(), "the cut reaches the client");
    assert!(!stored(&store, None, "q").await);

    model.set(Behavior::NoFinish);
    let (mut req, _) = request(None, "q");
    req.stream = Some(true);
    let (_, error) = drain(cache.stream(req).await.expect("stream starts")).await;
    assert!(error.is_none());
    assert!(
        !stored(&store, None, "q").await,
        "no finish_reason: not stored"
    );

    model.set(Behavior::Ok);
    let (req, report) = request(None, "q");
    cache.chat(req).await.expect("answer");
    assert_eq!(report.cache(), Some(CacheStatus::Miss));
    assert!(stored(&store, None, "q").await);
    store.sync().await;
    assert_eq!(store.entry_count(), 1, "only the good answer was written");
}

#[tokio::test]
async fn a_client_that_aborts_a_stream_writes_nothing_and_stops_the_upstream_call() {
    let model = Model::slow(Duration::ZERO, Duration::from_millis(50));
    let (cache, store) = cache(&model);

    let (mut req, _) = request(None, "abandoned");
    req.stream = Some(true);
    let mut stream = cache.stream(req).await.expect("stream");
    use futures_util::StreamExt;
    stream.next().await.expect("a first chunk").expect("ok");
    drop(stream);

    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.flights_in_progress(), 0);
    assert!(!stored(&store, None, "abandoned").await);
    store.sync().await;
    assert_eq!(store.entry_count(), 0);

    // The same for a JSON caller that goes away (its future dropped mid-call).
    let model = Model::slow(Duration::from_millis(300), Duration::ZERO);
    let (cache, store) = self::cache(&model);
    let (req, _) = request(None, "gone");
    let call = tokio::time::timeout(Duration::from_millis(50), cache.chat(req)).await;
    assert!(call.is_err(), "the caller gave up");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cache.flights_in_progress(), 0);
    store.sync().await;
    assert_eq!(store.entry_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_identical_cold_requests_make_one_upstream_call() {
    let model = Model::slow(Duration::from_millis(200), Duration::ZERO);
    let (cache, _) = cache(&model);

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                let (req, report) = request(Some("t"), "same question");
                let answer = cache.chat(req).await;
                (answer, report)
            })
        })
        .collect();
    let mut correct = 0;
    for task in tasks {
        let (answer, report) = task.await.expect("task");
        let answer = answer.expect("answer");
        if response_text(&answer) == "t|same question" {
            correct += 1;
        }
        assert!(
            report.deployment().is_some(),
            "followers learn who answered"
        );
    }
    assert_eq!(model.calls(), 1);
    assert_eq!(correct, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_identical_streams_share_one_call_and_late_joiners_get_every_chunk() {
    let model = Model::slow(Duration::from_millis(50), Duration::from_millis(20));
    let (cache, _) = cache(&model);

    let tasks: Vec<_> = (0..20u64)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move {
                // Joiners arrive over ~100 ms while the answer streams.
                tokio::time::sleep(Duration::from_millis(5 * i)).await;
                let (mut req, _) = request(Some("t"), "stream this please");
                req.stream = Some(true);
                drain(cache.stream(req).await.expect("stream")).await
            })
        })
        .collect();
    for task in tasks {
        let (chunks, error) = task.await.expect("task");
        assert!(error.is_none());
        assert_eq!(text_of(&chunks), "t|stream this please");
        assert!(
            chunks
                .iter()
                .any(|c| c.choices.iter().any(|c| c.finish_reason.is_some()))
        );
    }
    assert_eq!(model.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_leader_leaves_the_others_still_get_the_answer() {
    let model = Model::slow(Duration::ZERO, Duration::from_millis(30));
    let (cache, store) = cache(&model);
    use futures_util::StreamExt;

    let (mut req, _) = request(None, "shared");
    req.stream = Some(true);
    let mut leader = cache.stream(req).await.expect("stream");
    leader.next().await.expect("chunk").expect("ok");

    let (mut req, _) = request(None, "shared");
    req.stream = Some(true);
    let follower = cache.stream(req).await.expect("stream");
    drop(leader);

    let (chunks, error) = drain(follower).await;
    assert!(error.is_none());
    assert_eq!(text_of(&chunks), "-|shared");
    assert_eq!(model.calls(), 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        stored(&store, None, "shared").await,
        "a complete answer is stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_shared_call_fails_every_waiter_and_stores_nothing() {
    let model = Model::slow(Duration::from_millis(100), Duration::ZERO);
    model.set(Behavior::Fail);
    let (cache, store) = cache(&model);

    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move {
                let (mut req, _) = request(None, "doomed");
                if i % 2 == 0 {
                    cache.chat(req).await.map(|_| ())
                } else {
                    req.stream = Some(true);
                    cache.stream(req).await.map(|_| ())
                }
            })
        })
        .collect();
    for task in tasks {
        let error = task
            .await
            .expect("task")
            .expect_err("everyone sees the failure");
        assert_eq!(error.status(), Some(500));
    }
    assert_eq!(model.calls(), 2, "one JSON flight and one stream flight");
    store.sync().await;
    assert_eq!(store.entry_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_requests_never_cross_tenants_in_memory() {
    let model = Model::new();
    let (cache, _) = cache(&model);
    let isolation = isolation_run(&cache).await;
    assert_eq!(isolation.cross, 0);
    assert!(model.calls() < 10_000, "repeats were served from the cache");
}

#[test]
fn outcomes_are_counted_by_result() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let model = Model::new();
            let (cache, _) = cache(&model);
            for _ in 0..3 {
                let (req, _) = request(None, "q");
                cache.chat(req).await.expect("answer");
            }
            let (mut req, _) = request(None, "q");
            req.extensions.insert(CacheDirective::parse("no-store"));
            cache.chat(req).await.expect("answer");
        });
    });
    let mut counts = std::collections::HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        if key.key().name() != bulkhead_cache::telemetry::CACHE_REQUESTS_TOTAL {
            continue;
        }
        let result = key
            .key()
            .labels()
            .find(|l| l.key() == "result")
            .map(|l| l.value().to_owned())
            .expect("a result label");
        if let DebugValue::Counter(n) = value {
            counts.insert(result, n);
        }
    }
    assert_eq!(counts.get("miss"), Some(&1));
    assert_eq!(counts.get("hit"), Some(&2));
    assert_eq!(counts.get("bypass"), Some(&1));
}

#[tokio::test]
async fn the_memory_store_stays_within_its_byte_budget() {
    let store = MemoryStore::new(64 * 1024);
    let model = Model::new();
    let cache = Cache::new(model.clone(), Arc::new(store.clone()) as Arc<dyn Store>);
    for i in 0..2000 {
        let (req, _) = request(None, &format!("question number {i} {}", "x".repeat(200)));
        cache.chat(req).await.expect("answer");
    }
    store.sync().await;
    assert!(store.weighted_bytes() <= 64 * 1024, "{store:?}");
    assert!(store.entry_count() > 10, "{store:?}");
}

#[tokio::test]
async fn embeddings_are_cached_per_input() {
    let model = Model::new();
    let store = Arc::new(MemoryStore::new(1 << 20));
    let cache = Cache::new(model.clone(), store as Arc<dyn Store>);
    let embed = |inputs: &[&str], tenant: &str| {
        let mut req = EmbeddingRequest {
            model: "embed".into(),
            input: EmbeddingInput::Texts(inputs.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        req.extensions.insert(Tenant::new(tenant));
        let report = CallReport::new();
        req.extensions.insert(report.clone());
        (req, report)
    };

    let (req, report) = embed(&["alpha", "beta"], "a");
    let first = cache.embed(req).await.expect("vectors");
    assert_eq!(report.cache(), Some(CacheStatus::Miss));
    assert_eq!(model.embedded_inputs(), 2);

    let (req, report) = embed(&["beta", "gamma", "alpha"], "a");
    let second = cache.embed(req).await.expect("vectors");
    assert_eq!(report.cache(), Some(CacheStatus::Miss), "gamma was missing");
    assert_eq!(model.embedded_inputs(), 3, "only gamma went upstream");
    let vectors: Vec<_> = second
        .data
        .iter()
        .map(|d| (d.index, d.embedding.clone()))
        .collect();
    assert_eq!(
        vectors,
        vec![
            (0, EmbeddingVector::Float(vector_of("beta"))),
            (1, EmbeddingVector::Float(vector_of("gamma"))),
            (2, EmbeddingVector::Float(vector_of("alpha"))),
        ]
    );
    assert_eq!(first.data[0].embedding, second.data[2].embedding);

    let (req, report) = embed(&["gamma", "beta"], "a");
    cache.embed(req).await.expect("vectors");
    assert_eq!(report.cache(), Some(CacheStatus::Hit));
    assert_eq!(model.calls(), 2);

    let (req, report) = embed(&["alpha"], "b");
    cache.embed(req).await.expect("vectors");
    assert_eq!(report.cache(), Some(CacheStatus::Miss), "another tenant");
    assert_eq!(model.calls(), 3);
}

#[tokio::test]
async fn a_hit_for_an_entry_put_directly_is_served() {
    // The store is the only contract between replicas: an entry put by anyone is a hit.
    let model = Model::new();
    let (cache, store) = cache(&model);
    let (req, _) = request(Some("x"), "planted");
    let key = chat_key(Some(&Tenant::new("x")), &req);
    let mut planted = Model::default();
    planted.words = 1;
    let answer = planted
        .chat(request(Some("x"), "planted").0)
        .await
        .expect("answer");
    store
        .put(
            &key,
            Entry::new(CachedValue::Chat(answer.clone()), Duration::from_secs(60)),
        )
        .await;
    assert_eq!(cache.chat(req).await.expect("hit"), answer);
    assert_eq!(model.calls(), 0);
}

/// An upstream with a bug: it panics mid-call.
struct Panics;

#[bulkhead_core::async_trait]
impl ChatModel for Panics {
    async fn chat(
        &self,
        _: bulkhead_core::ChatRequest,
    ) -> bulkhead_core::Result<bulkhead_core::ChatResponse> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        panic!("an upstream bug (this panic is expected by the test)");
    }
    async fn stream(
        &self,
        _: bulkhead_core::ChatRequest,
    ) -> bulkhead_core::Result<bulkhead_core::ChatStream> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        panic!("an upstream bug (this panic is expected by the test)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_call_that_dies_gives_every_waiter_an_error_not_a_hang() {
    let cache = Cache::new(
        Panics,
        Arc::new(MemoryStore::new(1 << 20)) as Arc<dyn Store>,
    );
    let cache = Arc::new(cache);
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move {
                let (mut req, _) = request(None, "boom");
                let call = async {
                    if i % 2 == 0 {
                        cache.chat(req).await.map(|_| ())
                    } else {
                        req.stream = Some(true);
                        cache.stream(req).await.map(|_| ())
                    }
                };
                tokio::time::timeout(Duration::from_secs(5), call).await
            })
        })
        .collect();
    for task in tasks {
        let result = task.await.expect("task").expect("no waiter hangs");
        assert!(result.is_err());
    }
    assert_eq!(cache.flights_in_progress(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalesced_streams_get_the_usage_chunk_only_when_they_asked() {
    let model = Model::slow(Duration::from_millis(20), Duration::from_millis(20));
    let (cache, _) = cache(&model);

    let (mut plain, _) = request(None, "usage?");
    plain.stream = Some(true);
    let plain = cache.stream(plain).await.expect("stream");
    let (mut with_usage, _) = request(None, "usage?");
    with_usage.stream = Some(true);
    with_usage.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });
    let with_usage = cache.stream(with_usage).await.expect("stream");

    let ((plain, _), (with_usage, _)) = tokio::join!(drain(plain), drain(with_usage));
    assert_eq!(model.calls(), 1);
    assert!(
        plain
            .iter()
            .all(|c| c.usage.as_ref().is_none() && !c.choices.is_empty())
    );
    assert!(
        with_usage
            .last()
            .is_some_and(|c| c.choices.is_empty() && c.usage.as_ref().is_some())
    );
    assert_eq!(text_of(&plain), text_of(&with_usage));
}
