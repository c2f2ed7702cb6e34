//! The sections around the model stack: `[cache]`, `[[keys]]`, `[limits]`, `[pricing]` and
//! `[telemetry]`: their file shape, their resolved values, and the checks of each value.
//!
//! Kept apart from providers and models because none of them changes which upstream answers;
//! they decide who may ask, what is remembered, and what is recorded.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::resolve::Resolver;

type S<T> = Spanned<T>;

// ---------------------------------------------------------------------------------------------
// The file's shape.

/// `[cache]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CacheFile {
    pub(crate) enabled: Option<S<bool>>,
    pub(crate) ttl_secs: Option<S<u64>>,
    pub(crate) max_bytes: Option<S<u64>>,
    pub(crate) redis_url: Option<S<String>>,
    pub(crate) only_deterministic: Option<S<bool>>,
}

/// One `[[keys]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyFile {
    pub(crate) name: S<String>,
    pub(crate) hash: S<String>,
    pub(crate) models: Option<S<Vec<S<String>>>>,
    pub(crate) rpm: Option<S<u64>>,
    pub(crate) tpm: Option<S<u64>>,
    pub(crate) max_concurrent: Option<S<u64>>,
    pub(crate) budget_usd: Option<S<f64>>,
    pub(crate) budget_period: Option<S<String>>,
}

/// `[limits]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsFile {
    pub(crate) redis_url: Option<S<String>>,
}

/// One `[pricing."model"]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceFile {
    pub(crate) input: S<f64>,
    pub(crate) output: S<f64>,
    pub(crate) cached_input: Option<S<f64>>,
}

/// `[telemetry]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TelemetryFile {
    pub(crate) log_format: Option<S<String>>,
    pub(crate) otlp_endpoint: Option<S<String>>,
    pub(crate) log_prompts: Option<S<bool>>,
}

// ---------------------------------------------------------------------------------------------
// Resolved values.

/// `[cache]`: off unless the section says `enabled = true`.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheSettings {
    /// Whether answers are cached at all.
    pub enabled: bool,
    /// How long an entry lives; default one hour.
    pub ttl: Duration,
    /// The in-memory tier's capacity in bytes; default 256 MiB.
    pub max_bytes: u64,
    /// A shared second tier every replica reads and writes; optional.
    pub redis_url: Option<String>,
    /// Cache only requests whose answer is reproducible (`temperature = 0` or a `seed`).
    pub only_deterministic: bool,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            ttl: Duration::from_secs(3600),
            max_bytes: 256 * 1024 * 1024,
            redis_url: None,
            only_deterministic: false,
        }
    }
}

/// A virtual key: one `[[keys]]` entry. The key itself is never in the config, only its hash.
#[derive(Clone, PartialEq)]
pub struct KeyConfig {
    /// The key's name: the tenant its requests are served for, and the `key` metric label.
    pub name: String,
    /// SHA-256 of the exact key string.
    pub sha256: [u8; 32],
    /// The model names this key may use; `None` allows every model.
    pub models: Option<Vec<String>>,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens (prompt and completion) per minute.
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    pub max_concurrent: Option<u32>,
    /// US dollars this key may spend per `budget_period`.
    pub budget_usd: Option<f64>,
    /// The period the budget covers; default a calendar month (UTC).
    pub budget_period: BudgetPeriod,
}

impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is not a secret, but there is no reason to spread it through logs either.
        f.debug_struct("KeyConfig")
            .field("name", &self.name)
            .field("models", &self.models)
            .field("rpm", &self.rpm)
            .field("tpm", &self.tpm)
            .field("max_concurrent", &self.max_concurrent)
            .field("budget_usd", &self.budget_usd)
            .field("budget_period", &self.budget_period)
            .finish_non_exhaustive()
    }
}

/// The calendar period (UTC) a key's budget covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BudgetPeriod {
    /// From 00:00 UTC to the next 00:00 UTC.
    Day,
    /// From the first of the month, 00:00 UTC.
    #[default]
    Month,
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LimitsSettings {
    /// Share rate-limit, concurrency and budget counters with every replica through Redis.
    pub redis_url: Option<String>,
}

