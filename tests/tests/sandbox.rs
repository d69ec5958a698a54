//! End to end over loopback: the glbridge component, through the host, against
//! the sandbox — every operation, roles and validation, the agent's rules,
//! signed and sequenced webhooks, and retries under a compressed schedule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use glbridge_guest::env::Transport;
use glbridge_guest::http::{HttpRequest, HttpResponse, Method, TransportError};
use glbridge_guest::{Config, RetryPolicy};
use glbridge_host::{
    Bridge, BridgeOptions, Env, HostError, MemoryStore, SequencerConfig, Session, SystemClock,
    UreqTransport,
};
use glbridge_sandbox::seed::{ActionRule, Seed, SeedArticle, SeedTarget};
use glbridge_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use support::Receiver;

const WAIT: Duration = Duration::from_secs(20);

fn bridge() -> &'static Bridge {
    static B: OnceLock<Bridge> = OnceLock::new();
    B.get_or_init(|| Bridge::new(BridgeOptions::default()).unwrap())
}

fn seed() -> Seed {
    let article = |id: &str, title: &str, body: &str| SeedArticle {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        topic_id: None,
        visibility: glbridge_guest::model::knowledge::Visibility::Public,
        status: glbridge_guest::model::knowledge::PublicationStatus::Published,
    };
    let mut internal = article(
        "refund-override",
        "Refund override",
        "Internal: staff can override a refund with code 4242.",
    );
    internal.visibility = glbridge_guest::model::knowledge::Visibility::Internal;
    let mut draft = article(
        "gift-cards",
        "Gift cards",
        "Gift cards can be bought in any amount.",
    );
    draft.status = glbridge_guest::model::knowledge::PublicationStatus::Draft;
    Seed {
        articles: vec![
            article(
                "returns",
                "Returns and refunds",
                "You can return any item within 30 days for a full refund.",
            ),
            article(
                "shipping",
                "Shipping times",
                "Orders ship within 2 working days and delivery takes 3 to 5 days.",
            ),
            internal,
            draft,
        ],
        topics: vec![],
        hand_off_targets: vec![SeedTarget {
            id: "support".into(),
            name: "Support team".into(),
            default: true,
        }],
        actions: vec![ActionRule {
            name: "order-status".into(),
            keywords: vec!["where is my order".into()],
            reply: Some("Order {{id}} is {{status}}.".into()),
            holding: "One moment while I check your order.".into(),
        }],
    }
}

fn sandbox(webhook_url: Option<String>, tweak: impl FnOnce(&mut SandboxConfig)) -> Sandbox {
    let mut config = SandboxConfig {
        webhook_url,
        seed: Some(seed()),
        signing_key: "whsec_test".into(),
        ..SandboxConfig::default()
    };
    tweak(&mut config);
    Sandbox::start(config).unwrap()
}

fn session_with(sb: &Sandbox, key: &str, transport: Arc<dyn Transport + Send + Sync>) -> Session {
    let mut s = bridge().session(Env::new(
        transport,
        Arc::new(SystemClock),
        Arc::new(MemoryStore::default()),
    ));
    let mut config = Config::new(sb.url(), key);
    config.retry = RetryPolicy {
        max_attempts: 6,
        initial_backoff_ms: 20,
        max_backoff_ms: 200,
        max_retry_after_ms: 1_000,
        jitter_seed: 1,
    };
    config.timeout_ms = 2_000;
    s.open_client(&config).unwrap();
    s
}

fn session(sb: &Sandbox, key: &str) -> Session {
    session_with(sb, key, Arc::new(UreqTransport::new()))
}

/// A plain GET with a key, outside the component (for the sandbox's own endpoints).
fn get(sb: &Sandbox, path: &str, key: &str) -> (u16, Value) {
    support::raw_request(&sb.url(), Method::Get, path, key, None)
}

fn api_code(e: HostError) -> (u16, String) {
    match e {
        HostError::Api(glbridge_guest::Error::Api(a)) => {
            assert!(a.trace_id.is_some(), "error bodies carry a trace id");
            (a.status, a.code)
        }
        other => panic!("expected an API error, got {other}"),
    }
}

