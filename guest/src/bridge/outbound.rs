//! The durable queue of outbound calls, per conversation: the AI-agent
//! calls a helpdesk's event means and the helpdesk calls the agent's events
//! mean, made in order, one at a time, each leaving the queue when it
//! succeeded or was refused for good.
//!
//! [`drain`] makes the call at the head of a conversation's queue, one per
//! drain, so that its removal commits right after it: a crash can repeat at
//! most the one call it was making. A 429, a 5xx or a transport failure
//! keeps it, due again after a back-off (or the `Retry-After` the helpdesk
//! gave); any other refusal drops it with its reason. Credentials are added
//! by the helpdesk when a call is made ([`Helpdesk::authorize`]) and never
//! stored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Helpdesk, Io, Kind};
use crate::client::Client;
use crate::env::Store;
use crate::error::{Error, Result};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::state::{self, store_error};
use crate::time::Timestamp;

/// A call waiting in a conversation's queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Call {
    /// An AI-agent API operation.
    Agent {
        /// Operation name.
        operation: String,
        /// Its parameters.
        params: Value,
    },
    /// A `POST` of JSON to the helpdesk (its credentials are added when it
    /// is made). Stores written before the helpdesks were split name it
    /// `chatwoot`.
    #[serde(alias = "chatwoot")]
    Http {
        /// Absolute URL.
        url: String,
        /// JSON body.
        body: Value,
    },
}

impl Call {
    /// An AI-agent operation as a queued call.
    pub fn agent(op: &crate::operation::Operation) -> Call {
        Call::Agent {
            operation: op.name().to_owned(),
            params: op.params_json(),
        }
    }

    /// A built request as a queued call (its body read as JSON).
    pub fn http(request: HttpRequest) -> Call {
        Call::Http {
            url: request.url,
            body: request
                .body
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null),
        }
    }
}

/// A queued call and its schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    /// The call.
    pub call: Call,
    /// Attempts made.
    pub attempts: u32,
    /// Not before this time (ns).
    pub due: i64,
}

/// What a drain did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrainReport {
    /// Calls that succeeded.
    pub done: u32,
    /// Calls refused for good and dropped, with why.
    pub dropped: Vec<String>,
    /// When the head of the queue is due again, if it failed and stays.
    pub retry_at: Option<Timestamp>,
    /// Calls still queued.
    pub left: u32,
}

/// Where a helpdesk's queues are.
fn all_prefix(kind: Kind) -> String {
    format!("{}/queue/", kind.name())
}

/// The conversation's queue.
fn prefix(kind: Kind, conversation: &str) -> String {
    format!("{}{conversation}/", all_prefix(kind))
}

/// Longest back-off between attempts of one call.
const MAX_BACKOFF_NS: i64 = 5 * 60 * 1_000_000_000;
/// The first back-off.
const FIRST_BACKOFF_NS: i64 = 1_000_000_000;

fn backoff(attempts: u32) -> i64 {
    FIRST_BACKOFF_NS
        .saturating_mul(1i64 << attempts.saturating_sub(1).min(20))
        .min(MAX_BACKOFF_NS)
}

/// Appends calls to the conversation's queue, after those already there.
pub fn append(
    store: &dyn Store,
    kind: Kind,
    conversation: &str,
    now: Timestamp,
    calls: Vec<Call>,
) -> Result<()> {
    if calls.is_empty() {
        return Ok(());
    }
    let prefix = prefix(kind, conversation);
    // After the last key there (the listing includes this call's own
    // writes); two calls appending at once both take the same key, and the
    // store lets one of them commit.
    let next = store
        .list_keys(&prefix)
        .map_err(store_error)?
        .last()
        .and_then(|k| k.strip_prefix(&prefix))
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(0, |n| n + 1);
    for (n, call) in (next..).zip(calls) {
        let key = format!("{prefix}{n:020}");
        let queued = Queued {
            call,
            attempts: 0,
            due: now.0,
        };
        if !state::insert_new(store, &key, &queued)? {
            return Err(Error::Store {
                message: format!("{key} was taken while it was appended"),
            });
        }
    }
    Ok(())
}

/// How a call went.
enum Made {
    Done,
    Refused(String),
    /// Again, not before this many ns (`None`: the back-off).
    Retry(Option<i64>),
}

