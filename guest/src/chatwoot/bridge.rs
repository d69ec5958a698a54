//! The durable half of the Chatwoot adapter: what `glbridge serve` does on
//! each Chatwoot event, each AI-agent event of a Chatwoot conversation, and
//! each drain of a conversation's queue, with all state in the store.
//!
//! * An event is authenticated (signature and window, or the URL token of
//!   an unsigned older server), de-duplicated on its account, event and
//!   message, and planned against the conversation's phase; the AI-agent
//!   calls it means are appended to the conversation's queue in the same
//!   transaction as the phase and the de-duplication mark. Only then is it
//!   answered, within milliseconds: nothing is called while Chatwoot waits.
//! * An AI-agent event of a Chatwoot conversation appends the Chatwoot calls
//!   it means (in the agent's order, already sequenced) to the same queue.
//! * [`ChatwootBridge::drain`] makes the call at the head of a
//!   conversation's queue — one per drain, so each call's removal from the
//!   queue commits right after it: an item leaves the queue when it
//!   succeeded or was refused for good (4xx); a 429, 5xx or transport
//!   failure keeps it, due again after a back-off.
//!
//! The bot token is added when a call is made and is never stored.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::event::Event;
use super::plan::{self, Phase, Settings};
use super::signature;
use crate::client::{Client, Config, Secret};
use crate::env::Store;
use crate::error::{Error, Result};
use crate::gleap::bridge::Io;
use crate::http::{HttpRequest, Method};
use crate::operation::Operation;
use crate::state::{self, store_error};
use crate::time::Timestamp;
use crate::webhook::WebhookEvent;

/// How events are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `X-Chatwoot-Signature` with the bot's webhook secret (Chatwoot 4.13+).
    Signature {
        /// The secret.
        secret: Secret,
        /// Allowed distance between `X-Chatwoot-Timestamp` and now, s.
        window_secs: u32,
    },
    /// A long random token in the bot URL, for older servers that do not sign.
    UrlToken(Secret),
    /// Nothing: every event is accepted (local development only).
    Insecure,
}

/// Everything the Chatwoot bridge needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatwootConfig {
    /// The AI-agent API client (Integration key).
    pub client: Config,
    /// Where Chatwoot is and the bot token.
    pub settings: Settings,
    /// How events are authenticated.
    pub auth: Auth,
}

/// What happened, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Planned and queued.
    Accepted,
    /// Seen before: nothing queued again.
    Duplicate,
    /// Authentic, but nothing to do (the reason is in the body).
    Ignored,
    /// Signature, window or URL token refused.
    Unauthorized,
    /// Not JSON, or not an event.
    BadRequest,
    /// The store failed; nothing was kept.
    StoreError,
}

/// An HTTP answer for the host to write as is.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// What happened.
    pub outcome: Outcome,
    /// Conversations whose queue grew, once committed: drain them.
    pub work: Vec<String>,
}

impl Answer {
    fn new(status: u16, outcome: Outcome, body: Value) -> Self {
        Answer {
            status,
            body,
            outcome,
            work: Vec::new(),
        }
    }
}

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
    /// A Chatwoot REST call (the bot token is added when it is made).
    Chatwoot {
        /// Absolute URL.
        url: String,
        /// JSON body.
        body: Value,
    },
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ConversationState {
    phase: Phase,
    /// The next queue position.
    next: u64,
}

const NS: &str = "chatwoot";

