//! The Gleap bridge, deterministically: fake clock, scripted HTTP, memory store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use glbridge_guest::env::{Clock, Store};
use glbridge_guest::gleap::bridge::{ActionEndpoint, BridgeConfig, GleapBridge, Io, RestConfig};
use glbridge_guest::http::HttpResponse;
use glbridge_guest::testing::{FakeClock, MemoryStore, ScriptedTransport};
use glbridge_guest::webhook::sign;
use glbridge_guest::{client::Secret, Config, RetryPolicy, Timestamp};
use serde_json::{json, Value};

const KEY: &str = "whsec_gleap";
const T0: i64 = 1_750_000_000;

struct World {
    http: ScriptedTransport,
    clock: FakeClock,
    store: MemoryStore,
    bridge: GleapBridge,
}

impl World {
    fn new(tweak: impl FnOnce(&mut BridgeConfig)) -> World {
        let mut client = Config::new("https://api.example.test", "sk_int");
        client.retry = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        let mut config = BridgeConfig::new(client, KEY);
        config.gleap_secret = Some(Secret::new("Bearer gleap-shared"));
        config.reply_wait_ms = 2_000;
        tweak(&mut config);
        World {
            http: ScriptedTransport::default(),
            clock: FakeClock::new(Timestamp::from_secs(T0)),
            store: MemoryStore::default(),
            bridge: GleapBridge::new(config).unwrap(),
        }
    }
    fn action(
        &mut self,
        auth: Option<&str>,
        body: &Value,
    ) -> glbridge_guest::gleap::bridge::Answer {
        let io = Io {
            http: &self.http,
            clock: &self.clock,
            store: &self.store,
        };
        self.bridge
            .handle_action(io, auth, body.to_string().as_bytes())
    }
    fn webhook(&mut self, event: &Value) -> glbridge_guest::gleap::bridge::Answer {
        let body = event.to_string();
        let header = sign(KEY, self.clock.now().secs(), body.as_bytes());
        let io = Io {
            http: &self.http,
            clock: &self.clock,
            store: &self.store,
        };
        self.bridge
            .handle_webhook(io, Some(&header), None, body.as_bytes())
    }
}

fn gleap_call(comments: Value) -> Value {
    json!({
        "conversation": {"id": "T1", "type": "INQUIRY", "customData": {"plan": "pro"}},
        "session": {"userId": "u-1", "email": "sam@example.com"},
        "comments": comments,
    })
}

fn comment(id: &str, text: &str) -> Value {
    json!({"id": id, "comment": {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}, "bot": false})
}

fn agent_message(id: &str, seq: u64, body: &str, holding: bool) -> Value {
    json!({"id": id, "type": "agent.message", "sequence_number": seq, "timestamp": "2025-06-15T12:00:00Z",
           "data": {"conversation": {"id": "gleap-T1", "customer_id": "u-1"}, "body": body, "is_holding": holding}})
}

fn ok(body: &str) -> Result<HttpResponse, glbridge_guest::http::TransportError> {
    Ok(HttpResponse::json(200, body))
}

const CONV: &str = r#"{"id":"gleap-T1","customer_id":"u-1","channel":"web","status":"active"}"#;
const MSG: &str =
    r#"{"id":"gleap-c1","body":"x","participant_id":"u-1","participant_type":"Customer"}"#;

