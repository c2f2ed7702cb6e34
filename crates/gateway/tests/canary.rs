//! Canaries: a full run at `trace` level with canary API keys (the provider's and a client's)
//! and a canary prompt, then every place the gateway writes is searched for them: logs,
//! `/metrics`, every response body (error bodies included) and every Redis entry. They must
//! appear 0 times.
//!
//! One test in this file: the log subscriber and the Prometheus recorder are global.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bulkhead_gateway::{Config, Gateway};
use bulkhead_observability::telemetry::{LogFormat, fmt_layer};
use bulkhead_testkit::redis::RedisServer;
use bulkhead_testkit::{MockUpstream, Step};
use common::{client, get_text, key_hash, mock_toml, post_keyed, serve_router};
use serde_json::json;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;

const PROVIDER_KEY: &str = "sk-canary-provider-7f3a9c";
const CLIENT_KEY: &str = "bh-canary-client-2b8e41";
const WRONG_KEY: &str = "bh-canary-wrong-9d0c55";
const PROMPT: &str = "canary-prompt-c4e1f0 what is my secret?";
const CANARIES: [&str; 4] = [PROVIDER_KEY, CLIENT_KEY, WRONG_KEY, "canary-prompt-c4e1f0"];

/// Everything the log subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn leaks(place: &str, text: &str) -> Vec<String> {
    CANARIES
        .iter()
        .filter(|c| text.contains(*c))
        .map(|c| format!("{c} in {place}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaries_appear_nowhere() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::registry()
        .with(EnvFilter::new("trace"))
        .with(fmt_layer(LogFormat::Json, move || writer.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let metrics = bulkhead_observability::install_prometheus().expect("exporter");
    let Some(redis) = RedisServer::try_start() else {
        return;
    };

    let upstream = MockUpstream::start().await;
    let toml = format!(
        r#"{}
[cache]
redis_url = "{}"

[[keys]]
name = "canary-team"
hash = "{}"
"#,
        mock_toml(
            &upstream.base_url(),
            &format!("api_key = \"{PROVIDER_KEY}\"")
        ),
        redis.url(),
        key_hash(CLIENT_KEY)
    );
    let config = Config::from_toml_str(&toml, "canary.toml").expect("config");
    let gateway = Gateway::build(&config).expect("gateway");
    let root = serve_router(gateway.router_with_metrics(metrics)).await;

    let http = client();
    let url = format!("{root}/v1/chat/completions");
    let chat = |stream: bool| json!({"model": "chat", "stream": stream, "messages": [{"role": "user", "content": PROMPT}]});
    let mut bodies = Vec::new();
    let send = async |key: &str, body: serde_json::Value| {
        post_keyed(&http, &url, key, &body)
            .await
            .text()
            .await
            .expect("body")
    };

    // An answer (cached in Redis), the same again (a hit), a stream.
    upstream.push(Step::text("Nothing to see here."));
    bodies.push(send(CLIENT_KEY, chat(false)).await);
    bodies.push(send(CLIENT_KEY, chat(false)).await);
    upstream.push(Step::stream_text(&["Nothing ", "here ", "either."]));
    bodies.push(send(CLIENT_KEY, chat(true)).await);
    // Upstream failures whose messages quote the provider's key. (An upstream's message is
    // passed to the client that made the request, keys scrubbed; it is never logged.)
    let quoting = format!("Incorrect API key provided: {PROVIDER_KEY}.");
    for status in [401, 500, 400] {
        upstream.push(Step::error(status, &quoting));
        let mut fresh = chat(false);
        fresh["temperature"] = json!(f64::from(status) / 1000.0);
        bodies.push(send(CLIENT_KEY, fresh).await);
    }
    // A wrong key, a malformed body quoting the prompt, an unknown model.
    bodies.push(send(WRONG_KEY, chat(false)).await);
    let malformed = http
        .post(&url)
        .bearer_auth(CLIENT_KEY)
        .header("content-type", "application/json")
        .body(format!(r#"{{"model": "chat", "messages": "{PROMPT}"}}"#))
        .send()
        .await
        .expect("send");
    assert_eq!(malformed.status(), 400);
    bodies.push(malformed.text().await.expect("body"));
    let mut unknown = chat(false);
    unknown["model"] = json!("nope");
    bodies.push(send(CLIENT_KEY, unknown).await);

    let scraped = get_text(&http, &format!("{root}/metrics")).await;

    // Everything in Redis.
    let redis_cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &redis.port().to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let keys = redis_cli(&["--scan"]);
    let mut stored = String::new();
    for key in keys.lines().filter(|k| !k.is_empty()) {
        stored.push_str(key);
        stored.push('\n');
        stored.push_str(&redis_cli(&["GET", key]));
    }
    assert!(
        !keys.trim().is_empty(),
        "the answer was not cached in Redis"
    );

    let logs = String::from_utf8_lossy(
        &logs
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned();
    assert!(
        logs.len() > 1_000,
        "the trace-level run wrote almost no logs: {logs}"
    );
    if std::env::var_os("CANARY_DUMP").is_some() {
        for line in logs.lines().filter(|l| !leaks("", l).is_empty()) {
            eprintln!("LEAK: {line}");
        }
    }
    let mut found = leaks("logs", &logs);
    found.extend(leaks("/metrics", &scraped));
    found.extend(leaks("redis", &stored));
    for (i, body) in bodies.iter().enumerate() {
        found.extend(leaks(&format!("response body {i}"), body));
    }
    assert!(found.is_empty(), "canaries leaked: {found:#?}");
}
