//! Strategy acceptance: weighted shares, and P2C avoiding a slow target then winning it back.

mod common;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;

use bulkhead_core::{CallReport, ChatModel as _};
use bulkhead_inference::{OpenAiConfig, OpenAiProvider};
use bulkhead_orchestration::{P2c, RoundRobin, Router, Target, Weighted};
use bulkhead_testkit::MockUpstream;
use common::{Scripted, request};

#[test]
fn weighted_shares_follow_weights_within_two_points_over_10000_picks() {
    let m = Scripted::ok("m");
    let weights = [5u32, 3, 2];
    let mut builder = Router::builder("chat").strategy(Weighted::new());
    for w in weights {
        builder = builder.target(Target::new("p", "m", m.clone()).weight(w));
    }
    let router = builder.build().expect("router");
    let mut counts = [0usize; 3];
    for _ in 0..10_000 {
        counts[router.pick().expect("a pick")] += 1;
    }
    for (count, w) in counts.iter().zip(weights) {
        let share = *count as f64 / 100.0;
        let expected = f64::from(w) * 10.0;
        assert!((share - expected).abs() <= 2.0, "{counts:?}");
    }
}

#[test]
fn round_robin_takes_turns() {
    let m = Scripted::ok("m");
    let router = Router::builder("chat")
        .target(Target::new("a", "m", m.clone()).weight(9))
        .target(Target::new("b", "m", m))
        .strategy(RoundRobin::new())
        .build()
        .expect("router");
    let picks: Vec<_> = (0..4).filter_map(|_| router.pick()).collect();
    assert_eq!(picks, [0, 1, 0, 1]);
}

/// What a run of requests did: how many went to provider `slow`, and how long requests took
/// on it and on the others.
#[derive(Debug, Default)]
struct Tally {
    slow: usize,
    total: usize,
    slow_time: Duration,
    fast_time: Duration,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.slow += other.slow;
        self.total += other.total;
        self.slow_time += other.slow_time;
        self.fast_time += other.fast_time;
    }

    /// Mean latency on the slow provider and on the others.
    fn means(&self) -> (Duration, Duration) {
        let slow = self.slow_time / u32::try_from(self.slow.max(1)).expect("small");
        let fast = self.fast_time / u32::try_from((self.total - self.slow).max(1)).expect("small");
        (slow, fast)
    }
}

/// Run `total` requests with `concurrency` workers, counting those provider `slow` answered.
async fn drive(router: &Arc<Router>, total: usize, concurrency: usize) -> Tally {
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let router = router.clone();
        let share = total / concurrency + usize::from(w < total % concurrency);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            for _ in 0..share {
                let mut req = request("chat");
                let report = CallReport::new();
                req.extensions.insert(report.clone());
                let started = tokio::time::Instant::now();
                router.chat(req).await.expect("answer");
                let took = started.elapsed();
                tally.total += 1;
                if report.deployment().is_some_and(|d| &*d.provider == "slow") {
                    tally.slow += 1;
                    tally.slow_time += took;
                } else {
                    tally.fast_time += took;
                }
            }
            tally
        }));
    }
    let mut tally = Tally::default();
    for t in tasks {
        tally.add(&t.await.expect("worker"));
    }
    tally
}

/// Four in-process targets on tokio's paused clock (2 ms vs 20 ms), so the 30 s recovery
/// window is virtual and the test takes about a second.
#[tokio::test(start_paused = true)]
async fn p2c_starves_a_slow_target_and_gives_it_back_its_share_once_fast() {
    let models: Vec<_> = ["a", "b", "c", "slow"]
        .into_iter()
        .map(|name| {
            let m = Scripted::ok(name);
            m.set_delay(Duration::from_millis(2));
            m
        })
        .collect();
    models[3].set_delay(Duration::from_millis(20));
    let mut builder = Router::builder("chat").strategy(P2c::with_seed(1));
    for (m, name) in models.iter().zip(["a", "b", "c", "slow"]) {
        builder = builder.target(Target::new(name, "m", m.clone()));
    }
    let router = Arc::new(builder.build().expect("router"));

    let slow = drive(&router, 2000, 8).await.slow;
    assert!(slow <= 100, "slow target got {slow} of 2000 (> 5%)");

    models[3].set_delay(Duration::from_millis(2));
    let start = tokio::time::Instant::now();
    let mut recovered = None;
    while start.elapsed() < Duration::from_secs(30) {
        let slow = drive(&router, 1000, 8).await.slow;
        if slow >= 150 {
            recovered = Some(start.elapsed());
            break;
        }
    }
    let recovered = recovered.expect("the recovered target regains >= 15% within 30 s");
    eprintln!("recovered to >= 15% after {recovered:?} (virtual)");
}