/// Always answers 200; answers action.execute with an order's status.
fn happy_receiver() -> Receiver {
    Receiver::start(|r| {
        let e = r.json();
        if e["type"] == "action.execute" {
            let reference = e["data"]["params"]["reference"]
                .as_str()
                .unwrap_or("?")
                .to_owned();
            (
                200,
                json!({"id": reference, "status": "out for delivery"}).to_string(),
            )
        } else {
            (200, "{}".into())
        }
    })
}

#[test]
fn every_operation_runs_through_the_component_against_the_sandbox() {
    let receiver = happy_receiver();
    let sb = sandbox(Some(receiver.url.clone()), |_| {});
    let mut i = session(&sb, &sb.config().integration_key.clone());
    let mut m = session(&sb, &sb.config().management_key.clone());
    let ts = "2024-05-01T10:00:00Z";
    let call = |s: &mut Session, op: &str, p: Value| {
        s.call(op, &p.to_string())
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    };

    let conv = call(
        &mut i,
        "conversations.start",
        json!({"id": "e2e+1", "customer_id": "u-1", "channel": "web", "metadata": {"plan": "pro"}}),
    );
    assert_eq!(
        (conv["status"].as_str(), conv["metadata"]["plan"].as_str()),
        (Some("observing"), Some("pro"))
    );
    // Keyed by the caller's id: a repeat is an upsert, not a second conversation.
    assert_eq!(
        call(
            &mut i,
            "conversations.start",
            json!({"id": "e2e+1", "customer_id": "u-1", "channel": "web"})
        )["created"],
        conv["created"]
    );
    let msg = call(
        &mut i,
        "conversations.add-message",
        json!({"conversation_id": "e2e+1", "id": "m-1", "body": "Hello", "participant_id": "u-1", "participant_type": "Customer", "created": ts}),
    );
    assert_eq!(
        (msg["id"].as_str(), msg["created"].as_str()),
        (Some("m-1"), Some(ts))
    );
    call(
        &mut i,
        "conversations.add-event",
        json!({"conversation_id": "e2e+1", "type": "typing", "participant_id": "u-1", "participant_type": "Customer", "idempotency_key": "k1"}),
    );
    call(
        &mut i,
        "conversations.push-resource",
        json!({"conversation_id": "e2e+1", "name": "Order-Details", "document": {"id": "A-1", "status": "shipped"}}),
    );
    call(
        &mut i,
        "conversations.rate",
        json!({"conversation_id": "e2e+1", "type": "csat", "value": 5, "min_value": 1, "max_value": 5}),
    );
    call(
        &mut i,
        "conversations.assign",
        json!({"conversation_id": "e2e+1", "assignee_type": "Agent", "assignee_id": "a-1"}),
    );
    assert_eq!(
        call(
            &mut i,
            "conversations.read",
            json!({"conversation_id": "e2e+1"})
        )["status"],
        "observing"
    );
    assert_eq!(
        call(
            &mut i,
            "conversations.read-legacy",
            json!({"conversation_id": "e2e+1"})
        )["id"],
        "e2e+1"
    );
    call(
        &mut i,
        "conversations.finish",
        json!({"conversation_id": "e2e+1", "reason_code": "customer-ended-chat"}),
    );
    assert_eq!(
        call(
            &mut i,
            "conversations.read",
            json!({"conversation_id": "e2e+1"})
        )["status"],
        "finished"
    );
    call(
        &mut i,
        "conversations.resume",
        json!({"conversation_id": "e2e+1", "assignee_type": "Agent"}),
    );
    call(
        &mut i,
        "conversations.end",
        json!({"conversation_id": "e2e+1", "timestamp": ts}),
    );
    call(
        &mut i,
        "conversations.start",
        json!({"id": "e2e-2", "customer_id": "u-2", "channel": "email"}),
    );
    call(
        &mut i,
        "conversations.cancel",
        json!({"conversation_id": "e2e-2", "reason": "spam"}),
    );
    assert_eq!(
        call(
            &mut i,
            "conversations.read",
            json!({"conversation_id": "e2e-2"})
        )["status"],
        "cancelled"
    );

    let article = json!({"id": "new-article", "title": "Opening hours", "body": "We are open 9 to 5.", "visibility": "public", "status": "published", "created": ts, "last_edited": ts});
    call(&mut i, "knowledge.upsert-article", article);
    call(
        &mut i,
        "knowledge.set-article-usage",
        json!({"id": "new-article", "usage_status": "off"}),
    );
    call(
        &mut i,
        "knowledge.delete-article",
        json!({"id": "new-article"}),
    );
    call(
        &mut i,
        "knowledge.upsert-topic",
        json!({"id": "t-1", "name": "Accounts", "visibility": "public", "status": "published", "created": ts, "last_edited": ts}),
    );

    call(
        &mut m,
        "management.upsert-hand-off-target",
        json!({"id": "billing", "name": "Billing"}),
    );
    let targets = call(&mut m, "management.list-hand-off-targets", json!({}));
    assert!(targets
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == "billing"));
    call(
        &mut m,
        "management.set-default-hand-off-target",
        json!({"id": "billing", "channel": "email"}),
    );
    assert_eq!(
        call(
            &mut m,
            "management.get-default-hand-off-target",
            json!({"channel": "email"})
        ),
        json!("billing")
    );
    call(
        &mut m,
        "management.delete-hand-off-target",
        json!({"id": "billing"}),
    );
    assert_eq!(
        call(
            &mut m,
            "management.get-default-hand-off-target",
            json!({"channel": "email"})
        ),
        json!("support")
    );
    call(
        &mut m,
        "management.put-secret",
        json!({"name": "api_key", "value": "s3cret"}),
    );
    let secrets = call(&mut m, "management.list-secrets", json!({}));
    assert_eq!(secrets[0]["name"], "api_key");
    assert!(
        !secrets.to_string().contains("s3cret"),
        "values are never returned"
    );
    call(
        &mut m,
        "management.delete-secret",
        json!({"name": "api_key"}),
    );
    let pull = json!({"name": "User-Profile", "display_name": "User profile", "mode": "pull", "pull_config": {"http": {"method": "GET", "url_template": "https://x.test/${conversation.customer_id}"}, "cache": "10m"}});
    call(&mut m, "management.put-resource-type", pull);
    assert_eq!(
        call(
            &mut m,
            "management.get-resource-type",
            json!({"name": "user-profile"})
        )["pull_config"]["cache"],
        "10m"
    );
    let types = call(&mut m, "management.list-resource-types", json!({}));
    let names: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"user-profile") && names.contains(&"order-details"),
        "{names:?}"
    );
    call(
        &mut m,
        "management.delete-resource-type",
        json!({"name": "user-profile"}),
    );
    assert!(call(&mut m, "management.ip-addresses", json!({}))["egress"].is_array());
}

