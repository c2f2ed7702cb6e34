//! The config file: parsing, `${VAR}` substitution, and errors placed at line:column.

use std::time::Duration;

use bulkhead_gateway::{
    Config, ConfigError, Gateway, ProviderKind, SimulatedFaultKind, TargetConfig,
};

fn env(name: &str) -> Option<String> {
    match name {
        "TEST_KEY" => Some("sk-test-123".to_owned()),
        "TEST_HOST" => Some("upstream.example".to_owned()),
        _ => None,
    }
}

fn parse(source: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str_with_env(source, "test.toml", &env)
}

fn errors(source: &str) -> Vec<String> {
    match parse(source) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    }
}

#[test]
fn the_embedded_default_parses_and_builds() {
    let config = Config::embedded_default();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.max_body_bytes, 4_194_304);
    assert_eq!(
        config.server.workers, None,
        "one worker per core unless set"
    );
    assert!(config.server.workers().get() >= 1);
    assert_eq!(config.providers.len(), 1);
    assert_eq!(config.providers[0].name, "simulated");
    assert!(matches!(
        config.providers[0].kind,
        ProviderKind::Simulated(_)
    ));
    assert_eq!(config.models.len(), 1);
    assert_eq!(config.models[0].name, "simulated");
    assert_eq!(
        config.models[0].targets,
        [TargetConfig {
            provider: "simulated".into(),
            model: "simulated-1".into(),
            weight: 1
        }]
    );
    let gateway = Gateway::build(&config).expect("the default builds");
    assert_eq!(gateway.model_names().collect::<Vec<_>>(), ["simulated"]);
}

#[test]
fn a_full_file_parses_into_every_setting() {
    let config = parse(
        r#"
[server]
listen = "0.0.0.0:9000"
max_body_bytes = 1024
workers = 3

[[providers]]
name = "openai"
kind = "openai"
base_url = "https://${TEST_HOST}/v1"
api_key = "${TEST_KEY}"
headers = { "OpenAI-Organization" = "org-${TEST_KEY}" }
timeouts = { connect_ms = 2000, first_token_ms = 15000, idle_ms = 30000, total_ms = 120000 }

[[providers]]
name = "sim"
kind = "simulated"
latency_ms = 20
time_to_first_token_ms = 50
tokens_per_second = 200
seed = 7
embedding_dimensions = 16
faults = [
  { kind = "rate_limited", probability = 0.1, retry_after_ms = 2500 },
  { kind = "stream_cut", probability = 0.05, after_chunks = 3 },
  { kind = "timeout", probability = 1 },
]

[[models]]
name = "chat"
targets = [{ provider = "openai", model = "gpt-4o-mini", weight = 3 }]

[[models]]
name = "sim"
targets = [{ provider = "sim", model = "sim-1" }]
"#,
    )
    .expect("valid");
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(config.server.max_body_bytes, 1024);
    assert_eq!(config.server.workers().get(), 3);
    let ProviderKind::OpenAi(openai) = &config.providers[0].kind else {
        panic!("openai kind");
    };
    assert_eq!(openai.base_url, "https://upstream.example/v1");
    assert_eq!(openai.api_key.as_deref(), Some("sk-test-123"));
    assert_eq!(
        openai.headers,
        [(
            "OpenAI-Organization".to_owned(),
            "org-sk-test-123".to_owned()
        )]
    );
    assert_eq!(
        openai.timeouts.first_token,
        Some(Duration::from_millis(15000))
    );
    assert_eq!(openai.timeouts.total, Some(Duration::from_secs(120)));
    // Debug never prints secrets.
    let debug = format!("{config:?}");
    assert!(!debug.contains("sk-test-123"), "{debug}");

    let ProviderKind::Simulated(sim) = &config.providers[1].kind else {
        panic!("simulated kind");
    };
    assert_eq!(sim.latency, Some(Duration::from_millis(20)));
    assert_eq!(sim.tokens_per_second, Some(200.0));
    assert_eq!(sim.embedding_dimensions, Some(16));
    assert_eq!(
        sim.faults[0].kind,
        SimulatedFaultKind::RateLimited {
            retry_after: Duration::from_millis(2500)
        }
    );
    assert_eq!(
        sim.faults[1].kind,
        SimulatedFaultKind::StreamCut { after_chunks: 3 }
    );
    assert_eq!(sim.faults[2].probability, 1.0);
    assert_eq!(config.models[0].targets[0].weight, 3);
    Gateway::build(&config).expect("builds without network");
}

#[test]
fn a_missing_variable_names_it_at_the_values_line_and_column() {
    let lines = errors(
        "[[providers]]\nname = \"openai\"\nkind = \"openai\"\nbase_url = \"https://x/v1\"\napi_key   =   \"${NOT_SET_ANYWHERE}\"\n",
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("test.toml:5:15: "), "{}", lines[0]);
    assert!(lines[0].contains("`NOT_SET_ANYWHERE`"), "{}", lines[0]);
}

