//! The API client: configuration, the retry loop, typed calls.

use crate::env::{Clock, Transport};
use crate::error::{Error, Result};
use crate::operation::{Operation, Output};
use crate::retry::{Jitter, RetryPolicy};

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

/// An API client. Sends through a [`Transport`] and waits through a [`Clock`]
/// it is handed on each call; keeps only its configuration and jitter stream.
#[derive(Debug, Clone)]
pub struct Client {
    config: Config,
    jitter: Jitter,
}

impl Client {
    /// A client, if the configuration is usable.
    pub fn open(config: Config) -> Result<Self> {
        config.validate()?;
        let jitter = Jitter::new(config.retry.jitter_seed);
        Ok(Client { config, jitter })
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs an operation: validate, send, retry transient failures with
    /// back-off through `clock.sleep`, parse.
    pub fn run(
        &mut self,
        http: &dyn Transport,
        clock: &dyn Clock,
        op: &Operation,
    ) -> Result<Output> {
        let response = self.send(http, clock, op)?;
        op.parse(&response)
    }

    /// Runs an operation as [`Client::run`] does but answers the API's 2xx
    /// response itself (any other is an [`Error::Api`]), for a caller that
    /// reads it as a model type.
    pub fn send(
        &mut self,
        http: &dyn Transport,
        clock: &dyn Clock,
        op: &Operation,
    ) -> Result<crate::http::HttpResponse> {
        let request = op.build(&self.config)?;
        let idempotent = op.is_idempotent();
        let mut attempt = 1u32;
        loop {
            let outcome = http.send(&request);
            // Only failures draw from the stream, so a schedule depends on
            // the failures alone.
            let failed = !matches!(&outcome, Ok(r) if r.is_success());
            let jitter = if failed { self.jitter.next_unit() } else { 0.0 };
            let delay = self
                .config
                .retry
                .delay_ns(idempotent, attempt, outcome.as_ref(), jitter);
            match (delay, outcome) {
                (Some(nanos), _) => {
                    clock.sleep(nanos);
                    attempt = attempt.saturating_add(1);
                }
                (None, Ok(response)) if response.is_success() => return Ok(response),
                (None, Ok(response)) => {
                    return Err(Error::Api(crate::operation::api_error(&response)))
                }
                (None, Err(e)) => {
                    return Err(Error::Transport {
                        message: format!("{e} (after {attempt} attempt(s))"),
                    })
                }
            }
        }
    }

    /// Runs an operation named as in [`crate::operation::names`] with JSON
    /// parameters; answers JSON. For a paginated list, `"all_pages": true`
    /// among the parameters walks every page and answers them as one.
    pub fn call(
        &mut self,
        http: &dyn Transport,
        clock: &dyn Clock,
        name: &str,
        params: &str,
    ) -> Result<String> {
        let mut params: serde_json::Value = if params.trim().is_empty() {
            serde_json::Value::Null
        } else {
            crate::validate::json("params", params)?
        };
        let all_pages = match params.as_object_mut().and_then(|m| m.remove("all_pages")) {
            None | Some(serde_json::Value::Bool(false)) => false,
            Some(serde_json::Value::Bool(true)) => true,
            Some(_) => return Err(Error::invalid("all_pages", "must be a boolean")),
        };
        let op = Operation::from_json(name, params)?;
        let output = if all_pages {
            self.run_all_pages(http, clock, &op)?
        } else {
            self.run(http, clock, &op)?
        };
        serde_json::to_string(&output).map_err(|e| Error::response(e.to_string()))
    }

    /// Runs a paginated list operation page after page, answering every
    /// item in one list (`{key: [...], next: null}`); other operations run once.
    pub fn run_all_pages(
        &mut self,
        http: &dyn Transport,
        clock: &dyn Clock,
        op: &Operation,
    ) -> Result<Output> {
        let crate::operation::Reply::Page { key } = op.spec().reply else {
            return self.run(http, clock, op);
        };
        let mut items = Vec::new();
        let mut page = op.clone();
        let mut seen = std::collections::BTreeSet::new();
        loop {
            let mut answer = self.run(http, clock, &page)?;
            if let Some(serde_json::Value::Array(more)) =
                answer.get_mut(key).map(serde_json::Value::take)
            {
                items.extend(more);
            }
            match page.next_page(&answer) {
                // A cursor seen before would loop for ever.
                Some(next) if seen.insert(next.param("cursor").unwrap_or("").to_owned()) => {
                    page = next;
                }
                Some(_) => return Err(Error::response("the API answered the same cursor twice")),
                None => break,
            }
        }
        Ok(serde_json::json!({ key: items, "next": null }))
    }
}
