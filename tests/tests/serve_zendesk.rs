//! `glbridge serve` bridging Zendesk messaging end to end over loopback:
//! the Sunshine Conversations stand-in delivers its webhooks (with
//! `X-API-Key`, retried as Zendesk does) to `POST /zendesk/webhook`, the
//! sandbox plays the AI agent, and the agent's replies, hand-offs and the
//! switchboard go back through the stand-in's API.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::{Duration, Instant};

use glbridge_cli::serve::{ServeConfig, Service, Upstream};
use glbridge_guest::client::Secret;
use glbridge_guest::helpdesk::zendesk::adapter::ZendeskConfig;
use glbridge_guest::helpdesk::zendesk::{Settings, AGENT_WORKSPACE};
use glbridge_sandbox::zendesk::{StandInConfig, ZendeskStandIn};
use glbridge_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

const SIGNING: &str = "whsec_zendesk_test";

struct World {
    sandbox: Sandbox,
    service: Service,
    zendesk: ZendeskStandIn,
    http: ureq::Agent,
    /// Last, so that it is removed after the service has stopped.
    _dir: tempfile::TempDir,
}

fn wait_until(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl World {
    fn start(tag: &str) -> World {
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
            .prefix(&format!("glbridge-serve-zendesk-{tag}-"))
            .tempdir()
            .unwrap();
        let zendesk = ZendeskStandIn::start(StandInConfig {
            retry_base: Duration::from_millis(50),
            ..StandInConfig::default()
        })
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
        let z = zendesk.config();
        config.zendesk = Some(ZendeskConfig {
            settings: Settings {
                base_url: zendesk.url(),
                app_id: z.app_id.clone(),
                bot_name: z.bot_name.clone(),
                targets: Default::default(),
                default_target: AGENT_WORKSPACE.into(),
                ai_subtype: true,
            },
            key_id: z.key_id.clone(),
            key_secret: Secret::new(z.key_secret.clone()),
            webhook_secret: Secret::new(z.webhook_secret.clone()),
        });
        let service = Service::start(config).unwrap();
        zendesk.set_bot_url(&format!("{}/zendesk/webhook", service.url()));
        World {
            sandbox,
            service,
            zendesk,
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
            .post(&format!("{}{path}", self.stand_in()))
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null)
    }

    fn stand_in(&self) -> String {
        self.zendesk.url().trim_end_matches("/sc").to_owned()
    }

    fn conversation(&self, id: &str) -> Value {
        let mut r = self
            .http
            .get(&format!("{}/stand-in/conversations/{id}", self.stand_in()))
            .call()
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    }

    /// The bot's (business) messages in a conversation.
    fn replies(&self, id: &str) -> Vec<String> {
        self.conversation(id)["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["author"] == "business")
            .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The customer's messages as the AI agent has them.
    fn agent_messages(&self, id: &str) -> Vec<String> {
        let conversation = format!("zendesk-{}-{id}", self.zendesk.config().app_id);
        let mut r = self
            .http
            .get(&format!(
                "{}/sandbox/conversations/{conversation}/messages",
                self.sandbox.url()
            ))
            .header(
                "Authorization",
                &format!("Bearer {}", self.sandbox.config().integration_key),
            )
            .call()
            .unwrap();
        let v: Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null);
        let list = v
            .get("messages")
            .and_then(Value::as_array)
            .or_else(|| v.as_array())
            .cloned()
            .unwrap_or_default();
        list.iter()
            .filter(|m| m["participant_type"] == "Customer")
            .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

#[test]
fn a_zendesk_conversation_is_answered_handed_off_and_handed_back_after_the_ticket_closes() {
    let w = World::start("flow");
    // Zendesk answers the bot's first call 429 with Retry-After: the reply
    // is posted once, after it.
    w.post(
        "/stand-in/fail",
        json!({"status": 429, "times": 1, "retry_after": 1}),
    );
    let id = w.post(
        "/stand-in/conversations",
        json!({"text": "How long does delivery take?"}),
    )["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("the reply in Zendesk", Duration::from_secs(20), || {
        !w.replies(&id).is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    let replies = w.replies(&id);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].contains("3 to 5"), "{replies:?}");
    assert_eq!(w.conversation(&id)["active"], "glbridge");

    // A hand-off: control passed to the Agent Workspace, with the reason.
    w.post(
        &format!("/stand-in/conversations/{id}/messages"),
        json!({"text": "My parcel arrived damaged and I want to talk to a human."}),
    );
    wait_until("the hand-off", Duration::from_secs(20), || {
        w.conversation(&id)["active"] == AGENT_WORKSPACE
    });
    let c = w.conversation(&id);
    assert!(c["handed_off"]["glbridge_reason"].as_str().is_some(), "{c}");
    // While a human has it: the human's reply and the customer's messages
    // are not the agent's to answer.
    w.post(
        &format!("/stand-in/conversations/{id}/agent-reply"),
        json!({"text": "Hi, I'm Alex from support."}),
    );
    w.post(
        &format!("/stand-in/conversations/{id}/messages"),
        json!({"text": "Thanks Alex. How long does delivery take?"}),
    );
    std::thread::sleep(Duration::from_millis(700));
    let bot_replies = w.replies(&id).len();
    assert_eq!(
        bot_replies,
        2,
        "the bot's reply and Alex's: {:?}",
        w.replies(&id)
    );

    // The ticket is closed: control back to the bot; the next question is
    // the agent's again.
    w.post(&format!("/stand-in/conversations/{id}/close"), json!({}));
    std::thread::sleep(Duration::from_millis(300));
    w.post(
        &format!("/stand-in/conversations/{id}/messages"),
        json!({"text": "How long does delivery take?"}),
    );
    wait_until(
        "the answer after the hand-back",
        Duration::from_secs(20),
        || w.replies(&id).len() >= 3,
    );
    assert_eq!(w.conversation(&id)["active"], "glbridge");
    w.service.stop();
}

#[test]
fn two_messages_in_one_delivery_and_an_image_reach_the_agent_once_each_in_order() {
    let w = World::start("batch");
    let id = w.post(
        "/stand-in/conversations",
        json!({"texts": ["Hello", "How long does delivery take?"]}),
    )["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.post(
        &format!("/stand-in/conversations/{id}/messages"),
        json!({"image_url": "https://example.com/receipt.png"}),
    );
    wait_until(
        "three messages at the agent",
        Duration::from_secs(20),
        || w.agent_messages(&id).len() >= 3,
    );
    std::thread::sleep(Duration::from_millis(300));
    let got = w.agent_messages(&id);
    assert_eq!(
        got,
        [
            "Hello",
            "How long does delivery take?",
            "[image] https://example.com/receipt.png"
        ]
    );
    w.service.stop();
}

#[test]
fn the_stand_in_retries_a_failed_delivery_but_never_a_refused_one_and_sends_its_key() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let get = |url: &str| -> Value {
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = http.get(url).call().unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    };
    let start = |policy: Arc<dyn Fn(usize) -> u16 + Send + Sync>| {
        let n = Arc::new(AtomicUsize::new(0));
        let calls = n.clone();
        let bot = support::Receiver::start(move |_| {
            (policy(calls.fetch_add(1, Ordering::SeqCst)), "{}".into())
        });
        let zendesk = ZendeskStandIn::start(StandInConfig {
            retry_base: Duration::from_millis(20),
            ..StandInConfig::default()
        })
        .unwrap();
        zendesk.set_bot_url(&bot.url);
        (zendesk, bot)
    };
    let customer_writes = |zendesk: &ZendeskStandIn| {
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        http.post(&format!(
            "{}/stand-in/conversations",
            zendesk.url().trim_end_matches("/sc")
        ))
        .header("Content-Type", "application/json")
        .send(json!({"text": "Hello"}).to_string().as_bytes())
        .unwrap();
    };
    // 500, then no answer in time is the same: tried again, then taken.
    let (zendesk, bot) = start(Arc::new(|n| if n == 0 { 500 } else { 200 }));
    customer_writes(&zendesk);
    let deliveries = format!(
        "{}/stand-in/deliveries",
        zendesk.url().trim_end_matches("/sc")
    );
    wait_until("the delivery taken", Duration::from_secs(10), || {
        get(&deliveries)["delivered"] == 1
    });
    assert_eq!(get(&deliveries)["attempts"], 2);
    let received = bot.all();
    assert_eq!(received.len(), 2);
    let key = received[0]
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-api-key"))
        .map(|(_, v)| v.clone());
    assert_eq!(
        key.as_deref(),
        Some(zendesk.config().webhook_secret.as_str())
    );
    zendesk.stop();
    // A 401 (or 400, 403, 404, 406) is never retried; a 503 is, up to 5 times.
    for (status, attempts) in [(401u16, 1u64), (503, 5)] {
        let (zendesk, _bot) = start(Arc::new(move |_| status));
        customer_writes(&zendesk);
        let deliveries = format!(
            "{}/stand-in/deliveries",
            zendesk.url().trim_end_matches("/sc")
        );
        wait_until("the attempts", Duration::from_secs(10), || {
            get(&deliveries)["attempts"] == attempts
        });
        std::thread::sleep(Duration::from_millis(700));
        assert_eq!(get(&deliveries)["attempts"], attempts, "{status}");
        assert_eq!(get(&deliveries)["delivered"], 0);
        zendesk.stop();
    }
}
