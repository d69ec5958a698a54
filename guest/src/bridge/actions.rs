//! The agent's actions (`action.execute`): each is POSTed to the endpoint
//! configured for its name, and the endpoint's JSON answers the webhook. The
//! answer is kept, so that a redelivered event is answered the same without
//! running the action again.

use serde_json::{json, Value};

use super::{Answer, Io, Outcome, NS};
use crate::error::{Error, Result};
use crate::http::{HttpRequest, Method};
use crate::state;
use crate::webhook::event::ActionExecute;

/// Longest an action endpoint may take: under the API's 10 s webhook timeout.
const MAX_ACTION_MS: u32 = 9_000;

/// An HTTP endpoint that runs one of the agent's actions. `Debug` shows
/// header names only: their values are often credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ActionEndpoint {
    /// The action's name, as the agent calls it.
    pub name: String,
    /// Where to POST `{action, params, conversation}`.
    pub url: String,
    /// Extra headers (e.g. credentials), never logged.
    pub headers: Vec<(String, String)>,
    /// Timeout, ms (capped under the webhook timeout).
    pub timeout_ms: u32,
}

impl std::fmt::Debug for ActionEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ActionEndpoint")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl ActionEndpoint {
    /// A name and an http(s) URL.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty()
            || !(self.url.starts_with("http://") || self.url.starts_with("https://"))
        {
            return Err(Error::invalid(
                "actions",
                format!("action {:?} needs a name and an http(s) URL", self.name),
            ));
        }
        Ok(())
    }
}

/// Where an action event's answer is kept for its redeliveries.
pub(crate) fn cache_key(conversation: &str, event_id: &str) -> String {
    format!("{}{event_id}", cache_prefix(conversation))
}

/// Every kept answer of a conversation.
pub(crate) fn cache_prefix(conversation: &str) -> String {
    format!("{NS}/action/{conversation}/")
}

/// Runs the action (or answers what it answered before).
pub(crate) fn run(
    endpoints: &[ActionEndpoint],
    io: Io<'_>,
    cache: &str,
    action: &ActionExecute,
) -> Answer {
    if let Ok((_, Some(done))) = state::read::<Value>(io.store, cache) {
        return Answer::new(200, Outcome::Action, done);
    }
    let Some(endpoint) = endpoints.iter().find(|a| a.name == action.action) else {
        return Answer::error(
            404,
            Outcome::ActionUnconfigured,
            format!("no endpoint is configured for action {:?}", action.action),
        );
    };
    let payload = json!({"action": action.action, "params": action.params, "conversation": action.conversation});
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("Accept".to_owned(), "application/json".to_owned()),
    ];
    headers.extend(endpoint.headers.iter().cloned());
    let request = HttpRequest {
        method: Method::Post,
        url: endpoint.url.clone(),
        headers,
        body: Some(payload.to_string().into_bytes()),
        timeout_ms: endpoint.timeout_ms.clamp(1, MAX_ACTION_MS),
    };
    match io.http.send(&request) {
        Ok(r) if r.is_success() => {
            let answer = match serde_json::from_slice::<Value>(&r.body) {
                Ok(v @ Value::Object(_)) => v,
                Ok(other) => json!({ "result": other }),
                Err(_) => json!({ "result": String::from_utf8_lossy(&r.body) }),
            };
            let _ = state::insert_new(io.store, cache, &answer);
            Answer::new(200, Outcome::Action, answer)
        }
        Ok(r) => Answer::error(
            502,
            Outcome::ActionFailed,
            format!("action endpoint answered {}", r.status),
        ),
        Err(e) => Answer::error(502, Outcome::ActionFailed, format!("action endpoint: {e}")),
    }
}
