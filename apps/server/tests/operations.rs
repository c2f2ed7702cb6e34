//! The real `bulkhead-server` binary under operations: SIGTERM while streams are open, and
//! config reloads under load.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{config_file, parse, request, start_healthy};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Models served by one simulated provider; `paced` makes it answer at 40 tokens/s.
fn config(models: &[&str], extra: &str, paced: bool) -> String {
    let pace = if paced {
        "tokens_per_second = 40.0\n"
    } else {
        ""
    };
    let mut toml = format!(
        "[server]\nshutdown_grace_secs = 20\n\n\
         [[providers]]\nname = \"sim\"\nkind = \"simulated\"\n{pace}\n",
    );
    for model in models {
        toml.push_str(&format!(
            "[[models]]\nname = \"{model}\"\ntargets = [{{ provider = \"sim\", model = \"sim-1\" }}]\n\n"
        ));
    }
    toml.push_str(extra);
    toml
}

/// Replace the file the way editors do: write a sibling, rename over.
fn rewrite(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_100_open_streams_finish_then_exits_0() {
    const STREAMS: usize = 100;
    let (_dir, path) = config_file(&config(&["chat"], "", true));
    let (mut server, addr) = start_healthy(&path).await;

    // 30 tokens at 40 tokens/s: each stream lasts about 0.75 s.
    let body = r#"{"model":"chat","stream":true,"max_tokens":30,"messages":[{"role":"user","content":"Tell me a story"}]}"#;
    let started = Arc::new(AtomicUsize::new(0));
    let mut streams = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS {
        let started = started.clone();
        streams.push(tokio::spawn(async move {
            let mut tcp = TcpStream::connect(addr).await.expect("connect");
            tcp.write_all(
                format!(
                    "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
                     content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .await
            .expect("write");
            let mut response = Vec::new();
            let mut buf = [0u8; 4096];
            let mut counted = false;
            loop {
                let n = tcp.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                response.extend_from_slice(&buf[..n]);
                if !counted && response.windows(6).any(|w| w == b"data: ") {
                    counted = true;
                    started.fetch_add(1, Ordering::SeqCst);
                }
            }
            parse(&response)
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while started.load(Ordering::SeqCst) < STREAMS {
        assert!(Instant::now() < deadline, "streams did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());

    let mut complete = 0;
    for stream in streams {
        let answer = stream.await.expect("stream task");
        let (status, body) = (answer.status, answer.body);
        assert_eq!(status, 200);
        assert!(
            body.contains("data: [DONE]"),
            "a stream was cut by the shutdown: {body}"
        );
        complete += 1;
    }
    assert_eq!(complete, STREAMS);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "did not exit after draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_rewrites_under_load_fail_no_request_and_apply_within_a_second() {
    const WORKERS: usize = 8;
    const REWRITES: usize = 10;
    let (_dir, path) = config_file(&config(&["chat"], "", false));
    let (_server, addr) = start_healthy(&path).await;

    // Steady load on `chat`, which every version of the config serves.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let body = r#"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#;
            while !stop.load(Ordering::Relaxed) {
                let status = request(addr, "POST", "/v1/chat/completions", &[], body)
                    .await
                    .status;
                if status == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    let mut slowest = Duration::ZERO;
    for i in 0..REWRITES {
        if i == 4 {
            // An invalid config: rejected, and the running one keeps serving.
            rewrite(&path, &config(&["chat"], "[[models]]\nname = 7\n", false));
            tokio::time::sleep(Duration::from_millis(600)).await;
            let answer = request(addr, "GET", "/v1/models", &[], "").await;
            let (status, models) = (answer.status, answer.body);
            assert_eq!(status, 200);
            assert!(models.contains("\"extra-3\""), "{models}");
            continue;
        }
        let name = format!("extra-{i}");
        rewrite(&path, &config(&["chat", &name], "", false));
        let changed = Instant::now();
        loop {
            let models = request(addr, "GET", "/v1/models", &[], "").await.body;
            if models.contains(&format!("\"{name}\"")) {
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(1),
                "change {i} not in effect within 1 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        slowest = slowest.max(changed.elapsed());
        let status = request(
            addr,
            "POST",
            "/v1/chat/completions",
            &[],
            &format!(r#"{{"model":"{name}","messages":[{{"role":"user","content":"hi"}}]}}"#),
        )
        .await
        .status;
        assert_eq!(status, 200, "the new model answers");
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("worker");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("reload under load: {ok} ok, {failed} failed, slowest change {slowest:?}");
    assert_eq!(failed, 0);
    assert!(ok > 100, "too little load to mean anything: {ok}");
}
