//! A Zendesk messaging (Sunshine Conversations v2) stand-in for tests and
//! the demo: one app with an API key (HTTP Basic, 401 otherwise);
//! conversations with a switchboard (the bot's integration and
//! `zd-agentWorkspace`); the bot's webhook, sent `X-API-Key` with every
//! delivery, retried as Zendesk does (up to 5 attempts, exponentially
//! spaced, on anything but a 2xx or no answer within 20 s; never after 400,
//! 401, 403, 404 or 406), in order; and the calls a bot makes: messages
//! (stored, and echoed back as `business` messages), `passControl` and
//! `releaseControl` (403 unless the bot is in control), each emitting its
//! switchboard event.
//!
//! Customers and human agents are played through `/stand-in/…`: start a
//! conversation, write in it (one delivery may carry several messages), let
//! a human agent reply and close the ticket (control back to the bot with
//! `reason: "ticketClosed"`), read it back, and make the next calls fail.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{background, lock, SandboxError};

/// The Agent Workspace's switchboard integration.
pub const AGENT_WORKSPACE: &str = "zd-agentWorkspace";

/// Answers Zendesk never retries.
const NOT_RETRIED: &[u16] = &[400, 401, 403, 404, 406];

/// How the stand-in runs.
#[derive(Clone)]
pub struct StandInConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The app id.
    pub app_id: String,
    /// The API key's id.
    pub key_id: String,
    /// The API key's secret.
    pub key_secret: String,
    /// The webhook's secret, sent as `X-API-Key`.
    pub webhook_secret: String,
    /// The bot's switchboard integration name.
    pub bot_name: String,
    /// The first retry's wait; each next one doubles (Zendesk spreads 5
    /// attempts over 15 minutes; tests want less).
    pub retry_base: Duration,
    /// How long a delivery may take before it counts as failed.
    pub delivery_timeout: Duration,
}

impl Default for StandInConfig {
    fn default() -> Self {
        StandInConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            app_id: crate::random_key("app").replace('_', ""),
            key_id: crate::random_key("key_"),
            key_secret: crate::random_key("zdsecret_"),
            webhook_secret: crate::random_key("zdwebhook_"),
            bot_name: "glbridge".into(),
            retry_base: Duration::from_secs(1),
            delivery_timeout: Duration::from_secs(20),
        }
    }
}

#[derive(Debug, Clone)]
struct Message {
    id: String,
    author: &'static str,
    text: String,
}

#[derive(Debug, Clone)]
struct Conversation {
    id: String,
    active: String,
    messages: Vec<Message>,
    /// The metadata of the last `passControl`.
    handed_off: Option<Value>,
    released: bool,
}

#[derive(Default)]
struct Book {
    next: u64,
    conversations: BTreeMap<String, Conversation>,
}

/// A failure to answer instead of the next call.
#[derive(Debug, Clone, Deserialize)]
struct Failure {
    status: u16,
    #[serde(default)]
    retry_after: Option<u64>,
}

struct Shared {
    config: StandInConfig,
    bot_url: Mutex<Option<String>>,
    book: Mutex<Book>,
    failures: Mutex<VecDeque<Failure>>,
    deliveries: Mutex<mpsc::Sender<Value>>,
    /// Deliveries the bot answered 2xx, and attempts made.
    delivered: Mutex<(u64, u64)>,
    /// Makes the deliveries (Zendesk waits this long for an answer).
    http: ureq::Agent,
}

/// A running stand-in.
pub struct ZendeskStandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: background::Background,
}

