//! The API client: configuration, the retry loop, typed calls.

use crate::env::{Clock, Transport};
use crate::error::{Error, Result};
use crate::operation::{Operation, Output};
use crate::retry::Jitter;

pub use crate::config::{Config, Secret, DEFAULT_BASE_URL};

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
                (None, Ok(response)) => return Err(Error::Api(crate::error::api_error(&response))),
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