/// A loopback HTTP proxy in front of a mock upstream that holds every request for a delay
/// which can be changed while it runs, so an upstream can turn slow and fast again. (The
/// mock's own delays are scripted per request in advance; replies queued while slow would
/// still be slow after the switch, and one slow reply resets a peak-EWMA estimate.)
struct DelayProxy {
    base_url: String,
    delay_us: Arc<AtomicU64>,
}

impl DelayProxy {
    async fn start(upstream: &MockUpstream, delay: Duration) -> Self {
        let delay_us = Arc::new(AtomicU64::new(delay.as_micros() as u64));
        let root = upstream.root_url();
        bulkhead_inference::install_crypto_provider();
        let client = reqwest::Client::new();
        let held = delay_us.clone();
        let app = axum::Router::new().fallback(move |request: Request| {
            let (root, client, held) = (root.clone(), client.clone(), held.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .expect("request body");
                tokio::time::sleep(Duration::from_micros(held.load(Ordering::Relaxed))).await;
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let answer = client
                    .request(parts.method, format!("{root}{path}"))
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await
                    .expect("upstream answers");
                let mut response = Response::builder().status(answer.status());
                if let Some(headers) = response.headers_mut() {
                    headers.extend(answer.headers().clone());
                }
                response
                    .body(Body::from(answer.bytes().await.expect("upstream body")))
                    .expect("response")
            }
        });
        let addr = bulkhead_testkit::serve_router(app).await;
        DelayProxy {
            base_url: format!("http://{addr}/v1"),
            delay_us,
        }
    }

    fn set_delay(&self, delay: Duration) {
        self.delay_us
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }
}

/// The acceptance over real loopback: four OpenAI providers, each calling a mock upstream
/// through a [`DelayProxy`]. The fast ones are held 10 ms and the slow one 170 ms: the two
/// loopback hops of a debug build add about 8 ms to each, so the slow one takes about 10x as
/// long (the test prints the measured means). Immediate replies would make "10x" depend on how
/// loaded the shared machine is. The router keeps the default latency decay.
///
/// The slow one gets at most 5% of 2,000 requests (round robin would give it 500). Then it
/// turns fast; requests keep flowing in batches of 200, and its share over a sliding window
/// of the last 400 must reach 15% within 30 s of the switch: that is the time its last slow
/// estimate needs to decay to the others' cost, up to about 20 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2c_over_loopback_starves_a_10x_slower_upstream_and_gives_it_back_its_share_once_fast() {
    const FAST: Duration = Duration::from_millis(10);
    const SLOW: Duration = Duration::from_millis(170);
    let mut keep = Vec::new();
    let mut builder = Router::builder("chat").strategy(P2c::new());
    for name in ["a", "b", "c", "slow"] {
        let upstream = MockUpstream::start().await;
        let proxy = DelayProxy::start(&upstream, if name == "slow" { SLOW } else { FAST }).await;
        let provider =
            OpenAiProvider::new(OpenAiConfig::new(name, proxy.base_url.clone())).expect("provider");
        builder = builder.target(Target::new(name, "mock-model", Arc::new(provider)));
        keep.push((upstream, proxy));
    }
    let router = Arc::new(builder.build().expect("router"));

    let slow_phase = drive(&router, 2000, 4).await;
    let (slow_mean, fast_mean) = slow_phase.means();
    eprintln!(
        "slow phase: slow upstream got {} of 2000; mean latency {slow_mean:?} vs {fast_mean:?} \
         on the others ({:.1}x)",
        slow_phase.slow,
        slow_mean.as_secs_f64() / fast_mean.as_secs_f64()
    );
    assert!(
        slow_phase.slow <= 100,
        "slow upstream got {} of 2000 (> 5%)",
        slow_phase.slow
    );
    let (slow_upstream, slow_proxy) = &keep[3];
    assert_eq!(slow_upstream.calls(), slow_phase.slow);

    slow_proxy.set_delay(FAST);
    let switched = tokio::time::Instant::now();
    let mut window = VecDeque::new();
    let recovered = loop {
        let batch = drive(&router, 200, 4).await;
        window.push_back(batch);
        if window.len() > 2 {
            window.pop_front();
        }
        let (slow, total) = window
            .iter()
            .fold((0, 0), |(s, t), b| (s + b.slow, t + b.total));
        if total == 400 && slow * 100 >= total * 15 {
            break switched.elapsed();
        }
        assert!(
            switched.elapsed() < Duration::from_secs(30),
            "30 s after the switch the recovered upstream still gets {slow} of the last {total}"
        );
    };
    eprintln!("recovered to >= 15% of a 400-request window {recovered:?} after the switch");
}
