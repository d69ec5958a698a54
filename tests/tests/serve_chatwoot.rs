//! `glbridge serve` bridging Chatwoot end to end over loopback: signed
//! events to `POST /chatwoot/webhook`, the sandbox as the AI agent, and a
//! scripted Chatwoot REST API receiving the agent's answers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glbridge_cli::serve::{ServeConfig, Service, Upstream};
use glbridge_guest::client::Secret;
use glbridge_guest::helpdesk::chatwoot::adapter::Auth;
use glbridge_guest::helpdesk::chatwoot::Settings;
use glbridge_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use support::{Received, Receiver};

const SIGNING: &str = "whsec_chatwoot_test";
const CW_SECRET: &str = "cw_bot_secret";
const BOT_TOKEN: &str = "cw_bot_access_token";

struct Bridge {
    sandbox: Sandbox,
    service: Service,
    chatwoot: Receiver,
    http: ureq::Agent,
    /// Last, so that it is removed after the service has stopped.
    _dir: tempfile::TempDir,
}

/// The sandbox (its webhooks to `serve`'s port) and `serve`'s
/// configuration against it, with its store in a fresh directory (removed
/// when the returned guard is dropped).
fn sandbox_and_config(tag: &str) -> (Sandbox, ServeConfig, tempfile::TempDir) {
    let port = support::free_port();
    let sandbox = Sandbox::start(SandboxConfig {
        webhook_url: Some(format!("http://127.0.0.1:{port}/webhooks/gradient-labs")),
        signing_key: SIGNING.into(),
        seed: Some(glbridge_cli::demo::seed()),
        retry_base: Duration::from_millis(20),
        ..SandboxConfig::default()
    })
    .unwrap();
    let dir = tempfile::Builder::new()
        .prefix(&format!("glbridge-serve-chatwoot-{tag}-"))
        .tempdir()
        .unwrap();
    let mut config = ServeConfig::new(
        Upstream::Api {
            url: sandbox.url(),
            api_key: Secret::new(sandbox.config().integration_key.clone()),
            signing_key: Secret::new(SIGNING),
        },
        dir.path().join("glbridge.db"),
    );
    config.listen = format!("127.0.0.1:{port}").parse().unwrap();
    config.gleap_secret = Some(Secret::new("Bearer unused"));
    config.tick = Duration::from_millis(100);
    (sandbox, config, dir)
}

/// The sandbox, `serve` with Chatwoot bridged, and a Chatwoot whose REST
/// API answers `policy`.
fn start(tag: &str, policy: impl Fn(&Received) -> (u16, String) + Send + Sync + 'static) -> Bridge {
    let (sandbox, mut config, dir) = sandbox_and_config(tag);
    let chatwoot = Receiver::start(policy);
    config.chatwoot = Some((
        Settings {
            base_url: chatwoot.url.trim_end_matches("/webhooks").to_owned(),
            bot_token: BOT_TOKEN.into(),
            teams: [("billing".to_owned(), 4)].into_iter().collect(),
        },
        Auth::Signature {
            secret: Secret::new(CW_SECRET),
            window_secs: 300,
        },
    ));
    let service = Service::start(config).unwrap();
    let http = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    Bridge {
        sandbox,
        service,
        chatwoot,
        http,
        _dir: dir,
    }
}

fn message(id: u64, content: &str, overrides: Value) -> Vec<u8> {
    let mut v = json!({
        "event": "message_created", "id": id, "content": content,
        "message_type": "incoming", "private": false,
        "sender": {"id": 9, "name": "Sam", "type": "contact"},
        "conversation": {"id": 101, "status": "pending", "inbox_id": 3, "channel": "Channel::WebWidget",
                         "meta": {"sender": {"id": 9, "name": "Sam", "email": "sam@example.com"}}},
        "account": {"id": 7}
    });
    if let (Some(o), Value::Object(extra)) = (v.as_object_mut(), overrides) {
        o.extend(extra);
    }
    v.to_string().into_bytes()
}

