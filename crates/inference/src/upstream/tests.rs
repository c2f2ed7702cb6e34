//! The client over real sockets on loopback: TLS with HTTP/2 and HTTP/1.1 (a test CA, since no
//! public one signs `localhost`), an untrusted certificate, and both kinds of proxy.
//!
//! The fixtures in `testdata/` are a test CA and a `localhost`/`127.0.0.1` certificate it
//! signed, valid until 2126; their key signs nothing else.

use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bulkhead_core::ErrorKind;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use super::{Reach, Upstream};
use crate::Timeouts;

const CA: &[u8] = include_bytes!("testdata/ca.pem");
const CERT: &[u8] = include_bytes!("testdata/server.pem");
const KEY: &[u8] = include_bytes!("testdata/server.key");

/// Answers with what it received: the request target, HTTP version and a few headers, as JSON,
/// or as one SSE event then `[DONE]` when the request accepts an event stream.
async fn echo(
    request: Request<Incoming>,
    client_port: u16,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let wants_stream = header("accept").as_deref() == Some("text/event-stream");
    let mut seen = json!({
        "uri": request.uri().to_string(),
        "version": format!("{:?}", request.version()),
        "user_agent": header("user-agent"),
        "content_type": header("content-type"),
        "proxy_authorization": header("proxy-authorization"),
        "x_extra": header("x-extra"),
        "host": header("host"),
        "client_port": client_port,
    });
    let body = request.into_body().collect().await.map(|b| b.to_bytes());
    seen["body"] = json!(String::from_utf8_lossy(&body.unwrap_or_default()));
    let (content_type, body) = if wants_stream {
        (
            "text/event-stream",
            format!("data: {seen}\n\ndata: [DONE]\n\n"),
        )
    } else {
        ("application/json", seen.to_string())
    };
    Ok(http::Response::builder()
        .header(CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response"))
}

/// Serve [`echo`] on a loopback port, over TLS offering `alpn` when given, in plain HTTP
/// otherwise; its port.
async fn serve_echo(alpn: Option<&[&[u8]]>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let acceptor = alpn.map(|alpn| {
        crate::install_crypto_provider();
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from_pem_slice(CERT).expect("cert")],
                PrivateKeyDer::from_pem_slice(KEY).expect("key"),
            )
            .expect("server TLS config");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    tokio::spawn(async move {
        while let Ok((tcp, peer)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let server = auto::Builder::new(TokioExecutor::new());
                let service = service_fn(move |request| echo(request, peer.port()));
                let _ = match acceptor {
                    Some(acceptor) => {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        server.serve_connection(TokioIo::new(tls), service).await
                    }
                    None => server.serve_connection(TokioIo::new(tcp), service).await,
                };
            });
        }
    });
    port
}

/// TLS trusting the test CA only.
fn test_ca() -> rustls::ClientConfig {
    crate::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(CA).expect("CA"))
        .expect("add CA");
    rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

fn upstream(base_url: &str, reach: Reach) -> Upstream {
    let target = Uri::try_from(base_url).expect("base URL");
    let mut auth = HeaderMap::new();
    auth.insert("authorization", HeaderValue::from_static("Bearer sk-test"));
    Upstream::with_reach(
        "p",
        base_url,
        &target,
        Timeouts::default(),
        reach,
        auth,
        &[("x-extra".to_owned(), "extra".to_owned())],
        |h| bulkhead_core::Error::bad_request(format!("invalid header {h}")),
    )
    .expect("upstream")
}

/// One JSON call to `{base_url}/chat`; what the echo server saw.
async fn json_call(upstream: &Upstream, base_url: &str) -> bulkhead_core::Result<Value> {
    let url = Uri::try_from(format!("{base_url}/chat")).expect("url");
    let clock = upstream.clock(&http::Extensions::new());
    upstream
        .json_call(&url, b"{\"q\":1}".to_vec(), 1 << 20, &clock)
        .await
}

