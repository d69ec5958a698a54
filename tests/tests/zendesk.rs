//! The `zendesk` interface through the real component, in the real host: a
//! delivery authenticated by its `X-API-Key`, queued before it is answered,
//! drained in order; the agent's reply posted to Sunshine with Basic auth.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use glbridge_guest::client::Secret;
use glbridge_guest::helpdesk::zendesk::adapter::ZendeskConfig;
use glbridge_guest::helpdesk::zendesk::{Settings, AGENT_WORKSPACE};
use glbridge_guest::helpdesk::BridgeConfig;
use glbridge_guest::http::HttpResponse;
use glbridge_guest::testing::{FakeClock, MemoryStore, ScriptedTransport};
use glbridge_guest::{Config, RetryPolicy, Timestamp};
use glbridge_host::{Bridge, BridgeOptions, Env};
use serde_json::{json, Value};

const KEY: &str = "zd-webhook-secret";
const T: i64 = 1_795_000_000;
const CONV: &str = "zendesk-app1-c1";

fn delivery() -> Vec<u8> {
    json!({"app": {"id": "app1"}, "webhook": {"id": "wh", "version": "v2"}, "events": [
        {"id": "e1", "type": "conversation:message", "createdAt": "2026-12-06T10:00:00.000Z",
         "payload": {"conversation": {"id": "c1", "type": "personal",
            "activeSwitchboardIntegration": {"id": "i1", "name": "glbridge", "integrationType": "custom"}},
           "message": {"id": "m1", "author": {"type": "user", "userId": "u1"},
             "content": {"type": "text", "text": "Where is my parcel?"}}}}
    ]})
    .to_string()
    .into_bytes()
}

#[test]
fn a_zendesk_delivery_is_queued_drained_and_answered_through_the_component() {
    let bridge = Bridge::new(BridgeOptions::default()).unwrap();
    let http = Arc::new(ScriptedTransport::default());
    let clock = Arc::new(FakeClock::new(Timestamp::from_secs(T)));
    let mut s = bridge.session(Env::new(
        http.clone(),
        clock.clone(),
        Arc::new(MemoryStore::default()),
    ));
    let mut client = Config::new("https://api.example/v1", "sk_test");
    client.retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let mut config = BridgeConfig::new(client, "whsec_zd");
    config.zendesk = Some(ZendeskConfig {
        settings: Settings {
            base_url: "https://acme.zendesk.com/sc".into(),
            app_id: "app1".into(),
            bot_name: "glbridge".into(),
            targets: Default::default(),
            default_target: AGENT_WORKSPACE.into(),
            ai_subtype: false,
        },
        key_id: "key_1".into(),
        key_secret: Secret::new("key-secret"),
        webhook_secret: Secret::new(KEY),
    });
    s.open_bridge(&config).unwrap();

    // Refused before the body: a wrong key.
    assert_eq!(
        s.zendesk_screen(Some("nope")).unwrap().map(|a| a.status),
        Some(401)
    );
    assert!(s.zendesk_screen(Some(KEY)).unwrap().is_none());
    let refused = s.zendesk_event(None, &delivery()).unwrap();
    assert_eq!(refused.status, 401);

    let answer = s.zendesk_event(Some(KEY), &delivery()).unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.work, [CONV]);
    assert!(http.sent().is_empty(), "answered before any call");
    let again = s.zendesk_event(Some(KEY), &delivery()).unwrap();
    assert_eq!(again.status, 200);
    assert!(again.work.is_empty(), "a redelivery queues nothing");
    assert_eq!(s.busy().unwrap(), [CONV]);

    http.push(Ok(HttpResponse::json(200, r#"{"id":"zendesk-app1-c1","customer_id":"u1","channel":"web","created":"2026-11-20T10:00:00Z","updated":"2026-11-20T10:00:00Z","status":"active","agent_is_active":true}"#)));
    http.push(Ok(HttpResponse::json(200, r#"{"id":"zendesk-app1-m1","body":"Where is my parcel?","participant_id":"u1","participant_type":"Customer"}"#)));
    assert_eq!(s.drain(CONV).unwrap().left, 1, "one call per drain");
    assert_eq!(s.drain(CONV).unwrap().left, 0);
    let added: Value = serde_json::from_slice(http.sent()[1].body.as_ref().unwrap()).unwrap();
    assert_eq!(added["id"], "zendesk-app1-m1");

    // The agent's reply, signed by the API: queued for Zendesk.
    let reply = json!({"id": "webhook_1", "type": "agent.message", "sequence_number": 1,
        "timestamp": "2026-11-20T10:00:01Z",
        "data": {"conversation": {"id": CONV, "customer_id": "u1"},
                 "body": "It ships today.", "is_holding": false}})
    .to_string();
    let header = glbridge_guest::webhook::sign("whsec_zd", T, reply.as_bytes());
    let a = s.webhook(Some(&header), None, reply.as_bytes()).unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.work, [CONV]);
    http.push(Ok(HttpResponse::json(201, "{}")));
    let r = s.drain(CONV).unwrap();
    assert_eq!((r.done, r.left), (1, 0));
    let sent = http.sent();
    let last = sent.last().unwrap();
    assert_eq!(
        last.url,
        "https://acme.zendesk.com/sc/v2/apps/app1/conversations/c1/messages"
    );
    assert_eq!(
        last.header("authorization"),
        Some("Basic a2V5XzE6a2V5LXNlY3JldA==")
    );
    let body: Value = serde_json::from_slice(last.body.as_ref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"author": {"type": "business"}, "content": {"type": "text", "text": "It ships today."}})
    );
    assert!(s.busy().unwrap().is_empty());
}

#[test]
fn a_bridge_without_zendesk_answers_its_route_404() {
    let bridge = Bridge::new(BridgeOptions::default()).unwrap();
    let mut s = bridge.session(Env::new(
        Arc::new(ScriptedTransport::default()),
        Arc::new(FakeClock::new(Timestamp::from_secs(T))),
        Arc::new(MemoryStore::default()),
    ));
    let config = BridgeConfig::new(Config::new("https://api.example/v1", "sk_test"), "whsec_zd");
    s.open_bridge(&config).unwrap();
    assert_eq!(
        s.zendesk_screen(Some(KEY)).unwrap().map(|a| a.status),
        Some(404)
    );
    assert_eq!(s.zendesk_event(Some(KEY), &delivery()).unwrap().status, 404);
}
