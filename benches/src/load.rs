//! The load generator: open-loop fixed rate and closed-loop max throughput, against two targets
//! (direct to the upstream, and via the gateway) in interleaved rounds.
//!
//! Interleaving matters on a shared 2-core machine: noise (another build, a CPU-frequency
//! step) lasting seconds lands on both targets alike instead of on whichever ran second.
//! Rounds alternate in ABBA order so that neither target always goes first.
//!
//! Latency is measured per request from just before the request is handed to the client to
//! the last byte of the body. The fixed-rate loop is open: requests are spawned on schedule
//! whether or not earlier ones have answered, so a slow response cannot hold later ones back
//! (no coordinated omission).

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{Client, Url};
use tokio::task::JoinSet;

use crate::stats::Samples;

/// A cap on the requests of one fixed-rate round, so a mistyped rate cannot run unbounded.
const MAX_REQUESTS_PER_ROUND: u64 = 1_000_000;

/// One pooled HTTP/1 client with `TCP_NODELAY`, as every load in this package uses.
pub fn client(max_idle: usize) -> reqwest::Result<Client> {
    bulkhead_inference::install_crypto_provider();
    Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(max_idle)
        .timeout(Duration::from_secs(10))
        .build()
}

/// A request to repeat: where to send it and what.
#[derive(Debug, Clone)]
pub struct Request {
    /// The chat completions URL of the target.
    pub url: Url,
    /// The JSON body.
    pub body: Bytes,
    /// Whether the answer is an event stream, which must end with `data: [DONE]`.
    pub stream: bool,
}

impl Request {
    /// A small chat request for `model`, streamed or not.
    pub fn chat(url: Url, model: &str, stream: bool) -> Self {
        let body = format!(
            r#"{{"model":"{model}","messages":[{{"role":"system","content":"You are a helpful assistant."}},{{"role":"user","content":"Say hello to the benchmark."}}],"temperature":0.2,"max_tokens":64,"stream":{stream}}}"#
        );
        Self {
            url,
            body: Bytes::from(body),
            stream,
        }
    }

    /// [`chat`](Self::chat) with a long prompt: the ~40 KB, 25-message conversation of
    /// `bulkhead_testkit::fixtures::long_conversation_request`, whose cost grows with its
    /// text (parsed, escaped again for the upstream).
    pub fn long_chat(url: Url, model: &str, stream: bool) -> Self {
        let mut body: serde_json::Value =
            serde_json::from_str(&bulkhead_testkit::fixtures::long_conversation_request())
                .expect("the fixture is one JSON object");
        body["model"] = model.into();
        body["stream"] = stream.into();
        Self {
            url,
            body: Bytes::from(body.to_string()),
            stream,
        }
    }
}

/// Whether `url` points at this machine (`localhost` or a loopback address): the load tools
/// refuse any other target.
pub fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    // An IPv6 host comes bracketed, `[::1]`.
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Send `request` once; the time to its last byte, or `None` on any failure (a transport
/// error, a status other than 200, a stream without `data: [DONE]`).
pub async fn once(client: &Client, request: &Request) -> Option<Duration> {
    send(client, request).await.ok()
}

/// Why one request of [`send`] failed.
#[derive(Debug)]
pub enum Failure {
    /// The request could not be sent, or its answer not read to the end.
    Transport(reqwest::Error),
    /// The answer's status was not 200.
    Status(http::StatusCode),
    /// The body was not complete: a stream without `data: [DONE]` last, JSON without `}`.
    Incomplete,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) => write!(f, "transport error: {e}"),
            Self::Status(status) => write!(f, "status {status}"),
            Self::Incomplete => f.write_str("incomplete body"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Transport(e) => Some(e),
            _ => None,
        }
    }
}