/// `[pricing."model"]`: USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceConfig {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million completion tokens.
    pub output: f64,
    /// Per million prompt tokens served from the provider's prompt cache; default `input`.
    pub cached_input: Option<f64>,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TelemetrySettings {
    /// How logs are written.
    pub log_format: LogFormat,
    /// Where traces are exported over OTLP; none by default.
    pub otlp_endpoint: Option<String>,
    /// Record prompts and completions in logs and spans. Off by default: they are the users'
    /// data.
    pub log_prompts: bool,
}

/// Everything of this module's sections, resolved.
#[derive(Debug, Default)]
pub(crate) struct Sections {
    pub(crate) cache: CacheSettings,
    pub(crate) keys: Vec<KeyConfig>,
    pub(crate) limits: LimitsSettings,
    pub(crate) pricing: BTreeMap<String, PriceConfig>,
    pub(crate) telemetry: TelemetrySettings,
}

// ---------------------------------------------------------------------------------------------
// Resolution.

impl Resolver<'_, '_> {
    pub(crate) fn sections(
        &mut self,
        cache: Option<CacheFile>,
        keys: Vec<S<KeyFile>>,
        limits: Option<LimitsFile>,
        pricing: BTreeMap<S<String>, S<PriceFile>>,
        telemetry: Option<TelemetryFile>,
        model_names: &HashSet<String>,
    ) -> Sections {
        Sections {
            cache: cache.map(|c| self.cache(c)).unwrap_or_default(),
            keys: self.keys(keys, model_names),
            limits: LimitsSettings {
                redis_url: limits.and_then(|l| l.redis_url).map(|u| self.redis_url(&u)),
            },
            pricing: pricing
                .into_iter()
                .map(|(model, price)| (model.into_inner(), self.price(price.get_ref())))
                .collect(),
            telemetry: telemetry.map(|t| self.telemetry(t)).unwrap_or_default(),
        }
    }

    fn cache(&mut self, c: CacheFile) -> CacheSettings {
        let mut s = CacheSettings {
            // Writing a `[cache]` section at all means wanting a cache.
            enabled: true,
            ..CacheSettings::default()
        };
        if let Some(enabled) = c.enabled {
            s.enabled = *enabled.get_ref();
        }
        if let Some(ttl) = &c.ttl_secs {
            s.ttl = Duration::from_secs(self.positive(ttl, "ttl_secs"));
        }
        if let Some(max) = &c.max_bytes {
            s.max_bytes = self.positive(max, "max_bytes");
        }
        s.redis_url = c.redis_url.map(|u| self.redis_url(&u));
        s.only_deterministic = c.only_deterministic.is_some_and(|d| *d.get_ref());
        s
    }

