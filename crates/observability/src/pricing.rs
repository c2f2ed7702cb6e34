//! Cost: a price table in US dollars per million tokens, and the cost of a reported usage.
//!
//! The built-in table covers the common OpenAI, Anthropic, Gemini, Mistral and DeepSeek
//! models at the list prices published on [`PRICES_AS_OF`]. Prices change; the gateway
//! overrides or adds entries from `[pricing."model"]`, and an embedding user calls
//! [`Pricing::with_price`]. A model with no price costs nothing and is not counted (better no
//! figure than a wrong one).
//!
//! Model names are matched exactly first, then with the provider's version suffix removed, so
//! `gpt-4o-mini-2024-07-18`, `claude-3-5-haiku-20241022`, `claude-3-5-haiku@20241022`,
//! `mistral-large-2411`, `claude-3-7-sonnet-latest` and `gemini-2.5-flash-preview-05-20` find
//! the entries of `gpt-4o-mini`, `claude-3-5-haiku`, `mistral-large`, `claude-3-7-sonnet` and
//! `gemini-2.5-flash`. A routing prefix (`openai/gpt-4o`, `models/gemini-2.0-flash`) is
//! dropped too. Matching is case-insensitive.

use bulkhead_core::Usage;

/// The date the built-in prices were taken from the providers' public price lists.
pub const PRICES_AS_OF: &str = "2025-10-01";

/// What a model costs, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million completion tokens (reasoning tokens included, as providers bill them).
    pub output: f64,
    /// Per million prompt tokens served from the provider's prompt cache; `None` bills them
    /// at `input`.
    pub cached_input: Option<f64>,
}

impl Price {
    /// A price without a cached-input discount.
    pub const fn new(input: f64, output: f64) -> Self {
        Self {
            input,
            output,
            cached_input: None,
        }
    }

    /// A price with a cached-input rate.
    pub const fn with_cached(input: f64, output: f64, cached_input: f64) -> Self {
        Self {
            input,
            output,
            cached_input: Some(cached_input),
        }
    }

    /// The cost of `usage` in US dollars: uncached prompt tokens at `input`, cached ones at
    /// `cached_input`, completion tokens at `output`. Rounded to 10⁻¹² dollars (see
    /// [`dollars`]), so `19 × 0.15 + 18 × 0.60` per million is `0.00001365`.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_tokens().min(usage.prompt_tokens);
        let uncached = usage.prompt_tokens - cached;
        let cached_rate = self.cached_input.unwrap_or(self.input);
        dollars(
            f64::from(uncached) * self.input
                + f64::from(cached) * cached_rate
                + f64::from(usage.completion_tokens) * self.output,
        )
    }

    /// The cost of `input_tokens` prompt tokens alone (embeddings), rounded as [`cost`](Self::cost).
    pub fn input_cost(&self, input_tokens: u32) -> f64 {
        dollars(f64::from(input_tokens) * self.input)
    }
}

/// Dollars from a sum of tokens × dollars-per-million, rounded to 10⁻¹² dollars: far below
/// the price of one token (the cheapest are ~10⁻⁸), and enough to drop the float noise of the
/// sum, which users would otherwise read in `x-bulkhead-cost-usd` and the logs
/// (`0.000013649999999999998` for `0.00001365`).
fn dollars(per_million: f64) -> f64 {
    // `per_million / 1e6` dollars are `per_million * 1e6` units of 1e-12 dollars.
    (per_million * 1e6).round() / 1e12
}

/// A price table keyed by model name; see the module docs for how names match.
#[derive(Debug, Clone)]
pub struct Pricing {
    /// Looked up per request; the names come from the configuration, so a fast hash.
    prices: foldhash::HashMap<String, Price>,
}

impl Default for Pricing {
    /// The built-in table.
    fn default() -> Self {
        Self::builtin()
    }
}

impl Pricing {
    /// The built-in table ([`PRICES_AS_OF`]).
    pub fn builtin() -> Self {
        let prices = BUILTIN
            .iter()
            .map(|(name, price)| ((*name).to_owned(), *price))
            .collect();
        Self { prices }
    }

    /// A table with no prices at all.
    pub fn empty() -> Self {
        Self {
            prices: foldhash::HashMap::default(),
        }
    }

    /// Set (or replace) the price of `model`.
    pub fn with_price(mut self, model: impl AsRef<str>, price: Price) -> Self {
        self.set(model, price);
        self
    }

    /// Set (or replace) the price of `model`.
    pub fn set(&mut self, model: impl AsRef<str>, price: Price) {
        self.prices
            .insert(model.as_ref().to_ascii_lowercase(), price);
    }

    /// The price of `model`: an exact entry, else the entry of its name without a version
    /// suffix or routing prefix.
    pub fn price(&self, model: &str) -> Option<Price> {
        // Runs per request: names are nearly always lowercase already, so copy only when not.
        if model.bytes().any(|b| b.is_ascii_uppercase()) {
            self.price_lowercase(&model.to_ascii_lowercase())
        } else {
            self.price_lowercase(model)
        }
    }

