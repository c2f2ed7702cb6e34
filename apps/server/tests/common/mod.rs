//! Shared by the process tests: start the real `bulkhead-server` binary and talk HTTP/1.1 to it
//! over plain TCP (no client library between the test and the bytes).

#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

pub const BIN: &str = env!("CARGO_BIN_EXE_bulkhead-server");

/// A loopback address nothing listens on right now.
pub fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr")
}

/// A running server, killed if a test fails before it exits.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the server with `config` on `addr`, logs off.
pub fn start(config: &Path, addr: SocketAddr) -> Server {
    Server(
        Command::new(BIN)
            .arg("--config")
            .arg(config)
            .args(["--listen", &addr.to_string()])
            .env("RUST_LOG", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bulkhead-server"),
    )
}

/// `config` written to `bulkhead.toml` in a fresh temporary directory, which lives as long as
/// the returned `TempDir`.
pub fn config_file(config: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bulkhead.toml");
    std::fs::write(&path, config).expect("write config");
    (dir, path)
}

/// Start the server with the config file at `path` on a free loopback address; returns once
/// `/healthz` answers.
pub async fn start_healthy(path: &Path) -> (Server, SocketAddr) {
    let addr = free_addr();
    let mut server = start(path, addr);
    wait_healthy(&mut server, addr).await;
    (server, addr)
}

/// How a `[[keys]]` entry stores a client key: `sha256:` and the hex SHA-256 of the key.
pub fn key_hash(key: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// A response: status, lowercase header lines, body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One request on a fresh connection, read to the end.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.expect("write head");
    tcp.write_all(body.as_bytes()).await.expect("write body");
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.expect("read");
    parse(&response)
}

/// Split a raw HTTP/1.1 response.
pub fn parse(response: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(response);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Wait until `/healthz` answers 200, or fail when the server exits or 15 s pass.
pub async fn wait_healthy(server: &mut Server, addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Ok(mut tcp)) =
            tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr)).await
        {
            let _ = tcp
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await;
            let mut out = Vec::new();
            let _ = tcp.read_to_end(&mut out).await;
            if out.starts_with(b"HTTP/1.1 200") {
                return;
            }
        }
        if let Some(status) = server.0.try_wait().expect("try_wait") {
            panic!("the server exited early: {status}");
        }
        assert!(Instant::now() < deadline, "not healthy within 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