#[test]
fn the_process_environment_is_used_by_default() {
    // PATH is set wherever tests run; its value must come through unchanged.
    let path = std::env::var("PATH").expect("PATH is set");
    let config = Config::from_toml_str(
        "[[providers]]\nname = \"o\"\nkind = \"openai\"\nbase_url = \"http://h/v1\"\napi_key = \"${PATH}\"\n",
        "env.toml",
    )
    .expect("valid");
    let ProviderKind::OpenAi(openai) = &config.providers[0].kind else {
        panic!("openai kind");
    };
    assert_eq!(openai.api_key.as_deref(), Some(path.as_str()));
}

#[test]
fn an_unknown_field_is_an_error_at_its_key() {
    let lines = errors("[server]\nlisten = \"127.0.0.1:1\"\nmax_body_byte = 10\n");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("test.toml:3:1: "), "{}", lines[0]);
    assert!(lines[0].contains("max_body_byte"), "{}", lines[0]);
}

#[test]
fn an_unknown_section_is_an_error_at_its_header() {
    let lines = errors("[server]\nlisten = \"127.0.0.1:1\"\n\n[cahce]\nenabled = true\n");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("test.toml:4:"), "{}", lines[0]);
    assert!(lines[0].contains("unknown field `cahce`"), "{}", lines[0]);
}

#[test]
fn a_target_naming_an_unknown_provider_is_reported_where_it_is_named() {
    let lines = errors(
        r#"[[providers]]
name = "sim"
kind = "simulated"

[[models]]
name = "chat"
targets = [{ provider = "simm", model = "m" }]
"#,
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("test.toml:7:25: "), "{}", lines[0]);
    assert!(
        lines[0].contains("`simm`") && lines[0].contains("sim"),
        "{}",
        lines[0]
    );
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let lines = errors(
        r#"[server]
listen = "localhost"
max_body_bytes = 0

[[providers]]
name = "a"
kind = "openai"

[[providers]]
name = "a"
kind = "simulated"
base_url = "http://x"
faults = [{ kind = "meltdown", probability = 2.0 }]

[[models]]
name = "m"
targets = []

[[models]]
name = "m"
targets = [{ provider = "a", model = "x" }, { provider = "b", model = "y", weight = 0 }]

[[models]]
name = "k"
targets = [{ provider = "a", model = "${MISSING_ONE}" }]
"#,
    );
    let expected = [
        ("2:10", "`listen` must be an IP address and port"),
        ("3:18", "`max_body_bytes` must be greater than 0"),
        ("7:8", "kind \"openai\" needs `base_url`"),
        ("10:8", "provider `a` is defined more than once"),
        ("12:12", "`base_url` does not apply to kind \"simulated\""),
        ("13:20", "unknown fault kind \"meltdown\""),
        ("13:46", "`probability` must be between 0 and 1"),
        ("16:8", "model `m` has no targets"),
        ("20:8", "model `m` is defined more than once"),
        ("21:58", "targets provider `b`, which is not defined"),
        ("21:85", "`weight` must be between 1"),
        ("25:38", "`MISSING_ONE`"),
    ];
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (line, (place, text)) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(&format!("test.toml:{place}: ")) && line.contains(text),
            "expected {place} {text:?}, got {line:?}\nall: {lines:#?}"
        );
    }
}

#[test]
fn workers_must_be_at_least_one() {
    for bad in ["0", "1025"] {
        let lines = errors(&format!("[server]\nworkers = {bad}\n"));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("test.toml:2:11: ")
                && lines[0].contains("`workers` must be between 1 and 1024"),
            "{lines:?}"
        );
    }
}

#[test]
fn a_syntax_error_is_placed_too() {
    let lines = errors("[server]\nlisten = \n");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("test.toml:2:"), "{}", lines[0]);
}

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gw.toml");
    std::fs::write(
        &path,
        "[[models]]\nname = \"x\"\ntargets = [{ provider = \"nope\", model = \"y\" }]\n",
    )
    .expect("write");
    let err = Config::load(&path).expect_err("unknown provider");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}:3:25: ", path.display())),
        "{text}"
    );
    assert_eq!(err.diagnostics().len(), 1);
    assert_eq!(
        (err.diagnostics()[0].line, err.diagnostics()[0].column),
        (3, 25)
    );

    let missing = Config::load(&dir.path().join("absent.toml")).expect_err("no such file");
    assert!(
        missing
            .to_string()
            .contains("absent.toml: cannot read the file"),
        "{missing}"
    );
    assert!(std::error::Error::source(&missing).is_some());
}

#[test]
fn a_config_built_in_code_is_checked_when_built() {
    let mut config = Config::embedded_default();
    config.models[0].targets[0].provider = "elsewhere".into();
    let err = Gateway::build(&config).expect_err("unknown provider");
    assert!(err.to_string().contains("`elsewhere`"), "{err}");
}
