//! The bridge between Gleap and the AI agent: what `glbridge serve` does on
//! each Gleap call, each webhook and each tick, with all state in the store.
//!
//! * A Gleap call starts the conversation once, forwards every customer
//!   comment not yet forwarded (message ids derive from comment ids, so a
//!   replayed call never duplicates), then waits — through `clock.sleep` — up
//!   to the reply wait for the agent's answer in the conversation's outbox.
//! * A webhook is verified, de-duplicated and ordered by the sequencer, and
//!   its messages appended to the outbox before it is acknowledged.
//!   `action.execute` is forwarded to the configured endpoint and its JSON
//!   returned.
//! * A tick releases events held too long for a missing predecessor and,
//!   when Gleap REST credentials are configured, pushes replies nobody is
//!   waiting for into the ticket.
//!
//! Nothing leaves the outbox except by being handed to Gleap.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::{parse_action, tiptap, ActionCall};
use crate::client::{Client, Config, Secret};
use crate::env::{Clock, Store, Transport};
use crate::error::{Error, Result};
use crate::http::{HttpRequest, Method};
use crate::model::conversations::{AssignParams, MessageParams, StartParams};
use crate::model::{Channel, ParticipantType};
use crate::operation::Operation;
use crate::webhook::event::EventData;
use crate::webhook::sequencer::{Released, Sequencer};
use crate::webhook::{self, WebhookError};

/// Compare-and-swap rounds before giving up on a contended key.
const CAS_ROUNDS: usize = 64;
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

/// Gleap's REST API, for replies that arrive after the Gleap call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestConfig {
    /// e.g. `https://api.gleap.io/v3`.
    pub base_url: String,
    /// API key.
    pub api_key: Secret,
    /// Project id (`Project` header).
    pub project_id: String,
}

/// Everything the bridge needs.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeConfig {
    /// The AI-agent API client (Integration key).
    pub client: Config,
    /// Webhook signing key.
    pub signing_key: Secret,
    /// Gleap's `Authorization` header value; `None` accepts any call.
    pub gleap_secret: Option<Secret>,
    /// How long a Gleap call waits for the agent, ms.
    pub reply_wait_ms: u32,
    /// How often a waiting call looks at the outbox, ms.
    pub poll_interval_ms: u32,
    /// Answered when nothing arrived in time.
    pub holding_text: String,
    /// Answered on a hand-off.
    pub hand_off_text: String,
    /// Action endpoints by name.
    pub actions: Vec<ActionEndpoint>,
    /// Gleap REST credentials for late replies.
    pub rest: Option<RestConfig>,
    /// How long an event waits for a missing predecessor, ms.
    pub max_hold_ms: u32,
    /// Webhook signature leeway, s.
    pub leeway_secs: u32,
}

impl BridgeConfig {
    /// Defaults for everything but the client and the keys.
    pub fn new(client: Config, signing_key: impl Into<String>) -> Self {
        BridgeConfig {
            client,
            signing_key: Secret::new(signing_key),
            gleap_secret: None,
            reply_wait_ms: 8_000,
            poll_interval_ms: 25,
            holding_text:
                "Thanks for your message — I'm looking into it and will reply here shortly.".into(),
            hand_off_text: "I'm passing you to a member of our team, who will reply here shortly."
                .into(),
            actions: Vec::new(),
            rest: None,
            max_hold_ms: 10_000,
            leeway_secs: webhook::DEFAULT_LEEWAY_SECS,
        }
    }
}

/// An HTTP answer for the host to write, and a label for its metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// What happened (`replied`, `holding`, `hand-off`, `unauthorized`, ...).
    pub outcome: &'static str,
}

impl Answer {
    fn new(status: u16, outcome: &'static str, body: Value) -> Self {
        Answer {
            status,
            body,
            outcome,
        }
    }
    fn error(status: u16, outcome: &'static str, message: impl Into<String>) -> Self {
        Answer::new(status, outcome, json!({ "error": message.into() }))
    }
}

/// What a tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TickReport {
    /// Events released after waiting for a gap.
    pub released: u32,
    /// Replies pushed to Gleap's REST API.
    pub pushed: u32,
    /// Pushes that failed (they stay queued).
    pub failed: u32,
}

