//! `glbridge serve` end to end over loopback: the real component, SQLite and
//! the sandbox — answers, hand-offs, actions, replays, duplicate and
//! out-of-order webhooks, forgeries, bad auth, a failing and slow API, and a
//! restart between a webhook and the next Gleap call.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use glbridge_cli::serve::{ServeConfig, Service, Upstream};
use glbridge_guest::bridge::ActionEndpoint;
use glbridge_guest::client::Secret;
use glbridge_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

const SECRET: &str = "Bearer gleap-test-secret";
const SIGNING: &str = "whsec_serve_test";

/// A fresh directory for one test's store, removed when the test ends.
fn tempdir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("glbridge-serve-{tag}-"))
        .tempdir()
        .unwrap()
}

/// A Gleap custom-action body with these customer comments.
fn gleap_body(conv: &str, comments: &[(&str, &str)]) -> String {
    let comments: Vec<Value> = comments
        .iter()
        .map(|(id, text)| json!({"id": id, "bot": false, "comment": {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}}))
        .collect();
    json!({"conversation": {"id": conv, "type": "INQUIRY", "customData": {"plan": "pro"}}, "session": {"userId": format!("u-{conv}"), "email": "x@example.com"}, "comments": comments}).to_string()
}

struct Setup {
    sandbox: Sandbox,
    service: Option<Service>,
    config: ServeConfig,
    http: ureq::Agent,
    /// Last, so that it is removed after the service has stopped.
    _dir: tempfile::TempDir,
}

impl Setup {
    fn new(
        tag: &str,
        tweak_sandbox: impl FnOnce(&mut SandboxConfig),
        tweak: impl FnOnce(&mut ServeConfig),
    ) -> Setup {
        let port = support::free_port();
        let mut sc = SandboxConfig {
            webhook_url: Some(format!("http://127.0.0.1:{port}/webhooks/gradient-labs")),
            signing_key: SIGNING.into(),
            seed: Some(glbridge_cli::demo::seed()),
            retry_base: Duration::from_millis(20),
            ..SandboxConfig::default()
        };
        tweak_sandbox(&mut sc);
        let sandbox = Sandbox::start(sc).unwrap();
        let upstream = Upstream::Api {
            url: sandbox.url(),
            api_key: Secret::new(sandbox.config().integration_key.clone()),
            signing_key: Secret::new(SIGNING),
        };
        let dir = tempdir(tag);
        let mut config = ServeConfig::new(upstream, dir.path().join("glbridge.db"));
        config.listen = format!("127.0.0.1:{port}").parse().unwrap();
        config.gleap_secret = Some(Secret::new(SECRET));
        config.tick = Duration::from_millis(100);
        tweak(&mut config);
        let service = Service::start(config.clone()).unwrap();
        let http = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Setup {
            sandbox,
            service: Some(service),
            config,
            http,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        self.service.as_ref().unwrap().url()
    }

    fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
        let mut req = self
            .http
            .post(&format!("{}{path}", self.url()))
            .header("Content-Type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut r = req.send(body).unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap_or(Value::Null),
        )
    }

    fn gleap(&self, conv: &str, comments: &[(&str, &str)]) -> (u16, Value) {
        self.gleap_with(SECRET, conv, comments)
    }

    fn gleap_with(&self, auth: &str, conv: &str, comments: &[(&str, &str)]) -> (u16, Value) {
        self.post(
            "/gleap/action",
            &[("Authorization", auth)],
            gleap_body(conv, comments).as_bytes(),
        )
    }

