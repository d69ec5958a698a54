//! The Chatwoot adapter on the core, on the fake clock, scripted HTTP and a
//! memory store.

use serde_json::json;
use std::cell::RefCell;

use super::adapter::*;
use super::plan::Settings;
use crate::bridge::{self, outbound, Bridge, DrainReport, Effect, Helpdesk, Io};
use crate::client::{Config, Secret};
use crate::env::{Clock, Store};
use crate::helpdesk::Kind;
use crate::http::{HttpResponse, TransportError};
use crate::testing::{FakeClock, MemoryStore, ScriptedTransport};
use crate::Timestamp;

const SECRET: &str = "cw_secret";
const TOKEN: &str = "bot-token-secret";
const T: i64 = 1_795_000_000;

struct World {
    http: ScriptedTransport,
    clock: FakeClock,
    store: MemoryStore,
}

impl World {
    fn new() -> Self {
        World {
            http: ScriptedTransport::default(),
            clock: FakeClock::new(Timestamp::from_secs(T)),
            store: MemoryStore::default(),
        }
    }
    fn io(&self) -> Io<'_> {
        Io {
            http: &self.http,
            clock: &self.clock,
            store: &self.store,
        }
    }
    fn stored(&self) -> String {
        self.store.with_map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}\n", String::from_utf8_lossy(v)))
                .collect()
        })
    }
}

/// Drains as a host does: one call per drain, again while calls are left
/// and none failed.
fn drain_all(b: &mut ChatwootBridge, w: &World, conversation: &str) -> DrainReport {
    let mut all = DrainReport::default();
    loop {
        let r = b.drain(w.io(), conversation).unwrap();
        let made = r.done as usize + r.dropped.len();
        all.done += r.done;
        all.dropped.extend(r.dropped);
        all.retry_at = r.retry_at;
        all.left = r.left;
        if r.left == 0 || r.retry_at.is_some() || made == 0 {
            return all;
        }
    }
}

/// A bridge serving Chatwoot only, as the tests drive it.
struct ChatwootBridge(RefCell<Bridge>);

impl ChatwootBridge {
    fn handle_event(
        &self,
        io: Io<'_>,
        timestamp: Option<&str>,
        signature: Option<&str>,
        url_token: Option<&str>,
        body: &[u8],
    ) -> Answer {
        handle_event(
            &mut self.0.borrow_mut(),
            io,
            timestamp,
            signature,
            url_token,
            body,
        )
    }
    fn drain(&mut self, io: Io<'_>, conversation: &str) -> crate::Result<DrainReport> {
        self.0.borrow_mut().drain(io, conversation)
    }
    /// What the core does with an agent event of a Chatwoot conversation.
    fn enqueue_agent_event(
        &self,
        store: &dyn Store,
        now: Timestamp,
        event: &crate::webhook::WebhookEvent,
    ) -> crate::Result<bool> {
        let mut b = self.0.borrow_mut();
        let (_, chatwoot) = b.helpdesk::<Chatwoot>().unwrap();
        let Effect::Calls(calls) = chatwoot.on_agent_event(store, now, event)? else {
            panic!("Chatwoot's events become calls");
        };
        let any = !calls.is_empty();
        let conversation = event.conversation_id.clone().unwrap();
        outbound::append(store, Kind::Chatwoot, &conversation, now, calls)?;
        Ok(any)
    }
    fn busy_conversations(store: &dyn Store) -> crate::Result<Vec<String>> {
        outbound::busy(store, Kind::Chatwoot)
    }
}

fn bridge(auth: Auth) -> ChatwootBridge {
    let core = bridge::Config::new(Config::new("https://api.example/v1", "sk_test"), "whsec_cw");
    let chatwoot = Chatwoot::new(ChatwootConfig {
        settings: Settings {
            base_url: "https://chat.example.com".into(),
            bot_token: TOKEN.into(),
            teams: Default::default(),
        },
        auth,
    })
    .unwrap();
    ChatwootBridge(RefCell::new(Bridge::new(core).unwrap().with(chatwoot)))
}

fn signed() -> ChatwootBridge {
    bridge(Auth::Signature {
        secret: Secret::new(SECRET),
        window_secs: 300,
    })
}

fn message(id: u64, status: &str) -> Vec<u8> {
    json!({
        "event": "message_created", "id": id, "content": format!("message {id}"),
        "message_type": "incoming", "private": false, "sender": {"id": 9, "type": "contact"},
        "conversation": {"id": 101, "status": status, "channel": "Channel::WebWidget",
                         "meta": {"sender": {"id": 9, "email": "sam@example.com"}}},
        "account": {"id": 7}
    })
    .to_string()
    .into_bytes()
}

fn post(b: &ChatwootBridge, w: &World, body: &[u8]) -> Answer {
    let t = T.to_string();
    let sig = super::sign(SECRET, T, body);
    b.handle_event(w.io(), Some(&t), Some(&sig), None, body)
}