impl std::fmt::Debug for ZendeskStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZendeskStandIn")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ZendeskStandIn {
    /// Binds and serves in the background until [`ZendeskStandIn::stop`] or drop.
    pub fn start(config: StandInConfig) -> Result<Self, SandboxError> {
        let (runtime, listener, local) =
            crate::runtime_and_listener("glbridge-zendesk", 1, config.listen)?;
        let (tx, rx) = mpsc::channel::<Value>();
        let shared = Arc::new(Shared {
            bot_url: Mutex::new(None),
            book: Mutex::new(Book::default()),
            failures: Mutex::new(VecDeque::new()),
            deliveries: Mutex::new(tx),
            delivered: Mutex::new((0, 0)),
            http: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(config.delivery_timeout))
                .build()
                .into(),
            config,
        });
        let worker = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("glbridge-zendesk-webhook".into())
            .spawn(move || deliver_in_order(&worker, &rx))
            .map_err(|e| SandboxError::Runtime(e.to_string()))?;
        let app = Router::new()
            .route(
                "/sc/v2/apps/{app}/conversations/{conversation}/{action}",
                post(api),
            )
            .route("/stand-in/conversations", post(start_conversation))
            .route("/stand-in/conversations/{conversation}", get(show))
            .route(
                "/stand-in/conversations/{conversation}/messages",
                post(customer_writes),
            )
            .route(
                "/stand-in/conversations/{conversation}/agent-reply",
                post(agent_replies),
            )
            .route(
                "/stand-in/conversations/{conversation}/close",
                post(close_ticket),
            )
            .route("/stand-in/fail", post(fail_next))
            .route("/stand-in/deliveries", get(deliveries))
            .with_state(shared.clone());
        let server = background::Background::spawn(
            "glbridge-zendesk",
            runtime,
            listener,
            app,
            background::ConnectionLimits::default(),
            std::future::pending(),
            Duration::from_millis(200),
        )
        .map_err(|e| SandboxError::Runtime(e.to_string()))?;
        Ok(ZendeskStandIn {
            addr: local,
            shared,
            server,
        })
    }

    /// Its base URL (what `--zendesk-url` takes).
    pub fn url(&self) -> String {
        format!("http://{}/sc", self.addr)
    }

    /// Its configuration (the keys included).
    pub fn config(&self) -> &StandInConfig {
        &self.shared.config
    }

    /// Where the bot's webhook deliveries go.
    pub fn set_bot_url(&self, url: &str) {
        *lock(&self.shared.bot_url) = Some(url.to_owned());
    }

    /// Stops serving.
    pub fn stop(mut self) {
        self.server.stop();
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"errors": [{"code": status.as_u16().to_string(), "title": message}]})),
    )
        .into_response()
}

/// Delivers each queued delivery in turn, retrying as Zendesk does.
fn deliver_in_order(shared: &std::sync::Weak<Shared>, rx: &mpsc::Receiver<Value>) {
    while let Ok(delivery) = rx.recv() {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Some(url) = lock(&shared.bot_url).clone() else {
            continue;
        };
        let http = &shared.http;
        let body = delivery.to_string();
        let mut wait = shared.config.retry_base;
        for attempt in 1..=5 {
            let answer = http
                .post(&url)
                .header("Content-Type", "application/json")
                .header("X-API-Key", &shared.config.webhook_secret)
                .send(body.as_bytes());
            let status = answer.as_ref().map(|r| r.status().as_u16()).ok();
            {
                let mut d = lock(&shared.delivered);
                d.1 += 1;
                if status.is_some_and(|s| (200..300).contains(&s)) {
                    d.0 += 1;
                }
            }
            match status {
                Some(s) if (200..300).contains(&s) => break,
                Some(s) if NOT_RETRIED.contains(&s) => {
                    tracing::warn!(status = s, "the bot refused a delivery: not retried");
                    break;
                }
                other => {
                    tracing::warn!(attempt, status = ?other, "a delivery failed; retrying");
                    if attempt < 5 {
                        std::thread::sleep(wait);
                        wait *= 2;
                    }
                }
            }
        }
    }
}

fn enqueue(shared: &Shared, events: Vec<Value>) {
    let delivery = json!({
        "app": {"id": shared.config.app_id},
        "webhook": {"id": "stand-in-webhook", "version": "v2"},
        "events": events,
    });
    let _ = lock(&shared.deliveries).send(delivery);
}

fn integration(name: &str) -> Value {
    let kind = if name == AGENT_WORKSPACE {
        "zd:agentWorkspace"
    } else {
        "custom"
    };
    json!({"id": format!("id-{name}"), "name": name, "integrationType": kind})
}

fn conversation_json(c: &Conversation) -> Value {
    let active = if c.active.is_empty() {
        Value::Null
    } else {
        integration(&c.active)
    };
    json!({"id": c.id, "type": "personal", "activeSwitchboardIntegration": active})
}

fn event_id() -> String {
    crate::random_key("evt_")
}

fn message_event(c: &Conversation, m: &Message, content: Value) -> Value {
    json!({
        "id": event_id(), "type": "conversation:message",
        "createdAt": "2026-12-06T10:00:00.000Z",
        "payload": {
            "conversation": conversation_json(c),
            "message": {"id": m.id, "received": "2026-12-06T10:00:00.000Z",
                "author": {"type": m.author, "userId": format!("user-{}", c.id), "displayName": "Sam"},
                "content": content, "source": {"type": "web"}},
        },
    })
}

