//! The real `bulkhead-server` binary: start-up, serving, SIGTERM, and its exit codes.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bulkhead-server");

/// A loopback port nothing listens on right now.
fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr")
}

/// One HTTP/1.1 request on a fresh connection; returns the status and the body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Kills the child if a test fails before it exits.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn serves_the_embedded_default_and_stops_cleanly_on_sigterm() {
    let addr = free_addr();
    let mut server = Server(
        Command::new(BIN)
            .args(["--listen", &addr.to_string()])
            .env_remove("BULKHEAD_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bulkhead-server"),
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok((200, _)) = http(addr, "GET", "/healthz", "") {
            break;
        }
        if let Some(status) = server.0.try_wait().expect("try_wait") {
            panic!("the server exited early: {status}");
        }
        assert!(Instant::now() < deadline, "not healthy within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }

    let request = r#"{"model":"simulated","messages":[{"role":"user","content":"Hello there"}]}"#;
    let (status, body) = http(addr, "POST", "/v1/chat/completions", request).expect("chat");
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(body["object"], "chat.completion");
    let content = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(!content.is_empty(), "{body}");

    let pid = server.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let status = wait_exit(&mut server.0, Duration::from_secs(5)).expect("exits within 5 s");
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn an_invalid_config_exits_2_with_line_and_column() {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(b"[server]\nmax_body_bytes = \"big\"\n")
        .expect("write");
    let output = Command::new(BIN)
        .arg("--config")
        .arg(file.path())
        .output()
        .expect("run bulkhead-server");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let prefix = format!("{}:2:", file.path().display());
    assert!(stderr.contains(&prefix), "stderr: {stderr}");
}

#[test]
fn a_taken_port_exits_1_with_a_clear_message() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let output = Command::new(BIN)
        .args(["--listen", &addr.to_string()])
        .env_remove("BULKHEAD_CONFIG")
        .output()
        .expect("run bulkhead-server");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "stderr: {stderr}"
    );
}