    /// [`Pricing::price`] of a lowercase name.
    fn price_lowercase(&self, mut name: &str) -> Option<Price> {
        if let Some(price) = self.prices.get(name) {
            return Some(*price);
        }
        if let Some((_, last)) = name.rsplit_once('/') {
            name = last;
            if let Some(price) = self.prices.get(name) {
                return Some(*price);
            }
        }
        while let Some(shorter) = strip_version(name) {
            name = shorter;
            if let Some(price) = self.prices.get(name) {
                return Some(*price);
            }
        }
        None
    }

    /// The cost of `usage` on `model`, when the model has a price.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.price(model).map(|price| price.cost(usage))
    }
}

/// `name` without its last version-like suffix, or `None` when there is none: `@anything`,
/// `-YYYY-MM-DD`, `-latest`, `-preview…` / `-exp…`, or a trailing `-` + four or more digits.
fn strip_version(name: &str) -> Option<&str> {
    if let Some((base, _)) = name.split_once('@') {
        return Some(base);
    }
    let bytes = name.as_bytes();
    if bytes.len() > 11 {
        let tail = &bytes[bytes.len() - 11..];
        let date = tail[0] == b'-'
            && tail[5] == b'-'
            && tail[8] == b'-'
            && [1, 2, 3, 4, 6, 7, 9, 10]
                .iter()
                .all(|&i| tail[i].is_ascii_digit());
        if date {
            return Some(&name[..name.len() - 11]);
        }
    }
    // At the first `-preview` or `-exp`, found from the dashes: `str::find` with a string
    // pattern sets up a two-way searcher per call, which cost more than the rest of a lookup
    // (this runs on every request whose model has no exact entry).
    for marker in ["-preview", "-exp"] {
        if let Some((at, _)) = name
            .match_indices('-')
            .find(|&(at, _)| name[at..].starts_with(marker))
        {
            return Some(&name[..at]);
        }
    }
    let (base, last) = name.rsplit_once('-')?;
    let numeric = last.len() >= 4 && last.bytes().all(|b| b.is_ascii_digit());
    (last == "latest" || numeric).then_some(base)
}

/// List prices, US dollars per million tokens, as of [`PRICES_AS_OF`]:
/// (model, input, output, cached input).
const BUILTIN: &[(&str, Price)] = &[
    // OpenAI (cached input: the prompt-caching rate).
    ("gpt-5", Price::with_cached(1.25, 10.0, 0.125)),
    ("gpt-5-mini", Price::with_cached(0.25, 2.0, 0.025)),
    ("gpt-5-nano", Price::with_cached(0.05, 0.40, 0.005)),
    ("gpt-4.1", Price::with_cached(2.0, 8.0, 0.50)),
    ("gpt-4.1-mini", Price::with_cached(0.40, 1.60, 0.10)),
    ("gpt-4.1-nano", Price::with_cached(0.10, 0.40, 0.025)),
    ("gpt-4o", Price::with_cached(2.50, 10.0, 1.25)),
    ("gpt-4o-mini", Price::with_cached(0.15, 0.60, 0.075)),
    ("gpt-4-turbo", Price::new(10.0, 30.0)),
    ("gpt-3.5-turbo", Price::new(0.50, 1.50)),
    ("o1", Price::with_cached(15.0, 60.0, 7.50)),
    ("o3", Price::with_cached(2.0, 8.0, 0.50)),
    ("o3-mini", Price::with_cached(1.10, 4.40, 0.55)),
    ("o4-mini", Price::with_cached(1.10, 4.40, 0.275)),
    ("text-embedding-3-small", Price::new(0.02, 0.0)),
    ("text-embedding-3-large", Price::new(0.13, 0.0)),
    ("text-embedding-ada-002", Price::new(0.10, 0.0)),
    // Anthropic (cached input: the cache-read rate).
    ("claude-opus-4-1", Price::with_cached(15.0, 75.0, 1.50)),
    ("claude-opus-4", Price::with_cached(15.0, 75.0, 1.50)),
    ("claude-sonnet-4-5", Price::with_cached(3.0, 15.0, 0.30)),
    ("claude-sonnet-4", Price::with_cached(3.0, 15.0, 0.30)),
    ("claude-haiku-4-5", Price::with_cached(1.0, 5.0, 0.10)),
    ("claude-3-7-sonnet", Price::with_cached(3.0, 15.0, 0.30)),
    ("claude-3-5-sonnet", Price::with_cached(3.0, 15.0, 0.30)),
    ("claude-3-5-haiku", Price::with_cached(0.80, 4.0, 0.08)),
    ("claude-3-opus", Price::with_cached(15.0, 75.0, 1.50)),
    ("claude-3-haiku", Price::with_cached(0.25, 1.25, 0.03)),
    // Google Gemini (prompts up to 200k tokens; cached input: the context-caching rate).
    ("gemini-2.5-pro", Price::with_cached(1.25, 10.0, 0.125)),
    ("gemini-2.5-flash", Price::with_cached(0.30, 2.50, 0.03)),
    (
        "gemini-2.5-flash-lite",
        Price::with_cached(0.10, 0.40, 0.01),
    ),
    ("gemini-2.0-flash", Price::with_cached(0.10, 0.40, 0.025)),
    ("gemini-2.0-flash-lite", Price::new(0.075, 0.30)),
    ("gemini-1.5-pro", Price::new(1.25, 5.0)),
    ("gemini-1.5-flash", Price::new(0.075, 0.30)),
    // Mistral.
    ("mistral-large", Price::new(2.0, 6.0)),
    ("mistral-medium", Price::new(0.40, 2.0)),
    ("mistral-small", Price::new(0.10, 0.30)),
    ("codestral", Price::new(0.30, 0.90)),
    ("pixtral-large", Price::new(2.0, 6.0)),
    ("open-mistral-nemo", Price::new(0.15, 0.15)),
    ("ministral-8b", Price::new(0.10, 0.10)),
    ("ministral-3b", Price::new(0.04, 0.04)),
    ("mistral-embed", Price::new(0.10, 0.0)),
    // DeepSeek (cached input: the cache-hit rate).
    ("deepseek-chat", Price::with_cached(0.28, 0.42, 0.028)),
    ("deepseek-reasoner", Price::with_cached(0.28, 0.42, 0.028)),
];