fn switch_event(
    kind: &str,
    c: &Conversation,
    reason: Option<&str>,
    metadata: Option<&Value>,
) -> Value {
    let mut payload = json!({"conversation": conversation_json(c)});
    if let Some(r) = reason {
        payload["reason"] = json!(r);
    }
    if let Some(m) = metadata {
        payload["metadata"] = m.clone();
    }
    json!({"id": event_id(), "type": kind, "createdAt": "2026-12-06T10:00:00.000Z", "payload": payload})
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        shared.config.key_id, shared.config.key_secret
    ));
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Basic {expected}"))
}

/// The calls a bot makes.
async fn api(
    State(shared): State<Arc<Shared>>,
    Path((app, conversation, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorized(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid credentials");
    }
    if app != shared.config.app_id {
        return error(StatusCode::NOT_FOUND, "app not found");
    }
    if let Some(f) = lock(&shared.failures).pop_front() {
        let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = error(status, "failing on purpose");
        if let Some(secs) = f.retry_after {
            if let Ok(v) = secs.to_string().parse() {
                response.headers_mut().insert("retry-after", v);
            }
        }
        return response;
    }
    let Ok(params) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    let bot = shared.config.bot_name.clone();
    let mut book = lock(&shared.book);
    book.next += 1;
    let next = book.next;
    let Some(c) = book.conversations.get_mut(&conversation) else {
        return error(StatusCode::NOT_FOUND, "conversation not found");
    };
    let (answer, event) = match action.as_str() {
        "messages" => {
            if params.pointer("/author/type").and_then(Value::as_str) != Some("business") {
                return error(StatusCode::BAD_REQUEST, "author.type must be business");
            }
            let Some(text) = params.pointer("/content/text").and_then(Value::as_str) else {
                return error(StatusCode::BAD_REQUEST, "content.text is required");
            };
            let m = Message {
                id: format!("msg{next}"),
                author: "business",
                text: text.to_owned(),
            };
            c.messages.push(m.clone());
            let content = params.get("content").cloned().unwrap_or(Value::Null);
            let event = message_event(c, &m, content);
            (
                (StatusCode::CREATED, json!({"messages": [{"id": m.id}]})),
                Some(event),
            )
        }
        "passControl" | "releaseControl" if c.active != bot => {
            return error(
                StatusCode::FORBIDDEN,
                "the integration is not in control of the conversation",
            )
        }
        "passControl" => {
            let Some(to) = params.get("switchboardIntegration").and_then(Value::as_str) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "switchboardIntegration is required",
                );
            };
            c.active = if to == "next" { AGENT_WORKSPACE } else { to }.to_owned();
            c.handed_off = params.get("metadata").cloned();
            let event = switch_event("switchboard:passControl", c, None, params.get("metadata"));
            ((StatusCode::OK, json!({})), Some(event))
        }
        "releaseControl" => {
            c.active.clear();
            c.released = true;
            let event = switch_event(
                "switchboard:releaseControl",
                c,
                None,
                params.get("metadata"),
            );
            ((StatusCode::OK, json!({})), Some(event))
        }
        _ => return error(StatusCode::NOT_FOUND, "not found"),
    };
    drop(book);
    if let Some(e) = event {
        enqueue(&shared, vec![e]);
    }
    (answer.0, Json(answer.1)).into_response()
}

#[derive(Deserialize)]
struct CustomerMessages {
    /// One message…
    #[serde(default)]
    text: Option<String>,
    /// …or several, delivered together.
    #[serde(default)]
    texts: Vec<String>,
    /// An image's URL instead of text.
    #[serde(default)]
    image_url: Option<String>,
}

/// A customer starts a conversation: the bot is in control.
async fn start_conversation(
    State(shared): State<Arc<Shared>>,
    Json(m): Json<CustomerMessages>,
) -> Response {
    let id = {
        let mut book = lock(&shared.book);
        book.next += 1;
        let id = format!("conv{}", book.next);
        book.conversations.insert(
            id.clone(),
            Conversation {
                id: id.clone(),
                active: shared.config.bot_name.clone(),
                messages: Vec::new(),
                handed_off: None,
                released: false,
            },
        );
        id
    };
    customer_messages(&shared, &id, m)
}

/// A customer writes (once, or several messages in one delivery). After a
/// release, the conversation is the bot's again.
async fn customer_writes(
    State(shared): State<Arc<Shared>>,
    Path(conversation): Path<String>,
    Json(m): Json<CustomerMessages>,
) -> Response {
    customer_messages(&shared, &conversation, m)
}

