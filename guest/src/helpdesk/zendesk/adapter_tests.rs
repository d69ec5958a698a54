//! The Zendesk adapter on the core: fake clock, scripted HTTP, memory store.

use serde_json::{json, Value};

use super::adapter::*;
use super::plan::Settings;
use crate::bridge::{self, Bridge, DrainReport, Io};
use crate::client::{Config, Secret};
use crate::env::Clock;
use crate::http::{HttpRequest, HttpResponse};
use crate::testing::{FakeClock, MemoryStore, ScriptedTransport};
use crate::webhook::sign;
use crate::Timestamp;

const KEY: &str = "zd-webhook-secret";
const SIGNING: &str = "whsec_zd";
const T: i64 = 1_795_000_000;
const CONV: &str = "zendesk-app1-c1";
const CONVERSATION: &str = r#"{"id":"zendesk-app1-c1","customer_id":"u1","channel":"web","created":"2026-11-20T10:00:00Z","updated":"2026-11-20T10:00:00Z","status":"active","agent_is_active":true}"#;
const MESSAGE: &str = r#"{"id":"zendesk-app1-m1","body":"Hello","participant_id":"u1","participant_type":"Customer"}"#;

struct World {
    http: ScriptedTransport,
    clock: FakeClock,
    store: MemoryStore,
    bridge: Bridge,
}