/// One stream call to `{base_url}/chat`; the body as text.
async fn stream_call(upstream: &Upstream, base_url: &str) -> String {
    let url = Uri::try_from(format!("{base_url}/chat")).expect("url");
    let clock = upstream.clock(&http::Extensions::new());
    let response = upstream
        .stream_call(&url, b"{}".to_vec(), &clock)
        .await
        .expect("stream call");
    let mut body = pin!(super::TimedBody::new(response, clock));
    let mut text = String::new();
    while let Some(bytes) = poll_fn(|cx| body.as_mut().poll_read(cx)).await {
        text.push_str(std::str::from_utf8(&bytes.expect("body")).expect("utf-8"));
    }
    text
}

#[tokio::test]
async fn tls_negotiates_http2_and_carries_json_and_streams() {
    let port = serve_echo(Some(&[b"h2", b"http/1.1"])).await;
    let base = format!("https://localhost:{port}");
    let upstream = upstream(&base, Reach::new(test_ca(), Matcher::builder().build()));

    let seen = json_call(&upstream, &base).await.expect("JSON over TLS");
    assert_eq!(seen["version"], "HTTP/2.0");
    assert_eq!(seen["body"], "{\"q\":1}");
    assert_eq!(seen["content_type"], "application/json");
    assert_eq!(seen["x_extra"], "extra");
    assert!(
        seen["user_agent"]
            .as_str()
            .is_some_and(|ua| ua.starts_with("bulkhead/"))
    );

    let text = stream_call(&upstream, &base).await;
    assert!(text.contains("\"version\":\"HTTP/2.0\""), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
}

#[tokio::test]
async fn tls_falls_back_to_http1_when_the_server_offers_only_that() {
    let port = serve_echo(Some(&[b"http/1.1"])).await;
    let base = format!("https://127.0.0.1:{port}");
    let upstream = upstream(&base, Reach::new(test_ca(), Matcher::builder().build()));
    for _ in 0..3 {
        let seen = json_call(&upstream, &base).await.expect("JSON over TLS");
        assert_eq!(seen["version"], "HTTP/1.1");
    }
    let text = stream_call(&upstream, &base).await;
    assert!(text.contains("\"version\":\"HTTP/1.1\""), "{text}");
}

/// Thread per core: every worker thread runs its own single-threaded runtime and calls the
/// same upstream. Each keeps its own connection, reused call after call, so no request is
/// driven by another thread's runtime.
#[test]
fn each_single_threaded_runtime_calls_over_its_own_reused_connection() {
    let server = tokio::runtime::Runtime::new().expect("server runtime");
    let port = server.block_on(serve_echo(None));
    let base = format!("http://127.0.0.1:{port}");
    let upstream = Arc::new(upstream(
        &base,
        Reach::new(test_ca(), Matcher::builder().build()),
    ));
    let worker = |upstream: Arc<Upstream>, base: String| {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut ports = Vec::new();
                for _ in 0..6 {
                    let seen = json_call(&upstream, &base).await.expect("call");
                    ports.push(seen["client_port"].as_u64().expect("port"));
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                ports
            })
        })
    };
    let a = worker(upstream.clone(), base.clone());
    let b = worker(upstream, base);
    let (a, b) = (a.join().expect("worker a"), b.join().expect("worker b"));
    assert!(a.iter().all(|p| *p == a[0]), "worker a: {a:?}");
    assert!(b.iter().all(|p| *p == b[0]), "worker b: {b:?}");
    assert_ne!(a[0], b[0], "each worker has a connection of its own");
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connect_error_saying_why() {
    let port = serve_echo(Some(&[b"h2", b"http/1.1"])).await;
    let base = format!("https://localhost:{port}");
    // The system's roots (the platform verifier): the test CA is not among them.
    let reach = Reach::from_platform().expect("platform TLS");
    let error = json_call(&upstream(&base, reach), &base)
        .await
        .expect_err("an untrusted certificate must fail");
    assert_eq!(error.kind(), ErrorKind::Transport);
    let message = error.to_string();
    assert!(
        message.contains(&format!("could not connect to provider `p` at {base}")),
        "{message}"
    );
    assert!(message.contains("certificate"), "{message}");
}