impl Bridge {
    /// Posts an event as Chatwoot does (signed now); status and answer.
    fn post(&self, body: &[u8]) -> (u16, Value, Duration) {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let signature = glbridge_guest::helpdesk::chatwoot::sign(CW_SECRET, t, body);
        let started = Instant::now();
        let mut r = self
            .http
            .post(&format!("{}/chatwoot/webhook", self.service.url()))
            .header("Content-Type", "application/json")
            .header("X-Chatwoot-Timestamp", &t.to_string())
            .header("X-Chatwoot-Signature", &signature)
            .send(body)
            .unwrap();
        let took = started.elapsed();
        let status = r.status().as_u16();
        let answer = serde_json::from_str(&r.body_mut().read_to_string().unwrap_or_default())
            .unwrap_or(Value::Null);
        (status, answer, took)
    }

    /// What Chatwoot was asked to post, in order, to conversation 101.
    fn posted(&self, tail: &str) -> Vec<Received> {
        let path = format!("/api/v1/accounts/7/conversations/101/{tail}");
        self.chatwoot
            .all()
            .into_iter()
            .filter(|r| r.target == path)
            .collect()
    }

    /// A GET from the sandbox's API, as JSON.
    fn sandbox_get(&self, path: &str) -> Value {
        let mut r = self
            .http
            .get(&format!("{}{path}", self.sandbox.url()))
            .header(
                "Authorization",
                &format!("Bearer {}", self.sandbox.config().integration_key),
            )
            .call()
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap_or_default())
            .unwrap_or(Value::Null)
    }

    /// The messages the AI agent got for the conversation.
    fn agent_messages(&self) -> Vec<Value> {
        let v = self.sandbox_get("/sandbox/conversations/chatwoot-7-101/messages");
        v.get("messages")
            .and_then(Value::as_array)
            .cloned()
            .or_else(|| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// The agent conversation as the API shows it.
    fn agent_conversation(&self) -> Value {
        self.sandbox_get("/conversations/chatwoot-7-101")
    }
}

fn wait_until(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_customer_question_is_answered_in_chatwoot_once_even_when_redelivered() {
    let b = start("reply", |_| (200, "{}".into()));
    let question = message(4521, "How long does delivery take?", json!({}));
    let (status, answer, took) = b.post(&question);
    assert_eq!(status, 200, "{answer}");
    assert!(took < Duration::from_secs(1), "answered in {took:?}");
    // Chatwoot redelivers the same event: acknowledged, nothing new.
    let (status, answer, _) = b.post(&question);
    assert_eq!((status, answer["duplicate"].as_bool()), (200, Some(true)));

    wait_until("the reply in Chatwoot", Duration::from_secs(20), || {
        !b.posted("messages").is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    let posted = b.posted("messages");
    assert_eq!(
        posted.len(),
        1,
        "one reply: {:?}",
        posted.iter().map(Received::json).collect::<Vec<_>>()
    );
    let reply = posted[0].json();
    assert_eq!(reply["message_type"], "outgoing");
    assert_eq!(reply["private"], false);
    assert!(!reply["content"].as_str().unwrap_or("").is_empty());
    assert_eq!(posted[0].header("api_access_token"), Some(BOT_TOKEN));
    // The agent got the customer's message once.
    let customer: Vec<Value> = b
        .agent_messages()
        .into_iter()
        .filter(|m| m["participant_type"] == "Customer")
        .collect();
    assert_eq!(customer.len(), 1, "{customer:?}");
    assert_eq!(customer[0]["id"], "chatwoot-7-4521");

    // The bot's own reply echoed back, a note, an outgoing human reply: ignored.
    for (id, overrides) in [
        (
            4522,
            json!({"message_type": "outgoing", "sender": {"type": "agent_bot"}}),
        ),
        (4523, json!({"private": true, "sender": {"type": "user"}})),
        (
            4524,
            json!({"message_type": "outgoing", "sender": {"type": "user"}}),
        ),
    ] {
        let (status, answer, _) = b.post(&message(id, "echo", overrides));
        assert_eq!(status, 200);
        assert!(answer["ignored"].is_string(), "{answer}");
    }
    // A forged or stale event: 401, nothing kept.
    let mut r = b
        .http
        .post(&format!("{}/chatwoot/webhook", b.service.url()))
        .header("X-Chatwoot-Timestamp", "1000000000")
        .header(
            "X-Chatwoot-Signature",
            &glbridge_guest::helpdesk::chatwoot::sign(CW_SECRET, 1_000_000_000, &question),
        )
        .send(&question[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.body_mut().read_to_string().unwrap().contains("window"));
}

#[test]
fn a_chatwoot_500_ends_with_exactly_one_reply_and_a_hand_off_opens_the_conversation() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    // Chatwoot fails its first REST call.
    let b = start("retry", move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            (500, "{}".into())
        } else {
            (200, "{}".into())
        }
    });
    let (status, _, _) = b.post(&message(5001, "How long does delivery take?", json!({})));
    assert_eq!(status, 200);
    wait_until(
        "the reply in Chatwoot after a 500",
        Duration::from_secs(20),
        || b.posted("messages").len() >= 2,
    );
    std::thread::sleep(Duration::from_millis(500));
    let posted = b.posted("messages");
    assert_eq!(posted.len(), 2, "the failed attempt and its retry");
    assert_eq!(
        posted[0].json(),
        posted[1].json(),
        "the same reply, once accepted"
    );

    // Asking for a person: the agent hands off — a private note, then open.
    let (status, _, _) = b.post(&message(
        5002,
        "I want to talk to a human please",
        json!({}),
    ));
    assert_eq!(status, 200);
    wait_until("the hand-off in Chatwoot", Duration::from_secs(20), || {
        !b.posted("toggle_status").is_empty()
    });
    let notes: Vec<Value> = b
        .posted("messages")
        .iter()
        .map(Received::json)
        .filter(|m| m["private"] == true)
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        b.posted("toggle_status")[0].json(),
        json!({"status": "open"})
    );
}

fn status_change(status: &str) -> Vec<u8> {
    json!({"event": "conversation_status_changed", "id": 101, "status": status, "account_id": 7,
           "changed_attributes": [{"status": {"current_value": status}}]})
    .to_string()
    .into_bytes()
}

impl Bridge {
    fn replies(&self) -> usize {
        self.posted("messages")
            .iter()
            .filter(|m| m.json()["private"] == false)
            .count()
    }
}

#[test]
fn a_human_takes_over_and_hands_back_and_thanks_finish_the_conversation() {
    let b = start("human", |_| (200, "{}".into()));
    assert_eq!(
        b.post(&message(6001, "How long does delivery take?", json!({})))
            .0,
        200
    );
    wait_until("the first reply", Duration::from_secs(20), || {
        b.replies() == 1
    });

    // A human opens the conversation: the AI agent stops.
    assert_eq!(b.post(&status_change("open")).0, 200);
    wait_until(
        "the agent conversation assigned to a human",
        Duration::from_secs(20),
        || b.agent_conversation()["assignee_type"] == "Agent",
    );
    // The customer writes while a human has it: not for the agent.
    let (status, answer, _) = b.post(&message(
        6002,
        "How long does delivery take?",
        json!({"conversation": {"id": 101, "status": "open", "channel": "Channel::WebWidget"}}),
    ));
    assert_eq!(status, 200);
    assert!(answer["ignored"].is_string(), "{answer}");

    // Handed back: the agent has it again and answers the next question.
    assert_eq!(b.post(&status_change("pending")).0, 200);
    wait_until(
        "the agent conversation back with the AI agent",
        Duration::from_secs(20),
        || b.agent_conversation()["assignee_type"] == "AI Agent",
    );
    assert_eq!(
        b.post(&message(6003, "How long does delivery take?", json!({})))
            .0,
        200
    );
    wait_until(
        "the reply after the hand-back",
        Duration::from_secs(20),
        || b.replies() == 2,
    );

    // Thanks: the agent finishes, and Chatwoot's conversation is resolved.
    assert_eq!(
        b.post(&message(6004, "Thanks, that's all!", json!({}))).0,
        200
    );
    wait_until("the conversation resolved", Duration::from_secs(20), || {
        b.posted("toggle_status")
            .iter()
            .any(|r| r.json() == json!({"status": "resolved"}))
    });
    std::thread::sleep(Duration::from_millis(300));
    let agent = b.agent_conversation();
    assert_eq!(agent["status"], "finished", "{agent}");
    // The customer's messages the agent got: the three it had, once each.
    let ids: Vec<Value> = b
        .agent_messages()
        .into_iter()
        .filter(|m| m["participant_type"] == "Customer")
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(
        ids,
        [
            json!("chatwoot-7-6001"),
            json!("chatwoot-7-6003"),
            json!("chatwoot-7-6004")
        ]
    );
}

#[test]
fn events_racing_for_a_new_conversation_start_it_once_and_add_each_message_once() {
    let b = Arc::new(start("race", |_| (200, "{}".into())));
    // Eight messages of one new conversation, each sent twice, all at once.
    let senders: Vec<_> = (0..16)
        .map(|i| {
            let b = b.clone();
            std::thread::spawn(move || {
                let id = 7000 + (i % 8);
                b.post(&message(
                    id,
                    &format!("question {id}: how long does delivery take?"),
                    json!({}),
                ))
                .0
            })
        })
        .collect();
    for s in senders {
        assert_eq!(s.join().unwrap(), 200);
    }
    wait_until(
        "all eight messages at the agent",
        Duration::from_secs(20),
        || {
            b.agent_messages()
                .iter()
                .filter(|m| m["participant_type"] == "Customer")
                .count()
                >= 8
        },
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut ids: Vec<String> = b
        .agent_messages()
        .into_iter()
        .filter(|m| m["participant_type"] == "Customer")
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let expected: Vec<String> = (7000..7008).map(|i| format!("chatwoot-7-{i}")).collect();
    assert_eq!(ids, expected, "each message once");
}

#[test]
fn the_stand_in_enforces_the_bot_token_and_allowlist_and_opens_on_a_failed_delivery() {
    use glbridge_sandbox::chatwoot::{ChatwootStandIn, StandInConfig};
    let cw = ChatwootStandIn::start(StandInConfig::default()).unwrap();
    let token = cw.config().bot_token.clone();
    let http: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    // Nobody takes the bot's events: Chatwoot opens the conversation.
    cw.set_bot_url("http://127.0.0.1:9/chatwoot/webhook");
    let mut r = http
        .post(&format!("{}/stand-in/conversations", cw.url()))
        .header("Content-Type", "application/json")
        .send(json!({"content": "hello"}).to_string().as_bytes())
        .unwrap();
    let started: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    let id = started["conversation_id"].as_u64().unwrap();
    let show = || -> Value {
        let mut r = http
            .get(&format!("{}/stand-in/conversations/{id}", cw.url()))
            .call()
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    };
    wait_until("the conversation opened", Duration::from_secs(10), || {
        show()["status"] == "open"
    });
    let post = |path: &str, token: Option<&str>, body: Value| -> u16 {
        let mut req = http
            .post(&format!("{}{path}", cw.url()))
            .header("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.header("api_access_token", t);
        }
        req.send(body.to_string().as_bytes())
            .unwrap()
            .status()
            .as_u16()
    };
    let messages = format!("/api/v1/accounts/1/conversations/{id}/messages");
    assert_eq!(post(&messages, None, json!({"content": "x"})), 401);
    assert_eq!(post(&messages, Some("wrong"), json!({"content": "x"})), 401);
    assert_eq!(
        post("/api/v1/accounts/1/contacts", Some(&token), json!({})),
        401
    );
    assert_eq!(
        post(
            &format!("/api/v1/accounts/1/conversations/{id}/mute"),
            Some(&token),
            json!({})
        ),
        401
    );
    // Failures on demand, then the call goes through.
    assert_eq!(
        post("/stand-in/fail", None, json!({"status": 503, "times": 1})),
        204
    );
    assert_eq!(post(&messages, Some(&token), json!({"content": "x"})), 503);
    assert_eq!(post(&messages, Some(&token), json!({"content": "x"})), 200);
    assert_eq!(
        post(
            &format!("/api/v1/accounts/1/conversations/{id}/toggle_status"),
            Some(&token),
            json!({"status": "resolved"})
        ),
        200
    );
    let c = show();
    assert_eq!(c["status"], "resolved");
    assert_eq!(c["messages"].as_array().unwrap().len(), 2);
    cw.stop();
}

/// `serve` bridging the Chatwoot stand-in (which echoes the bot's own
/// messages and status changes back to it, as Chatwoot does).
struct WithStandIn {
    _sandbox: Sandbox,
    service: Service,
    chatwoot: glbridge_sandbox::chatwoot::ChatwootStandIn,
    http: ureq::Agent,
    /// Last, so that it is removed after the service has stopped.
    _dir: tempfile::TempDir,
}

impl WithStandIn {
    fn start(tag: &str) -> WithStandIn {
        use glbridge_sandbox::chatwoot::{ChatwootStandIn, StandInConfig};
        let (sandbox, mut config, dir) = sandbox_and_config(&format!("standin-{tag}"));
        let chatwoot = ChatwootStandIn::start(StandInConfig::default()).unwrap();
        config.chatwoot = Some((
            Settings {
                base_url: chatwoot.url(),
                bot_token: chatwoot.config().bot_token.clone(),
                teams: Default::default(),
            },
            Auth::Signature {
                secret: Secret::new(chatwoot.config().bot_secret.clone()),
                window_secs: 300,
            },
        ));
        let service = Service::start(config).unwrap();
        chatwoot.set_bot_url(&format!("{}/chatwoot/webhook", service.url()));
        WithStandIn {
            _sandbox: sandbox,
            service,
            chatwoot,
            http: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
            _dir: dir,
        }
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let mut r = self
            .http
            .post(&format!("{}{path}", self.chatwoot.url()))
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null)
    }

    fn conversation(&self, id: u64) -> Value {
        let mut r = self
            .http
            .get(&format!(
                "{}/stand-in/conversations/{id}",
                self.chatwoot.url()
            ))
            .call()
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    }

    /// The agent conversation and its messages, as the sandbox has them.
    fn agent_view(&self, id: u64) -> String {
        self.agent_view_in(self.chatwoot.config().account_id, id)
    }

    /// [`Self::agent_view`] for a conversation of account `account`.
    fn agent_view_in(&self, account: u64, id: u64) -> String {
        let get = |path: String| -> String {
            self.http
                .get(&format!("{}{path}", self._sandbox.url()))
                .header(
                    "Authorization",
                    &format!("Bearer {}", self._sandbox.config().integration_key),
                )
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap()
        };
        let conversation = format!("chatwoot-{account}-{id}");
        format!(
            "{}\n{}",
            get(format!("/conversations/{conversation}")),
            get(format!("/sandbox/conversations/{conversation}/messages"))
        )
    }

    /// The bot's public and private messages in a conversation.
    fn bot_messages(&self, id: u64) -> (Vec<String>, Vec<String>) {
        let c = self.conversation(id);
        let mut public = Vec::new();
        let mut private = Vec::new();
        for m in c["messages"].as_array().unwrap() {
            if m["incoming"] == false {
                let text = m["content"].as_str().unwrap_or("").to_owned();
                if m["private"] == true {
                    private.push(text);
                } else {
                    public.push(text);
                }
            }
        }
        (public, private)
    }
}

#[test]
fn with_the_chatwoot_stand_in_a_500_a_hand_off_and_a_hand_back_each_end_as_they_should() {
    let w = WithStandIn::start("flow");
    // Chatwoot fails the bot's first call: the reply is posted once, after.
    w.post("/stand-in/fail", json!({"status": 500, "times": 1}));
    let id = w.post(
        "/stand-in/conversations",
        json!({"content": "How long does delivery take?"}),
    )["conversation_id"]
        .as_u64()
        .unwrap();
    wait_until("the reply in Chatwoot", Duration::from_secs(20), || {
        !w.bot_messages(id).0.is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    let (public, _) = w.bot_messages(id);
    assert_eq!(public.len(), 1, "{public:?}");
    assert!(public[0].contains("3 to 5"), "{public:?}");
    // The echo of the bot's own reply was taken and changed nothing.
    assert_eq!(w.conversation(id)["status"], "pending");

    // A hand-off: a private note, the conversation opened for the team;
    // the echo of the bridge's own `open` changes nothing.
    w.post(
        &format!("/stand-in/conversations/{id}/messages"),
        json!({"content": "My parcel arrived damaged and I want to talk to a human."}),
    );
    wait_until("the hand-off", Duration::from_secs(20), || {
        w.conversation(id)["status"] == "open"
    });
    std::thread::sleep(Duration::from_millis(300));
    let (public, private) = w.bot_messages(id);
    assert_eq!(
        (public.len(), private.len()),
        (1, 1),
        "{public:?} {private:?}"
    );

    // The customer writes while a human has it: no answer from the bot.
    w.post(
        &format!("/stand-in/conversations/{id}/messages"),
        json!({"content": "Hello? How long does delivery take?"}),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(w.bot_messages(id).0.len(), 1);

    // A human hands it back to the bot: the next question is answered.
    w.post(
        &format!("/stand-in/conversations/{id}/status"),
        json!({"status": "pending"}),
    );
    std::thread::sleep(Duration::from_millis(300));
    w.post(
        &format!("/stand-in/conversations/{id}/messages"),
        json!({"content": "How long does delivery take?"}),
    );
    let started = Instant::now();
    while w.bot_messages(id).0.len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no answer after the hand-back: {}\nthe agent: {}",
            w.conversation(id),
            w.agent_view(id)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(w.conversation(id)["status"], "pending");
    w.service.stop();
}

#[test]
fn with_the_chatwoot_stand_in_each_account_and_inbox_keeps_its_own_conversations() {
    let w = WithStandIn::start("accounts");
    let id = w.post(
        "/stand-in/conversations",
        json!({"content": "How long does delivery take?", "account_id": 2, "inbox_id": 5, "channel": "Channel::Email"}),
    )["conversation_id"]
        .as_u64()
        .unwrap();
    wait_until("the reply in account 2", Duration::from_secs(20), || {
        !w.bot_messages(id).0.is_empty()
    });
    let view = w.agent_view_in(2, id);
    assert!(view.contains("\"channel\":\"email\""), "{view}");
    assert!(
        view.contains(&format!("\"id\":\"chatwoot-2-{id}\"")),
        "{view}"
    );
    // The bot cannot reach it through another account.
    let mut r = w
        .http
        .post(&format!(
            "{}/api/v1/accounts/1/conversations/{id}/messages",
            w.chatwoot.url()
        ))
        .header("api_access_token", &w.chatwoot.config().bot_token)
        .header("Content-Type", "application/json")
        .send(json!({"content": "x"}).to_string().as_bytes())
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        404,
        "{}",
        r.body_mut().read_to_string().unwrap()
    );
    w.service.stop();
}
