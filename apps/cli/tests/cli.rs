//! The real `bulkhead` binary against temp files and an in-process gateway.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Output};

use bulkhead_core::{ChatModel as _, ChatRequest, Message};
use bulkhead_gateway::{Config, Gateway};
use bulkhead_inference::{OpenAiConfig, OpenAiProvider};
use sha2::{Digest as _, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_bulkhead");

/// Run the CLI with no `BULKHEAD_*` variables leaking in from the environment.
fn bulkhead(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("BULKHEAD_URL")
        .env_remove("BULKHEAD_API_KEY")
        .output()
        .expect("run bulkhead")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    file.write_all(text.as_bytes()).expect("write config");
    file
}

/// Serve the embedded default gateway (model `simulated`) on a loopback port of `runtime`.
fn start_gateway(runtime: &tokio::runtime::Runtime) -> SocketAddr {
    runtime.block_on(async {
        let gateway = Gateway::build(&Config::embedded_default()).expect("default gateway");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, gateway.router()).await });
        addr
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn key_new_prints_a_key_whose_sha256_is_the_printed_hash() {
    let output = bulkhead(&["key", "new"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("key:"))
        .map(str::trim)
        .expect("a `key:` line");
    let hash = out
        .lines()
        .find_map(|l| l.strip_prefix("hash = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a `hash = \"...\"` line");

    assert!(key.starts_with("bh-") && key.len() == 3 + 64, "{key}");
    assert!(
        key[3..]
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    let expected = format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())));
    assert_eq!(hash, expected);

    let again = stdout(&bulkhead(&["key", "new"]));
    assert!(!again.contains(key), "two runs gave the same key");
}

#[test]
fn config_check_accepts_a_good_file() {
    let file = config_file(
        "[[providers]]\nname = \"sim\"\nkind = \"simulated\"\n\n\
         [[models]]\nname = \"chat\"\ntargets = [{ provider = \"sim\", model = \"sim-1\" }]\n",
    );
    let path = file.path().display().to_string();
    let output = bulkhead(&["config", "check", &path]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim(),
        format!("{path}: ok (1 provider, 1 model)")
    );
}

#[test]
fn config_check_reports_each_error_with_line_and_column() {
    let file = config_file(
        "[[providers]]\nname = \"sim\"\nkind = \"simulated\"\n\n\
         [[models]]\nname = \"chat\"\ntargets = [{ provider = \"nope\", model = \"x\" }]\n",
    );
    let path = file.path().display().to_string();
    let output = bulkhead(&["config", "check", &path]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    let line = err
        .lines()
        .find(|l| l.contains("nope"))
        .unwrap_or_else(|| panic!("no error names the provider: {err}"));
    let rest = line
        .strip_prefix(&format!("{path}:7:"))
        .unwrap_or_else(|| panic!("not FILE:7:COL: ...: {line}"));
    let (column, message) = rest.split_once(": ").expect("COL: message");
    assert!(column.parse::<usize>().is_ok_and(|c| c > 0), "{line}");
    assert!(!message.is_empty());
    assert!(stdout(&output).is_empty());
}

#[test]
fn config_check_fails_on_a_missing_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("absent.toml").display().to_string();
    let output = bulkhead(&["config", "check", &path]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).starts_with(&path), "{}", stderr(&output));
}

#[test]
fn chat_streams_the_simulated_answer_and_models_lists_it() {
    let runtime = runtime();
    let addr = start_gateway(&runtime);
    let url = format!("http://{addr}/v1");

    // The simulated model is deterministic: the streamed text equals the JSON answer's.
    let expected = runtime.block_on(async {
        let provider =
            OpenAiProvider::new(OpenAiConfig::new("gateway", url.clone())).expect("provider");
        let answer = provider
            .chat(ChatRequest::new(
                "simulated",
                vec![Message::user("Hello there, gateway")],
            ))
            .await
            .expect("JSON answer");
        answer.choices[0].message.text()
    });
    assert!(!expected.is_empty());

    let output = bulkhead(&["chat", "--url", &url, "Hello", "there,", "gateway"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("{expected}\n"));

    let output = bulkhead(&["models", "--url", &url]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "simulated\n");
}

#[test]
fn chat_fails_with_a_message_on_an_unknown_model() {
    let runtime = runtime();
    let addr = start_gateway(&runtime);
    let url = format!("http://{addr}/v1");
    let output = bulkhead(&["chat", "--url", &url, "--model", "no-such-model", "hi"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.starts_with("error:") && err.contains("no-such-model"),
        "{err}"
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn chat_and_models_fail_when_nothing_listens() {
    let url = bulkhead_testkit::refused_url();
    for args in [
        vec!["chat", "--url", &url, "hi"],
        vec!["models", "--url", &url],
    ] {
        let output = bulkhead(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(stderr(&output).starts_with("error:"), "{}", stderr(&output));
    }
}

#[test]
fn chat_sends_the_api_key_as_a_bearer_token() {
    let runtime = runtime();
    let upstream = runtime.block_on(bulkhead_testkit::MockUpstream::start());
    upstream.push(bulkhead_testkit::Step::stream_text(&["Hi", " you"]));
    let output = Command::new(BIN)
        .args(["chat", "--url", &upstream.base_url(), "hello"])
        .env("BULKHEAD_API_KEY", "bh-secret")
        .env_remove("BULKHEAD_URL")
        .output()
        .expect("run bulkhead");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "Hi you\n");
    let requests = upstream.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer bh-secret")
    );
    assert_eq!(requests[0].body["model"], "simulated");
    assert_eq!(requests[0].body["stream"], true);
}