fn customer_messages(shared: &Arc<Shared>, conversation: &str, m: CustomerMessages) -> Response {
    let bot = shared.config.bot_name.clone();
    let mut contents: Vec<Value> = m
        .text
        .into_iter()
        .chain(m.texts)
        .map(|t| json!({"type": "text", "text": t}))
        .collect();
    if let Some(url) = m.image_url {
        contents.push(json!({"type": "image", "mediaUrl": url}));
    }
    if contents.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "text, texts or image_url is required",
        );
    }
    let (events, ids) = {
        let mut book = lock(&shared.book);
        let mut events = Vec::new();
        let mut ids = Vec::new();
        for content in contents {
            book.next += 1;
            let id = format!("msg{}", book.next);
            let Some(c) = book.conversations.get_mut(conversation) else {
                return error(StatusCode::NOT_FOUND, "conversation not found");
            };
            if c.active.is_empty() {
                c.active = bot.clone();
            }
            let m = Message {
                id: id.clone(),
                author: "user",
                text: content
                    .get("text")
                    .or_else(|| content.get("mediaUrl"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            };
            c.messages.push(m.clone());
            events.push(message_event(c, &m, content));
            ids.push(id);
        }
        (events, ids)
    };
    enqueue(shared, events);
    (
        StatusCode::OK,
        Json(json!({"conversation_id": conversation, "message_ids": ids})),
    )
        .into_response()
}

#[derive(Deserialize)]
struct AgentReply {
    text: String,
}

/// A human agent replies in the Agent Workspace (the bot sees a business
/// message).
async fn agent_replies(
    State(shared): State<Arc<Shared>>,
    Path(conversation): Path<String>,
    Json(r): Json<AgentReply>,
) -> Response {
    let event = {
        let mut book = lock(&shared.book);
        book.next += 1;
        let id = format!("msg{}", book.next);
        let Some(c) = book.conversations.get_mut(&conversation) else {
            return error(StatusCode::NOT_FOUND, "conversation not found");
        };
        let m = Message {
            id,
            author: "business",
            text: r.text.clone(),
        };
        c.messages.push(m.clone());
        message_event(c, &m, json!({"type": "text", "text": r.text}))
    };
    enqueue(&shared, vec![event]);
    StatusCode::NO_CONTENT.into_response()
}

/// A human agent closes the ticket: control goes back to the bot with
/// `reason: "ticketClosed"`.
async fn close_ticket(
    State(shared): State<Arc<Shared>>,
    Path(conversation): Path<String>,
) -> Response {
    let bot = shared.config.bot_name.clone();
    let event = {
        let mut book = lock(&shared.book);
        let Some(c) = book.conversations.get_mut(&conversation) else {
            return error(StatusCode::NOT_FOUND, "conversation not found");
        };
        c.active = bot.clone();
        switch_event("switchboard:passControl", c, Some("ticketClosed"), None)
    };
    enqueue(&shared, vec![event]);
    StatusCode::NO_CONTENT.into_response()
}

/// The conversation, as a test reads it.
async fn show(State(shared): State<Arc<Shared>>, Path(conversation): Path<String>) -> Response {
    let book = lock(&shared.book);
    match book.conversations.get(&conversation) {
        Some(c) => (
            StatusCode::OK,
            Json(json!({
                "id": c.id,
                "active": c.active,
                "released": c.released,
                "handed_off": c.handed_off,
                "messages": c.messages.iter().map(|m| json!({"id": m.id, "author": m.author, "text": m.text})).collect::<Vec<_>>(),
            })),
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "conversation not found"),
    }
}

#[derive(Deserialize)]
struct Failures {
    status: u16,
    times: usize,
    #[serde(default)]
    retry_after: Option<u64>,
}

/// The next `times` calls of the bot fail with `status` (and `Retry-After`).
async fn fail_next(State(shared): State<Arc<Shared>>, Json(f): Json<Failures>) -> Response {
    let mut failures = lock(&shared.failures);
    failures.extend(std::iter::repeat_n(
        Failure {
            status: f.status,
            retry_after: f.retry_after,
        },
        f.times,
    ));
    StatusCode::NO_CONTENT.into_response()
}

/// Deliveries the bot took (2xx) and attempts made.
async fn deliveries(State(shared): State<Arc<Shared>>) -> Response {
    let (ok, attempts) = *lock(&shared.delivered);
    (
        StatusCode::OK,
        Json(json!({"delivered": ok, "attempts": attempts})),
    )
        .into_response()
}