#[test]
fn roles_validation_and_state_errors_are_the_apis() {
    let sb = sandbox(None, |_| {});
    let integration = sb.config().integration_key.clone();
    let mut wrong = session(&sb, "sk_nope");
    assert_eq!(
        api_code(
            wrong
                .call("conversations.read", r#"{"conversation_id":"x"}"#)
                .unwrap_err()
        ),
        (401, "unauthenticated".into())
    );
    let mut i = session(&sb, &integration);
    assert_eq!(
        api_code(i.call("management.list-secrets", "{}").unwrap_err()),
        (403, "permission_denied".into())
    );
    let mut m = session(&sb, &sb.config().management_key.clone());
    assert_eq!(
        api_code(
            m.call("conversations.read", r#"{"conversation_id":"x"}"#)
                .unwrap_err()
        ),
        (403, "permission_denied".into())
    );
    assert_eq!(
        api_code(
            i.call("conversations.read", r#"{"conversation_id":"missing"}"#)
                .unwrap_err()
        ),
        (404, "not_found".into())
    );
    // No webhook endpoint: the AI agent cannot be assigned.
    let start =
        json!({"id": "c-1", "customer_id": "u", "channel": "web", "assignee_type": "AI Agent"})
            .to_string();
    assert_eq!(
        api_code(i.call("conversations.start", &start).unwrap_err()),
        (400, "failed_precondition".into())
    );
    i.call(
        "conversations.start",
        r#"{"id":"c-1","customer_id":"u","channel":"web"}"#,
    )
    .unwrap();
    let assign = r#"{"conversation_id":"c-1","assignee_type":"AI Agent"}"#;
    assert_eq!(
        api_code(i.call("conversations.assign", assign).unwrap_err()),
        (400, "failed_precondition".into())
    );
    i.call("conversations.cancel", r#"{"conversation_id":"c-1"}"#)
        .unwrap();
    let msg = r#"{"conversation_id":"c-1","id":"m","body":"hi","participant_id":"u","participant_type":"Customer"}"#;
    assert_eq!(
        api_code(i.call("conversations.add-message", msg).unwrap_err()),
        (400, "failed_precondition".into())
    );

    // What the client would refuse, sent raw, is refused by the sandbox too, naming the field.
    let raw = UreqTransport::new();
    let send = |method: Method, path: &str, body: &str, key: &str| {
        let mut headers = vec![
            ("Authorization".to_owned(), format!("Bearer {key}")),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        headers.push(("Accept".into(), "application/json".into()));
        let r = raw
            .send(&HttpRequest {
                method,
                url: format!("{}{path}", sb.url()),
                headers,
                body: Some(body.as_bytes().to_vec()),
                timeout_ms: 5_000,
            })
            .unwrap();
        (
            r.status,
            serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null),
        )
    };
    let cases = [
        (
            "/conversations",
            r#"{"id":"bad id","customer_id":"u","channel":"web"}"#,
            "id",
        ),
        (
            "/conversations",
            r#"{"id":"ok","customer_id":"u","channel":"fax"}"#,
            "fax",
        ),
        (
            "/conversations",
            r#"{"id":"ok","channel":"web"}"#,
            "customer_id",
        ),
        (
            "/conversations/c-2/messages",
            r#"{"id":"m","participant_id":"u","participant_type":"Customer"}"#,
            "body",
        ),
    ];
    i.call(
        "conversations.start",
        r#"{"id":"c-2","customer_id":"u","channel":"web"}"#,
    )
    .unwrap();
    for (path, body, names) in cases {
        let (status, err) = send(Method::Post, path, body, &integration);
        assert_eq!(
            (status, err["code"].as_str()),
            (400, Some("invalid_argument")),
            "{path} {body}"
        );
        assert!(err["message"].as_str().unwrap().contains(names), "{err}");
        assert!(err["details"]["trace_id"].is_string());
    }
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(1_000_001));
    let (status, err) = send(
        Method::Put,
        "/conversations/c-2/resources/big",
        &big,
        &integration,
    );
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_argument"))
    );
    // A GET with a Content-Type and a JSON body, as some official clients send, works.
    let (status, _) = send(Method::Get, "/conversations/c-2/read", "{}", &integration);
    assert_eq!(status, 200);
    let (status, err) = send(Method::Get, "/no/such/path", "", &integration);
    assert_eq!((status, err["code"].as_str()), (404, Some("not_found")));
}

fn verify_all(
    session: &mut Session,
    signing_key: &str,
    events: &[support::Received],
) -> Vec<glbridge_host::bindings::webhooks::Event> {
    events
        .iter()
        .map(|r| {
            let header = r.header("x-gradientlabs-signature").expect("signed");
            session
                .webhook_receive(
                    signing_key,
                    header,
                    r.header("x-gradientlabs-token"),
                    &r.body,
                    None,
                    None,
                )
                .expect("signature verifies")
        })
        .collect()
}

#[test]
fn the_agent_follows_its_rules_and_signs_and_numbers_its_webhooks() {
    let receiver = happy_receiver();
    let sb = sandbox(Some(receiver.url.clone()), |_| {});
    let key = sb.config().integration_key.clone();
    let mut s = session(&sb, &key);
    let customer = |s: &mut Session, conv: &str, id: &str, body: &str| {
        let p = json!({"conversation_id": conv, "id": id, "body": body, "participant_id": "u", "participant_type": "Customer"});
        s.call("conversations.add-message", &p.to_string()).unwrap();
    };
    let start = |s: &mut Session, id: &str| {
        let p = json!({"id": id, "customer_id": "u", "channel": "web", "assignee_type": "AI Agent", "conversation_token": format!("tok-{id}")});
        s.call("conversations.start", &p.to_string()).unwrap();
    };
    let types = |conv: &str| {
        receiver
            .for_conversation(conv)
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let wait = |conv: &str, n: usize| {
        receiver.wait_for(conv, WAIT, |all| {
            all.iter()
                .filter(|r| r.json()["data"]["conversation"]["id"] == conv)
                .count()
                >= n
        });
        receiver.for_conversation(conv)
    };

    // Answered from a published article; then thanks finishes it.
    start(&mut s, "answer");
    customer(&mut s, "answer", "m1", "How do I get a refund for my item?");
    let events = wait("answer", 1);
    assert_eq!(events[0]["type"], "agent.message");
    assert!(
        events[0]["data"]["body"]
            .as_str()
            .unwrap()
            .contains("30 days"),
        "{}",
        events[0]
    );
    assert_eq!(events[0]["data"]["last_customer_message_id"], "m1");
    customer(&mut s, "answer", "m2", "Great, thanks!");
    wait("answer", 3);
    assert_eq!(
        types("answer"),
        vec!["agent.message", "agent.message", "conversation.finished"]
    );
    assert_eq!(
        s.call("conversations.read", r#"{"conversation_id":"answer"}"#)
            .unwrap()["status"],
        "finished"
    );

    // Internal and draft articles are never used: no answer, hand-off.
    start(&mut s, "internal");
    customer(&mut s, "internal", "m1", "What is the override code?");
    let e = &wait("internal", 1)[0];
    assert_eq!(
        (e["type"].as_str(), e["data"]["reason_code"].as_str()),
        (Some("conversation.hand_off"), Some("no-answer")),
        "{e}"
    );
    start(&mut s, "draft");
    customer(&mut s, "draft", "m1", "Can I buy gift cards?");
    assert_eq!(wait("draft", 1)[0]["data"]["reason_code"], "no-answer");

    // Attachments and requests for a person hand off to the default target.
    start(&mut s, "attach");
    let p = json!({"conversation_id": "attach", "id": "m1", "body": "see photo", "participant_id": "u", "participant_type": "Customer", "attachments": [{"type": "image", "file_name": "broken.png"}]});
    s.call("conversations.add-message", &p.to_string()).unwrap();
    let e = &wait("attach", 1)[0];
    assert_eq!(
        (
            e["data"]["reason_code"].as_str(),
            e["data"]["target"].as_str()
        ),
        (Some("attachment"), Some("support"))
    );
    start(&mut s, "human");
    customer(&mut s, "human", "m1", "I want to talk to a human please");
    assert_eq!(
        wait("human", 1)[0]["data"]["reason_code"],
        "customer-request"
    );

    // An action: holding message, action.execute, then the answer used in the reply.
    start(&mut s, "action");
    customer(&mut s, "action", "m1", "Where is my order A-1001?");
    let events = wait("action", 3);
    assert_eq!(
        types("action"),
        vec!["agent.message", "action.execute", "agent.message"]
    );
    assert_eq!(events[0]["data"]["is_holding"], true);
    assert_eq!(events[1]["data"]["action"], "order-status");
    assert_eq!(
        events[2]["data"]["body"],
        "Order A-1001 is out for delivery."
    );

    // Observing until assigned; agent and bot messages are never answered;
    // assignment answers the latest unanswered customer message.
    s.call(
        "conversations.start",
        r#"{"id":"late","customer_id":"u","channel":"web"}"#,
    )
    .unwrap();
    customer(&mut s, "late", "m1", "How long does delivery take?");
    let p = json!({"conversation_id": "late", "id": "m2", "body": "How long does delivery take?", "participant_id": "a", "participant_type": "Agent"});
    s.call("conversations.add-message", &p.to_string()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        receiver.for_conversation("late").is_empty(),
        "not assigned to the agent yet"
    );
    s.call(
        "conversations.assign",
        r#"{"conversation_id":"late","assignee_type":"AI Agent"}"#,
    )
    .unwrap();
    let e = &wait("late", 1)[0];
    assert!(e["data"]["body"].as_str().unwrap().contains("3 to 5 days"));
    s.call(
        "conversations.assign",
        r#"{"conversation_id":"late","assignee_type":"Agent","assignee_id":"a"}"#,
    )
    .unwrap();
    customer(&mut s, "late", "m3", "And returns?");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        receiver.for_conversation("late").len(),
        1,
        "assigned away: the agent stays quiet"
    );

    // Every webhook: valid signature (checked in the component), the
    // conversation's token, unique ids, sequence numbers 1, 2, 3, ...
    let all = receiver.all();
    let events = verify_all(&mut s, "whsec_test", &all);
    let mut ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "unique ids");
    for conv in ["answer", "action", "attach"] {
        let mut numbers: Vec<u64> = events
            .iter()
            .filter(|e| e.conversation_id.as_deref() == Some(conv))
            .map(|e| e.sequence_number)
            .collect();
        numbers.sort_unstable();
        assert_eq!(
            numbers,
            (1..=numbers.len() as u64).collect::<Vec<_>>(),
            "{conv}"
        );
        assert!(events
            .iter()
            .filter(|e| e.conversation_id.as_deref() == Some(conv))
            .all(|e| e.token.as_deref() == Some(&*format!("tok-{conv}"))));
    }
    assert!(all
        .iter()
        .all(|r| r.header("content-type") == Some("application/json")));

    // Seeing inside: every participant's messages, the agent's replies included.
    let (_, messages) = get(&sb, "/sandbox/conversations/action/messages", &key);
    let kinds: Vec<&str> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["participant_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["Customer", "AI Agent", "AI Agent"]);
    assert_eq!(messages[2]["body"], "Order A-1001 is out for delivery.");
    let (status, _) = get(&sb, "/sandbox/conversations/nope/messages", &key);
    assert_eq!(status, 404);
}

#[test]
fn a_receiver_that_fails_n_times_gets_each_event_accepted_exactly_once_in_order() {
    // The first three attempts of every webhook fail.
    let attempts = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
        String,
        u32,
    >::new()));
    let seen = attempts.clone();
    let receiver = Receiver::start(move |r| {
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let mut map = seen.lock().unwrap();
        let n = map.entry(id).or_default();
        *n += 1;
        if *n <= 3 {
            (503, "{}".into())
        } else {
            (200, "{}".into())
        }
    });
    let sb = sandbox(Some(receiver.url.clone()), |c| {
        c.retry_base = Duration::from_millis(5)
    });
    let mut s = session(&sb, &sb.config().integration_key.clone());
    s.call(
        "conversations.start",
        r#"{"id":"r","customer_id":"u","channel":"web","assignee_type":"AI Agent"}"#,
    )
    .unwrap();
    for (i, body) in [
        "How do I get a refund?",
        "How long does delivery take?",
        "Thanks!",
    ]
    .iter()
    .enumerate()
    {
        let p = json!({"conversation_id": "r", "id": format!("m{i}"), "body": body, "participant_id": "u", "participant_type": "Customer"});
        s.call("conversations.add-message", &p.to_string()).unwrap();
    }
    // 4 events (answer, answer, farewell, finished) x 4 attempts each.
    let all = receiver.wait_for("16 attempts", WAIT, |all| all.len() >= 16);
    assert_eq!(all.len(), 16);
    let deliveries = support::eventually("4 deliveries recorded", WAIT, || {
        let d = sb.deliveries();
        (d.iter().filter(|d| d.delivered).count() == 4).then_some(d)
    });
    assert!(
        deliveries.iter().all(|d| d.delivered == (d.attempt == 4)),
        "{deliveries:#?}"
    );
    let (_, listed) = get(&sb, "/sandbox/deliveries", &sb.config().management_key);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 16);
    assert_eq!(listed.iter().filter(|d| d["delivered"] == true).count(), 4);
    // Through the component's sequencer every event is accepted exactly once, in order.
    let cfg = SequencerConfig {
        namespace: "wh".into(),
        max_hold_ns: 60_000_000_000,
        first_sequence_number: 1,
    };
    let mut released = Vec::new();
    for event in verify_all(&mut s, "whsec_test", &all) {
        let out = s.sequencer_offer(&cfg, &event).unwrap();
        released.extend(
            out.released
                .into_iter()
                .map(|r| (r.event.sequence_number, r.event.event_type)),
        );
    }
    assert_eq!(
        released.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(released[3].1, "conversation.finished");
}

#[test]
fn undeliverable_events_fail_the_conversation_and_failed_actions_hand_off() {
    let receiver = Receiver::start(|r| {
        if r.json()["type"] == "action.execute" {
            (500, "{}".into())
        } else {
            (200, "{}".into())
        }
    });
    let sb = sandbox(Some(receiver.url.clone()), |c| {
        c.retry_base = Duration::from_millis(2)
    });
    let mut s = session(&sb, &sb.config().integration_key.clone());
    s.call(
        "conversations.start",
        r#"{"id":"act","customer_id":"u","channel":"web","assignee_type":"AI Agent"}"#,
    )
    .unwrap();
    s.call("conversations.add-message", r#"{"conversation_id":"act","id":"m","body":"where is my order 7?","participant_id":"u","participant_type":"Customer"}"#).unwrap();
    let events = receiver.wait_for("the hand-off", WAIT, |all| {
        all.iter()
            .any(|r| r.json()["type"] == "conversation.hand_off")
    });
    let hand_off = events
        .iter()
        .map(|r| r.json())
        .find(|e| e["type"] == "conversation.hand_off")
        .unwrap();
    assert_eq!(hand_off["data"]["reason_code"], "action-failed");
    let action_attempts = sb
        .deliveries()
        .iter()
        .filter(|d| d.event_type == "action.execute")
        .count();
    assert!(
        action_attempts > 3,
        "retried for the window: {action_attempts}"
    );

    let dead = Receiver::start(|_| (500, "{}".into()));
    let sb = sandbox(Some(dead.url.clone()), |c| {
        c.retry_base = Duration::from_micros(50)
    });
    let mut s = session(&sb, &sb.config().integration_key.clone());
    s.call(
        "conversations.start",
        r#"{"id":"dead","customer_id":"u","channel":"web","assignee_type":"AI Agent"}"#,
    )
    .unwrap();
    s.call("conversations.add-message", r#"{"conversation_id":"dead","id":"m","body":"refund?","participant_id":"u","participant_type":"Customer"}"#).unwrap();
    support::eventually("the conversation to fail", Duration::from_secs(30), || {
        let c = s
            .call("conversations.read", r#"{"conversation_id":"dead"}"#)
            .unwrap();
        (c["status"] == "failed").then_some(())
    });
    assert_eq!(
        sb.deliveries().len(),
        36,
        "36 attempts, then the conversation fails"
    );
}

/// Adds `X-Sandbox-Fail` to the first `n` requests.
struct Faulty {
    inner: UreqTransport,
    fault: &'static str,
    left: AtomicU32,
}

impl Transport for Faulty {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut request = request.clone();
        if self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            request
                .headers
                .push(("X-Sandbox-Fail".into(), self.fault.into()));
        }
        self.inner.send(&request)
    }
}

#[test]
fn forced_and_random_faults_are_survived_by_the_clients_retries() {
    let mut sb = sandbox(None, |c| c.timeout_fault = Duration::from_secs(3));
    let key = sb.config().integration_key.clone();
    for fault in ["503", "429", "reset", "timeout"] {
        let faulty = Arc::new(Faulty {
            inner: UreqTransport::new(),
            fault,
            left: AtomicU32::new(2),
        });
        let mut s = session_with(&sb, &key, faulty);
        let id = format!("f-{fault}");
        let p = json!({"id": id, "customer_id": "u", "channel": "web"});
        s.call("conversations.start", &p.to_string())
            .unwrap_or_else(|e| panic!("{fault}: {e}"));
    }
    let mut s = session(&sb, &key);
    for fault in ["503", "429", "reset", "timeout"] {
        let c = s
            .call(
                "conversations.read",
                &json!({"conversation_id": format!("f-{fault}")}).to_string(),
            )
            .unwrap();
        assert_eq!(c["customer_id"], "u");
    }
    sb.stop();

    sb = sandbox(None, |c| c.fail_rate = 0.3);
    let key = sb.config().integration_key.clone();
    let mut s = session(&sb, &key);
    s.call(
        "conversations.start",
        r#"{"id":"flaky","customer_id":"u","channel":"web"}"#,
    )
    .unwrap();
    for n in 0..20 {
        let p = json!({"conversation_id": "flaky", "id": format!("m{n}"), "body": "hi", "participant_id": "u", "participant_type": "Customer"});
        s.call("conversations.add-message", &p.to_string()).unwrap();
    }
    let (_, messages) = get(&sb, "/sandbox/conversations/flaky/messages", &key);
    assert_eq!(
        messages.as_array().unwrap().len(),
        20,
        "every message exactly once"
    );
}

#[test]
fn state_survives_a_restart_with_a_store_file() {
    let dir = std::env::temp_dir().join(format!("glbridge-sandbox-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("sandbox.db");
    let keys = ("sk_i_fixed".to_owned(), "sk_m_fixed".to_owned());
    let start = || {
        sandbox(None, |c| {
            c.store = Some(db.clone());
            c.integration_key = keys.0.clone();
            c.management_key = keys.1.clone();
        })
    };
    let sb = start();
    session(&sb, &keys.0)
        .call(
            "conversations.start",
            r#"{"id":"kept","customer_id":"u","channel":"web"}"#,
        )
        .unwrap();
    session(&sb, &keys.1)
        .call("management.put-secret", r#"{"name":"s","value":"v"}"#)
        .unwrap();
    sb.stop();
    let sb = start();
    assert_eq!(
        session(&sb, &keys.0)
            .call("conversations.read", r#"{"conversation_id":"kept"}"#)
            .unwrap()["id"],
        "kept"
    );
    assert_eq!(
        session(&sb, &keys.1)
            .call("management.list-secrets", "{}")
            .unwrap()[0]["name"],
        "s"
    );
    sb.stop();
    std::fs::remove_dir_all(dir).ok();
}

/// A raw request with a key, outside the component, as the official
/// clients send it.
fn send(sb: &Sandbox, method: Method, path: &str, key: &str, body: Value) -> (u16, Value) {
    support::raw_request(&sb.url(), method, path, key, Some(body))
}

#[test]
fn the_go_clients_top_level_topic_and_written_secret_are_understood() {
    let sb = sandbox(None, |_| {});
    let key = sb.config().management_key.clone();
    // `UpsertArticleTopic` sends `"parent_id": ""` for a top-level topic.
    let (status, answer) = send(
        &sb,
        Method::Post,
        "/topics",
        &sb.config().integration_key.clone(),
        json!({"id": "t-top", "parent_id": "", "name": "Top", "description": "", "visibility": "public", "status": "published", "data": null, "created": "2026-11-27T00:00:00Z", "last_edited": "2026-11-27T00:00:00Z"}),
    );
    assert_eq!(status, 200, "{answer}");
    // `WriteSecret` reads the secret back: its name, never its value.
    let (status, secret) = send(
        &sb,
        Method::Put,
        "/secrets/crm_key",
        &key,
        json!({"value": "s3cret"}),
    );
    assert_eq!(status, 200);
    assert_eq!(secret["name"], "crm_key");
    assert!(
        secret["created"].is_string() && secret["updated"].is_string(),
        "{secret}"
    );
    assert!(!secret.to_string().contains("s3cret"));
}