    fn keys(&mut self, keys: Vec<S<KeyFile>>, model_names: &HashSet<String>) -> Vec<KeyConfig> {
        let mut names = HashSet::new();
        let mut hashes = HashSet::new();
        let mut resolved = Vec::with_capacity(keys.len());
        for key in keys {
            let k = key.into_inner();
            let name = self.string(&k.name);
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                self.diags.at(
                    k.name.span(),
                    "key `name` must be non-empty printable ASCII without spaces (it is a metric label)",
                );
            } else if !names.insert(name.clone()) {
                self.diags.at(
                    k.name.span(),
                    format!("key `{name}` is defined more than once; key names must be unique"),
                );
            }
            let sha256 = match parse_hash(&self.string(&k.hash)) {
                Some(h) => h,
                None => {
                    self.diags.at(
                        k.hash.span(),
                        "`hash` must be \"sha256:\" followed by 64 lowercase hex digits; \
                         `bulkhead key new` prints one (never put the key itself here)",
                    );
                    [0; 32]
                }
            };
            if sha256 != [0; 32] && !hashes.insert(sha256) {
                self.diags.at(
                    k.hash.span(),
                    "this hash is used by another key; each key needs its own",
                );
            }
            let models = k.models.map(|list| {
                list.into_inner()
                    .into_iter()
                    .map(|m| {
                        let text = self.string(&m);
                        if !model_names.contains(&text) {
                            self.diags.at(
                                m.span(),
                                format!("key `{name}` allows model `{text}`, which no [[models]] entry defines"),
                            );
                        }
                        text
                    })
                    .collect()
            });
            let rpm = k.rpm.as_ref().map(|v| self.count_u32(v, "rpm"));
            let max_concurrent = k
                .max_concurrent
                .as_ref()
                .map(|v| self.count_u32(v, "max_concurrent"));
            let tpm = k.tpm.as_ref().map(|v| self.positive(v, "tpm"));
            let budget_usd = k.budget_usd.as_ref().map(|b| {
                let usd = *b.get_ref();
                if !(usd.is_finite() && usd >= 0.0) {
                    self.diags.at(
                        b.span(),
                        "`budget_usd` must be a number of dollars, 0 or more",
                    );
                }
                usd
            });
            let budget_period = match &k.budget_period {
                None => BudgetPeriod::default(),
                Some(p) => {
                    match self.string(p).as_str() {
                        "day" => BudgetPeriod::Day,
                        "month" => BudgetPeriod::Month,
                        other => {
                            self.diags.at(
                            p.span(),
                            format!("unknown budget_period \"{other}\"; expected \"day\" or \"month\""),
                        );
                            BudgetPeriod::default()
                        }
                    }
                }
            };
            resolved.push(KeyConfig {
                name,
                sha256,
                models,
                rpm,
                tpm,
                max_concurrent,
                budget_usd,
                budget_period,
            });
        }
        resolved
    }

    fn price(&mut self, p: &PriceFile) -> PriceConfig {
        let mut usd = |v: &S<f64>, what: &str| {
            let x = *v.get_ref();
            if !(x.is_finite() && x >= 0.0) {
                self.diags.at(
                    v.span(),
                    format!("`{what}` must be US dollars per million tokens, 0 or more"),
                );
            }
            x
        };
        PriceConfig {
            input: usd(&p.input, "input"),
            output: usd(&p.output, "output"),
            cached_input: p.cached_input.as_ref().map(|c| usd(c, "cached_input")),
        }
    }

    fn telemetry(&mut self, t: TelemetryFile) -> TelemetrySettings {
        let log_format = match &t.log_format {
            None => LogFormat::default(),
            Some(f) => match self.string(f).as_str() {
                "json" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                other => {
                    self.diags.at(
                        f.span(),
                        format!("unknown log_format \"{other}\"; expected \"json\" or \"pretty\""),
                    );
                    LogFormat::default()
                }
            },
        };
        let otlp_endpoint = t.otlp_endpoint.map(|e| {
            let text = self.string(&e);
            if !(text.starts_with("http://") || text.starts_with("https://")) {
                self.diags.at(
                    e.span(),
                    "`otlp_endpoint` must be an http:// or https:// URL, like \"http://127.0.0.1:4317\"",
                );
            }
            text
        });
        TelemetrySettings {
            log_format,
            otlp_endpoint,
            log_prompts: t.log_prompts.is_some_and(|p| *p.get_ref()),
        }
    }

    fn redis_url(&mut self, url: &S<String>) -> String {
        let text = self.string(url);
        if !(text.starts_with("redis://")
            || text.starts_with("rediss://")
            || text.starts_with("unix://")
            || text.starts_with("redis+unix://"))
        {
            self.diags.at(
                url.span(),
                "`redis_url` must be a redis:// (or rediss://, unix://) URL, like \"redis://127.0.0.1:6379\"",
            );
        }
        text
    }

    fn positive(&mut self, v: &S<u64>, what: &str) -> u64 {
        if *v.get_ref() == 0 {
            self.diags
                .at(v.span(), format!("`{what}` must be greater than 0"));
        }
        *v.get_ref()
    }

    fn count_u32(&mut self, v: &S<u64>, what: &str) -> u32 {
        match u32::try_from(*v.get_ref()) {
            Ok(n) if n > 0 => n,
            _ => {
                self.diags.at(
                    v.span(),
                    format!("`{what}` must be between 1 and 4294967295"),
                );
                1
            }
        }
    }
}

/// `sha256:` + 64 lowercase hex digits, as bytes.
fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let hex_digits = text.strip_prefix("sha256:")?;
    if hex_digits.len() != 64 || hex_digits.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digits, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::parse_hash;

    #[test]
    fn hashes_must_be_prefixed_lowercase_sha256_hex() {
        let good = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(parse_hash(&good), Some([0xab; 32]));
        assert_eq!(parse_hash(&"ab".repeat(32)), None, "no prefix");
        assert_eq!(parse_hash(&format!("sha256:{}", "AB".repeat(32))), None);
        assert_eq!(parse_hash("sha256:abcd"), None);
        assert_eq!(parse_hash(&format!("sha256:{}", "zz".repeat(32))), None);
    }
}
