//! The `[[providers]]` part of resolving: each kind takes only its own keys, so a key that
//! the kind would silently ignore (`latency_ms` on an OpenAI provider, `base_url` on a
//! simulated one) is an error rather than a surprise. A `kind` that names a vendor preset
//! (`"groq"`, `"azure"`, ...; the table is `bulkhead_inference::openai::presets`) is an
//! OpenAI-compatible provider with that vendor's defaults.

use std::time::Duration;

use bulkhead_inference::openai::presets::{self, Preset};
use toml::Spanned;

use super::file;
use super::resolve::Resolver;
use super::types::{
    HttpProviderConfig, ProviderConfig, ProviderKind, SimulatedFault, SimulatedFaultKind,
    SimulatedProviderConfig, TimeoutsConfig,
};

impl Resolver<'_, '_> {
    pub(super) fn provider(&mut self, p: file::Provider) -> ProviderConfig {
        let name = self.string(&p.name);
        if name.is_empty() {
            self.diags
                .at(p.name.span(), "provider `name` must not be empty");
        } else if http::HeaderValue::from_str(&name).is_err() {
            self.diags.at(
                p.name.span(),
                "provider `name` must be printable ASCII (it is sent in the x-bulkhead-provider header)",
            );
        }
        let kind_name = self.string(&p.kind);
        let kind = match kind_name.as_str() {
            "openai" => {
                self.reject_simulated_fields(&p, "openai");
                match &p.preset {
                    // `kind = "openai"` with `preset = "groq"`: the same as `kind = "groq"`.
                    Some(vendor) => {
                        let vendor_name = self.string(vendor);
                        match presets::preset(&vendor_name) {
                            Some(preset) => ProviderKind::OpenAi(self.preset(&p, &name, preset)),
                            None => {
                                let known: Vec<String> =
                                    presets::names().map(|n| format!("\"{n}\"")).collect();
                                self.diags.at(
                                    vendor.span(),
                                    format!(
                                        "unknown preset \"{vendor_name}\"; expected one of: {}",
                                        known.join(", ")
                                    ),
                                );
                                ProviderKind::OpenAi(self.http(
                                    &p,
                                    "openai",
                                    "https://api.openai.com/v1",
                                ))
                            }
                        }
                    }
                    None => {
                        ProviderKind::OpenAi(self.http(&p, "openai", "https://api.openai.com/v1"))
                    }
                }
            }
            "simulated" => {
                self.reject_openai_fields(&p);
                ProviderKind::Simulated(self.simulated(&p))
            }
            "anthropic" => {
                self.reject_simulated_fields(&p, "anthropic");
                ProviderKind::Anthropic(self.http(&p, "anthropic", "https://api.anthropic.com"))
            }
            other => match presets::preset(other) {
                // `kind = "groq"`: an OpenAI-compatible provider with the vendor's preset.
                Some(preset) => {
                    self.reject_simulated_fields(&p, other);
                    ProviderKind::OpenAi(self.preset(&p, &name, preset))
                }
                None => {
                    let presets: Vec<String> =
                        presets::names().map(|n| format!("\"{n}\"")).collect();
                    self.diags.at(
                        p.kind.span(),
                        format!(
                            "unknown provider kind \"{other}\"; expected \"openai\", \"anthropic\", \"simulated\" or a vendor preset: {}",
                            presets.join(", ")
                        ),
                    );
                    ProviderKind::Simulated(SimulatedProviderConfig::default())
                }
            },
        };
        if kind_name != "openai"
            && let Some(preset) = &p.preset
        {
            self.diags.at(
                preset.span(),
                "`preset` applies to kind \"openai\" only (or name the vendor as the kind: kind = \"groq\")",
            );
        }
        ProviderConfig::new(name, kind)
    }