#[tokio::test]
async fn a_plain_http_upstream_is_reached_through_the_proxy_in_absolute_form() {
    // The echo server stands in for the proxy: it sees what a proxy would.
    let proxy_port = serve_echo(None).await;
    let proxies = Matcher::builder()
        .all(format!("http://user:secret@127.0.0.1:{proxy_port}"))
        .build();
    let base = "http://upstream.invalid/v1";
    let upstream = upstream(base, Reach::new(test_ca(), proxies));
    let seen = json_call(&upstream, base).await.expect("JSON via proxy");
    assert_eq!(seen["uri"], "http://upstream.invalid/v1/chat");
    // base64("user:secret")
    assert_eq!(seen["proxy_authorization"], "Basic dXNlcjpzZWNyZXQ=");
}

#[tokio::test]
async fn an_https_upstream_is_reached_through_a_connect_tunnel() {
    let tls_port = serve_echo(Some(&[b"h2", b"http/1.1"])).await;
    let (proxy_port, connects) = serve_connect_proxy().await;
    let proxies = Matcher::builder()
        .all(format!("http://user:secret@127.0.0.1:{proxy_port}"))
        .build();
    let base = format!("https://localhost:{tls_port}");
    let upstream = upstream(&base, Reach::new(test_ca(), proxies));
    for _ in 0..2 {
        let seen = json_call(&upstream, &base).await.expect("JSON via tunnel");
        assert_eq!(seen["version"], "HTTP/2.0");
        // The proxy's credentials went in the CONNECT, not to the upstream.
        assert_eq!(seen["proxy_authorization"], Value::Null);
    }
    let connects = connects.lock().await;
    // One tunnel, reused by the pooled HTTP/2 connection.
    assert_eq!(connects.len(), 1, "{connects:?}");
    assert!(
        connects[0].starts_with(&format!("CONNECT localhost:{tls_port} HTTP/1.1\r\n")),
        "{connects:?}"
    );
    let auth = connects[0].lines().find(|line| {
        line.to_ascii_lowercase()
            .starts_with("proxy-authorization:")
    });
    assert_eq!(
        auth.and_then(|line| line.split_once(':'))
            .map(|(_, v)| v.trim()),
        Some("Basic dXNlcjpzZWNyZXQ="),
        "{connects:?}"
    );
}

#[test]
fn a_socks_proxy_is_refused_at_construction_without_its_credentials() {
    let proxies = Matcher::builder()
        .all("socks5://user:secret@127.0.0.1:1080")
        .build();
    let target = Uri::from_static("https://api.example.com/v1");
    let error = Upstream::with_reach(
        "p",
        "https://api.example.com/v1",
        &target,
        Timeouts::default(),
        Reach::new(test_ca(), proxies),
        HeaderMap::new(),
        &[],
        |h| bulkhead_core::Error::bad_request(h.to_owned()),
    )
    .err()
    .expect("SOCKS is not supported");
    let message = error.to_string();
    assert_eq!(error.kind(), ErrorKind::BadRequest);
    assert!(message.contains("socks5://127.0.0.1"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}

/// A CONNECT-only proxy on loopback; the request heads it received.
async fn serve_connect_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
                log.lock().await.push(head);
                let port = target.rsplit(':').next().unwrap_or_default();
                let Ok(mut server) = TcpStream::connect(format!("127.0.0.1:{port}")).await else {
                    return;
                };
                let _ = client.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (port, seen)
}

/// A plain `http://` upstream without a proxy goes through the direct pool: one connection
/// carries JSON answers and streams read to their end, and goes back to the pool after each.
#[tokio::test]
async fn a_direct_http_upstream_reuses_one_connection_for_answers_and_streams() {
    let port = serve_echo(None).await;
    let base = format!("http://127.0.0.1:{port}");
    let upstream = upstream(&base, Reach::new(test_ca(), Matcher::builder().build()));
    let pool = upstream
        .pools
        .direct()
        .expect("a direct pool for http:// without a proxy");

    let first = json_call(&upstream, &base).await.expect("JSON");
    assert_eq!(first["version"], "HTTP/1.1");
    // Origin form and the host in `Host`, as a server expects from a client.
    assert_eq!(first["uri"], "/chat");
    assert_eq!(first["host"], format!("127.0.0.1:{port}"));
    assert_eq!(first["body"], "{\"q\":1}");
    assert_eq!(first["x_extra"], "extra");
    let port_of = |seen: &Value| seen["client_port"].as_u64().expect("port");
    for _ in 0..2 {
        let text = stream_call(&upstream, &base).await;
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        assert!(
            text.contains(&format!("\"client_port\":{}", port_of(&first))),
            "the stream rode the pooled connection: {text}"
        );
        let again = json_call(&upstream, &base).await.expect("JSON");
        assert_eq!(port_of(&again), port_of(&first));
    }
    assert_eq!(pool.idle(), 1, "one connection, back in the pool");
}

/// A stream dropped before the body's own end (a stream stops reading at its last event) keeps
/// its connection: what is left is read and the connection serves the next call.
#[tokio::test]
async fn an_answer_dropped_with_its_rest_at_hand_keeps_its_connection() {
    let port = serve_echo(None).await;
    let base = format!("http://127.0.0.1:{port}");
    let upstream = upstream(&base, Reach::new(test_ca(), Matcher::builder().build()));
    let first = json_call(&upstream, &base).await.expect("JSON");
    let url = Uri::try_from(format!("{base}/chat")).expect("url");
    let clock = upstream.clock(&http::Extensions::new());
    let unread = upstream
        .stream_call(&url, b"{}".to_vec(), &clock)
        .await
        .expect("stream call");
    drop(unread);
    // The connection's task reads the rest of the answer.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let next = json_call(&upstream, &base)
        .await
        .expect("JSON after a dropped answer");
    assert_eq!(next["client_port"], first["client_port"]);
}

/// A hand-written HTTP/1.1 upstream on loopback: each connection it accepts goes to `serve`.
/// Its port, and how many connections it accepted.
async fn serve_raw<F, Fut>(serve: F) -> (u16, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(tcp));
        }
    });
    (port, accepted)
}

