//! The Redis and tiered stores against a real `redis-server` (started on a free port by the
//! testkit; skipped with a visible message only when no binary exists, never under CI).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bulkhead_cache::{
    Cache, CacheConfig, CachedValue, Entry, MemoryStore, RedisOptions, RedisStore, Store,
    TieredStore, chat_key,
};
use bulkhead_core::{CacheStatus, ChatModel};
use bulkhead_testkit::redis::RedisServer;
use support::{Isolation, Model, drain, isolation_run, request, response_text};

fn options(prefix: &str) -> RedisOptions {
    RedisOptions {
        timeout: Duration::from_millis(150),
        prefix: format!("test:{prefix}:"),
        cooldown: Duration::from_millis(500),
    }
}

fn redis_store(server: &RedisServer, prefix: &str) -> Arc<RedisStore> {
    Arc::new(RedisStore::new(&server.url(), options(prefix)).expect("valid url"))
}

async fn entry(text: &str, ttl: Duration) -> Entry {
    let (req, _) = request(None, text);
    let response = Model::new().chat(req).await.expect("answer");
    Entry::new(CachedValue::Chat(response), ttl)
}

fn key(text: &str) -> bulkhead_cache::CacheKey {
    let (req, _) = request(None, text);
    chat_key(None, &req)
}

/// A lookup of "q" on a store that cannot answer (a miss) and a write of it; how long the two
/// took.
async fn miss_then_put(store: &RedisStore) -> Duration {
    let started = Instant::now();
    assert!(store.get(&key("q")).await.is_none());
    store
        .put(&key("q"), entry("q", Duration::from_secs(60)).await)
        .await;
    started.elapsed()
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test redis")
}

#[tokio::test]
async fn entries_round_trip_under_the_prefix_with_a_ttl() {
    let Some(server) = RedisServer::try_start() else {
        return;
    };
    let store = redis_store(&server, "roundtrip");
    let e = entry("q", Duration::from_secs(90)).await;
    store.put(&key("q"), e.clone()).await;

    let back = store.get(&key("q")).await.expect("stored");
    assert_eq!(back.value(), e.value());
    assert_eq!(back.created_ms(), e.created_ms());
    assert!(store.get(&key("other")).await.is_none());

    let mut conn = raw(&server).await;
    let name = format!("test:roundtrip:{}", key("q").to_hex());
    let ttl: i64 = redis::cmd("TTL")
        .arg(&name)
        .query_async(&mut conn)
        .await
        .expect("TTL");
    assert!((1..=90).contains(&ttl), "TTL {ttl}");
    let bytes: Vec<u8> = redis::cmd("GET")
        .arg(&name)
        .query_async(&mut conn)
        .await
        .expect("GET");
    assert_eq!(
        bytes.len(),
        e.size() as usize,
        "the compact encoding is what is stored"
    );

    let other_prefix = redis_store(&server, "elsewhere");
    assert!(
        other_prefix.get(&key("q")).await.is_none(),
        "prefixes separate caches"
    );
}

#[tokio::test]
async fn a_redis_that_is_down_at_start_up_is_a_quick_miss_not_an_error() {
    let url = bulkhead_testkit::refused_url()
        .replace("http://", "redis://")
        .replace("/v1", "/");
    let store = RedisStore::new(&url, options("down")).expect("a down redis is not a config error");
    for _ in 0..5 {
        let took = miss_then_put(&store).await;
        assert!(took < Duration::from_millis(800), "{took:?}");
    }
    assert!(matches!(
        RedisStore::new("not a url", RedisOptions::default()),
        Err(bulkhead_cache::CacheError::RedisUrl(_))
    ));
}