    fn sandbox_messages(&self, conv: &str) -> Vec<Value> {
        let mut r = self
            .http
            .get(&format!(
                "{}/sandbox/conversations/gleap-{conv}/messages",
                self.sandbox.url()
            ))
            .header(
                "Authorization",
                &format!("Bearer {}", self.sandbox.config().integration_key),
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
            .clone()
    }

    fn webhook(&self, event: &Value, key: &str) -> (u16, Value) {
        let body = event.to_string();
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let sig = glbridge_guest::webhook::sign(key, t, body.as_bytes());
        self.post(
            "/webhooks/gradient-labs",
            &[("X-GradientLabs-Signature", &sig)],
            body.as_bytes(),
        )
    }

    fn metrics(&self) -> String {
        let mut r = self
            .http
            .get(&format!("{}/metrics", self.url()))
            .call()
            .unwrap();
        r.body_mut().read_to_string().unwrap()
    }

    fn restart(&mut self) {
        self.service.take().unwrap().stop();
        self.service = Some(Service::start(self.config.clone()).unwrap());
    }
}

#[test]
fn answers_hand_offs_actions_and_replays() {
    let shop = support::Receiver::start(|r| {
        let reference = r.json()["params"]["reference"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        (
            200,
            json!({"id": reference, "status": "packed", "eta": "Friday"}).to_string(),
        )
    });
    let s = Setup::new(
        "main",
        |_| {},
        |c| {
            c.actions = vec![ActionEndpoint {
                name: "order-status".into(),
                url: shop.url.clone(),
                headers: vec![("X-Shop".into(), "k".into())],
                timeout_ms: 5_000,
            }]
        },
    );
    // An answered question.
    let (status, answer) = s.gleap("c1", &[("k1", "How do I return an item?")]);
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("30 days"),
        "{answer}"
    );
    // A replayed call (Gleap sends the last two comments again): nothing duplicated.
    let (_, again) = s.gleap("c1", &[("k1", "How do I return an item?")]);
    assert!(again["message"].is_string());
    let customer: Vec<Value> = s
        .sandbox_messages("c1")
        .into_iter()
        .filter(|m| m["participant_type"] == "Customer")
        .collect();
    assert_eq!(customer.len(), 1, "{customer:?}");
    assert_eq!(customer[0]["id"], "gleap-k1");
    // A hand-off.
    let (_, handoff) = s.gleap("c2", &[("k2", "I need to speak to a person")]);
    assert_eq!(handoff["tags"], json!(["ai-handoff"]));
    assert_eq!(handoff["attributes"]["handoff_target"], "support");
    // An action, forwarded to the configured endpoint with its headers.
    let (_, action) = s.gleap("c3", &[("k3", "Where is my order B-77?")]);
    assert_eq!(action["message"], "One moment while I look up your order.\n\nYour order **B-77** is packed — expected Friday.");
    assert_eq!(shop.all()[0].header("x-shop"), Some("k"));
    // Health and metrics.
    let mut h = s.http.get(&format!("{}/healthz", s.url())).call().unwrap();
    assert_eq!(h.status(), 200);
    assert!(h.body_mut().read_to_string().unwrap().contains("ok"));
    let m = s.metrics();
    for name in [
        "glbridge_http_requests_total",
        "glbridge_webhook_verify_failures_total",
        "glbridge_queue_depth",
        "glbridge_guest_call_seconds",
    ] {
        assert!(m.contains(name), "{name} missing from:\n{m}");
    }
    assert!(m.contains(r#"route="/gleap/action",status="200""#), "{m}");
}

#[test]
fn bad_gleap_calls_are_refused_and_nothing_is_sent() {
    let s = Setup::new("auth", |_| {}, |_| {});
    for auth in ["Bearer wrong", "", "bearer gleap-test-secret"] {
        let (status, _) = s.gleap_with(auth, "x1", &[("k1", "How do I return an item?")]);
        assert_eq!(status, 401, "{auth:?}");
    }
    assert!(
        s.sandbox_messages("x1").is_empty(),
        "nothing reached the API"
    );
    let (status, err) = s.post("/gleap/action", &[("Authorization", SECRET)], b"not json");
    assert_eq!(status, 400);
    assert!(err["error"].as_str().unwrap().contains("JSON"));
    let (status, err) = s.post(
        "/gleap/action",
        &[("Authorization", SECRET)],
        br#"{"conversation":{"id":"1"},"comments":[]}"#,
    );
    assert_eq!(status, 400);
    assert!(err["error"].as_str().unwrap().contains("session"), "{err}");
    let big = vec![b' '; 1024 * 1024 + 10];
    let (status, _) = s.post("/gleap/action", &[("Authorization", SECRET)], &big);
    assert_eq!(status, 413);
}

#[test]
fn duplicate_out_of_order_and_forged_webhooks() {
    // The sandbox's agent is kept out of it: webhooks come from the test.
    let s = Setup::new(
        "hooks",
        |c| c.webhook_url = Some("http://127.0.0.1:9/unused".into()),
        |c| c.reply_wait = Duration::from_millis(300),
    );
    let event = |id: &str, seq: u64, body: &str| {
        json!({"id": id, "type": "agent.message", "sequence_number": seq, "timestamp": "2025-01-01T00:00:00Z",
               "data": {"conversation": {"id": "gleap-h1", "customer_id": "u"}, "body": body}})
    };
    assert_eq!(s.webhook(&event("w2", 2, "second"), SIGNING).0, 200);
    assert_eq!(
        s.webhook(&event("w2", 2, "second"), SIGNING).0,
        200,
        "a duplicate is acknowledged"
    );
    assert_eq!(s.webhook(&event("w1", 1, "first"), SIGNING).0, 200);
    let (status, forged) = s.webhook(&event("w3", 3, "forged"), "not-the-key");
    assert_eq!(status, 401, "{forged}");
    let unknown = json!({"id": "w9", "type": "something.new", "sequence_number": 0, "timestamp": "2025-01-01T00:00:00Z", "data": {}});
    assert_eq!(
        s.webhook(&unknown, SIGNING).0,
        200,
        "unknown types are acknowledged"
    );
    let (_, answer) = s.gleap("h1", &[("k1", "hello")]);
    assert_eq!(
        answer["message"], "first\n\nsecond",
        "in order, once, no forgery"
    );
    assert!(s
        .metrics()
        .contains("glbridge_webhook_verify_failures_total 1"));
}

#[test]
fn a_failing_slow_api_still_gets_every_message_exactly_once() {
    let s = Setup::new(
        "flaky",
        |c| {
            c.fail_rate = 0.3;
            c.latency = Duration::from_millis(30);
        },
        |c| c.reply_wait = Duration::from_secs(5),
    );
    for n in 0..6 {
        let conv = format!("f{n}");
        let (status, answer) = s.gleap(&conv, &[("a", "How long does delivery take?")]);
        assert_eq!(status, 200, "{answer}");
        let (status, _) = s.gleap(
            &conv,
            &[
                ("a", "How long does delivery take?"),
                ("b", "And how do I reset my password?"),
            ],
        );
        assert_eq!(status, 200);
        let ids: Vec<String> = s
            .sandbox_messages(&conv)
            .iter()
            .filter(|m| m["participant_type"] == "Customer")
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, vec!["gleap-a", "gleap-b"], "{conv}");
    }
}

#[test]
fn many_conversations_at_once() {
    let s = Setup::new("parallel", |_| {}, |_| {});
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|n| {
                let s = &s;
                scope.spawn(move || {
                    s.gleap(&format!("p{n}"), &[("q", "How long does delivery take?")])
                })
            })
            .collect();
        for h in handles {
            let (status, answer) = h.join().unwrap();
            assert_eq!(status, 200);
            assert!(
                answer["message"].as_str().unwrap().contains("3 to 5"),
                "{answer}"
            );
        }
    });
}