/// Makes the call at the head of `conversation`'s queue, if it is due (see
/// the module's documentation). Call again while `left > 0` and `retry_at`
/// is none.
pub fn drain(
    client: &mut Client,
    helpdesk: &dyn Helpdesk,
    io: Io<'_>,
    conversation: &str,
) -> Result<DrainReport> {
    state::lock(io.store, &helpdesk.conversation_key(conversation))?;
    let mut report = DrainReport::default();
    let keys = io
        .store
        .list_keys(&prefix(helpdesk.kind(), conversation))
        .map_err(store_error)?;
    let mut left = keys.len();
    for key in keys {
        let (Some(raw), Some(mut queued)) = state::read::<Queued>(io.store, &key)? else {
            left -= 1;
            continue;
        };
        let now = io.clock.now();
        if queued.due > now.0 {
            report.retry_at = Some(Timestamp(queued.due));
            break;
        }
        match make(client, helpdesk, io, &queued.call) {
            Made::Done => {
                state::remove(io.store, &key, &raw)?;
                report.done += 1;
                left -= 1;
            }
            Made::Refused(why) => {
                state::remove(io.store, &key, &raw)?;
                report.dropped.push(why);
                left -= 1;
            }
            Made::Retry(after) => {
                queued.attempts += 1;
                let wait = after.unwrap_or_else(|| backoff(queued.attempts));
                queued.due = now.0.saturating_add(wait.min(MAX_BACKOFF_NS));
                report.retry_at = Some(Timestamp(queued.due));
                let new = state::encode(&queued)?;
                io.store
                    .compare_and_swap(&key, Some(&raw), Some(&new))
                    .map_err(store_error)?;
            }
        }
        break;
    }
    report.left = u32::try_from(left).unwrap_or(u32::MAX);
    Ok(report)
}

/// A `Retry-After` in seconds, as ns.
fn retry_after(r: &HttpResponse) -> Option<i64> {
    r.header("retry-after")
        .and_then(crate::retry::parse_retry_after_secs)
        .map(|s| {
            i64::try_from(s)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000_000)
        })
}

fn make(client: &mut Client, helpdesk: &dyn Helpdesk, io: Io<'_>, call: &Call) -> Made {
    match call {
        Call::Agent { operation, params } => {
            match client.call(io.http, io.clock, operation, &params.to_string()) {
                Ok(_) => Made::Done,
                Err(Error::Api(e)) if e.status == 429 || e.status >= 500 => Made::Retry(None),
                Err(Error::Transport { .. }) => Made::Retry(None),
                Err(e) => Made::Refused(format!("{operation}: {e}")),
            }
        }
        Call::Http { url, body } => {
            let mut request = HttpRequest {
                method: Method::Post,
                url: url.clone(),
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: Some(body.to_string().into_bytes()),
                timeout_ms: 10_000,
            };
            helpdesk.authorize(&mut request);
            match io.http.send(&request) {
                Ok(r) if (200..300).contains(&r.status) => Made::Done,
                Ok(r) if r.status == 429 || r.status >= 500 => Made::Retry(retry_after(&r)),
                Ok(r) => Made::Refused(format!(
                    "POST {url}: {} answered {} ({})",
                    helpdesk.kind().title(),
                    r.status,
                    crate::error::api_error(&r).message
                )),
                Err(_) => Made::Retry(None),
            }
        }
    }
}

/// A helpdesk's conversations with calls queued.
pub fn busy(store: &dyn Store, kind: Kind) -> Result<Vec<String>> {
    let all = all_prefix(kind);
    let mut out: Vec<String> = Vec::new();
    for key in store.list_keys(&all).map_err(store_error)? {
        let Some(rest) = key.strip_prefix(&all) else {
            continue;
        };
        if let Some((conversation, _)) = rest.rsplit_once('/') {
            if out.last().map(String::as_str) != Some(conversation) {
                out.push(conversation.to_owned());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_stored_by_an_older_release_still_reads() {
        let old = r#"{"call":{"kind":"chatwoot","url":"https://c.test/x","body":{"a":1}},"attempts":2,"due":5}"#;
        let q: Queued = serde_json::from_str(old).unwrap();
        assert_eq!(
            q.call,
            Call::Http {
                url: "https://c.test/x".into(),
                body: serde_json::json!({"a": 1})
            }
        );
        assert_eq!(q.attempts, 2);
        let again = serde_json::to_string(&q).unwrap();
        assert!(again.contains(r#""kind":"http""#), "{again}");
    }

    #[test]
    fn the_back_off_doubles_up_to_five_minutes() {
        assert_eq!(backoff(1), 1_000_000_000);
        assert_eq!(backoff(2), 2_000_000_000);
        assert_eq!(backoff(30), MAX_BACKOFF_NS);
    }
}
