//! A Chatwoot stand-in for tests and the demo: accounts and inboxes (named
//! by the conversations started in them), conversations and messages, signed agent-bot events delivered to the bot
//! URL with Chatwoot's 5 s timeout (a conversation whose event fails while
//! `pending` is opened, as Chatwoot does), and the REST calls a bot may make
//! — with `api_access_token` enforced and the bot allowlist (401 elsewhere).
//!
//! Customers and human agents are played through `/stand-in/…`: start a
//! conversation, write in it, change its status as a user would, read it
//! back, and make the next REST calls fail.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{background, lock, now, SandboxError};

/// How the stand-in runs.
#[derive(Clone)]
pub struct StandInConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The account a conversation is started in unless it names one.
    pub account_id: u64,
    /// The agent bot's access token (`api_access_token`).
    pub bot_token: String,
    /// The agent bot's webhook secret: events are signed with it.
    pub bot_secret: String,
}

impl Default for StandInConfig {
    fn default() -> Self {
        StandInConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            account_id: 1,
            bot_token: crate::random_key("cwbot_"),
            bot_secret: crate::random_key("cwsecret_"),
        }
    }
}

#[derive(Debug, Clone)]
struct Message {
    id: u64,
    content: Option<String>,
    incoming: bool,
    private: bool,
    sender: &'static str,
}

#[derive(Debug, Clone)]
struct Conversation {
    id: u64,
    account: u64,
    inbox_id: u64,
    channel: String,
    status: String,
    team_id: Option<u64>,
    labels: Vec<String>,
    messages: Vec<Message>,
}

#[derive(Default)]
struct Book {
    next_conversation: u64,
    next_message: u64,
    conversations: BTreeMap<u64, Conversation>,
}

struct Shared {
    config: StandInConfig,
    bot_url: Mutex<Option<String>>,
    book: Mutex<Book>,
    failures: Mutex<VecDeque<u16>>,
    http: ureq::Agent,
}

/// A running stand-in.
pub struct ChatwootStandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: background::Background,
}

impl std::fmt::Debug for ChatwootStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatwootStandIn")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The endpoints a bot token may use (Chatwoot's allowlist, newer servers).
const BOT_ALLOWED: &[&str] = &["messages", "toggle_status", "assignments", "labels"];

impl ChatwootStandIn {
    /// Binds and serves in the background until [`ChatwootStandIn::stop`] or drop.
    pub fn start(config: StandInConfig) -> Result<Self, SandboxError> {
        let (runtime, listener, local) =
            crate::runtime_and_listener("glbridge-chatwoot", 1, config.listen)?;
        let shared = Arc::new(Shared {
            config,
            bot_url: Mutex::new(None),
            book: Mutex::new(Book {
                next_conversation: 100,
                next_message: 1_000,
                ..Book::default()
            }),
            failures: Mutex::new(VecDeque::new()),
            http: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                // Chatwoot gives a bot this long.
                .timeout_global(Some(Duration::from_secs(5)))
                .build()
                .into(),
        });
        let app = Router::new()
            .route(
                "/api/v1/accounts/{account}/conversations/{conversation}/{action}",
                post(rest),
            )
            .fallback(|headers: HeaderMap| async move { refuse_unlisted(&headers) })
            .route("/stand-in/conversations", post(start_conversation))
            .route("/stand-in/conversations/{conversation}", get(show))
            .route(
                "/stand-in/conversations/{conversation}/messages",
                post(customer_writes),
            )
            .route(
                "/stand-in/conversations/{conversation}/status",
                post(user_sets_status),
            )
            .route("/stand-in/fail", post(fail_next))
            .with_state(shared.clone());
        let server = background::Background::spawn(
            "glbridge-chatwoot",
            runtime,
            listener,
            app,
            background::ConnectionLimits::default(),
            std::future::pending(),
            Duration::from_millis(200),
        )
        .map_err(|e| SandboxError::Runtime(e.to_string()))?;
        Ok(ChatwootStandIn {
            addr: local,
            shared,
            server,
        })
    }

    /// Its base URL (what `--chatwoot-url` takes).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its configuration (the bot token and secret included).
    pub fn config(&self) -> &StandInConfig {
        &self.shared.config
    }

    /// Where its agent bot's events go.
    pub fn set_bot_url(&self, url: &str) {
        *lock(&self.shared.bot_url) = Some(url.to_owned());
    }