/// [`once`], saying why a request failed.
pub async fn send(client: &Client, request: &Request) -> Result<Duration, Failure> {
    let start = Instant::now();
    let response = client
        .post(request.url.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(request.body.clone())
        .send()
        .await
        .map_err(Failure::Transport)?;
    if response.status() != http::StatusCode::OK {
        return Err(Failure::Status(response.status()));
    }
    let body = response.bytes().await.map_err(Failure::Transport)?;
    let elapsed = start.elapsed();
    let complete = if request.stream {
        body.ends_with(b"data: [DONE]\n\n")
    } else {
        body.ends_with(b"}")
    };
    if complete {
        Ok(elapsed)
    } else {
        Err(Failure::Incomplete)
    }
}

/// Send `request` at `rate` per second for `duration`, open loop, and wait for every answer.
pub async fn fixed_rate(
    client: &Client,
    request: &Request,
    rate: f64,
    duration: Duration,
) -> Samples {
    let count = ((rate * duration.as_secs_f64()).round() as u64).clamp(1, MAX_REQUESTS_PER_ROUND);
    let start = tokio::time::Instant::now();
    let mut inflight = JoinSet::new();
    let mut samples = Samples::with_capacity(count as usize);
    for i in 0..count {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        let (client, request) = (client.clone(), request.clone());
        inflight.spawn(async move { once(&client, &request).await });
        // Collect what already finished, so the set stays small.
        while let Some(done) = inflight.try_join_next() {
            samples.record(done.ok().flatten());
        }
    }
    while let Some(done) = inflight.join_next().await {
        samples.record(done.ok().flatten());
    }
    samples.elapsed = start.elapsed();
    samples
}

/// Keep `concurrency` requests in flight for `duration` (each worker sends its next request
/// as soon as the previous one answered).
pub async fn closed_loop(
    client: &Client,
    request: &Request,
    concurrency: usize,
    duration: Duration,
) -> Samples {
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, request) = (client.clone(), request.clone());
        workers.spawn(async move {
            let mut samples = Samples::with_capacity(4096);
            while Instant::now() < deadline {
                samples.record(once(&client, &request).await);
            }
            samples
        });
    }
    let mut all = Samples::default();
    while let Some(worker) = workers.join_next().await {
        if let Ok(samples) = worker {
            all.merge(samples);
        }
    }
    all.elapsed = start.elapsed();
    all
}

/// How to load each target in one comparison.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// Open loop at this many requests per second.
    FixedRate(f64),
    /// Closed loop with this many requests in flight.
    Closed(usize),
}

/// Load every target alike for `per_target` each, in alternating rounds of `round` (ABBA
/// order: forwards, then backwards), after a short unmeasured warm-up of each. Returns each
/// target's merged samples, in the order given.
pub async fn compare(
    client: &Client,
    targets: &[&Request],
    shape: Shape,
    per_target: Duration,
    round: Duration,
) -> Vec<Samples> {
    let run = |request: &Request, length: Duration| {
        let (client, request) = (client.clone(), request.clone());
        async move {
            match shape {
                Shape::FixedRate(rate) => fixed_rate(&client, &request, rate, length).await,
                Shape::Closed(n) => closed_loop(&client, &request, n, length).await,
            }
        }
    };
    let warm_up = round.min(Duration::from_millis(300));
    let mut results = Vec::with_capacity(targets.len());
    for target in targets {
        let discarded = run(target, warm_up).await;
        let mut result = Samples::default();
        result.unmeasured = discarded.sent();
        results.push(result);
    }
    let rounds = (per_target.as_secs_f64() / round.as_secs_f64())
        .ceil()
        .max(1.0) as u32;
    let length = per_target / rounds;
    let mut order: Vec<usize> = (0..targets.len()).collect();
    for _ in 0..rounds {
        for &i in &order {
            results[i].merge(run(targets[i], length).await);
        }
        order.reverse();
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_are_loopback() {
        let is = |url: &str| is_loopback(&url.parse().expect("a URL"));
        assert!(is("http://127.0.0.1:9102/v1"));
        assert!(is("http://localhost:9102/v1"));
        assert!(is("http://[::1]:9102/v1"));
        assert!(!is("http://10.0.0.1:9102/v1"));
        assert!(!is("http://example.com/v1"));
    }
}
