//! Hostile clients against the real serve loop: oversized heads, slowloris connections and
//! deeply nested JSON. Each must be refused cleanly while normal traffic goes on.

mod common;

use std::time::{Duration, Instant};

use bulkhead_gateway::serve::LiveRouter;
use bulkhead_gateway::{Config, Gateway, ServerConfig};
use common::{JsonValue as _, client, error_object, post_chat, serve_live};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

async fn serve_with(server: ServerConfig) -> String {
    let gateway = Gateway::build(&Config::embedded_default()).expect("gateway");
    serve_live(LiveRouter::new(gateway.service()), server).await
}

#[tokio::test]
async fn an_oversized_request_head_gets_431() {
    let addr = serve_with(ServerConfig::default()).await;
    let mut tcp = TcpStream::connect(&addr).await.expect("connect");
    let big = "x".repeat(ServerConfig::DEFAULT_MAX_HEADER_BYTES + 1024);
    let head = format!("GET /healthz HTTP/1.1\r\nhost: test\r\nx-big: {big}\r\n\r\n");
    // The server may answer and close before it has read everything we send.
    let _ = tcp.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "expected 431, got {:?}",
        answer.lines().next()
    );
}

#[tokio::test]
async fn slowloris_connections_are_closed_at_the_header_timeout_while_traffic_flows() {
    const CONNECTIONS: usize = 256;
    let timeout = Duration::from_millis(800);
    let addr = serve_with(ServerConfig {
        header_read_timeout: timeout,
        ..ServerConfig::default()
    })
    .await;

    // Each slow client sends half a head, then one more header byte every 100 ms.
    let started = Instant::now();
    let mut slow = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let addr = addr.clone();
        slow.push(tokio::spawn(async move {
            let mut tcp = TcpStream::connect(&addr).await.expect("connect");
            tcp.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nx-slow: ")
                .await
                .expect("first bytes");
            let mut buf = [0u8; 256];
            loop {
                tokio::select! {
                    read = tcp.read(&mut buf) => {
                        // Closed by the server (0 bytes, or an error response then close).
                        if matches!(read, Ok(0) | Err(_)) {
                            return Instant::now();
                        }
                    }
                    () = tokio::time::sleep(Duration::from_millis(100)) => {
                        if tcp.write_all(b"a").await.is_err() {
                            return Instant::now();
                        }
                    }
                }
            }
        }));
    }

    // Meanwhile, normal requests all succeed.
    let http = client();
    let root = format!("http://{addr}");
    let mut ok = 0;
    while started.elapsed() < timeout {
        let response = post_chat(&http, &root, "simulated", false).await;
        assert_eq!(response.status(), 200);
        ok += 1;
    }
    assert!(ok > 0);

    let deadline = timeout + Duration::from_secs(2);
    for handle in slow {
        let closed_at = tokio::time::timeout(deadline, handle)
            .await
            .expect("a slowloris connection was still open well after the header timeout")
            .expect("task");
        assert!(closed_at.duration_since(started) < deadline);
    }
    // And the server still serves.
    let response = post_chat(&http, &root, "simulated", false).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn deeply_nested_json_is_a_400_not_a_crash() {
    let addr = serve_with(ServerConfig::default()).await;
    let http = client();
    let root = format!("http://{addr}");
    let url = format!("{root}/v1/chat/completions");
    let depth = 100_000;
    let body = format!(
        r#"{{"model":"simulated","messages":[{{"role":"user","content":"hi"}}],"metadata":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let response = http
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    let body = response.json_value().await;
    assert_eq!(error_object(&body)["code"], "invalid_request_body");
    // The process is fine.
    let response = post_chat(&http, &root, "simulated", false).await;
    assert_eq!(response.status(), 200);
}