    /// Stops serving.
    pub fn stop(mut self) {
        self.server.stop();
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

fn refuse_unlisted(headers: &HeaderMap) -> Response {
    if headers.contains_key("api_access_token") {
        error(
            StatusCode::UNAUTHORIZED,
            "Access to this endpoint is not authorized for bots",
        )
    } else {
        error(StatusCode::NOT_FOUND, "not found")
    }
}

fn conversation_json(c: &Conversation) -> Value {
    let account = c.account;
    json!({
        "id": c.id, "status": c.status, "inbox_id": c.inbox_id, "channel": c.channel,
        "account_id": account, "labels": c.labels, "custom_attributes": {},
        "meta": {"sender": {"id": c.id, "name": "Sam", "email": format!("customer-{}@example.com", c.id)},
                 "assignee": null, "team": c.team_id.map(|t| json!({"id": t}))},
        "messages": c.messages.iter().map(|m| json!({
            "id": m.id, "content": m.content, "account_id": account,
            "message_type": if m.incoming { 0 } else { 1 }, "private": m.private,
        })).collect::<Vec<_>>(),
    })
}

fn message_event(c: &Conversation, m: &Message) -> Value {
    let account = c.account;
    json!({
        "event": "message_created",
        "id": m.id,
        "content": m.content,
        "message_type": if m.incoming { "incoming" } else { "outgoing" },
        "content_type": "text",
        "private": m.private,
        "created_at": now(),
        "sender": {"id": c.id, "name": "Sam", "type": m.sender},
        "conversation": conversation_json(c),
        "account": {"id": account, "name": "Stand-in"},
        "inbox": {"id": c.inbox_id, "name": format!("Inbox {}", c.inbox_id)},
    })
}

/// Posts a signed event to the bot; a failed delivery of a `pending`
/// conversation's event opens it, as Chatwoot does.
fn deliver(shared: &Arc<Shared>, conversation: u64, event: Value) {
    let Some(url) = lock(&shared.bot_url).clone() else {
        return;
    };
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let body = event.to_string();
        let t = now().secs();
        let signature =
            glbridge_guest::helpdesk::chatwoot::sign(&shared.config.bot_secret, t, body.as_bytes());
        let answer = shared
            .http
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-Chatwoot-Timestamp", &t.to_string())
            .header("X-Chatwoot-Signature", &signature)
            .header("X-Chatwoot-Delivery", &crate::random_key("delivery_"))
            .send(body.as_bytes());
        let delivered = matches!(&answer, Ok(r) if r.status().is_success());
        if !delivered {
            tracing::warn!(
                conversation,
                "the bot did not take the event: {:?}",
                answer.map(|r| r.status())
            );
            let mut book = lock(&shared.book);
            if let Some(c) = book.conversations.get_mut(&conversation) {
                if c.status == "pending" {
                    c.status = "open".into();
                }
            }
        }
    });
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get("api_access_token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t == shared.config.bot_token)
}

async fn rest(
    State(shared): State<Arc<Shared>>,
    Path((account, conversation, action)): Path<(u64, u64, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorized(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Invalid Access Token");
    }
    if !BOT_ALLOWED.contains(&action.as_str()) {
        return refuse_unlisted(&headers);
    }
    if let Some(status) = lock(&shared.failures).pop_front() {
        return error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "failing on purpose",
        );
    }
    let Ok(params) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    let mut book = lock(&shared.book);
    let next_id = book.next_message;
    let Some(c) = book
        .conversations
        .get_mut(&conversation)
        .filter(|c| c.account == account)
    else {
        return error(StatusCode::NOT_FOUND, "conversation not found");
    };
    let (answer, event) = match action.as_str() {
        "messages" => {
            let Some(content) = params.get("content").and_then(Value::as_str) else {
                return error(StatusCode::UNPROCESSABLE_ENTITY, "content is required");
            };
            let m = Message {
                id: next_id,
                content: Some(content.to_owned()),
                incoming: params.get("message_type").and_then(Value::as_str) == Some("incoming"),
                private: params
                    .get("private")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                sender: "agent_bot",
            };
            c.messages.push(m.clone());
            let answer = json!({"id": m.id, "content": m.content, "message_type": 1, "private": m.private,
                                "conversation_id": c.id, "account_id": account, "content_type": "text"});
            // Chatwoot sends the bot its own messages too.
            (answer, Some(message_event(c, &m)))
        }
        "toggle_status" => {
            let Some(status) = params.get("status").and_then(Value::as_str) else {
                return error(StatusCode::UNPROCESSABLE_ENTITY, "status is required");
            };
            if !["open", "resolved", "pending", "snoozed"].contains(&status) {
                return error(StatusCode::UNPROCESSABLE_ENTITY, "unknown status");
            }
            let previous = std::mem::replace(&mut c.status, status.to_owned());
            let mut event = conversation_json(c);
            event["event"] = json!("conversation_status_changed");
            event["changed_attributes"] =
                json!([{"status": {"previous_value": previous, "current_value": status}}]);
            (
                json!({"meta": {}, "payload": {"success": true, "current_status": status, "conversation_id": c.id}}),
                Some(event),
            )
        }
        "assignments" => {
            c.team_id = params.get("team_id").and_then(Value::as_u64);
            (json!({"id": c.team_id, "name": "team"}), None)
        }
        "labels" => {
            c.labels = params
                .get("labels")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (json!({"payload": c.labels}), None)
        }
        _ => return refuse_unlisted(&headers),
    };
    if action == "messages" {
        book.next_message += 1;
    }
    drop(book);
    if let Some(e) = event {
        deliver(&shared, conversation, e);
    }
    (StatusCode::OK, Json(answer)).into_response()
}

#[derive(Deserialize)]
struct CustomerMessage {
    content: String,
}

/// A customer's first message, and where the conversation is.
#[derive(Deserialize)]
struct NewConversation {
    content: String,
    /// Default: the stand-in's account.
    account_id: Option<u64>,
    /// Default: 1.
    inbox_id: Option<u64>,
    /// Default: `Channel::WebWidget`.
    channel: Option<String>,
}

/// A customer starts a conversation: `pending`, owned by the bot.
async fn start_conversation(
    State(shared): State<Arc<Shared>>,
    Json(m): Json<NewConversation>,
) -> Response {
    let id = {
        let mut book = lock(&shared.book);
        book.next_conversation += 1;
        let id = book.next_conversation;
        book.conversations.insert(
            id,
            Conversation {
                id,
                account: m.account_id.unwrap_or(shared.config.account_id),
                inbox_id: m.inbox_id.unwrap_or(1),
                channel: m
                    .channel
                    .clone()
                    .unwrap_or_else(|| "Channel::WebWidget".into()),
                status: "pending".into(),
                team_id: None,
                labels: Vec::new(),
                messages: Vec::new(),
            },
        );
        id
    };
    customer_message(&shared, id, m.content)
}

/// A customer writes in a conversation (a resolved one becomes `pending`).
async fn customer_writes(
    State(shared): State<Arc<Shared>>,
    Path(conversation): Path<u64>,
    Json(m): Json<CustomerMessage>,
) -> Response {
    customer_message(&shared, conversation, m.content)
}

fn customer_message(shared: &Arc<Shared>, conversation: u64, content: String) -> Response {
    let event = {
        let mut book = lock(&shared.book);
        let id = book.next_message;
        book.next_message += 1;
        let Some(c) = book.conversations.get_mut(&conversation) else {
            return error(StatusCode::NOT_FOUND, "conversation not found");
        };
        if c.status == "resolved" {
            c.status = "pending".into();
        }
        let m = Message {
            id,
            content: Some(content),
            incoming: true,
            private: false,
            sender: "contact",
        };
        c.messages.push(m.clone());
        message_event(c, &m)
    };
    let message_id = event["id"].clone();
    deliver(shared, conversation, event);
    (
        StatusCode::OK,
        Json(json!({"conversation_id": conversation, "message_id": message_id})),
    )
        .into_response()
}

#[derive(Deserialize)]
struct NewStatus {
    status: String,
}

/// A human agent changes a conversation's status (takes it: `open`; hands
/// it back to the bot: `pending`; `resolved`): the bot gets
/// `conversation_status_changed`.
async fn user_sets_status(
    State(shared): State<Arc<Shared>>,
    Path(conversation): Path<u64>,
    Json(n): Json<NewStatus>,
) -> Response {
    if !["open", "resolved", "pending", "snoozed"].contains(&n.status.as_str()) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "unknown status");
    }
    let event = {
        let mut book = lock(&shared.book);
        let Some(c) = book.conversations.get_mut(&conversation) else {
            return error(StatusCode::NOT_FOUND, "conversation not found");
        };
        let previous = std::mem::replace(&mut c.status, n.status.clone());
        let mut event = conversation_json(c);
        event["event"] = json!("conversation_status_changed");
        event["changed_attributes"] =
            json!([{"status": {"previous_value": previous, "current_value": n.status}}]);
        event
    };
    deliver(&shared, conversation, event);
    StatusCode::NO_CONTENT.into_response()
}

/// The conversation, as a test reads it.
async fn show(State(shared): State<Arc<Shared>>, Path(conversation): Path<u64>) -> Response {
    let book = lock(&shared.book);
    match book.conversations.get(&conversation) {
        Some(c) => {
            let mut v = conversation_json(c);
            v["messages"] = c
                .messages
                .iter()
                .map(|m| json!({"id": m.id, "content": m.content, "incoming": m.incoming, "private": m.private, "sender": m.sender}))
                .collect();
            v["team_id"] = json!(c.team_id);
            (StatusCode::OK, Json(v)).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "conversation not found"),
    }
}

#[derive(Deserialize)]
struct Failures {
    status: u16,
    times: usize,
}

/// The next `times` REST calls of the bot fail with `status`.
async fn fail_next(State(shared): State<Arc<Shared>>, Json(f): Json<Failures>) -> Response {
    let mut failures = lock(&shared.failures);
    failures.extend(std::iter::repeat_n(f.status, f.times));
    StatusCode::NO_CONTENT.into_response()
}
