//! The `chatwoot` interface through the real component: a signed event
//! verified on the imported (fake) clock, its plan turned into API requests
//! by `protocol`, and an agent reply turned into Chatwoot's REST call.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use glbridge_guest::testing::{FakeClock, MemoryStore, ScriptedTransport};
use glbridge_guest::{Config, Timestamp};
use glbridge_host::bindings::chatwoot::{EventError, Phase, Settings};
use glbridge_host::{Bridge, BridgeOptions, Env};
use serde_json::{json, Value};

const SECRET: &str = "cw_secret";
const T: i64 = 1_795_000_000;

fn event() -> Vec<u8> {
    json!({
        "event": "message_created", "id": 4521, "content": "Where is my parcel?",
        "message_type": "incoming", "private": false,
        "sender": {"id": 9, "type": "contact"},
        "conversation": {"id": 101, "status": "pending", "channel": "Channel::Email",
                         "meta": {"sender": {"id": 9, "email": "sam@example.com"}}},
        "account": {"id": 7}
    })
    .to_string()
    .into_bytes()
}

#[test]
fn an_event_is_verified_planned_and_answered_through_the_component() {
    let bridge = Bridge::new(BridgeOptions::default()).unwrap();
    let clock = Arc::new(FakeClock::new(Timestamp::from_secs(T)));
    let mut s = bridge.session(Env::new(
        Arc::new(ScriptedTransport::default()),
        clock.clone(),
        Arc::new(MemoryStore::default()),
    ));
    let body = event();
    let t = T.to_string();
    let signature = glbridge_guest::helpdesk::chatwoot::sign(SECRET, T, &body);

    // Signed: accepted now, stale 301 s later (on the component's clock).
    assert!(matches!(
        s.chatwoot_verify(SECRET, Some(&t), Some(&signature), &body, None)
            .unwrap(),
        Ok(())
    ));
    let mut tampered = body.clone();
    tampered[20] ^= 1;
    assert!(matches!(
        s.chatwoot_verify(SECRET, Some(&t), Some(&signature), &tampered, None)
            .unwrap(),
        Err(EventError::SignatureMismatch)
    ));
    assert!(matches!(
        s.chatwoot_verify(SECRET, None, Some(&signature), &body, None).unwrap(),
        Err(EventError::BadHeader(m)) if m.contains("X-Chatwoot-Timestamp")
    ));
    clock.advance(301 * 1_000_000_000);
    assert!(matches!(
        s.chatwoot_verify(SECRET, Some(&t), Some(&signature), &body, None)
            .unwrap(),
        Err(EventError::Stale(301))
    ));
    assert!(matches!(
        s.chatwoot_verify(SECRET, Some(&t), Some(&signature), &body, Some(600))
            .unwrap(),
        Ok(())
    ));

    let about = s.chatwoot_about(&body).unwrap().unwrap();
    assert_eq!(about.conversation.as_deref(), Some("chatwoot-7-101"));
    assert_eq!(about.dedup_key.as_deref(), Some("7/message_created/4521"));

    // A new conversation: started, then the message added — each call a
    // request `protocol` accepts as it is.
    let plan = s.chatwoot_plan(&body, Phase::New).unwrap().unwrap();
    assert_eq!(plan.phase, Phase::Agent);
    let names: Vec<&str> = plan.calls.iter().map(|c| c.operation.as_str()).collect();
    assert_eq!(names, ["conversations.start", "conversations.add-message"]);
    let config = Config::new("https://api.example/v1", "sk_test");
    let start = s
        .build_request(&config, &plan.calls[0].operation, &plan.calls[0].params)
        .unwrap();
    assert_eq!(start.url, "https://api.example/v1/conversations");
    let start: Value = serde_json::from_str(start.body_text()).unwrap();
    assert_eq!(start["id"], "chatwoot-7-101");
    assert_eq!(start["channel"], "email");
    assert_eq!(start["assignee_type"], "AI Agent");
    let add = s
        .build_request(&config, &plan.calls[1].operation, &plan.calls[1].params)
        .unwrap();
    assert_eq!(
        add.url,
        "https://api.example/v1/conversations/chatwoot-7-101/messages"
    );
    // The same message on an open conversation: nothing, and why.
    let open = String::from_utf8(body.clone())
        .unwrap()
        .replace("\"pending\"", "\"open\"");
    let plan = s
        .chatwoot_plan(open.as_bytes(), Phase::Agent)
        .unwrap()
        .unwrap();
    assert!(plan.calls.is_empty());
    assert_eq!(plan.ignored.as_deref(), Some("the conversation is open"));

    // The agent's reply goes back as an outgoing message; not after a finish.
    let reply = json!({"id": "webhook_1", "type": "agent.message", "sequence_number": 1,
        "timestamp": "2026-11-20T10:00:01Z",
        "data": {"conversation": {"id": "chatwoot-7-101", "customer_id": "sam@example.com"},
                 "body": "It ships today.", "is_holding": false}})
    .to_string();
    let settings = Settings {
        base_url: "https://chat.example.com".into(),
        bot_token: "bot-token".into(),
        teams: vec![],
    };
    let d = s
        .chatwoot_deliver(&settings, reply.as_bytes(), Phase::Agent)
        .unwrap()
        .unwrap();
    assert_eq!(d.requests.len(), 1);
    assert_eq!(
        d.requests[0].url,
        "https://chat.example.com/api/v1/accounts/7/conversations/101/messages"
    );
    let d = s
        .chatwoot_deliver(&settings, reply.as_bytes(), Phase::Finished)
        .unwrap()
        .unwrap();
    assert!(d.requests.is_empty() && d.ignored.is_some());
    assert!(matches!(
        s.chatwoot_plan(b"{}", Phase::New).unwrap(),
        Err(EventError::BadEvent(_))
    ));
}

