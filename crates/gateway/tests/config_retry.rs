//! `[retry]`, `[circuit_breaker]` and their per-provider overrides: parsing, merging, and
//! errors placed at line:column.

use std::time::Duration;

use bulkhead_gateway::{CircuitBreakerSettings, Config, ConfigError, Gateway, RetrySettings};

fn parse(source: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str_with_env(source, "test.toml", &|_| None)
}

fn errors(source: &str) -> Vec<String> {
    match parse(source) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    }
}

const MODEL: &str = r#"
[[models]]
name = "chat"
targets = [{ provider = "a", model = "m" }]
"#;

#[test]
fn without_the_sections_the_documented_defaults_apply() {
    let config = parse(&format!(
        "[[providers]]\nname = \"a\"\nkind = \"simulated\"\n{MODEL}"
    ))
    .expect("valid");
    assert_eq!(config.retry, RetrySettings::default());
    assert_eq!(config.retry.max_attempts, 3);
    assert_eq!(config.retry.initial_backoff, Duration::from_millis(200));
    assert_eq!(config.retry.max_backoff, Duration::from_secs(10));
    assert_eq!(config.retry.retry_after_cap, Duration::from_secs(60));
    assert_eq!(config.retry.budget_ratio, 0.2);
    assert_eq!(config.retry.budget_min_per_sec, 10.0);
    let cb = config.circuit_breaker;
    assert_eq!(cb, CircuitBreakerSettings::default());
    assert_eq!(
        (cb.failure_ratio, cb.min_requests, cb.window, cb.open),
        (0.5, 20, Duration::from_secs(30), Duration::from_secs(15))
    );
    assert_eq!(config.providers[0].retry, None);
    assert_eq!(config.providers[0].circuit_breaker, None);
}

#[test]
fn sections_parse_and_provider_overrides_merge_key_by_key() {
    let config = parse(&format!(
        r#"
[retry]
max_attempts = 5
initial_backoff_ms = 50
max_backoff_ms = 2000
retry_after_cap_ms = 30000
budget_ratio = 0.5
budget_min_per_sec = 3

[circuit_breaker]
failure_ratio = 0.25
min_requests = 7
window_secs = 60
open_secs = 5

[[providers]]
name = "a"
kind = "simulated"
retry = {{ max_attempts = 1 }}
circuit_breaker = {{ open_secs = 1 }}

[[providers]]
name = "b"
kind = "simulated"
{MODEL}"#
    ))
    .expect("valid");
    let section = RetrySettings {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_secs(2),
        retry_after_cap: Duration::from_secs(30),
        budget_ratio: 0.5,
        budget_min_per_sec: 3.0,
    };
    assert_eq!(config.retry, section);
    let breaker = CircuitBreakerSettings {
        failure_ratio: 0.25,
        min_requests: 7,
        window: Duration::from_secs(60),
        open: Duration::from_secs(5),
    };
    assert_eq!(config.circuit_breaker, breaker);
    // Provider `a` overrides one key of each; the rest comes from the sections.
    assert_eq!(
        config.providers[0].retry,
        Some(RetrySettings {
            max_attempts: 1,
            ..section
        })
    );
    assert_eq!(
        config.providers[0].circuit_breaker,
        Some(CircuitBreakerSettings {
            open: Duration::from_secs(1),
            ..breaker
        })
    );
    assert_eq!(config.providers[1].retry, None);
    Gateway::build(&config).expect("builds");
}

#[test]
fn bad_values_are_reported_at_their_line_and_column() {
    let lines = errors(&format!(
        r#"[retry]
max_attempts = 0
initial_backoff_ms = 0
budget_ratio = 1.5
budget_min_per_sec = -1

[circuit_breaker]
failure_ratio = 0
min_requests = 0
window_secs = 0
open_secs = 0

[[providers]]
name = "a"
kind = "simulated"
retry = {{ initial_backoff_ms = 500, max_backoff_ms = 100 }}
circuit_breaker = {{ failure_ratio = 2.0 }}
{MODEL}"#
    ));
    let expected = [
        "test.toml:2:16: `max_attempts` must be between 1 and 100",
        "test.toml:3:22: `initial_backoff_ms` must be greater than 0",
        "test.toml:4:16: `budget_ratio` must be between 0 and 1",
        "test.toml:5:22: `budget_min_per_sec` must be a number, 0 or more",
        "test.toml:8:17: `failure_ratio` must be greater than 0 and at most 1",
        "test.toml:9:16: `min_requests` must be between 1",
        "test.toml:10:15: `window_secs` must be greater than 0",
        "test.toml:11:13: `open_secs` must be greater than 0",
        "test.toml:16:54: `max_backoff_ms` (100) must not be less than `initial_backoff_ms` (500)",
        "test.toml:17:37: `failure_ratio` must be greater than 0 and at most 1",
    ];
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (line, want) in lines.iter().zip(expected) {
        assert!(line.starts_with(want), "got {line:?}, want {want:?}");
    }
}

#[test]
fn unknown_keys_in_the_sections_and_overrides_are_errors() {
    let lines = errors("[retry]\nmax_retries = 3\n");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("test.toml:2:1: "), "{}", lines[0]);
    assert!(
        lines[0].contains("unknown field `max_retries`"),
        "{}",
        lines[0]
    );

    let lines = errors(
        "[[providers]]\nname = \"a\"\nkind = \"simulated\"\ncircuit_breaker = { open_ms = 1 }\n",
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("test.toml:4:"), "{}", lines[0]);
    assert!(lines[0].contains("unknown field `open_ms`"), "{}", lines[0]);
}

#[test]
fn a_config_built_in_code_is_checked_too() {
    let mut config = parse(&format!(
        "[[providers]]\nname = \"a\"\nkind = \"simulated\"\n{MODEL}"
    ))
    .expect("valid");
    config.retry.max_attempts = 0;
    let error = Gateway::build(&config).expect_err("max_attempts 0 is refused");
    assert!(error.to_string().contains("[retry]"), "{error}");
}