fn conv_key(c: &str) -> String {
    format!("{NS}/conv/{c}")
}
fn queue_prefix(c: &str) -> String {
    format!("{NS}/queue/{c}/")
}
fn seen_key(dedup: &str) -> String {
    format!("{NS}/seen/{dedup}")
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

/// The bridge: one per instance, configured once.
#[derive(Debug, Clone)]
pub struct ChatwootBridge {
    config: ChatwootConfig,
    client: Client,
}

impl ChatwootBridge {
    /// A bridge, if the configuration is usable. Its client makes one
    /// attempt per call: the queue retries, on its own schedule.
    pub fn new(config: ChatwootConfig) -> Result<Self> {
        if config.settings.base_url.trim().is_empty() {
            return Err(Error::invalid("chatwoot-url", "is required"));
        }
        if config.settings.bot_token.trim().is_empty() {
            return Err(Error::invalid("chatwoot-bot-token", "is required"));
        }
        let mut client_config = config.client.clone();
        client_config.retry.max_attempts = 1;
        let client = Client::open(client_config)?;
        Ok(ChatwootBridge { config, client })
    }

    fn authenticate(
        &self,
        now: Timestamp,
        timestamp: Option<&str>,
        signature: Option<&str>,
        url_token: Option<&str>,
        body: &[u8],
    ) -> std::result::Result<(), String> {
        match &self.config.auth {
            Auth::Signature {
                secret,
                window_secs,
            } => signature::verify(
                secret.expose(),
                timestamp,
                signature,
                body,
                now.secs(),
                *window_secs,
            )
            .map_err(|e| e.to_string()),
            Auth::UrlToken(expected) => match url_token {
                Some(got) if bool::from(got.as_bytes().ct_eq(expected.expose().as_bytes())) => {
                    Ok(())
                }
                _ => Err("missing or wrong URL token".into()),
            },
            Auth::Insecure => Ok(()),
        }
    }

    /// Handles `POST /chatwoot/webhook`. Everything it queues is part of
    /// this call's transaction: answered means committed.
    pub fn handle_event(
        &self,
        io: Io<'_>,
        timestamp: Option<&str>,
        signature: Option<&str>,
        url_token: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let now = io.clock.now();
        if let Err(why) = self.authenticate(now, timestamp, signature, url_token, body) {
            return Answer::new(401, Outcome::Unauthorized, json!({"error": why}));
        }
        if serde_json::from_slice::<Value>(body).is_err() {
            return Answer::new(
                400,
                Outcome::BadRequest,
                json!({"error": "body is not JSON"}),
            );
        }
        // Authentic but unreadable: acknowledged, so that Chatwoot does not
        // open the conversation as if the bot had failed.
        let event = match super::event::parse(body) {
            Ok(e) => e,
            Err(e) => return Answer::new(200, Outcome::Ignored, json!({"ignored": e.to_string()})),
        };
        match self.accept(io.store, now, &event) {
            Ok(answer) => answer,
            Err(e) => {
                io.store.rollback();
                Answer::new(503, Outcome::StoreError, json!({"error": e.to_string()}))
            }
        }
    }

    fn accept(&self, store: &dyn Store, now: Timestamp, event: &Event) -> Result<Answer> {
        let Some(conversation) = event.conversation_id() else {
            return Ok(Answer::new(
                200,
                Outcome::Ignored,
                json!({"ignored": "no conversation"}),
            ));
        };
        state::lock(store, &conv_key(&conversation))?;
        if let Some(dedup) = event.dedup_key() {
            if !state::insert_new(store, &seen_key(&dedup), &now.0)? {
                return Ok(Answer::new(
                    200,
                    Outcome::Duplicate,
                    json!({"duplicate": true}),
                ));
            }
        }
        let mut conv: ConversationState = state::get_or_default(store, &conv_key(&conversation))?;
        let plan = plan::for_event(event, conv.phase, now);
        let mut calls = Vec::new();
        for op in &plan.operations {
            calls.push(agent_call(op)?);
        }
        let queued = calls.len();
        self.append(store, now, &conversation, &mut conv, calls)?;
        conv.phase = plan.phase;
        state::update::<ConversationState, _>(store, &conv_key(&conversation), |c| {
            *c = conv.clone()
        })?;
        let mut answer = match plan.ignored {
            Some(why) => Answer::new(200, Outcome::Ignored, json!({"ignored": why})),
            None => Answer::new(200, Outcome::Accepted, json!({"queued": queued})),
        };
        if queued > 0 {
            answer.work.push(conversation);
        }
        Ok(answer)
    }

    fn append(
        &self,
        store: &dyn Store,
        now: Timestamp,
        conversation: &str,
        conv: &mut ConversationState,
        calls: Vec<Call>,
    ) -> Result<()> {
        for call in calls {
            let key = format!("{}{:020}", queue_prefix(conversation), conv.next);
            conv.next += 1;
            state::insert_new(
                store,
                &key,
                &Queued {
                    call,
                    attempts: 0,
                    due: now.0,
                },
            )?;
        }
        Ok(())
    }

    /// Queues the Chatwoot calls an AI-agent event of a Chatwoot
    /// conversation means (called once per event, in sequence order, in the
    /// webhook's transaction); returns whether anything was queued.
    pub fn enqueue_agent_event(
        &self,
        store: &dyn Store,
        now: Timestamp,
        event: &WebhookEvent,
    ) -> Result<bool> {
        let Some(conversation) = event.conversation_id.clone() else {
            return Ok(false);
        };
        state::lock(store, &conv_key(&conversation))?;
        let mut conv: ConversationState = state::get_or_default(store, &conv_key(&conversation))?;
        let delivery = plan::for_agent_event(event, conv.phase, &self.config.settings);
        let calls: Vec<Call> = delivery
            .requests
            .into_iter()
            .map(|r| Call::Chatwoot {
                url: r.url,
                body: r
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null),
            })
            .collect();
        let any = !calls.is_empty();
        self.append(store, now, &conversation, &mut conv, calls)?;
        conv.phase = delivery.phase;
        state::update::<ConversationState, _>(store, &conv_key(&conversation), |c| {
            *c = conv.clone()
        })?;
        Ok(any)
    }

    /// Makes the call at the head of `conversation`'s queue, if it is due:
    /// one call per drain, so that what a drain commits (the call leaving
    /// the queue) follows its call at once — a crash can then repeat at most
    /// the one call it was making. A failed call stays, due again after a
    /// back-off. Call again while `left > 0` and `retry_at` is none.
    pub fn drain(&mut self, io: Io<'_>, conversation: &str) -> Result<DrainReport> {
        state::lock(io.store, &conv_key(conversation))?;
        let mut report = DrainReport::default();
        let keys = io
            .store
            .list_keys(&queue_prefix(conversation))
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
            match self.make(io, &queued.call) {
                Made::Done => {
                    state::remove(io.store, &key, &raw)?;
                    report.done += 1;
                    left -= 1;
                    break;
                }
                Made::Refused(why) => {
                    state::remove(io.store, &key, &raw)?;
                    report.dropped.push(why);
                    left -= 1;
                    break;
                }
                Made::Retry => {
                    queued.attempts += 1;
                    queued.due = now.0.saturating_add(backoff(queued.attempts));
                    report.retry_at = Some(Timestamp(queued.due));
                    let new = state::encode(&queued)?;
                    io.store
                        .compare_and_swap(&key, Some(&raw), Some(&new))
                        .map_err(store_error)?;
                    break;
                }
            }
        }
        report.left = u32::try_from(left).unwrap_or(u32::MAX);
        Ok(report)
    }

    fn make(&mut self, io: Io<'_>, call: &Call) -> Made {
        match call {
            Call::Agent { operation, params } => {
                match self
                    .client
                    .call(io.http, io.clock, operation, &params.to_string())
                {
                    Ok(_) => Made::Done,
                    Err(Error::Api(e)) if e.status == 429 || e.status >= 500 => Made::Retry,
                    Err(Error::Transport { .. }) => Made::Retry,
                    Err(e) => Made::Refused(format!("{operation}: {e}")),
                }
            }
            Call::Chatwoot { url, body } => {
                let request = HttpRequest {
                    method: Method::Post,
                    url: url.clone(),
                    headers: vec![
                        ("Content-Type".into(), "application/json".into()),
                        (
                            "api_access_token".into(),
                            self.config.settings.bot_token.clone(),
                        ),
                    ],
                    body: Some(body.to_string().into_bytes()),
                    timeout_ms: 10_000,
                };
                match io.http.send(&request) {
                    Ok(r) if (200..300).contains(&r.status) => Made::Done,
                    Ok(r) if r.status == 429 || r.status >= 500 => Made::Retry,
                    Ok(r) => Made::Refused(format!("POST {url}: Chatwoot answered {}", r.status)),
                    Err(_) => Made::Retry,
                }
            }
        }
    }

    /// Conversations with calls queued (for a host that drains on a timer
    /// after a restart).
    pub fn busy_conversations(store: &dyn Store) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for key in store
            .list_keys(&format!("{NS}/queue/"))
            .map_err(store_error)?
        {
            let Some(rest) = key.strip_prefix(&format!("{NS}/queue/")) else {
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
}

enum Made {
    Done,
    Refused(String),
    Retry,
}

fn agent_call(op: &Operation) -> Result<Call> {
    Ok(Call::Agent {
        operation: op.name().to_owned(),
        params: op.params_json(),
    })
}