const CONVERSATION: &str = r#"{"id":"chatwoot-7-101","customer_id":"sam@example.com","channel":"web","created":"2026-11-20T10:00:00Z","updated":"2026-11-20T10:00:00Z","status":"active","agent_is_active":true}"#;
const MESSAGE: &str = r#"{"id":"chatwoot-7-4521","body":"message 4521","participant_id":"sam@example.com","participant_type":"Customer"}"#;

#[test]
fn an_event_is_queued_before_it_is_answered_and_a_redelivery_queues_nothing() {
    let (b, w) = (signed(), World::new());
    let a = post(&b, &w, &message(4521, "pending"));
    assert_eq!((a.status, a.outcome), (200, Outcome::Accepted));
    assert_eq!(a.work, ["chatwoot-7-101"]);
    assert!(
        w.http.sent().is_empty(),
        "nothing is called while Chatwoot waits"
    );
    let again = post(&b, &w, &message(4521, "pending"));
    assert_eq!((again.status, again.outcome), (200, Outcome::Duplicate));
    assert!(again.work.is_empty());

    let mut b = b;
    w.http.push(Ok(HttpResponse::json(200, CONVERSATION)));
    w.http.push(Ok(HttpResponse::json(200, MESSAGE)));
    let r = drain_all(&mut b, &w, "chatwoot-7-101");
    assert_eq!((r.done, r.left, r.retry_at), (2, 0, None));
    let sent = w.http.sent();
    assert_eq!(sent[0].url, "https://api.example/v1/conversations");
    assert_eq!(
        sent[1].url,
        "https://api.example/v1/conversations/chatwoot-7-101/messages"
    );
    // Drained: nothing more is sent.
    assert_eq!(
        drain_all(&mut b, &w, "chatwoot-7-101"),
        DrainReport::default()
    );
    assert_eq!(w.http.sent().len(), 2);
}

#[test]
fn a_refused_event_keeps_nothing() {
    let (b, w) = (signed(), World::new());
    let body = message(4521, "pending");
    let t = T.to_string();
    let sig = super::sign(SECRET, T, &body);
    let wrong = super::sign("other", T, &body);
    for (ts, s) in [
        (Some(t.as_str()), Some(wrong.as_str())),
        (None, Some(sig.as_str())),
        (Some(t.as_str()), None),
    ] {
        let a = b.handle_event(w.io(), ts, s, None, &body);
        assert_eq!((a.status, a.outcome), (401, Outcome::Unauthorized));
    }
    w.clock.advance(301 * 1_000_000_000);
    let a = b.handle_event(w.io(), Some(&t), Some(&sig), None, &body);
    assert_eq!(a.status, 401);
    assert!(a.body["error"].as_str().unwrap().contains("window"));
    assert_eq!(w.stored(), "");
    // Signed, but not JSON: 400; authentic but unusable: acknowledged.
    let junk = b"not json";
    let a = b.handle_event(
        w.io(),
        Some(&(T + 301).to_string()),
        Some(&super::sign(SECRET, T + 301, junk)),
        None,
        junk,
    );
    assert_eq!(a.status, 400);
}

#[test]
fn the_url_token_fallback_and_insecure_mode() {
    let w = World::new();
    let b = bridge(Auth::UrlToken(Secret::new("long-random-token")));
    let body = message(1, "pending");
    assert_eq!(
        b.handle_event(w.io(), None, None, Some("long-random-token"), &body)
            .status,
        200
    );
    assert_eq!(
        b.handle_event(w.io(), None, None, Some("long-random-tokem"), &body)
            .status,
        401
    );
    assert_eq!(b.handle_event(w.io(), None, None, None, &body).status, 401);
    let b = bridge(Auth::Insecure);
    assert_eq!(
        b.handle_event(w.io(), None, None, None, &message(2, "pending"))
            .status,
        200
    );
}