/// The imports one call runs with.
#[derive(Clone, Copy)]
pub struct Io<'a> {
    /// HTTP.
    pub http: &'a dyn Transport,
    /// Time.
    pub clock: &'a dyn Clock,
    /// State.
    pub store: &'a dyn Store,
}

/// A reply waiting to be handed to Gleap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutItem {
    /// `agent.message`
    Message {
        /// Webhook id.
        event_id: String,
        /// Markdown text.
        body: String,
        /// A holding message.
        holding: bool,
        /// Parts in this reply.
        total: Option<u32>,
        /// This part.
        sequence: Option<u32>,
    },
    /// `conversation.hand_off`
    HandOff {
        /// Webhook id.
        event_id: String,
        /// Target.
        target: Option<String>,
        /// Coded reason.
        reason_code: String,
        /// Reason.
        reason: String,
    },
    /// `conversation.finished`
    Finished {
        /// Webhook id.
        event_id: String,
        /// Coded reason.
        reason_code: Option<String>,
    },
}

impl OutItem {
    /// Whether the agent's turn is over once this has arrived.
    fn ends_turn(&self) -> bool {
        match self {
            OutItem::Message { holding: true, .. } => false,
            OutItem::Message {
                total, sequence, ..
            } => match (total, sequence) {
                (Some(t), Some(s)) => s >= t,
                _ => true,
            },
            OutItem::HandOff { .. } | OutItem::Finished { .. } => true,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ConversationState {
    started: bool,
    ticket: String,
    forwarded: Vec<String>,
}

fn store_error(e: crate::env::StoreError) -> Error {
    Error::Store { message: e.0 }
}

fn decode<T: for<'de> Deserialize<'de> + Default>(bytes: Option<&[u8]>) -> Result<T> {
    match bytes {
        Some(b) => serde_json::from_slice(b).map_err(|e| Error::Store {
            message: format!("unreadable state: {e}"),
        }),
        None => Ok(T::default()),
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Store {
        message: e.to_string(),
    })
}

/// Read-modify-write of one key by compare-and-swap.
fn update<T, R>(store: &dyn Store, key: &str, mut f: impl FnMut(&mut T) -> R) -> Result<R>
where
    T: for<'de> Deserialize<'de> + Serialize + Default,
{
    for _ in 0..CAS_ROUNDS {
        let old = store.get(key).map_err(store_error)?;
        let mut value: T = decode(old.as_deref())?;
        let r = f(&mut value);
        let new = encode(&value)?;
        if old.as_deref() == Some(new.as_slice()) {
            return Ok(r);
        }
        if store
            .compare_and_swap(key, old.as_deref(), Some(&new))
            .map_err(store_error)?
        {
            return Ok(r);
        }
    }
    Err(Error::Store {
        message: format!("{key} is too contended"),
    })
}

/// The bridge: one per instance, configured once.
#[derive(Debug, Clone)]
pub struct GleapBridge {
    config: BridgeConfig,
    client: Client,
    sequencer: Sequencer,
}

const NS: &str = "gleap";

fn conv_key(c: &str) -> String {
    format!("{NS}/conv/{c}")
}
fn outbox_key(c: &str) -> String {
    format!("{NS}/outbox/{c}")
}
fn waiting_key(c: &str) -> String {
    format!("{NS}/waiting/{c}")
}

impl GleapBridge {
    /// A bridge, if the configuration is usable.
    pub fn new(config: BridgeConfig) -> Result<Self> {
        let client = Client::open(config.client.clone())?;
        if config.signing_key.expose().is_empty() {
            return Err(Error::invalid("signing_key", "is required"));
        }
        for a in &config.actions {
            if a.name.trim().is_empty()
                || !(a.url.starts_with("http://") || a.url.starts_with("https://"))
            {
                return Err(Error::invalid(
                    "actions",
                    format!("action {:?} needs a name and an http(s) URL", a.name),
                ));
            }
        }
        let sequencer = Sequencer::new(
            format!("{NS}/seq"),
            u64::from(config.max_hold_ms) * 1_000_000,
            1,
        );
        Ok(GleapBridge {
            config,
            client,
            sequencer,
        })
    }

    /// Handles `POST /gleap/action`.
    pub fn handle_action(
        &mut self,
        io: Io<'_>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Answer {
        if let Some(secret) = &self.config.gleap_secret {
            let given = authorization.unwrap_or("").as_bytes();
            if !bool::from(given.ct_eq(secret.expose().as_bytes())) {
                return Answer::error(401, "unauthorized", "missing or wrong Authorization header");
            }
        }
        let call = match parse_action(body) {
            Ok(c) => c,
            Err(e) => return Answer::error(400, "bad-request", e.0),
        };
        if let Err(e) = self.forward(io, &call) {
            return Answer::error(
                502,
                "upstream-error",
                format!("could not reach the AI agent: {e}"),
            );
        }
        match self.wait_for_reply(io, &call.conversation_id) {
            Ok(items) => self.reply(items),
            Err(e) => Answer::error(500, "store-error", e.to_string()),
        }
    }

    fn forward(&mut self, io: Io<'_>, call: &ActionCall) -> Result<()> {
        let key = conv_key(&call.conversation_id);
        let state: ConversationState = decode(io.store.get(&key).map_err(store_error)?.as_deref())?;
        if !state.started {
            let start = StartParams {
                id: call.conversation_id.clone(),
                customer_id: call.customer_id.clone(),
                channel: Channel::Web,
                assignee_id: None,
                assignee_type: Some(ParticipantType::AiAgent),
                created: None,
                metadata: Some(json!({"gleap_conversation_id": call.gleap_conversation_id})),
                resources: None,
                conversation_token: None,
            };
            self.client
                .run(io.http, io.clock, &Operation::StartConversation(start))?;
            let push = Operation::PushResource {
                conversation_id: call.conversation_id.clone(),
                name: "gleap-context".into(),
                document: call.context.clone(),
            };
            self.client.run(io.http, io.clock, &push)?;
            let ticket = call.gleap_conversation_id.clone();
            update::<ConversationState, _>(io.store, &key, |s| {
                s.started = true;
                s.ticket.clone_from(&ticket);
            })?;
        }
        for comment in &call.comments {
            if state.forwarded.contains(&comment.message_id) {
                continue;
            }
            let op = Operation::AddMessage {
                conversation_id: call.conversation_id.clone(),
                params: MessageParams {
                    id: comment.message_id.clone(),
                    body: comment.text.clone(),
                    participant_id: call.customer_id.clone(),
                    participant_type: ParticipantType::Customer,
                    created: None,
                    subject: None,
                    attachments: Vec::new(),
                    metadata: Some(json!({"gleap_comment_id": comment.comment_id})),
                    conversation_token: None,
                },
            };
            match self.client.run(io.http, io.clock, &op) {
                Err(Error::Api(e)) if e.code == "failed_precondition" => {
                    // The agent finished the conversation; the customer wrote again.
                    let resume = Operation::Resume {
                        conversation_id: call.conversation_id.clone(),
                        params: AssignParams {
                            assignee_type: ParticipantType::AiAgent,
                            assignee_id: None,
                            timestamp: None,
                            reason: Some("customer wrote again".into()),
                        },
                    };
                    self.client.run(io.http, io.clock, &resume)?;
                    self.client.run(io.http, io.clock, &op)?;
                }
                other => {
                    other?;
                }
            }
            let id = comment.message_id.clone();
            update::<ConversationState, _>(io.store, &key, |s| {
                if !s.forwarded.contains(&id) {
                    s.forwarded.push(id.clone());
                }
            })?;
        }
        Ok(())
    }

    /// Waits for the agent's turn to end (or the reply wait to pass) and
    /// takes what is in the outbox.
    fn wait_for_reply(&self, io: Io<'_>, conversation: &str) -> Result<Vec<OutItem>> {
        let deadline = io
            .clock
            .now()
            .0
            .saturating_add(i64::from(self.config.reply_wait_ms) * 1_000_000);
        let marker = waiting_key(conversation);
        update::<i64, _>(io.store, &marker, |d| *d = (*d).max(deadline))?;
        let outbox = outbox_key(conversation);
        let taken = loop {
            let ready =
                decode::<Vec<OutItem>>(io.store.get(&outbox).map_err(store_error)?.as_deref())?;
            let now = io.clock.now().0;
            if ready.iter().any(OutItem::ends_turn) || now >= deadline {
                break take_all(io.store, &outbox)?;
            }
            let left = u64::try_from(deadline.saturating_sub(now)).unwrap_or(0);
            io.clock
                .sleep((u64::from(self.config.poll_interval_ms) * 1_000_000).min(left));
        };
        let _ = io
            .store
            .compare_and_swap(&marker, Some(&encode(&deadline)?), None)
            .map_err(store_error)?;
        Ok(taken)
    }

    fn reply(&self, items: Vec<OutItem>) -> Answer {
        let mut texts: Vec<String> = Vec::new();
        let mut hand_off: Option<(Option<String>, String, String)> = None;
        let mut finished = false;
        for item in items {
            match item {
                OutItem::Message { body, .. } => texts.push(body),
                OutItem::HandOff {
                    target,
                    reason_code,
                    reason,
                    ..
                } => hand_off = Some((target, reason_code, reason)),
                OutItem::Finished { .. } => finished = true,
            }
        }
        if let Some((target, reason_code, reason)) = hand_off {
            texts.push(self.config.hand_off_text.clone());
            return Answer::new(
                200,
                "hand-off",
                json!({
                    "message": texts.join("\n\n"),
                    "tags": ["ai-handoff"],
                    "attributes": {"handoff_target": target, "handoff_reason_code": reason_code, "handoff_reason": reason},
                }),
            );
        }
        if texts.is_empty() {
            return Answer::new(
                200,
                "holding",
                json!({ "message": self.config.holding_text }),
            );
        }
        let message = texts.join("\n\n");
        if finished {
            Answer::new(
                200,
                "finished",
                json!({ "message": message, "tags": ["ai-finished"] }),
            )
        } else {
            Answer::new(200, "replied", json!({ "message": message }))
        }
    }

    /// Handles `POST /webhooks/gradient-labs`.
    pub fn handle_webhook(
        &mut self,
        io: Io<'_>,
        signature: Option<&str>,
        token: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let Some(signature) = signature else {
            return Answer::error(401, "bad-signature", "missing X-GradientLabs-Signature");
        };
        let now = io.clock.now();
        let event = match webhook::verify_and_parse(
            self.config.signing_key.expose(),
            signature,
            token,
            body,
            now.secs(),
            self.config.leeway_secs,
        ) {
            Ok(e) => e,
            Err(e @ WebhookError::InvalidEnvelope(_)) => {
                return Answer::error(400, "bad-envelope", e.to_string())
            }
            Err(e) => return Answer::error(401, "bad-signature", e.to_string()),
        };
        let action = match &event.data {
            EventData::ActionExecute(a) => Some(a.clone()),
            _ => None,
        };
        let event_id = event.id.clone();
        let outcome = match self.sequencer.offer(io.store, event, now) {
            Ok(o) => o,
            Err(e) => return Answer::error(500, "store-error", e.to_string()),
        };
        if let Err(e) = self.enqueue(io.store, outcome.released) {
            // Not acknowledged, so the API delivers it again.
            return Answer::error(500, "store-error", e.to_string());
        }
        match action {
            Some(a) => self.run_action(io, &event_id, &a),
            None if outcome.duplicate => Answer::new(200, "duplicate", json!({})),
            None => Answer::new(200, "accepted", json!({})),
        }
    }

    fn enqueue(&self, store: &dyn Store, released: Vec<Released>) -> Result<u32> {
        let mut n = 0;
        for r in released {
            let Some(conversation) = r.event.conversation_id.clone() else {
                continue;
            };
            let id = r.event.id.clone();
            let item = match r.event.data {
                EventData::AgentMessage(m) => OutItem::Message {
                    event_id: id,
                    body: m.body,
                    holding: m.is_holding,
                    total: m.total,
                    sequence: m.sequence,
                },
                EventData::HandOff(h) => OutItem::HandOff {
                    event_id: id,
                    target: h.target,
                    reason_code: h.reason_code,
                    reason: h.reason,
                },
                EventData::Finished(f) => OutItem::Finished {
                    event_id: id,
                    reason_code: f.reason_code,
                },
                _ => continue,
            };
            update::<Vec<OutItem>, _>(store, &outbox_key(&conversation), |items| {
                if !items.iter().any(|i| i == &item) {
                    items.push(item.clone());
                }
            })?;
            n += 1;
        }
        Ok(n)
    }

    fn run_action(
        &self,
        io: Io<'_>,
        event_id: &str,
        action: &webhook::event::ActionExecute,
    ) -> Answer {
        let cache = format!("{NS}/action/{event_id}");
        if let Ok(Some(done)) = io.store.get(&cache) {
            if let Ok(v) = serde_json::from_slice::<Value>(&done) {
                return Answer::new(200, "action", v);
            }
        }
        let Some(endpoint) = self.config.actions.iter().find(|a| a.name == action.action) else {
            return Answer::error(
                404,
                "action-unconfigured",
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
                let _ =
                    io.store
                        .compare_and_swap(&cache, None, Some(answer.to_string().as_bytes()));
                Answer::new(200, "action", answer)
            }
            Ok(r) => Answer::error(
                502,
                "action-failed",
                format!("action endpoint answered {}", r.status),
            ),
            Err(e) => Answer::error(502, "action-failed", format!("action endpoint: {e}")),
        }
    }

    /// Releases held events and pushes replies nobody waits for to Gleap's REST API.
    pub fn tick(&mut self, io: Io<'_>) -> Result<TickReport> {
        let mut report = TickReport::default();
        let released = self.sequencer.poll(io.store, io.clock.now())?;
        report.released = self.enqueue(io.store, released)?;
        let Some(rest) = self.config.rest.clone() else {
            return Ok(report);
        };
        let prefix = format!("{NS}/outbox/");
        for key in io.store.list_keys(&prefix).map_err(store_error)? {
            let Some(conversation) = key.strip_prefix(&prefix) else {
                continue;
            };
            let waiting: Option<i64> = io
                .store
                .get(&waiting_key(conversation))
                .map_err(store_error)?
                .and_then(|b| serde_json::from_slice(&b).ok());
            if waiting.is_some_and(|deadline| deadline > io.clock.now().0) {
                continue;
            }
            let state: ConversationState = decode(
                io.store
                    .get(&conv_key(conversation))
                    .map_err(store_error)?
                    .as_deref(),
            )?;
            let items: Vec<OutItem> = decode(io.store.get(&key).map_err(store_error)?.as_deref())?;
            for item in items {
                let text = match &item {
                    OutItem::Message { body, .. } => body.clone(),
                    OutItem::HandOff { .. } => self.config.hand_off_text.clone(),
                    OutItem::Finished { .. } => {
                        remove_item(io.store, &key, &item)?;
                        continue;
                    }
                };
                match push_to_gleap(io, &rest, &state.ticket, &text) {
                    Ok(()) => {
                        remove_item(io.store, &key, &item)?;
                        report.pushed += 1;
                    }
                    Err(_) => {
                        report.failed += 1;
                        break; // keep the conversation's order: retry next tick
                    }
                }
            }
        }
        Ok(report)
    }

    /// Replies queued for Gleap across all conversations.
    pub fn queue_depth(&self, store: &dyn Store) -> Result<u64> {
        let prefix = format!("{NS}/outbox/");
        let mut n = 0u64;
        for key in store.list_keys(&prefix).map_err(store_error)? {
            let items: Vec<OutItem> = decode(store.get(&key).map_err(store_error)?.as_deref())?;
            n += items.len() as u64;
        }
        Ok(n)
    }
}

fn take_all(store: &dyn Store, key: &str) -> Result<Vec<OutItem>> {
    update::<Vec<OutItem>, _>(store, key, std::mem::take)
}

fn remove_item(store: &dyn Store, key: &str, item: &OutItem) -> Result<()> {
    update::<Vec<OutItem>, _>(store, key, |items| items.retain(|i| i != item))
}

fn push_to_gleap(io: Io<'_>, rest: &RestConfig, ticket: &str, text: &str) -> Result<()> {
    let body = json!({"ticket": ticket, "comment": tiptap::document(text), "bot": true});
    let request = HttpRequest {
        method: Method::Post,
        url: format!("{}/messages", rest.base_url.trim_end_matches('/')),
        headers: vec![
            (
                "Authorization".into(),
                format!("Bearer {}", rest.api_key.expose()),
            ),
            ("Project".into(), rest.project_id.clone()),
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: Some(body.to_string().into_bytes()),
        timeout_ms: 10_000,
    };
    let r = io.http.send(&request).map_err(|e| Error::Transport {
        message: e.to_string(),
    })?;
    if r.is_success() {
        Ok(())
    } else {
        Err(Error::Api(crate::operation::api_error(&r)))
    }
}
