//! `bulkhead models`: list the model ids a gateway serves (`GET {url}/models`).

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::Endpoint;

pub(crate) async fn run(endpoint: Endpoint) -> anyhow::Result<()> {
    bulkhead_inference::install_crypto_provider();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build the HTTP client")?;
    let url = format!("{}/models", endpoint.url.trim_end_matches('/'));
    let mut request = client.get(&url);
    if let Some(key) = &endpoint.api_key {
        request = request.bearer_auth(key);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("cannot read the answer of {url}"))?;
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        let message = json["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        bail!("{url} answered {status}: {message}");
    }
    let Some(models) = json["data"].as_array() else {
        bail!("{url} did not answer with a model list");
    };
    for id in models.iter().filter_map(|m| m["id"].as_str()) {
        println!("{id}");
    }
    Ok(())
}