#[test]
fn the_bridge_queues_drains_and_answers_chatwoot_through_the_component() {
    use glbridge_guest::helpdesk::chatwoot::adapter::{Auth, ChatwootConfig};
    use glbridge_guest::helpdesk::BridgeConfig;
    use glbridge_guest::http::HttpResponse;
    use glbridge_guest::RetryPolicy;

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
    let mut config = BridgeConfig::new(client.clone(), "whsec_cw");
    config.chatwoot = Some(ChatwootConfig {
        settings: glbridge_guest::helpdesk::chatwoot::Settings {
            base_url: "https://chat.example.com".into(),
            bot_token: "bot-token".into(),
            teams: Default::default(),
        },
        auth: Auth::Signature {
            secret: glbridge_guest::client::Secret::new(SECRET),
            window_secs: 300,
        },
    });
    s.open_bridge(&config).unwrap();

    let body = event();
    let signature = glbridge_guest::helpdesk::chatwoot::sign(SECRET, T, &body);
    let t = T.to_string();
    let answer = s
        .chatwoot_event(Some(&t), Some(&signature), None, &body)
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.work, ["chatwoot-7-101"]);
    assert!(http.sent().is_empty(), "answered before any call");
    let wrong = s
        .chatwoot_event(Some(&t), Some(&signature), None, b"{}")
        .unwrap();
    assert_eq!(wrong.status, 401);
    assert_eq!(s.busy().unwrap(), ["chatwoot-7-101"]);

    http.push(Ok(HttpResponse::json(200, r#"{"id":"chatwoot-7-101","customer_id":"sam@example.com","channel":"email","created":"2026-11-20T10:00:00Z","updated":"2026-11-20T10:00:00Z","status":"active","agent_is_active":true}"#)));
    http.push(Ok(HttpResponse::json(503, "{}")));
    let r = s.drain("chatwoot-7-101").unwrap();
    assert_eq!((r.done, r.left), (1, 1), "one call per drain");
    let r = s.drain("chatwoot-7-101").unwrap();
    assert_eq!((r.done, r.left), (0, 1));
    assert_eq!(r.retry_at, Some(Timestamp::from_secs(T + 1).0));

    // The agent's reply, signed by the API: queued for Chatwoot.
    let reply = json!({"id": "webhook_1", "type": "agent.message", "sequence_number": 1,
        "timestamp": "2026-11-20T10:00:01Z",
        "data": {"conversation": {"id": "chatwoot-7-101", "customer_id": "sam@example.com"},
                 "body": "It ships today.", "is_holding": false}})
    .to_string();
    let header = glbridge_guest::webhook::sign("whsec_cw", T, reply.as_bytes());
    let a = s.webhook(Some(&header), None, reply.as_bytes()).unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.work, ["chatwoot-7-101"]);

    clock.advance(1_000_000_000);
    http.push(Ok(HttpResponse::json(200, r#"{"id":"chatwoot-7-4521","body":"Where is my parcel?","participant_id":"sam@example.com","participant_type":"Customer"}"#)));
    http.push(Ok(HttpResponse::json(200, "{}")));
    let r = s.drain("chatwoot-7-101").unwrap();
    assert_eq!((r.done, r.left), (1, 1), "one call per drain");
    let r = s.drain("chatwoot-7-101").unwrap();
    assert_eq!((r.done, r.left), (1, 0));
    let sent = http.sent();
    let last = sent.last().unwrap();
    assert_eq!(
        last.url,
        "https://chat.example.com/api/v1/accounts/7/conversations/101/messages"
    );
    assert_eq!(last.header("api_access_token"), Some("bot-token"));
    assert!(s.busy().unwrap().is_empty());
}