impl World {
    fn new() -> Self {
        let mut client = Config::new("https://api.example/v1", "sk_test");
        client.retry.max_attempts = 1;
        let zendesk = Zendesk::new(ZendeskConfig {
            settings: Settings {
                base_url: "https://acme.zendesk.com/sc".into(),
                app_id: "app1".into(),
                bot_name: "glbridge".into(),
                targets: [("billing".to_owned(), "billing-team".to_owned())].into(),
                default_target: super::AGENT_WORKSPACE.into(),
                ai_subtype: true,
            },
            key_id: "key_1".into(),
            key_secret: Secret::new("key-secret"),
            webhook_secret: Secret::new(KEY),
        })
        .unwrap();
        World {
            http: ScriptedTransport::default(),
            clock: FakeClock::new(Timestamp::from_secs(T)),
            store: MemoryStore::default(),
            bridge: Bridge::new(bridge::Config::new(client, SIGNING))
                .unwrap()
                .with(zendesk),
        }
    }
    fn io(&self) -> Io<'_> {
        Io {
            http: &self.http,
            clock: &self.clock,
            store: &self.store,
        }
    }
    fn post(&mut self, key: Option<&str>, events: Value) -> Answer {
        let body = json!({"app": {"id": "app1"}, "webhook": {"id": "wh", "version": "v2"}, "events": events});
        let io = Io {
            http: &self.http,
            clock: &self.clock,
            store: &self.store,
        };
        handle_event(&mut self.bridge, io, key, body.to_string().as_bytes())
    }
    /// The agent's webhook, as the API sends it.
    fn agent(&mut self, seq: u64, kind: &str, data: Value) -> bridge::Answer {
        let mut data = data;
        data["conversation"] = json!({"id": CONV, "customer_id": "u1"});
        let body = json!({"id": format!("wh_{seq}"), "type": kind, "sequence_number": seq,
                          "timestamp": "2026-11-20T10:00:01Z", "data": data})
        .to_string();
        let header = sign(SIGNING, self.clock.now().secs(), body.as_bytes());
        let io = Io {
            http: &self.http,
            clock: &self.clock,
            store: &self.store,
        };
        self.bridge
            .handle_webhook(io, Some(&header), None, body.as_bytes())
    }
    /// Drains as a host does: one call per drain, again while calls are
    /// left and none failed.
    fn drain(&mut self) -> DrainReport {
        let mut all = DrainReport::default();
        loop {
            let io = Io {
                http: &self.http,
                clock: &self.clock,
                store: &self.store,
            };
            let r = self.bridge.drain(io, CONV).unwrap();
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
    /// The AI-agent API's answers, in order.
    fn api(&self, answers: &[&str]) {
        for a in answers {
            self.http.push(Ok(HttpResponse::json(200, a)));
        }
    }
    fn ok(&self, n: usize) {
        for _ in 0..n {
            self.http.push(Ok(HttpResponse::json(200, "{}")));
        }
    }
    fn sent_since(&self, before: usize) -> Vec<HttpRequest> {
        self.http.sent().into_iter().skip(before).collect()
    }
}

fn user_message(event: &str, message: &str, text: &str) -> Value {
    json!({"id": event, "type": "conversation:message", "createdAt": "2026-12-06T10:00:00.000Z",
           "payload": {"conversation": {"id": "c1", "type": "personal",
              "activeSwitchboardIntegration": {"id": "i1", "name": "glbridge", "integrationType": "custom"}},
             "message": {"id": message, "author": {"type": "user", "userId": "u1", "displayName": "Sam"},
               "content": {"type": "text", "text": text}}}})
}

fn pass_control(event: &str, to: &str, reason: Option<&str>) -> Value {
    json!({"id": event, "type": "switchboard:passControl",
           "payload": {"conversation": {"id": "c1",
              "activeSwitchboardIntegration": {"id": format!("id-{to}"), "name": to, "integrationType": "custom"}},
             "reason": reason}})
}

fn operations(sent: &[HttpRequest]) -> Vec<String> {
    sent.iter()
        .map(|r| r.url.rsplit('/').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_delivery_of_two_messages_is_queued_in_order_before_it_is_answered_and_once() {
    let mut w = World::new();
    let a = w.post(
        Some(KEY),
        json!([
            user_message("e1", "m1", "Hello"),
            user_message("e2", "m2", "Where is my order?")
        ]),
    );
    assert_eq!((a.status, a.outcome), (200, Outcome::Accepted), "{a:?}");
    assert_eq!(a.work, [CONV]);
    assert!(
        w.http.sent().is_empty(),
        "nothing called while Zendesk waits"
    );
    w.api(&[CONVERSATION, MESSAGE, MESSAGE]);
    let r = w.drain();
    assert_eq!((r.done, r.left), (3, 0));
    let sent = w.http.sent();
    assert_eq!(operations(&sent), ["conversations", "messages", "messages"]);
    let start: Value = serde_json::from_slice(sent[0].body.as_ref().unwrap()).unwrap();
    assert_eq!(start["id"], CONV);
    let second: Value = serde_json::from_slice(sent[2].body.as_ref().unwrap()).unwrap();
    assert_eq!(second["id"], "zendesk-app1-m2");
    assert_eq!(second["body"], "Where is my order?");
    // The same delivery again (Zendesk retries it): nothing new.
    let again = w.post(
        Some(KEY),
        json!([
            user_message("e1", "m1", "Hello"),
            user_message("e2", "m2", "Where is my order?")
        ]),
    );
    assert_eq!((again.status, again.outcome), (200, Outcome::Duplicate));
    assert!(again.work.is_empty());
}

#[test]
fn a_wrong_or_missing_api_key_is_refused_before_anything_is_kept() {
    let mut w = World::new();
    for key in [None, Some("zd-webhook-secreT"), Some("")] {
        let io = w.io();
        let _ = io;
        assert_eq!(
            screen_event(&mut w.bridge, key).map(|a| a.status),
            Some(401)
        );
        let a = w.post(key, json!([user_message("e1", "m1", "Hello")]));
        assert_eq!((a.status, a.outcome), (401, Outcome::Unauthorized));
    }
    assert!(screen_event(&mut w.bridge, Some(KEY)).is_none());
    assert!(w.store.with_map(|m| m.is_empty()), "nothing kept");
}

#[test]
fn business_messages_are_ignored_and_other_content_is_forwarded_as_text() {
    let mut w = World::new();
    let image = json!({"id": "e2", "type": "conversation:message",
        "payload": {"conversation": {"id": "c1"},
          "message": {"id": "m2", "author": {"type": "user", "userId": "u1"},
            "content": {"type": "image", "mediaUrl": "https://x.test/r.png"}}}});
    let echo = json!({"id": "e3", "type": "conversation:message",
        "payload": {"conversation": {"id": "c1"},
          "message": {"id": "m3", "author": {"type": "business"},
            "content": {"type": "text", "text": "our own reply"}}}});
    let a = w.post(
        Some(KEY),
        json!([user_message("e1", "m1", "Hi"), image, echo]),
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.body["queued"], 3, "{a:?}");
    assert_eq!(a.body["ignored"][0]["event"], "e3");
    w.api(&[CONVERSATION, MESSAGE, MESSAGE]);
    w.drain();
    let last: Value = serde_json::from_slice(w.http.sent()[2].body.as_ref().unwrap()).unwrap();
    assert_eq!(last["body"], "[image] https://x.test/r.png");
}

#[test]
fn replies_hand_offs_and_control_coming_back_follow_the_switchboard() {
    let mut w = World::new();
    w.post(Some(KEY), json!([user_message("e1", "m1", "Hi")]));
    w.api(&[CONVERSATION, MESSAGE]);
    assert_eq!(w.drain().done, 2);
    // The agent answers: posted as the business, with the AI subtype and
    // the API key.
    let a = w.agent(
        1,
        "agent.message",
        json!({"body": "Hello!", "is_holding": false}),
    );
    assert_eq!(a.work, [CONV]);
    let before = w.http.sent().len();
    w.ok(1);
    assert_eq!(w.drain().done, 1);
    let sent = w.sent_since(before);
    assert_eq!(
        sent[0].url,
        "https://acme.zendesk.com/sc/v2/apps/app1/conversations/c1/messages"
    );
    let body: Value = serde_json::from_slice(sent[0].body.as_ref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"author": {"type": "business", "subtypes": ["AI"]}, "content": {"type": "text", "text": "Hello!"}})
    );
    assert_eq!(
        sent[0].header("authorization"),
        Some("Basic a2V5XzE6a2V5LXNlY3JldA==")
    );
    assert!(!format!("{:?}", w.store.with_map(|m| m.clone())).contains("key-secret"));
    // A hand-off to a mapped target passes control there, with the reason.
    w.agent(2, "conversation.hand_off", json!({"target": "billing", "reason_code": "billing", "reason": "asked for a refund", "note": "order A-1"}));
    let before = w.http.sent().len();
    w.ok(1);
    w.drain();
    let sent = w.sent_since(before);
    assert_eq!(operations(&sent), ["passControl"]);
    let body: Value = serde_json::from_slice(sent[0].body.as_ref().unwrap()).unwrap();
    assert_eq!(body["switchboardIntegration"], "billing-team");
    assert_eq!(body["metadata"]["glbridge_reason"], "asked for a refund");
    assert_eq!(body["metadata"]["glbridge_note"], "order A-1");
    // While a human has it: the customer's messages and late replies stay out.
    let a = w.post(
        Some(KEY),
        json!([pass_control("e2", "billing-team", None), {
            "id": "e3", "type": "conversation:message",
            "payload": {"conversation": {"id": "c1",
               "activeSwitchboardIntegration": {"id": "x", "name": "billing-team", "integrationType": "zd:agentWorkspace"}},
              "message": {"id": "m9", "author": {"type": "user"}, "content": {"type": "text", "text": "still there?"}}}}]),
    );
    assert_eq!(a.body["queued"], 0, "{a:?}");
    let late = w.agent(
        3,
        "agent.message",
        json!({"body": "late", "is_holding": false}),
    );
    assert!(late.work.is_empty(), "not posted while a human has it");
    // The ticket is closed: control back to the bot; the agent takes it again.
    let a = w.post(
        Some(KEY),
        json!([pass_control("e4", "glbridge", Some("ticketClosed"))]),
    );
    assert_eq!(a.body["queued"], 1);
    let a = w.post(
        Some(KEY),
        json!([user_message("e5", "m10", "One more thing")]),
    );
    assert_eq!(a.body["queued"], 1);
    let before = w.http.sent().len();
    w.api(&["{}", MESSAGE]);
    assert_eq!(w.drain().done, 2);
    let sent = w.sent_since(before);
    assert_eq!(operations(&sent), ["assignee", "messages"]);
    let assign: Value = serde_json::from_slice(sent[0].body.as_ref().unwrap()).unwrap();
    assert_eq!(assign["assignee_type"], "AI Agent", "{assign}");
    // A finish releases control.
    w.agent(4, "conversation.finished", json!({}));
    let before = w.http.sent().len();
    w.ok(1);
    w.drain();
    assert_eq!(operations(&w.sent_since(before)), ["releaseControl"]);
}

#[test]
fn a_switchboard_action_refused_for_a_human_is_dropped_and_a_429_waits_as_told() {
    let mut w = World::new();
    w.post(Some(KEY), json!([user_message("e1", "m1", "Hi")]));
    w.api(&[CONVERSATION, MESSAGE]);
    assert_eq!(w.drain().done, 2);
    w.agent(
        1,
        "agent.message",
        json!({"body": "One", "is_holding": false}),
    );
    w.agent(
        2,
        "conversation.hand_off",
        json!({"target": "other", "reason_code": "x", "reason": "y"}),
    );
    // The reply: 429 with Retry-After 7 s, then it goes; the hand-off: 403.
    w.http.push(Ok(HttpResponse {
        status: 429,
        headers: vec![("Retry-After".into(), "7".into())],
        body: b"{}".to_vec(),
    }));
    let r = w.drain();
    assert_eq!(
        r.retry_at,
        Some(Timestamp(T * 1_000_000_000 + 7_000_000_000))
    );
    assert_eq!(r.left, 2);
    w.clock.advance(7_000_000_000);
    w.ok(1);
    w.http.push(Ok(HttpResponse::json(
        403,
        r#"{"errors":[{"code":"forbidden"}]}"#,
    )));
    let r = w.drain();
    assert_eq!((r.done, r.left), (1, 0));
    assert_eq!(r.dropped.len(), 1, "{r:?}");
    assert!(
        r.dropped[0].contains("passControl") && r.dropped[0].contains("403"),
        "{r:?}"
    );
    let sent = w.http.sent();
    let last: Value = serde_json::from_slice(sent.last().unwrap().body.as_ref().unwrap()).unwrap();
    assert_eq!(
        last["switchboardIntegration"],
        super::AGENT_WORKSPACE,
        "unmapped target: the default"
    );
}

#[test]
fn a_configuration_without_what_it_needs_is_refused_and_debug_hides_secrets() {
    let good = ZendeskConfig {
        settings: Settings {
            base_url: "https://acme.zendesk.com/sc".into(),
            app_id: "app1".into(),
            bot_name: "glbridge".into(),
            targets: Default::default(),
            default_target: super::AGENT_WORKSPACE.into(),
            ai_subtype: false,
        },
        key_id: "key_1".into(),
        key_secret: Secret::new("key-secret"),
        webhook_secret: Secret::new(KEY),
    };
    let text = format!("{good:?}");
    assert!(
        !text.contains("key-secret") && !text.contains(KEY),
        "{text}"
    );
    assert!(Zendesk::new(good.clone()).is_ok());
    let mut bad = good.clone();
    bad.key_id = String::new();
    assert!(Zendesk::new(bad).is_err());
    let mut bad = good;
    bad.settings.app_id = "a-b".into();
    assert!(Zendesk::new(bad).is_err());
}

/// A store that fails every write (a database that went away).
struct FailingStore(MemoryStore);

impl crate::env::Store for FailingStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, crate::env::StoreError> {
        self.0.get(key)
    }
    fn compare_and_swap(
        &self,
        _key: &str,
        _expected: Option<&[u8]>,
        _new: Option<&[u8]>,
    ) -> Result<bool, crate::env::StoreError> {
        Err(crate::env::StoreError("the database is down".into()))
    }
    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, crate::env::StoreError> {
        self.0.list_keys(prefix)
    }
}