#[tokio::test]
async fn a_redis_that_never_answers_is_a_miss_within_the_timeout() {
    // Accepts connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let store =
        RedisStore::new(&format!("redis://127.0.0.1:{port}/"), options("mute")).expect("valid url");
    for _ in 0..3 {
        let took = miss_then_put(&store).await;
        assert!(took < Duration::from_millis(500), "two calls took {took:?}");
    }
    hold.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_requests_never_cross_tenants_on_redis() {
    let Some(server) = RedisServer::try_start() else {
        return;
    };
    let model = Model::new();
    // A generous timeout: this test is about isolation, and 1,000 concurrent requests in a
    // debug build on a busy CI machine must not turn into timeouts.
    let store = RedisStore::new(
        &server.url(),
        RedisOptions {
            timeout: Duration::from_secs(2),
            ..options("isolation")
        },
    )
    .expect("valid url");
    let cache = Cache::new(model.clone(), Arc::new(store) as Arc<dyn Store>);
    let Isolation { cross, hits } = isolation_run(&cache).await;
    assert_eq!(cross, 0);
    assert!(hits > 5_000, "Redis served the repeats ({hits} hits)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_fails_no_request_and_hits_return_after_restart() {
    let Some(mut server) = RedisServer::try_start() else {
        return;
    };
    let model = Model::new();
    // Redis alone, so a hit can only come from Redis.
    let cache = Cache::new(
        model.clone(),
        redis_store(&server, "outage") as Arc<dyn Store>,
    );
    let ask = |cache: Cache<Arc<Model>>| async move {
        let (req, report) = request(Some("t"), "during the outage");
        let result = cache.chat(req).await;
        (result.map(|r| response_text(&r)), report.cache())
    };

    let mut failed = 0;
    for _ in 0..20 {
        let (answer, _) = ask(cache.clone()).await;
        failed += usize::from(answer.ok().as_deref() != Some("t|during the outage"));
    }
    assert_eq!(ask(cache.clone()).await.1, Some(CacheStatus::Hit));

    server.kill();
    let started = Instant::now();
    for _ in 0..50 {
        let (answer, status) = ask(cache.clone()).await;
        failed += usize::from(answer.ok().as_deref() != Some("t|during the outage"));
        assert_eq!(
            status,
            Some(CacheStatus::Miss),
            "no Redis: every request is a miss"
        );
    }
    let per_request = started.elapsed() / 50;
    assert!(
        per_request < Duration::from_millis(50),
        "{per_request:?} per request while down"
    );

    server.restart();
    let back = Instant::now();
    let mut hit_after = None;
    while back.elapsed() < Duration::from_secs(15) {
        let (answer, status) = ask(cache.clone()).await;
        failed += usize::from(answer.ok().as_deref() != Some("t|during the outage"));
        if status == Some(CacheStatus::Hit) {
            hit_after = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(failed, 0, "a Redis outage never fails a request");
    let hit_after = hit_after.expect("hits return once Redis is back");
    eprintln!("while down: {per_request:?} per request; first hit {hit_after:?} after restart");
    assert!(
        hit_after < Duration::from_secs(10),
        "first hit {hit_after:?} after restart"
    );
}

#[tokio::test]
async fn the_tiered_store_fills_l1_on_an_l2_hit_and_keeps_serving_from_it() {
    let Some(mut server) = RedisServer::try_start() else {
        return;
    };
    let writer = TieredStore::new(MemoryStore::new(1 << 20), redis_store(&server, "tiered"));
    let reader = TieredStore::new(MemoryStore::new(1 << 20), redis_store(&server, "tiered"));
    writer
        .put(&key("q"), entry("q", Duration::from_secs(60)).await)
        .await;

    assert!(reader.l1().get(&key("q")).await.is_none());
    let from_l2 = reader.get(&key("q")).await.expect("an L2 hit");
    let in_l1 = reader.l1().get(&key("q")).await.expect("filled into L1");
    assert_eq!(in_l1.value(), from_l2.value());
    assert_eq!(
        in_l1.expires_ms(),
        from_l2.expires_ms(),
        "L1 never extends an entry's life"
    );

    server.kill();
    assert!(
        reader.get(&key("q")).await.is_some(),
        "L1 serves while Redis is down"
    );
    assert!(reader.get(&key("never stored")).await.is_none());
}

#[tokio::test]
async fn two_gateways_sharing_one_redis_serve_each_others_answers() {
    let Some(server) = RedisServer::try_start() else {
        return;
    };
    let config = CacheConfig {
        redis_url: Some(server.url()),
        redis: options("shared"),
        ..CacheConfig::default()
    };
    let (model_a, model_b) = (Model::new(), Model::new());
    let gateway_a = Cache::new(model_a.clone(), config.build_store().expect("store"));
    let gateway_b = Cache::new(model_b.clone(), config.build_store().expect("store"));

    let (mut req, _) = request(Some("team"), "shared answer");
    req.stream = Some(true);
    drain(gateway_a.stream(req).await.expect("stream")).await;

    let (req, report) = request(Some("team"), "shared answer");
    let answer = gateway_b.chat(req).await.expect("answer");
    assert_eq!(report.cache(), Some(CacheStatus::Hit));
    assert_eq!(response_text(&answer), "team|shared answer");
    assert_eq!(model_b.calls(), 0);

    let (req, report) = request(Some("other team"), "shared answer");
    gateway_b.chat(req).await.expect("answer");
    assert_eq!(
        report.cache(),
        Some(CacheStatus::Miss),
        "never across tenants"
    );
}