#[test]
fn a_queued_reply_survives_a_restart() {
    let mut s = Setup::new(
        "restart",
        // The agent's webhook reaches serve 300 ms late: after the first
        // call was answered (its reply wait is 1 ms), never before.
        |c| {
            let url = c.webhook_url.take().unwrap();
            let serve = url.trim_end_matches("/webhooks/gradient-labs").to_owned();
            let late = support::http1::delaying_proxy(serve, Duration::from_millis(300));
            c.webhook_url = Some(format!("{late}/webhooks/gradient-labs"));
        },
        |c| c.reply_wait = Duration::from_millis(1),
    );
    let (_, first) = s.gleap("r1", &[("k1", "How do I reset my password?")]);
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("looking into it"),
        "holding text: {first}"
    );
    // The agent's answer is acknowledged (so persisted) by the service ...
    support::eventually(
        "the webhook to be delivered",
        Duration::from_secs(10),
        || {
            s.sandbox
                .deliveries()
                .iter()
                .any(|d| d.conversation_id == "gleap-r1" && d.delivered)
                .then_some(())
        },
    );
    // ... which restarts before Gleap calls again.
    s.restart();
    let (_, second) = s.gleap("r1", &[("k1", "How do I reset my password?")]);
    assert!(
        second["message"]
            .as_str()
            .unwrap()
            .contains("Forgot password"),
        "{second}"
    );
    let customer = s
        .sandbox_messages("r1")
        .into_iter()
        .filter(|m| m["participant_type"] == "Customer")
        .count();
    assert_eq!(customer, 1);
}

#[test]
fn the_demo_goes_as_expected_20_times_in_a_row() {
    for run in 0..20 {
        let mut out = Vec::new();
        if let Err(e) = glbridge_cli::demo::play(&mut out) {
            panic!("run {run}: {e:#}\n{}", String::from_utf8_lossy(&out));
        }
    }
}

#[test]
fn a_gleap_call_at_the_body_limit_with_6000_new_comments_is_answered() {
    let s = Setup::new("long", |_| {}, |c| c.reply_wait = Duration::from_secs(1));
    // 6,000 comments, just under the 1 MiB body limit.
    let text = "x".repeat(46);
    let ids: Vec<String> = (0..6000).map(|i| format!("long-{i}")).collect();
    let comments: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), text.as_str())).collect();
    let size = gleap_body("long", &comments).len();
    assert!(
        (1_000_000..=1024 * 1024).contains(&size),
        "{size} bytes: near the limit"
    );
    let started = std::time::Instant::now();
    let (status, answer) = s.gleap("long", &comments);
    assert_eq!(status, 200, "{answer}");
    eprintln!("6,000 new comments answered in {:?}", started.elapsed());
    // Replayed whole (as Gleap does): nothing new to forward.
    let started = std::time::Instant::now();
    let (status, answer) = s.gleap("long", &comments);
    assert_eq!(status, 200, "{answer}");
    eprintln!("replayed in {:?}", started.elapsed());
    let customer = s
        .sandbox_messages("long")
        .into_iter()
        .filter(|m| m["participant_type"] == "Customer")
        .count();
    assert_eq!(customer, 6000);
}