    fn reject_simulated_fields(&mut self, p: &file::Provider, kind: &str) {
        let fields = [
            ("latency_ms", p.latency_ms.as_ref().map(Spanned::span)),
            (
                "time_to_first_token_ms",
                p.time_to_first_token_ms.as_ref().map(Spanned::span),
            ),
            (
                "tokens_per_second",
                p.tokens_per_second.as_ref().map(Spanned::span),
            ),
            ("seed", p.seed.as_ref().map(Spanned::span)),
            (
                "embedding_dimensions",
                p.embedding_dimensions.as_ref().map(Spanned::span),
            ),
            ("faults", p.faults.as_ref().map(Spanned::span)),
        ];
        for (field, span) in fields {
            if let Some(span) = span {
                self.diags.at(
                    span,
                    format!("`{field}` applies only to kind \"simulated\", not \"{kind}\""),
                );
            }
        }
    }

    fn reject_openai_fields(&mut self, p: &file::Provider) {
        let fields = [
            ("base_url", p.base_url.as_ref().map(Spanned::span)),
            ("api_key", p.api_key.as_ref().map(Spanned::span)),
            ("headers", p.headers.as_ref().map(Spanned::span)),
            ("timeouts", p.timeouts.as_ref().map(Spanned::span)),
        ];
        for (field, span) in fields {
            if let Some(span) = span {
                self.diags.at(
                    span,
                    format!("`{field}` does not apply to kind \"simulated\", which makes no network calls"),
                );
            }
        }
    }

    /// An OpenAI-compatible provider from a vendor preset: the preset's `base_url`, auth
    /// style and headers, with the configured `base_url`, `api_key` and `headers` winning.
    fn preset(&mut self, p: &file::Provider, name: &str, preset: &Preset) -> HttpProviderConfig {
        let mut http = self.http_settings(p, None);
        let given = p.base_url.as_ref().map(|_| http.base_url.as_str());
        match preset.resolve(given, http.api_key.as_deref()) {
            Ok(resolved) => {
                let configured = std::mem::take(&mut http.headers);
                let mut headers: Vec<(String, String)> = resolved
                    .headers
                    .into_iter()
                    .filter(|(n, _)| !configured.iter().any(|(c, _)| c.eq_ignore_ascii_case(n)))
                    .collect();
                headers.extend(configured);
                http.headers = headers;
                http.base_url = resolved.base_url;
                http.api_key = resolved.api_key;
            }
            Err(e) => self
                .diags
                .at(p.kind.span(), format!("provider `{name}`: {e}")),
        }
        http
    }

    /// The settings of a provider reached over HTTP; `example` is a `base_url` for the error
    /// message when it is missing.
    fn http(&mut self, p: &file::Provider, kind: &str, example: &str) -> HttpProviderConfig {
        self.http_settings(p, Some((kind, example)))
    }

    /// [`http`](Self::http), with `base_url` required only when `required` names the kind
    /// and an example; otherwise a missing one is left empty.
    fn http_settings(
        &mut self,
        p: &file::Provider,
        required: Option<(&str, &str)>,
    ) -> HttpProviderConfig {
        let base_url = match &p.base_url {
            Some(url) => {
                let text = self.string(url);
                if !(text.starts_with("http://") || text.starts_with("https://")) {
                    self.diags.at(
                        url.span(),
                        format!("`base_url` must start with http:// or https://; got \"{text}\""),
                    );
                }
                text
            }
            None => {
                if let Some((kind, example)) = required {
                    self.diags.at(
                        p.kind.span(),
                        format!("kind \"{kind}\" needs `base_url` (e.g. \"{example}\")"),
                    );
                }
                String::new()
            }
        };
        let api_key = p.api_key.as_ref().map(|key| self.string(key));
        let mut headers = Vec::new();
        for (name, value) in p.headers.iter().flat_map(|h| h.get_ref()) {
            if http::HeaderName::from_bytes(name.get_ref().as_bytes()).is_err() {
                self.diags.at(
                    name.span(),
                    format!("\"{}\" is not a valid HTTP header name", name.get_ref()),
                );
            }
            let text = self.string(value);
            if http::HeaderValue::from_str(&text).is_err() {
                // The value may be a secret: name the header, never print the value.
                self.diags.at(
                    value.span(),
                    format!(
                        "the value of header \"{}\" is not a valid HTTP header value (printable ASCII only)",
                        name.get_ref()
                    ),
                );
            }
            headers.push((name.get_ref().clone(), text));
        }
        let mut timeouts = TimeoutsConfig::default();
        if let Some(t) = &p.timeouts {
            let t = t.get_ref();
            timeouts.connect = t.connect_ms.as_ref().map(|v| self.millis(v, "connect_ms"));
            timeouts.first_token = t
                .first_token_ms
                .as_ref()
                .map(|v| self.millis(v, "first_token_ms"));
            timeouts.idle = t.idle_ms.as_ref().map(|v| self.millis(v, "idle_ms"));
            timeouts.total = t.total_ms.as_ref().map(|v| self.millis(v, "total_ms"));
        }
        HttpProviderConfig {
            base_url,
            api_key,
            headers,
            timeouts,
        }
    }