#[test]
fn first_call_starts_forwards_and_holds_then_a_replay_delivers_the_queued_reply_once() {
    let mut w = World::new(|_| {});
    w.http.push(ok(CONV));
    w.http.push(ok("{}"));
    w.http.push(ok(MSG));
    let call = gleap_call(json!([comment("c1", "Where is my parcel?")]));
    let a = w.action(Some("Bearer gleap-shared"), &call);
    assert_eq!((a.status, a.outcome), (200, "holding"));
    assert_eq!(
        w.clock.now().secs(),
        T0 + 2,
        "waited the reply wait, on the fake clock"
    );
    let sent = w.http.sent();
    let paths: Vec<&str> = sent
        .iter()
        .map(|r| r.url.trim_start_matches("https://api.example.test"))
        .collect();
    assert_eq!(
        paths,
        vec![
            "/conversations",
            "/conversations/gleap-T1/resources/gleap-context",
            "/conversations/gleap-T1/messages"
        ]
    );
    let start: Value = serde_json::from_slice(sent[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (
            start["customer_id"].as_str(),
            start["assignee_type"].as_str(),
            start["channel"].as_str()
        ),
        (Some("u-1"), Some("AI Agent"), Some("web"))
    );
    let message: Value = serde_json::from_slice(sent[2].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (message["id"].as_str(), message["body"].as_str()),
        (Some("gleap-c1"), Some("Where is my parcel?"))
    );

    // The reply arrives by webhook (twice: a redelivery), and waits in the outbox.
    assert_eq!(
        w.webhook(&agent_message("wh1", 1, "It ships **today**.", false))
            .outcome,
        "accepted"
    );
    assert_eq!(
        w.webhook(&agent_message("wh1", 1, "It ships **today**.", false))
            .outcome,
        "duplicate"
    );
    assert_eq!(w.bridge.queue_depth(&w.store).unwrap(), 1);

    // Gleap replays the same comments: nothing is sent again, the reply goes out once.
    let a = w.action(Some("Bearer gleap-shared"), &call);
    assert_eq!((a.status, a.outcome), (200, "replied"));
    assert_eq!(a.body["message"], "It ships **today**.");
    assert_eq!(w.http.sent().len(), 3, "no duplicate forward");
    assert_eq!(w.bridge.queue_depth(&w.store).unwrap(), 0);
}

#[test]
fn out_of_order_webhooks_are_answered_in_order_and_holding_messages_once() {
    let mut w = World::new(|c| c.reply_wait_ms = 500);
    for r in [ok(CONV), ok("{}"), ok(MSG)] {
        w.http.push(r);
    }
    w.webhook(&agent_message("wh2", 2, "Second.", false));
    w.webhook(&agent_message("wh1", 1, "Let me check.", true));
    let a = w.action(
        Some("Bearer gleap-shared"),
        &gleap_call(json!([comment("c1", "hi")])),
    );
    assert_eq!(a.body["message"], "Let me check.\n\nSecond.");
}

#[test]
fn a_hand_off_answers_the_configured_text_with_tags_and_attributes() {
    let mut w = World::new(|c| c.hand_off_text = "A human will take over.".into());
    for r in [ok(CONV), ok("{}"), ok(MSG)] {
        w.http.push(r);
    }
    w.webhook(&json!({"id": "wh1", "type": "conversation.hand_off", "sequence_number": 1, "timestamp": "2025-06-15T12:00:00Z",
                      "data": {"conversation": {"id": "gleap-T1", "customer_id": "u-1"}, "target": "billing", "reason_code": "customer-request", "reason": "asked"}}));
    let a = w.action(
        Some("Bearer gleap-shared"),
        &gleap_call(json!([comment("c1", "human please")])),
    );
    assert_eq!(a.outcome, "hand-off");
    assert_eq!(a.body["message"], "A human will take over.");
    assert_eq!(a.body["tags"], json!(["ai-handoff"]));
    assert_eq!(a.body["attributes"]["handoff_target"], "billing");
    assert_eq!(
        a.body["attributes"]["handoff_reason_code"],
        "customer-request"
    );
}

#[test]
fn bad_auth_and_bad_bodies_change_nothing() {
    let mut w = World::new(|_| {});
    let call = gleap_call(json!([comment("c1", "hi")]));
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer gleap-shared "),
        Some("bearer gleap-shared"),
    ] {
        let a = w.action(auth, &call);
        assert_eq!((a.status, a.outcome), (401, "unauthorized"), "{auth:?}");
    }
    let a = w.action(
        Some("Bearer gleap-shared"),
        &json!({"conversation": {"id": "1"}}),
    );
    assert_eq!(a.status, 400);
    assert!(a.body["error"].as_str().unwrap().contains("session"));
    assert!(w.http.sent().is_empty(), "nothing sent upstream");
    assert!(w.store.list_keys("").unwrap().is_empty(), "nothing stored");
}

#[test]
fn forged_webhooks_are_refused_and_nothing_is_stored() {
    let mut w = World::new(|_| {});
    let body = agent_message("wh1", 1, "forged", false).to_string();
    let header = sign("not-the-key", T0, body.as_bytes());
    let io = Io {
        http: &w.http,
        clock: &w.clock,
        store: &w.store,
    };
    let a = w
        .bridge
        .handle_webhook(io, Some(&header), None, body.as_bytes());
    assert_eq!((a.status, a.outcome), (401, "bad-signature"));
    let io = Io {
        http: &w.http,
        clock: &w.clock,
        store: &w.store,
    };
    let a = w.bridge.handle_webhook(io, None, None, body.as_bytes());
    assert_eq!(a.status, 401);
    assert!(w.store.list_keys("").unwrap().is_empty());
    let unknown = json!({"id": "wh9", "type": "brand.new", "sequence_number": 0, "timestamp": "2025-06-15T12:00:00Z", "data": {}});
    assert_eq!(
        w.webhook(&unknown).status,
        200,
        "unknown types are acknowledged"
    );
}