#[test]
fn a_failed_call_stays_at_the_head_and_is_retried_after_a_back_off_in_order() {
    let (mut b, w) = (signed(), World::new());
    post(&b, &w, &message(4521, "pending"));
    w.http.push(Ok(HttpResponse::json(
        503,
        r#"{"code":"unavailable","message":"busy"}"#,
    )));
    let r = drain_all(&mut b, &w, "chatwoot-7-101");
    assert_eq!((r.done, r.left), (0, 2));
    assert_eq!(r.retry_at, Some(Timestamp::from_secs(T + 1)));
    // Not due yet: nothing is sent.
    assert_eq!(drain_all(&mut b, &w, "chatwoot-7-101").done, 0);
    assert_eq!(w.http.sent().len(), 1);
    w.clock.advance(1_000_000_000);
    w.http.push(Err(TransportError::Timeout));
    let r = drain_all(&mut b, &w, "chatwoot-7-101");
    assert_eq!(
        r.retry_at,
        Some(Timestamp::from_secs(T + 3)),
        "the back-off doubles"
    );
    w.clock.advance(2_000_000_000);
    w.http.push(Ok(HttpResponse::json(200, CONVERSATION)));
    // Refused for good (400): dropped, with why; the queue goes on.
    w.http.push(Ok(HttpResponse::json(
        400,
        r#"{"code":"invalid_argument","message":"no"}"#,
    )));
    let r = drain_all(&mut b, &w, "chatwoot-7-101");
    assert_eq!((r.done, r.left, r.dropped.len()), (1, 0, 1));
    let sent = w.http.sent();
    assert_eq!(sent.len(), 4);
    assert!(
        sent[..3].iter().all(|r| r.url.ends_with("/conversations")),
        "the head is retried first"
    );
    assert!(sent[3].url.ends_with("/messages"));
}

fn agent_event(
    seq: u64,
    event_type: &str,
    data: serde_json::Value,
) -> crate::webhook::WebhookEvent {
    let mut body = json!({
        "id": format!("webhook_{seq}"), "type": event_type, "sequence_number": seq,
        "timestamp": "2026-11-20T10:00:01Z",
        "data": {"conversation": {"id": "chatwoot-7-101", "customer_id": "sam@example.com"}}
    });
    if let (Some(d), serde_json::Value::Object(extra)) = (body["data"].as_object_mut(), data) {
        d.extend(extra);
    }
    crate::webhook::parse(body.to_string().as_bytes(), None).unwrap()
}

#[test]
fn agent_events_go_back_to_chatwoot_once_in_order_and_nothing_after_a_hand_off() {
    let (mut b, w) = (signed(), World::new());
    post(&b, &w, &message(4521, "pending"));
    w.http.push(Ok(HttpResponse::json(200, CONVERSATION)));
    w.http.push(Ok(HttpResponse::json(200, MESSAGE)));
    drain_all(&mut b, &w, "chatwoot-7-101");
    let now = w.clock.now();
    let reply = agent_event(
        1,
        "agent.message",
        json!({"body": "It ships today.", "is_holding": false}),
    );
    assert!(b.enqueue_agent_event(&w.store, now, &reply).unwrap());
    let hand_off = agent_event(
        2,
        "conversation.hand_off",
        json!({"reason_code": "x", "reason": "Refund"}),
    );
    assert!(b.enqueue_agent_event(&w.store, now, &hand_off).unwrap());
    let late = agent_event(
        3,
        "agent.message",
        json!({"body": "One more thing", "is_holding": false}),
    );
    assert!(
        !b.enqueue_agent_event(&w.store, now, &late).unwrap(),
        "not posted after a hand-off"
    );
    assert!(!w.stored().contains(TOKEN), "the bot token is never stored");

    // Chatwoot fails the reply once: it is posted once it succeeds, then
    // the note and the status, in that order.
    w.http.push(Ok(HttpResponse::json(500, "{}")));
    let r = drain_all(&mut b, &w, "chatwoot-7-101");
    assert_eq!((r.done, r.left), (0, 3));
    w.clock.advance(1_000_000_000);
    for _ in 0..3 {
        w.http.push(Ok(HttpResponse::json(200, "{}")));
    }
    let r = drain_all(&mut b, &w, "chatwoot-7-101");
    assert_eq!((r.done, r.left), (3, 0));
    let chatwoot: Vec<_> = w.http.sent().into_iter().skip(2).collect();
    assert_eq!(chatwoot.len(), 4);
    assert!(chatwoot
        .iter()
        .all(|r| r.header("api_access_token") == Some(TOKEN)));
    let bodies: Vec<serde_json::Value> = chatwoot
        .iter()
        .map(|r| serde_json::from_str(r.body_text()).unwrap())
        .collect();
    assert_eq!(bodies[0]["content"], "It ships today.");
    assert_eq!(bodies[1], bodies[0], "the same reply, retried");
    assert_eq!(bodies[2]["private"], true);
    assert_eq!(bodies[3], json!({"status": "open"}));
    // The bridge's own `open` coming back changes nothing.
    let echo = json!({"event": "conversation_status_changed", "id": 101, "status": "open", "account_id": 7}).to_string();
    assert_eq!(post(&b, &w, echo.as_bytes()).outcome, Outcome::Ignored);
    assert_eq!(
        ChatwootBridge::busy_conversations(&w.store).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn busy_conversations_are_listed_for_a_restart() {
    let (b, w) = (signed(), World::new());
    post(&b, &w, &message(4521, "pending"));
    assert_eq!(
        ChatwootBridge::busy_conversations(&w.store).unwrap(),
        ["chatwoot-7-101"]
    );
}