/// One request from `tcp`, head and JSON body (the tests' bodies end with `}`), as text; `None`
/// once the client has closed.
async fn read_request(tcp: &mut TcpStream) -> Option<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.ends_with(b"}") {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&seen).to_lowercase())
}

const OK_JSON: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}";

/// An answer dropped with its body still coming cannot be read to its end: hyper closes the
/// connection, the pool leaves it out, and the next call goes on a new one.
#[tokio::test]
async fn an_answer_dropped_mid_body_closes_its_connection_and_the_next_call_succeeds() {
    let (port, accepted) = serve_raw(|mut tcp| async move {
        while let Some(request) = read_request(&mut tcp).await {
            if request.contains("accept: text/event-stream") {
                // One event, then nothing more: a model still thinking.
                let _ = tcp
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                          transfer-encoding: chunked\r\n\r\n7\r\ndata: 1\r\n",
                    )
                    .await;
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                return;
            }
            if tcp.write_all(OK_JSON).await.is_err() {
                return;
            }
        }
    })
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let upstream = upstream(&base, Reach::new(test_ca(), Matcher::builder().build()));
    let url = Uri::try_from(format!("{base}/chat")).expect("url");
    let clock = upstream.clock(&http::Extensions::new());
    let unfinished = upstream
        .stream_call(&url, b"{}".to_vec(), &clock)
        .await
        .expect("stream call");
    drop(unfinished);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for _ in 0..2 {
        let seen = json_call(&upstream, &base).await.expect("an answer");
        assert_eq!(seen["ok"], true);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

/// An upstream that closes idle connections (as servers do after their keep-alive timeout):
/// the closed connection is left out and the call goes on a new one, with no error.
#[tokio::test]
async fn a_pooled_connection_the_upstream_closed_is_replaced_without_an_error() {
    // One request, one keep-alive answer, then close.
    let (port, accepted) = serve_raw(|mut tcp| async move {
        if read_request(&mut tcp).await.is_some() {
            let _ = tcp.write_all(OK_JSON).await;
        }
        let _ = tcp.shutdown().await;
    })
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let upstream = upstream(&base, Reach::new(test_ca(), Matcher::builder().build()));
    for _ in 0..3 {
        let seen = json_call(&upstream, &base)
            .await
            .expect("an answer every time");
        assert_eq!(seen["ok"], true);
        // Give the connection's task time to see the close.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}