    fn simulated(&mut self, p: &file::Provider) -> SimulatedProviderConfig {
        let mut config = SimulatedProviderConfig {
            latency: p
                .latency_ms
                .as_ref()
                .map(|v| Duration::from_millis(*v.get_ref())),
            time_to_first_token: p
                .time_to_first_token_ms
                .as_ref()
                .map(|v| Duration::from_millis(*v.get_ref())),
            seed: p.seed.as_ref().map(|v| *v.get_ref()),
            ..SimulatedProviderConfig::default()
        };
        if let Some(tps) = &p.tokens_per_second {
            let value = *tps.get_ref();
            if !(value.is_finite() && value > 0.0) {
                self.diags.at(
                    tps.span(),
                    "`tokens_per_second` must be a number greater than 0",
                );
            }
            config.tokens_per_second = Some(value);
        }
        if let Some(dims) = &p.embedding_dimensions {
            match usize::try_from(*dims.get_ref()) {
                Ok(n) if n > 0 && n <= 65_536 => config.embedding_dimensions = Some(n),
                _ => self.diags.at(
                    dims.span(),
                    "`embedding_dimensions` must be between 1 and 65536",
                ),
            }
        }
        for fault in p.faults.iter().flat_map(|f| f.get_ref()) {
            if let Some(fault) = self.fault(fault.get_ref()) {
                config.faults.push(fault);
            }
        }
        config
    }

    fn fault(&mut self, f: &file::Fault) -> Option<SimulatedFault> {
        let probability = *f.probability.get_ref();
        if !(0.0..=1.0).contains(&probability) {
            self.diags.at(
                f.probability.span(),
                "`probability` must be between 0 and 1",
            );
        }
        let kind_name = self.string(&f.kind);
        let kind = match kind_name.as_str() {
            "rate_limited" => SimulatedFaultKind::RateLimited {
                retry_after: Duration::from_millis(
                    f.retry_after_ms.as_ref().map_or(1000, |v| *v.get_ref()),
                ),
            },
            "server_error" => SimulatedFaultKind::ServerError,
            "unavailable" => SimulatedFaultKind::Unavailable,
            "timeout" => SimulatedFaultKind::Timeout,
            "stream_cut" => match &f.after_chunks {
                Some(n) => SimulatedFaultKind::StreamCut {
                    after_chunks: usize::try_from(*n.get_ref()).unwrap_or(usize::MAX),
                },
                None => {
                    self.diags.at(
                        f.kind.span(),
                        "fault kind \"stream_cut\" needs `after_chunks`",
                    );
                    SimulatedFaultKind::StreamCut { after_chunks: 0 }
                }
            },
            other => {
                self.diags.at(
                    f.kind.span(),
                    format!(
                        "unknown fault kind \"{other}\"; expected \"rate_limited\", \"server_error\", \"unavailable\", \"timeout\" or \"stream_cut\""
                    ),
                );
                return None;
            }
        };
        if let (Some(v), false) = (&f.retry_after_ms, kind_name == "rate_limited") {
            self.diags.at(
                v.span(),
                "`retry_after_ms` applies only to fault kind \"rate_limited\"",
            );
        }
        if let (Some(v), false) = (&f.after_chunks, kind_name == "stream_cut") {
            self.diags.at(
                v.span(),
                "`after_chunks` applies only to fault kind \"stream_cut\"",
            );
        }
        Some(SimulatedFault { kind, probability })
    }
}
