//! `telemetry::init` installs the process's subscriber once, and refuses bad settings first.
//! (Its own test binary: the subscriber it installs is global.)

use bulkhead_observability::telemetry::{LogFormat, TelemetryConfig, init};

#[test]
fn init_checks_its_settings_then_installs_once() {
    let bad_filter = TelemetryConfig {
        filter: "bulkhead=notalevel".into(),
        ..TelemetryConfig::default()
    };
    // RUST_LOG, when set by whoever runs the tests, would take precedence over the filter.
    if std::env::var_os("RUST_LOG").is_none() {
        let err = init(&bad_filter).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("invalid log filter")));
    }

    #[cfg(not(feature = "otlp"))]
    {
        let with_endpoint = TelemetryConfig {
            otlp_endpoint: Some("http://127.0.0.1:4318".into()),
            ..TelemetryConfig::default()
        };
        let err = init(&with_endpoint).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("otlp")));
    }

    let config = TelemetryConfig {
        log_format: LogFormat::Json,
        filter: "info".into(),
        ..TelemetryConfig::default()
    };
    let guard = init(&config);
    assert!(guard.is_ok());
    if std::env::var_os("RUST_LOG").is_none() {
        // At `info`, logs keep other spans but not `Observe`'s per-request `gen_ai.*` ones
        // (nothing is logged inside them at that level, and recording them is costly).
        let gen_ai = tracing::info_span!(target: "bulkhead_observability", "gen_ai.request");
        assert!(gen_ai.is_disabled());
        let other = tracing::info_span!(target: "bulkhead_gateway", "serve");
        assert!(!other.is_disabled());
    }
    // A second subscriber cannot replace the first.
    assert!(init(&config).is_err());
}