#[test]
fn a_delivery_the_store_cannot_keep_is_answered_503_so_that_zendesk_delivers_it_again() {
    let mut w = World::new();
    let failing = FailingStore(MemoryStore::default());
    let body = json!({"app": {"id": "app1"}, "webhook": {"id": "wh", "version": "v2"},
                      "events": [user_message("e1", "m1", "Hello")]})
    .to_string();
    let io = Io {
        http: &w.http,
        clock: &w.clock,
        store: &failing,
    };
    let a = handle_event(&mut w.bridge, io, Some(KEY), body.as_bytes());
    assert_eq!((a.status, a.outcome), (503, Outcome::StoreError), "{a:?}");
    assert!(a.work.is_empty());
    assert!(failing.0.with_map(|m| m.is_empty()), "nothing kept");
}

#[test]
fn de_duplication_marks_are_swept_by_the_tick_once_no_retry_can_need_them() {
    let mut w = World::new();
    let seen = |w: &World| {
        crate::env::Store::list_keys(&w.store, "zendesk/seen/")
            .unwrap()
            .len()
    };
    let tick = |w: &mut World| {
        let io = Io {
            http: &w.http,
            clock: &w.clock,
            store: &w.store,
        };
        w.bridge.tick(io).unwrap();
    };
    tick(&mut w);
    let a = w.post(Some(KEY), json!([user_message("e1", "m1", "Hello")]));
    assert_eq!(a.outcome, Outcome::Accepted);
    assert_eq!(seen(&w), 1);
    // Zendesk retries within 15 minutes; a day later the mark still holds.
    w.clock.advance(24 * 3_600 * 1_000_000_000);
    tick(&mut w);
    let again = w.post(Some(KEY), json!([user_message("e1", "m1", "Hello")]));
    assert_eq!(again.outcome, Outcome::Duplicate);
    assert_eq!(seen(&w), 1);
    // Two days on, the tick has deleted it.
    w.clock.advance(48 * 3_600 * 1_000_000_000);
    tick(&mut w);
    assert_eq!(seen(&w), 0);
}