/// A webhook event of `kind` for the Gleap conversation `gleap-<conv>`.
fn agent_event(conv: &str, id: &str, seq: u64, kind: &str, data: Value) -> Value {
    let mut d = json!({"conversation": {"id": format!("gleap-{conv}"), "customer_id": format!("u-{conv}")}});
    d.as_object_mut()
        .unwrap()
        .extend(data.as_object().unwrap().clone());
    json!({"id": id, "type": kind, "sequence_number": seq, "timestamp": "2025-01-01T00:00:00Z", "data": d})
}

/// A Gleap call sent by hand, so that the test can hang up on it.
fn raw_gleap_call(addr: std::net::SocketAddr, body: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut caller = std::net::TcpStream::connect(addr).unwrap();
    write!(
        caller,
        "POST /gleap/action HTTP/1.1\r\nHost: x\r\nAuthorization: {SECRET}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    caller
}

#[test]
fn a_gleap_caller_that_hangs_up_leaves_its_reply_for_the_next_call() {
    // The sandbox's own webhooks go nowhere: the test plays the agent.
    let s = Setup::new(
        "hangup",
        |sc| sc.webhook_url = Some("http://127.0.0.1:9/nowhere".into()),
        |c| c.reply_wait = Duration::from_secs(5),
    );
    let addr = s.service.as_ref().unwrap().addr();
    let body = gleap_body("hang", &[("h1", "Is anyone there?")]);
    let caller = raw_gleap_call(addr, &body);
    // Forwarded and parked; then the caller is gone.
    let parked = std::time::Instant::now();
    while !s.metrics().contains("glbridge_gleap_waiting 1") {
        assert!(parked.elapsed() < Duration::from_secs(10), "never parked");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(caller);
    std::thread::sleep(Duration::from_millis(200));
    let event =
        |id: &str, seq: u64, kind: &str, data: Value| agent_event("hang", id, seq, kind, data);
    let reply = event("r1", 1, "agent.message", json!({"body": "Yes, I am here."}));
    assert_eq!(s.webhook(&reply, SIGNING).0, 200);
    let done = event("r2", 2, "conversation.finished", json!({}));
    assert_eq!(s.webhook(&done, SIGNING).0, 200);
    assert_eq!(s.webhook(&done, SIGNING).0, 200, "a duplicate");
    std::thread::sleep(Duration::from_millis(300));
    // The queue depth is counted from the calls, not scanned.
    assert!(
        s.metrics().contains("glbridge_queue_depth 2\n"),
        "{}",
        s.metrics()
    );
    // Gleap calls again (the same comment): the reply is still there.
    let (status, answer) = s.gleap("hang", &[("h1", "Is anyone there?")]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["message"], "Yes, I am here.", "{answer}");
    assert!(
        s.metrics().contains("glbridge_queue_depth 0\n"),
        "{}",
        s.metrics()
    );
}

#[test]
fn a_gleap_caller_that_hangs_up_while_its_comment_is_forwarded_takes_nothing() {
    // Every API answer takes 200 ms, so the caller is gone before the
    // call has forwarded its comment.
    let s = Setup::new(
        "hangup-early",
        |sc| {
            sc.webhook_url = Some("http://127.0.0.1:9/nowhere".into());
            sc.latency = Duration::from_millis(200);
        },
        |c| c.reply_wait = Duration::from_secs(2),
    );
    let event =
        |id: &str, seq: u64, kind: &str, data: Value| agent_event("gone", id, seq, kind, data);
    // A reply and a finish are queued already: the turn is over at once.
    let reply = event(
        "g1",
        1,
        "agent.message",
        json!({"body": "Here is your answer."}),
    );
    assert_eq!(s.webhook(&reply, SIGNING).0, 200);
    assert_eq!(
        s.webhook(&event("g2", 2, "conversation.finished", json!({})), SIGNING)
            .0,
        200
    );
    let addr = s.service.as_ref().unwrap().addr();
    let body = gleap_body("gone", &[("g1", "Hello?")]);
    let caller = raw_gleap_call(addr, &body);
    std::thread::sleep(Duration::from_millis(50));
    drop(caller);
    // The forwarding finishes (600 ms of API latency) with nobody to answer.
    std::thread::sleep(Duration::from_millis(1_500));
    let (status, answer) = s.gleap("gone", &[("g1", "Hello?")]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["message"], "Here is your answer.", "{answer}");
}
