//! Two `serve` replicas on one real PostgreSQL (started here; the tests
//! fail if it cannot start), against the sandbox: Gleap calls on one while
//! the API delivers every webhook to the other, a round-robin split of
//! everything (with duplicate and out-of-order webhooks), and the database
//! stopped for five seconds in the middle of a run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glbridge_cli::serve::{ServeConfig, Service, StoreLocation, Upstream};
use glbridge_guest::client::Secret;
use glbridge_host::store::postgres::TempServer;
use glbridge_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

const SECRET: &str = "Bearer gleap-replica-secret";
const SIGNING: &str = "whsec_replica_test";

fn gleap_body(conv: &str, comments: &[(&str, &str)]) -> String {
    let comments: Vec<Value> = comments
        .iter()
        .map(|(id, text)| json!({"id": id, "bot": false, "comment": {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}}))
        .collect();
    json!({"conversation": {"id": conv, "type": "INQUIRY"}, "session": {"userId": format!("u-{conv}")}, "comments": comments}).to_string()
}

fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
    let mut req = http().post(url).header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    match req.send(body) {
        Ok(mut r) => (
            r.status().as_u16(),
            serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap_or(Value::Null),
        ),
        Err(e) => (0, json!({"transport": e.to_string()})),
    }
}

fn gleap(replica: &Service, conv: &str, comments: &[(&str, &str)]) -> (u16, Value) {
    post(
        &format!("{}/gleap/action", replica.url()),
        &[("Authorization", SECRET)],
        gleap_body(conv, comments).as_bytes(),
    )
}

fn webhook(replica: &Service, event: &Value) -> u16 {
    let body = event.to_string();
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let sig = glbridge_guest::webhook::sign(SIGNING, t, body.as_bytes());
    post(
        &format!("{}/webhooks/gradient-labs", replica.url()),
        &[("X-GradientLabs-Signature", &sig)],
        body.as_bytes(),
    )
    .0
}

fn customer_messages(sandbox: &Sandbox, conv: &str) -> Vec<String> {
    let mut r = http()
        .get(&format!(
            "{}/sandbox/conversations/gleap-{conv}/messages",
            sandbox.url()
        ))
        .header(
            "Authorization",
            &format!("Bearer {}", sandbox.config().integration_key),
        )
        .call()
        .unwrap();
    if r.status() != 200 {
        return Vec::new();
    }
    serde_json::from_slice::<Value>(&r.body_mut().read_to_vec().unwrap())
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["participant_type"] == "Customer")
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