#[cfg(test)]
mod tests {
    use bulkhead_core::PromptTokensDetails;

    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn versioned_and_prefixed_names_find_their_base_entry() {
        let pricing = Pricing::builtin();
        let mini = pricing.price("gpt-4o-mini");
        assert!(mini.is_some());
        for name in [
            "gpt-4o-mini-2024-07-18",
            "GPT-4o-mini",
            "openai/gpt-4o-mini",
            "gpt-4o-mini@2024-07-18",
        ] {
            assert_eq!(pricing.price(name), mini, "{name}");
        }
        let haiku = pricing.price("claude-3-5-haiku");
        assert_eq!(pricing.price("claude-3-5-haiku-20241022"), haiku);
        assert_eq!(pricing.price("claude-3-5-haiku-latest"), haiku);
        assert_eq!(
            pricing.price("mistral-large-2411"),
            pricing.price("mistral-large")
        );
        assert_eq!(
            pricing.price("gemini-2.5-flash-preview-05-20"),
            pricing.price("gemini-2.5-flash")
        );
        // gpt-4o is not mistaken for gpt-4o-mini, nor the other way round.
        assert_ne!(pricing.price("gpt-4o-2024-08-06"), mini);
        assert_eq!(pricing.price("llama-3.1-8b"), None);
        assert_eq!(pricing.price("gpt-4"), None);
    }

    #[test]
    fn overrides_replace_builtin_prices() {
        let pricing = Pricing::builtin().with_price("GPT-4o-mini", Price::new(1.0, 2.0));
        assert_eq!(
            pricing.price("gpt-4o-mini-2024-07-18"),
            Some(Price::new(1.0, 2.0))
        );
        let custom = Pricing::empty().with_price("qwen2.5-7b", Price::new(0.1, 0.2));
        assert!(custom.price("gpt-4o").is_none());
        assert!(custom.price("qwen2.5-7b").is_some());
    }

    #[test]
    fn costs_read_as_the_sum_without_float_noise() {
        // gpt-4o-mini's list price: 19 prompt and 18 completion tokens. Summed in floats and
        // divided, this is 0.000013649999999999998.
        let price = Price::new(0.15, 0.60);
        assert_eq!(price.cost(&Usage::new(19, 18)).to_string(), "0.00001365");
        assert_eq!(price.input_cost(7).to_string(), "0.00000105");
        assert_eq!(Price::new(3.0, 15.0).cost(&Usage::new(0, 0)), 0.0);
        // Large bills keep their cents.
        let bill = Price::new(2.5, 10.0).cost(&Usage::new(900_000_000, 100_000_000));
        assert_eq!(bill.to_string(), "3250");
    }

    #[test]
    fn cost_bills_cached_prompt_tokens_at_the_cached_rate() {
        let mut usage = Usage::new(1_000_000, 500_000);
        let price = Price::with_cached(2.0, 8.0, 0.5);
        assert!(close(price.cost(&usage), 2.0 + 4.0));
        usage.prompt_tokens_details = Some(PromptTokensDetails {
            cached_tokens: Some(400_000),
            ..PromptTokensDetails::default()
        })
        .into();
        assert!(close(price.cost(&usage), 0.6 * 2.0 + 0.4 * 0.5 + 4.0));
        // Without a cached rate, cached tokens cost the input rate.
        assert!(close(Price::new(2.0, 8.0).cost(&usage), 6.0));
    }
}
