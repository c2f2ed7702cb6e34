//! OpenAI-compatible vendors as data: one [`Preset`] row each in [`PRESETS`].
//!
//! A preset is what differs between vendors that speak the OpenAI wire format: the default
//! API root, how the key is sent, whether one is needed, a path and query some vendors put
//! around the standard endpoints, and fixed extra headers. Adding a vendor is one more row;
//! nothing else in Bulkhead matches on vendor names.
//!
//! | preset | default `base_url` | key | auth |
//! |---|---|---|---|
//! | `openai` | `https://api.openai.com/v1` | required | `Authorization: Bearer` |
//! | `azure` | none: give the resource endpoint, `https://RESOURCE.openai.azure.com` | required | `api-key` header; path `/openai/deployments/{model}`, query `api-version=2024-10-21` |
//! | `ollama` | `http://127.0.0.1:11434/v1` | optional | Bearer when given |
//! | `vllm` | `http://127.0.0.1:8000/v1` | optional | Bearer when given |
//! | `llamacpp` | `http://127.0.0.1:8080/v1` | optional | Bearer when given |
//! | `groq` | `https://api.groq.com/openai/v1` | required | Bearer |
//! | `together` | `https://api.together.xyz/v1` | required | Bearer |
//! | `mistral` | `https://api.mistral.ai/v1` | required | Bearer |
//! | `deepseek` | `https://api.deepseek.com/v1` | required | Bearer |
//! | `openrouter` | `https://openrouter.ai/api/v1` | required | Bearer; `X-Title: Bulkhead` |
//! | `gemini` | `https://generativelanguage.googleapis.com/v1beta/openai` | required | Bearer |
//!
//! For Azure the target's `model` is the *deployment* name: it fills `{model}` in the path,
//! so one provider serves every deployment of a resource. A `base_url` that carries its own
//! query (`...?api-version=2025-01-01-preview`) keeps it instead of the preset's.

use super::OpenAiConfig;

/// How a preset sends the API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer KEY`.
    Bearer,
    /// `<header>: KEY` (Azure's `api-key`).
    Header(&'static str),
}

/// One OpenAI-compatible vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// The name used in configuration (`preset = "groq"`).
    pub name: &'static str,
    /// The API root used when none is configured; `None` means one must be given.
    pub base_url: Option<&'static str>,
    /// Inserted between the API root and `/chat/completions` (`{model}` is the request's model).
    pub path: &'static str,
    /// The query every request carries unless the configured `base_url` has its own.
    pub query: &'static str,
    /// How the key is sent.
    pub auth: Auth,
    /// Whether a key is required (local servers need none).
    pub needs_key: bool,
    /// Fixed extra headers; configured headers of the same name win.
    pub headers: &'static [(&'static str, &'static str)],
    /// What the default `base_url` means, for error messages (`the resource endpoint`).
    pub base_url_hint: &'static str,
}

const fn bearer(name: &'static str, base_url: &'static str, needs_key: bool) -> Preset {
    Preset {
        name,
        base_url: Some(base_url),
        path: "",
        query: "",
        auth: Auth::Bearer,
        needs_key,
        headers: &[],
        base_url_hint: base_url,
    }
}

/// Every known vendor. Add a row to add one.
pub const PRESETS: &[Preset] = &[
    bearer("openai", "https://api.openai.com/v1", true),
    Preset {
        name: "azure",
        base_url: None,
        path: "/openai/deployments/{model}",
        query: "api-version=2024-10-21",
        auth: Auth::Header("api-key"),
        needs_key: true,
        headers: &[],
        base_url_hint: "https://RESOURCE.openai.azure.com",
    },
    bearer("ollama", "http://127.0.0.1:11434/v1", false),
    bearer("vllm", "http://127.0.0.1:8000/v1", false),
    bearer("llamacpp", "http://127.0.0.1:8080/v1", false),
    bearer("groq", "https://api.groq.com/openai/v1", true),
    bearer("together", "https://api.together.xyz/v1", true),
    bearer("mistral", "https://api.mistral.ai/v1", true),
    bearer("deepseek", "https://api.deepseek.com/v1", true),
    Preset {
        headers: &[("X-Title", "Bulkhead")],
        ..bearer("openrouter", "https://openrouter.ai/api/v1", true)
    },
    bearer(
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        true,
    ),
];

/// The preset called `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The names of every preset, for error messages.
pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|p| p.name)
}

/// What a preset and the configured values add up to: the final `base_url` (with the preset's
/// path and query), the key to send as a Bearer token, and the headers to add.
#[derive(Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The API root, possibly with `{model}` and a query.
    pub base_url: String,
    /// Sent as `Authorization: Bearer` (`None` for header-auth presets and keyless servers).
    pub api_key: Option<String>,
    /// Extra headers, the key among them for header-auth presets.
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Resolved")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("headers", &names)
            .finish()
    }
}

