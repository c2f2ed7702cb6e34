//! Serving thread per core (`serve_workers`): every worker thread answers, a replaced router
//! reaches all of them, a shutdown lets requests in flight finish, and an address in use is
//! refused.

use std::num::NonZeroUsize;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bulkhead_gateway::ServerConfig;
use bulkhead_gateway::serve::{Listeners, LiveRouter, serve_workers};

/// Answers `/thread` with the name of the thread that served it, prefixed by `tag`, and
/// `/slow` the same after 300 ms.
fn router(tag: &'static str) -> Router {
    let name = move || format!("{tag} {}", std::thread::current().name().unwrap_or("?"));
    Router::new()
        .route("/thread", get(move || async move { name() }))
        .route(
            "/slow",
            get(move || async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                name()
            }),
        )
}

/// GET `url` on a connection of its own (no pooling), so each request is a new connection.
async fn get_fresh(url: &str) -> String {
    bulkhead_inference::install_crypto_provider();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let response = client.get(url).send().await.expect("request");
    assert_eq!(response.status(), 200);
    response.text().await.expect("body")
}

#[tokio::test]
async fn two_workers_answer_follow_a_reload_and_finish_in_flight_requests_on_shutdown() {
    let workers = NonZeroUsize::new(2).expect("2");
    let listeners = Listeners::bind("127.0.0.1:0".parse().expect("addr"), workers).expect("bind");
    assert_eq!(listeners.workers(), 2);
    let root = format!("http://{}", listeners.local_addr());
    let live = LiveRouter::new(router("v1"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = live.clone();
    let server = tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.await;
        };
        serve_workers(listeners, served, &ServerConfig::default(), stop).await
    });

    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..24 {
        seen.insert(get_fresh(&format!("{root}/thread")).await);
    }
    let expected: std::collections::BTreeSet<_> = ["v1 bulkhead-worker-0", "v1 bulkhead-worker-1"]
        .map(str::to_owned)
        .into();
    if cfg!(target_os = "linux") {
        // SO_REUSEPORT spreads connections by their addresses: 24 all on one socket would
        // happen about twice in ten million runs.
        assert_eq!(seen, expected, "every worker answers");
    } else {
        assert!(seen.is_subset(&expected), "{seen:?}");
    }

    live.replace(router("v2"));
    for _ in 0..8 {
        let answer = get_fresh(&format!("{root}/thread")).await;
        assert!(answer.starts_with("v2 bulkhead-worker-"), "{answer}");
    }

    let slow = tokio::spawn(get_fresh_owned(format!("{root}/slow")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).expect("stop");
    let answer = slow.await.expect("slow request");
    assert!(answer.starts_with("v2 bulkhead-worker-"), "{answer}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve_workers returns once the slow request finished")
        .expect("no panic")
        .expect("a clean stop");
    let refused = reqwest::Client::new()
        .get(format!("{root}/thread"))
        .send()
        .await;
    assert!(refused.is_err(), "no worker listens after the shutdown");
}

async fn get_fresh_owned(url: String) -> String {
    get_fresh(&url).await
}

#[test]
fn an_address_in_use_is_refused_not_shared() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let error = Listeners::bind(addr, NonZeroUsize::new(2).expect("2")).expect_err("in use");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
}
