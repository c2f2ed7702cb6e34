//! A real `redis-server` for tests: started on a free loopback port, killed when dropped.
//!
//! Tests of the Redis-backed cache and rate limits run against a real server, not a fake:
//!
//! ```no_run
//! use bulkhead_testkit::redis::RedisServer;
//!
//! let mut redis = RedisServer::start();
//! let url = redis.url(); // redis://127.0.0.1:PORT/
//! // ... point the store under test at `url` ...
//! redis.kill();    // Redis goes away mid-run
//! redis.restart(); // and comes back on the same port, empty
//! ```
//!
//! [`RedisServer::start`] panics when no `redis-server` binary can be run.
//! [`RedisServer::try_start`] instead prints a visible message and returns `None`, so a test can
//! skip itself on a developer machine without Redis; when the environment variable `CI` (or
//! `BULKHEAD_REQUIRE_REDIS`) is set it panics instead, so CI never skips. The binary is
//! `redis-server` on `PATH`, or the path in `BULKHEAD_REDIS_SERVER`.
//!
//! The server runs with `--save "" --appendonly no` (nothing on disk) and its working directory
//! in a fresh temporary directory. The helper is synchronous (plain `std::process` and
//! `std::net`), so it works in `#[test]`, `#[tokio::test]` and benches alike.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for a freshly spawned server to answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` child process on `127.0.0.1`, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    dir: PathBuf,
}

/// Why a server could not be started.
#[derive(Debug)]
enum StartError {
    /// No `redis-server` binary could be found.
    NoBinary(String),
    /// The binary ran but the server did not come up.
    Failed(String),
}

fn binary() -> String {
    std::env::var("BULKHEAD_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned())
}

fn required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("BULKHEAD_REQUIRE_REDIS").is_some()
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// Whether a Redis server answers `PING` on `port`.
fn answers_ping(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    match stream.read_exact(&mut buf) {
        Ok(()) => &buf == b"+PONG\r\n",
        Err(_) => false,
    }
}

impl RedisServer {
    /// Start a server on a free port and wait until it answers `PING`.
    ///
    /// # Panics
    ///
    /// If `redis-server` cannot be run or does not come up within 10 seconds.
    pub fn start() -> RedisServer {
        match Self::launch() {
            Ok(server) => server,
            Err(StartError::NoBinary(msg) | StartError::Failed(msg)) => panic!("{msg}"),
        }
    }

    /// Start a server, or return `None` after printing why when there is no `redis-server`
    /// binary on this machine.
    ///
    /// # Panics
    ///
    /// When the binary exists but the server does not come up, and when there is no binary but
    /// `CI` or `BULKHEAD_REQUIRE_REDIS` is set: those runs must not skip Redis tests.
    pub fn try_start() -> Option<RedisServer> {
        match Self::launch() {
            Ok(server) => Some(server),
            Err(StartError::NoBinary(msg)) if !required() => {
                eprintln!(
                    "\n*** SKIPPING a Redis test: {msg}\n*** install redis-server (or set \
                     BULKHEAD_REDIS_SERVER) to run it; set CI=1 to make this a failure\n"
                );
                None
            }
            Err(StartError::NoBinary(msg) | StartError::Failed(msg)) => panic!("{msg}"),
        }
    }

    fn launch() -> Result<RedisServer, StartError> {
        let dir = tempdir();
        let mut last = String::new();
        // The free port is found by bind-and-release; another process could take it in
        // between, so try a few ports.
        for _ in 0..5 {
            let mut server = RedisServer {
                port: free_port(),
                child: None,
                dir: dir.clone(),
            };
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(StartError::Failed(msg)) => last = msg,
                Err(e @ StartError::NoBinary(_)) => return Err(e),
            }
        }
        Err(StartError::Failed(last))
    }

    fn spawn(&mut self) -> Result<(), StartError> {
        let bin = binary();
        let child = Command::new(&bin)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(StartError::NoBinary(format!(
                    "no `{bin}` binary found ({e})"
                )));
            }
            Err(e) => return Err(StartError::Failed(format!("could not run `{bin}`: {e}"))),
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if answers_ping(self.port) {
                self.child = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(StartError::Failed(format!(
                    "`{bin}` on port {} exited at start-up with {status}",
                    self.port
                )));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StartError::Failed(format!(
                    "`{bin}` on port {} did not answer PING within {READY_TIMEOUT:?}",
                    self.port
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's URL, `redis://127.0.0.1:PORT/`. It stays the same across
    /// [`kill`](Self::kill) and [`restart`](Self::restart).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server process is running (it was not [`kill`](Self::kill)ed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kill the server (SIGKILL) and wait for it to exit: open connections are cut and new ones
    /// are refused. Nothing happens if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start the server again on the same port (killing it first if it runs) and wait until it
    /// answers. It comes back empty: nothing is persisted.
    ///
    /// # Panics
    ///
    /// If it does not come up within 10 seconds.
    pub fn restart(&mut self) {
        self.kill();
        // The port was just released by the killed server; retry briefly should the OS hold it.
        let mut last = String::new();
        for _ in 0..20 {
            match self.spawn() {
                Ok(()) => return,
                Err(StartError::NoBinary(msg)) => panic!("{msg}"),
                Err(StartError::Failed(msg)) => last = msg,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("could not restart redis-server: {last}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis URL for a test: the URL of a freshly started [`RedisServer`] (returned with it, so it
/// lives as long as the test holds it), or `None` with a visible message when this machine has no
/// `redis-server` (see [`RedisServer::try_start`]; under `CI` it panics instead of skipping).
///
/// ```no_run
/// let Some((url, _server)) = bulkhead_testkit::redis::redis_url() else { return };
/// // use `url`; the server is killed when `_server` drops
/// ```
pub fn redis_url() -> Option<(String, RedisServer)> {
    RedisServer::try_start().map(|server| (server.url(), server))
}

/// A fresh, empty temporary directory for one server's working directory.
fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("bulkhead-redis-{}-{n}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_kills_and_restarts_on_the_same_port() {
        let Some(mut server) = RedisServer::try_start() else {
            return;
        };
        let port = server.port();
        assert!(server.url().ends_with(&format!(":{port}/")));
        assert!(answers_ping(port));
        server.kill();
        assert!(!server.is_running());
        assert!(!answers_ping(port));
        server.restart();
        assert_eq!(server.port(), port);
        assert!(answers_ping(port));
        drop(server);
        assert!(!answers_ping(port));
    }
}