/// Why a preset cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresetError {
    /// The preset has no default API root and none was given.
    #[error("preset \"{preset}\" needs `base_url` (e.g. \"{hint}\")")]
    MissingBaseUrl {
        /// The preset.
        preset: &'static str,
        /// An example.
        hint: &'static str,
    },
    /// The vendor requires a key and none was given.
    #[error("preset \"{preset}\" needs `api_key`")]
    MissingKey {
        /// The preset.
        preset: &'static str,
    },
}

impl Preset {
    /// Apply the preset to the configured `base_url` and `api_key` (each overrides the
    /// preset's default).
    pub fn resolve(
        &self,
        base_url: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<Resolved, PresetError> {
        let given = base_url
            .or(self.base_url)
            .ok_or(PresetError::MissingBaseUrl {
                preset: self.name,
                hint: self.base_url_hint,
            })?;
        if self.needs_key && api_key.is_none() {
            return Err(PresetError::MissingKey { preset: self.name });
        }
        let (root, own_query) = match given.split_once('?') {
            Some((root, query)) => (root, Some(query)),
            None => (given, None),
        };
        let mut url = format!("{}{}", root.trim_end_matches('/'), self.path);
        if let Some(query) = own_query.or(Some(self.query)).filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(query);
        }
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let api_key = match (self.auth, api_key) {
            (Auth::Bearer, key) => key.map(str::to_owned),
            (Auth::Header(header), Some(key)) => {
                headers.push((header.to_owned(), key.to_owned()));
                None
            }
            (Auth::Header(_), None) => None,
        };
        Ok(Resolved {
            base_url: url,
            api_key,
            headers,
        })
    }
}

impl OpenAiConfig {
    /// A configuration for provider `name` from a preset, with the given `base_url` and key
    /// overriding the preset's defaults.
    ///
    /// ```
    /// use bulkhead_inference::OpenAiConfig;
    /// use bulkhead_inference::openai::presets::preset;
    ///
    /// let groq = preset("groq").unwrap();
    /// let config = OpenAiConfig::from_preset("fast", groq, None, Some("gsk-...")).unwrap();
    /// assert_eq!(config.base_url, "https://api.groq.com/openai/v1");
    /// ```
    pub fn from_preset(
        name: impl Into<String>,
        preset: &Preset,
        base_url: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<Self, PresetError> {
        let resolved = preset.resolve(base_url, api_key)?;
        let mut config = OpenAiConfig::new(name, resolved.base_url);
        config.api_key = resolved.api_key;
        config.headers = resolved.headers;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_default_url_is_http() {
        let mut seen: Vec<&str> = names().collect();
        let count = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), count);
        for p in PRESETS {
            if let Some(url) = p.base_url {
                assert!(url.starts_with("http://") || url.starts_with("https://"));
                assert!(!url.ends_with('/'), "{}", p.name);
            }
        }
    }

    #[test]
    fn azure_puts_the_key_in_a_header_and_the_deployment_in_the_path() {
        let azure = preset("azure").expect("azure");
        let r = azure
            .resolve(Some("https://res.openai.azure.com/"), Some("k"))
            .expect("resolves");
        assert_eq!(
            r.base_url,
            "https://res.openai.azure.com/openai/deployments/{model}?api-version=2024-10-21"
        );
        assert_eq!(r.api_key, None);
        assert_eq!(r.headers, [("api-key".to_owned(), "k".to_owned())]);
        let own = azure
            .resolve(
                Some("https://res.openai.azure.com?api-version=2025-01-01-preview"),
                Some("k"),
            )
            .expect("resolves");
        assert!(
            own.base_url
                .ends_with("{model}?api-version=2025-01-01-preview")
        );
        assert_eq!(
            azure.resolve(None, Some("k")),
            Err(PresetError::MissingBaseUrl {
                preset: "azure",
                hint: "https://RESOURCE.openai.azure.com"
            })
        );
        assert_eq!(
            azure.resolve(Some("https://x"), None),
            Err(PresetError::MissingKey { preset: "azure" })
        );
    }

    #[test]
    fn local_servers_need_no_key_and_a_given_base_url_wins() {
        let ollama = preset("ollama").expect("ollama");
        let r = ollama.resolve(None, None).expect("resolves");
        assert_eq!(r.base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(r.api_key, None);
        let r = ollama
            .resolve(Some("http://gpu-box:11434/v1"), None)
            .expect("resolves");
        assert_eq!(r.base_url, "http://gpu-box:11434/v1");
    }
}