fn metrics(replica: &Service) -> String {
    http()
        .get(&format!("{}/metrics", replica.url()))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// A replica of the bridge on `store`, talking to `sandbox`.
fn replica(store: &str, sandbox_url: &str, api_key: &str, name: &str) -> Service {
    let upstream = Upstream::Api {
        url: sandbox_url.to_owned(),
        api_key: Secret::new(api_key),
        signing_key: Secret::new(SIGNING),
    };
    let mut config = ServeConfig::new(upstream, StoreLocation::parse(store));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.gleap_secret = Some(Secret::new(SECRET));
    config.tick = Duration::from_millis(100);
    config.reply_wait = Duration::from_secs(6);
    config.replica = Some(name.to_owned());
    Service::start(config).unwrap()
}

/// The sandbox with the demo's help centre, delivering its webhooks to
/// `webhook_url` and retrying them every `retry_ms` and more.
fn sandbox(webhook_url: String, retry_ms: u64) -> Sandbox {
    Sandbox::start(SandboxConfig {
        webhook_url: Some(webhook_url),
        signing_key: SIGNING.into(),
        seed: Some(glbridge_cli::demo::seed()),
        retry_base: Duration::from_millis(retry_ms),
        ..SandboxConfig::default()
    })
    .unwrap()
}

fn postgres() -> TempServer {
    TempServer::start().unwrap_or_else(|e| panic!("PostgreSQL did not start: {e}"))
}

/// Forwards each webhook the sandbox sends to the replicas in turn (their
/// URLs are filled in once they have started).
fn round_robin() -> (support::Receiver, Arc<Mutex<Vec<String>>>) {
    let targets = Arc::new(Mutex::new(Vec::<String>::new()));
    let next = AtomicUsize::new(0);
    let to = targets.clone();
    let forwarder = support::Receiver::start(move |r| {
        let targets = to.lock().unwrap().clone();
        if targets.is_empty() {
            return (503, "{}".into());
        }
        let to = &targets[next.fetch_add(1, Ordering::Relaxed) % targets.len()];
        let headers: Vec<(&str, &str)> = r
            .headers
            .iter()
            .filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-gradientlabs"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, body) = post(&format!("{to}/webhooks/gradient-labs"), &headers, &r.body);
        // A replica that did not answer is a failed delivery: retried.
        (if status == 0 { 503 } else { status }, body.to_string())
    });
    (forwarder, targets)
}

#[test]
fn gleap_calls_on_one_replica_answer_with_replies_delivered_to_the_other() {
    let pg = postgres();
    let db = pg.database().unwrap();
    // The sandbox delivers every webhook to replica A ...
    let a_port = support::free_port();
    let sandbox = sandbox(
        format!("http://127.0.0.1:{a_port}/webhooks/gradient-labs"),
        20,
    );
    let key = sandbox.config().integration_key.clone();
    let _a = {
        let upstream = Upstream::Api {
            url: sandbox.url(),
            api_key: Secret::new(key.clone()),
            signing_key: Secret::new(SIGNING),
        };
        let mut config = ServeConfig::new(upstream, StoreLocation::parse(&db));
        config.listen = format!("127.0.0.1:{a_port}").parse().unwrap();
        config.gleap_secret = Some(Secret::new(SECRET));
        config.replica = Some("a".into());
        Service::start(config).unwrap()
    };
    // ... while every Gleap call goes to replica B.
    let b = replica(&db, &sandbox.url(), &key, "b");
    let conversations = 6;
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..conversations)
            .map(|n| {
                let b = &b;
                scope.spawn(move || {
                    gleap(b, &format!("x{n}"), &[("k1", "How do I return an item?")])
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    for (n, (status, answer)) in answers.iter().enumerate() {
        assert_eq!(*status, 200, "x{n}: {answer}");
        assert!(
            answer["message"].as_str().unwrap_or("").contains("30 days"),
            "x{n} got the reply replica A received: {answer}"
        );
    }
    // The next turn, again across the replicas; each customer message
    // reached the API once, and no reply was answered twice.
    for n in 0..conversations {
        let conv = format!("x{n}");
        let (status, answer) = gleap(
            &b,
            &conv,
            &[
                ("k1", "How do I return an item?"),
                ("k2", "I need to speak to a person"),
            ],
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["tags"], json!(["ai-handoff"]), "{answer}");
        assert!(
            !answer["message"].as_str().unwrap().contains("30 days"),
            "the first reply was not answered again: {answer}"
        );
        assert_eq!(
            customer_messages(&sandbox, &conv),
            vec![format!("gleap-k1"), format!("gleap-k2")]
        );
    }
    assert!(metrics(&b).contains("glbridge_wakeups_heard_total"));
    let heard: f64 = metrics(&b)
        .lines()
        .find_map(|l| l.strip_prefix("glbridge_wakeups_heard_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        heard >= conversations as f64,
        "B heard A's commits: {heard}"
    );
}

#[test]
fn a_round_robin_split_of_everything_keeps_each_reply_once_and_in_order() {
    let pg = postgres();
    let db = pg.database().unwrap();
    // The sandbox's deliveries go through a forwarder that alternates.
    let (forwarder, targets) = round_robin();
    let sandbox = sandbox(forwarder.url.clone(), 20);
    let key = sandbox.config().integration_key.clone();
    let replicas = [
        replica(&db, &sandbox.url(), &key, "a"),
        replica(&db, &sandbox.url(), &key, "b"),
    ];
    *targets.lock().unwrap() = replicas.iter().map(Service::url).collect();
    for n in 0..6usize {
        let conv = format!("r{n}");
        let first = &replicas[n % 2];
        let second = &replicas[(n + 1) % 2];
        let (status, answer) = gleap(first, &conv, &[("k1", "How long does delivery take?")]);
        assert_eq!(status, 200, "{answer}");
        assert!(answer["message"].is_string(), "{answer}");
        let (status, answer) = gleap(
            second,
            &conv,
            &[
                ("k1", "How long does delivery take?"),
                ("k2", "thanks, that is all"),
            ],
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            customer_messages(&sandbox, &conv),
            vec!["gleap-k1".to_owned(), "gleap-k2".to_owned()],
            "each customer message reached the API once"
        );
    }

    // Duplicate and out-of-order webhooks, spread over both replicas: the
    // reply comes out once, in order, whichever replica answers.
    let event = |id: &str, seq: u64, body: &str| {
        json!({"id": id, "type": "agent.message", "sequence_number": seq, "timestamp": "2025-01-01T00:00:00Z",
               "data": {"conversation": {"id": "gleap-h1", "customer_id": "u"}, "body": body}})
    };
    assert_eq!(webhook(&replicas[0], &event("w3", 3, "third")), 200);
    assert_eq!(webhook(&replicas[1], &event("w2", 2, "second")), 200);
    assert_eq!(
        webhook(&replicas[0], &event("w2", 2, "second")),
        200,
        "a duplicate"
    );
    assert_eq!(
        webhook(&replicas[1], &event("w3", 3, "third")),
        200,
        "a duplicate"
    );
    assert_eq!(webhook(&replicas[1], &event("w1", 1, "first")), 200);
    let (_, answer) = post(
        &format!("{}/gleap/action", replicas[0].url()),
        &[("Authorization", SECRET)],
        json!({"conversation": {"id": "h1"}, "session": {"userId": "u"}, "comments": []})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(answer["message"], "first\n\nsecond\n\nthird", "{answer}");
    let (_, again) = post(
        &format!("{}/gleap/action", replicas[1].url()),
        &[("Authorization", SECRET)],
        json!({"conversation": {"id": "h1"}, "session": {"userId": "u"}, "comments": []})
            .to_string()
            .as_bytes(),
    );
    assert!(
        !again["message"].as_str().unwrap_or("").contains("first"),
        "answered once: {again}"
    );
}

#[test]
fn postgres_stopped_for_five_seconds_loses_nothing_and_the_replicas_recover_by_themselves() {
    let pg = postgres();
    let db = pg.database().unwrap();
    let (forwarder, targets) = round_robin();
    let sandbox = sandbox(forwarder.url.clone(), 50);
    let key = sandbox.config().integration_key.clone();
    let replicas = Arc::new([
        replica(&db, &sandbox.url(), &key, "a"),
        replica(&db, &sandbox.url(), &key, "b"),
    ]);
    *targets.lock().unwrap() = replicas.iter().map(Service::url).collect();
    let health = |r: &Service| {
        http()
            .get(&format!("{}/healthz", r.url()))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(health(&replicas[0]), 200);

    // A conversation answered before the outage.
    let (status, answer) = gleap(&replicas[0], "p0", &[("k1", "How do I return an item?")]);
    assert_eq!(status, 200, "{answer}");

    pg.stop().unwrap();
    let down = Instant::now();
    // While it is down: not ready, and nothing is acknowledged.
    assert_eq!(health(&replicas[0]), 503);
    assert_eq!(health(&replicas[1]), 503);
    let event = json!({"id": "down-1", "type": "agent.message", "sequence_number": 1, "timestamp": "2025-01-01T00:00:00Z",
                       "data": {"conversation": {"id": "gleap-d1", "customer_id": "u"}, "body": "kept"}});
    assert_eq!(webhook(&replicas[1], &event), 503, "not acknowledged");
    let (status, _) = gleap(
        &replicas[0],
        "p1",
        &[("k1", "How long does delivery take?")],
    );
    assert_eq!(status, 503);
    std::thread::sleep(Duration::from_secs(5).saturating_sub(down.elapsed()));
    pg.resume().unwrap();

    // Back, with no restart: health, the refused webhook delivered again,
    // and the refused Gleap call tried again.
    support::eventually("both replicas ready", Duration::from_secs(20), || {
        (health(&replicas[0]) == 200 && health(&replicas[1]) == 200).then_some(())
    });
    assert_eq!(webhook(&replicas[0], &event), 200);
    let (_, answer) = post(
        &format!("{}/gleap/action", replicas[1].url()),
        &[("Authorization", SECRET)],
        json!({"conversation": {"id": "d1"}, "session": {"userId": "u"}, "comments": []})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(answer["message"], "kept", "{answer}");
    let (status, answer) = gleap(
        &replicas[1],
        "p1",
        &[("k1", "How long does delivery take?")],
    );
    assert_eq!(status, 200, "{answer}");
    assert!(answer["message"].is_string(), "{answer}");
    assert_eq!(
        customer_messages(&sandbox, "p1"),
        vec!["gleap-k1".to_owned()]
    );
    let (status, answer) = gleap(
        &replicas[0],
        "p0",
        &[
            ("k1", "How do I return an item?"),
            ("k2", "I need to speak to a person"),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["tags"], json!(["ai-handoff"]), "{answer}");
}

const CW_SECRET: &str = "cw_replica_secret";

/// A signed Chatwoot `message_created` event of conversation `conv`.
fn chatwoot_event(conv: u64, id: u64, content: &str) -> (String, String, Vec<u8>) {
    let body = json!({
        "event": "message_created", "id": id, "content": content,
        "message_type": "incoming", "private": false,
        "sender": {"id": 9, "name": "Sam", "type": "contact"},
        "conversation": {"id": conv, "status": "pending", "inbox_id": 3, "channel": "Channel::WebWidget",
                         "meta": {"sender": {"id": 9, "name": "Sam", "email": "sam@example.com"}}},
        "account": {"id": 7}
    })
    .to_string()
    .into_bytes();
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = glbridge_guest::helpdesk::chatwoot::sign(CW_SECRET, t, &body);
    (t.to_string(), signature, body)
}

#[test]
fn chatwoot_events_spread_over_two_replicas_are_each_answered_once_in_order() {
    use glbridge_guest::helpdesk::chatwoot::adapter::Auth;
    use glbridge_guest::helpdesk::chatwoot::Settings;
    let pg = postgres();
    let db = pg.database().unwrap();
    let (forwarder, targets) = round_robin();
    let sandbox = sandbox(forwarder.url.clone(), 20);
    let chatwoot = support::Receiver::start(|_| (200, "{}".into()));
    let key = sandbox.config().integration_key.clone();
    let start = |name: &str| {
        let upstream = Upstream::Api {
            url: sandbox.url(),
            api_key: Secret::new(key.clone()),
            signing_key: Secret::new(SIGNING),
        };
        let mut config = ServeConfig::new(upstream, StoreLocation::parse(&db));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.gleap_secret = Some(Secret::new(SECRET));
        config.tick = Duration::from_millis(100);
        config.replica = Some(name.to_owned());
        config.chatwoot = Some((
            Settings {
                base_url: chatwoot.url.trim_end_matches("/webhooks").to_owned(),
                bot_token: "cw_token".into(),
                teams: Default::default(),
            },
            Auth::Signature {
                secret: Secret::new(CW_SECRET),
                window_secs: 300,
            },
        ));
        Service::start(config).unwrap()
    };
    let replicas = [start("a"), start("b")];
    *targets.lock().unwrap() = replicas.iter().map(Service::url).collect();
    let post_event = |replica: &Service, conv: u64, id: u64, content: &str| {
        let (t, signature, body) = chatwoot_event(conv, id, content);
        post(
            &format!("{}/chatwoot/webhook", replica.url()),
            &[
                ("X-Chatwoot-Timestamp", &t),
                ("X-Chatwoot-Signature", &signature),
            ],
            &body,
        )
        .0
    };
    let replies = |conv: u64| -> Vec<String> {
        let path = format!("/api/v1/accounts/7/conversations/{conv}/messages");
        chatwoot
            .all()
            .iter()
            .filter(|r| r.target == path && r.json()["private"] == false)
            .map(|r| r.json()["content"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let conversations: Vec<u64> = (201..207).collect();
    // Each question to one replica, its redelivery to the other.
    for (i, conv) in conversations.iter().enumerate() {
        let id = conv * 10;
        assert_eq!(
            post_event(&replicas[i % 2], *conv, id, "How long does delivery take?"),
            200
        );
        assert_eq!(
            post_event(
                &replicas[(i + 1) % 2],
                *conv,
                id,
                "How long does delivery take?"
            ),
            200
        );
    }
    for conv in &conversations {
        support::eventually(
            &format!("the first reply in {conv}"),
            Duration::from_secs(20),
            || (!replies(*conv).is_empty()).then_some(()),
        );
    }
    // The second question, to the other replica.
    for (i, conv) in conversations.iter().enumerate() {
        assert_eq!(
            post_event(
                &replicas[(i + 1) % 2],
                *conv,
                conv * 10 + 1,
                "How do I return an item?"
            ),
            200
        );
    }
    for conv in &conversations {
        support::eventually(
            &format!("the second reply in {conv}"),
            Duration::from_secs(20),
            || (replies(*conv).len() >= 2).then_some(()),
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    for conv in &conversations {
        let got = replies(*conv);
        assert_eq!(got.len(), 2, "{conv}: each reply once: {got:?}");
        assert!(got[0].contains("working days"), "{conv}: in order: {got:?}");
        assert!(got[1].contains("30 days"), "{conv}: in order: {got:?}");
    }
}
