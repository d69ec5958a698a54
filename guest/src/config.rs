//! The API client's configuration, and secrets that never show in `Debug`.

use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// A secret string: its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Everything a client needs (see the WIT `config`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Base URL, e.g. `https://api.gradient-labs.ai`.
    pub base_url: String,
    /// The API key.
    pub api_key: Secret,
    /// `User-Agent`; `glbridge/<version>` when `None`.
    pub user_agent: Option<String>,
    /// Per-request timeout, ms.
    pub timeout_ms: u32,
    /// Largest request body, bytes.
    pub max_body_bytes: u32,
    /// Retry behaviour.
    pub retry: RetryPolicy,
}

/// The official API's address.
pub const DEFAULT_BASE_URL: &str = "https://api.gradient-labs.ai";

impl Config {
    /// A configuration with the defaults: 10 s timeout, 2 MiB bodies, 4 attempts.
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> Self {
        Config {
            base_url: base_url.into(),
            api_key: Secret::new(api_key),
            user_agent: None,
            timeout_ms: 10_000,
            max_body_bytes: 2 * 1024 * 1024,
            retry: RetryPolicy::default(),
        }
    }

    /// The `User-Agent` to send.
    pub fn user_agent(&self) -> String {
        self.user_agent
            .clone()
            .unwrap_or_else(|| concat!("glbridge/", env!("CARGO_PKG_VERSION")).to_owned())
    }

    /// Checks what can be checked without sending anything.
    pub fn validate(&self) -> Result<()> {
        let rest = self
            .base_url
            .strip_prefix("https://")
            .or_else(|| self.base_url.strip_prefix("http://"))
            .ok_or_else(|| Error::invalid("base_url", "must start with https:// or http://"))?;
        if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#', ' ']) {
            return Err(Error::invalid(
                "base_url",
                "must be an absolute URL with a host and no query",
            ));
        }
        if self.api_key.expose().trim().is_empty() {
            return Err(Error::invalid("api_key", "is required"));
        }
        if self.api_key.expose().chars().any(|c| c.is_control()) {
            return Err(Error::invalid("api_key", "contains control characters"));
        }
        if self.retry.max_attempts == 0 {
            return Err(Error::invalid("retry.max_attempts", "must be at least 1"));
        }
        Ok(())
    }
}