#[test]
fn actions_are_forwarded_once_and_unconfigured_ones_refused() {
    let mut w = World::new(|c| {
        c.actions.push(ActionEndpoint {
            name: "order-status".into(),
            url: "https://shop.example.test/status".into(),
            headers: vec![("X-Shop-Key".into(), "k".into())],
            timeout_ms: 30_000,
        })
    });
    w.http.push(ok(r#"{"id":"A-1","status":"shipped"}"#));
    let event = |name: &str, id: &str| {
        json!({"id": id, "type": "action.execute", "sequence_number": 1, "timestamp": "2025-06-15T12:00:00Z",
               "data": {"conversation": {"id": "gleap-T1", "customer_id": "u-1"}, "action": name, "params": {"reference": "A-1"}}})
    };
    let a = w.webhook(&event("order-status", "wh1"));
    assert_eq!(
        (a.status, a.body["status"].as_str()),
        (200, Some("shipped"))
    );
    let sent = w.http.sent();
    assert_eq!(sent[0].url, "https://shop.example.test/status");
    assert_eq!(sent[0].header("x-shop-key"), Some("k"));
    assert_eq!(sent[0].timeout_ms, 9_000, "kept under the webhook timeout");
    let again = w.webhook(&event("order-status", "wh1"));
    assert_eq!(again.body["status"], "shipped");
    assert_eq!(
        w.http.sent().len(),
        1,
        "a redelivered action is answered from the cache"
    );
    let a = w.webhook(&event("refund", "wh2"));
    assert_eq!(a.status, 404);
    assert!(a.body["error"].as_str().unwrap().contains("refund"));
}

#[test]
fn late_replies_go_out_through_gleaps_rest_api_on_tick() {
    let mut w = World::new(|c| {
        c.rest = Some(RestConfig {
            base_url: "https://gleap.example.test/v3".into(),
            api_key: Secret::new("gk"),
            project_id: "p1".into(),
        })
    });
    for r in [ok(CONV), ok("{}"), ok(MSG)] {
        w.http.push(r);
    }
    assert_eq!(
        w.action(
            Some("Bearer gleap-shared"),
            &gleap_call(json!([comment("c1", "hi")]))
        )
        .outcome,
        "holding"
    );
    w.webhook(&agent_message("wh1", 1, "Late answer.", false));
    w.http
        .push(Err(glbridge_guest::http::TransportError::Timeout));
    let io = Io {
        http: &w.http,
        clock: &w.clock,
        store: &w.store,
    };
    assert_eq!(w.bridge.tick(io).unwrap().failed, 1);
    assert_eq!(
        w.bridge.queue_depth(&w.store).unwrap(),
        1,
        "a failed push stays queued"
    );
    w.http.push(ok("{}"));
    let io = Io {
        http: &w.http,
        clock: &w.clock,
        store: &w.store,
    };
    assert_eq!(w.bridge.tick(io).unwrap().pushed, 1);
    let push = w.http.sent().last().cloned().unwrap();
    assert_eq!(push.url, "https://gleap.example.test/v3/messages");
    assert_eq!(push.header("project"), Some("p1"));
    let body: Value = serde_json::from_slice(push.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (body["ticket"].as_str(), body["bot"].as_bool()),
        (Some("T1"), Some(true))
    );
    assert_eq!(
        body["comment"]["content"][0]["content"][0]["text"],
        "Late answer."
    );
    assert_eq!(w.bridge.queue_depth(&w.store).unwrap(), 0);
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let mut client = Config::new("https://api.example.test", "sk_live_apikey");
    client.retry.max_attempts = 1;
    let mut config = BridgeConfig::new(client, "whsec_signing");
    config.gleap_secret = Some(Secret::new("Bearer gleap-shared"));
    config.actions.push(ActionEndpoint {
        name: "a".into(),
        url: "https://x.test".into(),
        headers: vec![("Authorization".into(), "Bearer action-cred".into())],
        timeout_ms: 1,
    });
    config.rest = Some(RestConfig {
        base_url: "https://g.test".into(),
        api_key: Secret::new("gleap-rest-key"),
        project_id: "p".into(),
    });
    let text = format!("{config:?} {:?}", GleapBridge::new(config.clone()).unwrap());
    for secret in [
        "sk_live_apikey",
        "whsec_signing",
        "gleap-shared",
        "action-cred",
        "gleap-rest-key",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
