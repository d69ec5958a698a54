//! The Gleap bridge, deterministically: fake clock, scripted HTTP, memory store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use glbridge_guest::bridge::{ActionEndpoint, Answer, Bridge, Io, Outcome};
use glbridge_guest::env::{Clock, Store};
use glbridge_guest::helpdesk::chatwoot::adapter as chatwoot;
use glbridge_guest::helpdesk::gleap::adapter::{self as gleap, Pending, RestConfig, Turn};
use glbridge_guest::helpdesk::BridgeConfig;
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
    bridge: Bridge,
}

impl World {
    fn new(tweak: impl FnOnce(&mut BridgeConfig)) -> World {
        let mut client = Config::new("https://api.example.test", "sk_int");
        client.retry = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        let mut config = BridgeConfig::new(client, KEY);
        config.gleap_mut().gleap_secret = Some(Secret::new("Bearer gleap-shared"));
        config.gleap_mut().reply_wait_ms = 2_000;
        tweak(&mut config);
        World {
            http: ScriptedTransport::default(),
            clock: FakeClock::new(Timestamp::from_secs(T0)),
            store: MemoryStore::default(),
            bridge: config.open().unwrap(),
        }
    }
    fn tick(&mut self) -> glbridge_guest::bridge::TickReport {
        let io = Io {
            http: &self.http,
            clock: &self.clock,
            store: &self.store,
        };
        self.bridge.tick(io).unwrap()
    }
    /// One Gleap call, as the component answers it: an answer or pending.
    fn action_turn(&mut self, auth: Option<&str>, body: &Value) -> Turn {
        let io = Io {
            http: &self.http,
            clock: &self.clock,
            store: &self.store,
        };
        gleap::handle_action(&mut self.bridge, io, auth, body.to_string().as_bytes())
    }
    fn collect(&mut self, pending: &Pending) -> Turn {
        let io = Io {
            http: &self.http,
            clock: &self.clock,
            store: &self.store,
        };
        gleap::collect(&mut self.bridge, io, pending)
    }
    /// Moves the fake clock forward to `t` (never back).
    fn advance_to(&self, t: Timestamp) {
        let now = self.clock.now().0;
        if t.0 > now {
            self.clock.sleep((t.0 - now) as u64);
        }
    }
    /// Drives a turn as a host with nobody else around would: sleep until
    /// `wake_at`, collect, until answered (bounded, to catch a livelock).
    fn settle(&mut self, mut turn: Turn) -> Answer {
        for _ in 0..100 {
            match turn {
                Turn::Answer(a) => return a,
                Turn::Pending(p) => {
                    assert!(p.wake_at.0 <= p.deadline.0, "{p:?}");
                    self.advance_to(p.wake_at);
                    turn = self.collect(&p);
                }
            }
        }
        panic!("the turn never ended");
    }
    fn action(&mut self, auth: Option<&str>, body: &Value) -> Answer {
        let turn = self.action_turn(auth, body);
        self.settle(turn)
    }
    fn webhook(&mut self, event: &Value) -> Answer {
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
    assert_eq!((a.status, a.outcome), (200, Outcome::Holding));
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
        Outcome::Accepted
    );
    assert_eq!(
        w.webhook(&agent_message("wh1", 1, "It ships **today**.", false))
            .outcome,
        Outcome::Duplicate
    );
    assert_eq!(w.bridge.queue_depth(&w.store).unwrap(), 1);

    // Gleap replays the same comments: nothing is sent again, the reply goes out once.
    let a = w.action(Some("Bearer gleap-shared"), &call);
    assert_eq!((a.status, a.outcome), (200, Outcome::Replied));
    assert_eq!(a.body["message"], "It ships **today**.");
    assert_eq!(w.http.sent().len(), 3, "no duplicate forward");
    assert_eq!(w.bridge.queue_depth(&w.store).unwrap(), 0);
}

#[test]
fn out_of_order_webhooks_are_answered_in_order_and_holding_messages_once() {
    let mut w = World::new(|c| c.gleap_mut().reply_wait_ms = 500);
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
    let mut w = World::new(|c| c.gleap_mut().hand_off_text = "A human will take over.".into());
    for r in [ok(CONV), ok("{}"), ok(MSG)] {
        w.http.push(r);
    }
    w.webhook(&json!({"id": "wh1", "type": "conversation.hand_off", "sequence_number": 1, "timestamp": "2025-06-15T12:00:00Z",
                      "data": {"conversation": {"id": "gleap-T1", "customer_id": "u-1"}, "target": "billing", "reason_code": "customer-request", "reason": "asked"}}));
    let a = w.action(
        Some("Bearer gleap-shared"),
        &gleap_call(json!([comment("c1", "human please")])),
    );
    assert_eq!(a.outcome, Outcome::HandOff);
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
        assert_eq!(
            (a.status, a.outcome),
            (401, Outcome::Unauthorized),
            "{auth:?}"
        );
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
    assert_eq!((a.status, a.outcome), (401, Outcome::BadSignature));
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
        c.core.actions.push(ActionEndpoint {
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
        c.gleap_mut().rest = Some(RestConfig {
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
        Outcome::Holding
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

fn finished(id: &str, seq: u64) -> Value {
    json!({"id": id, "type": "conversation.finished", "sequence_number": seq, "timestamp": "2025-06-15T12:00:00Z",
           "data": {"conversation": {"id": "gleap-T1", "customer_id": "u-1"}}})
}

fn hand_off(id: &str, seq: u64) -> Value {
    json!({"id": id, "type": "conversation.hand_off", "sequence_number": seq, "timestamp": "2025-06-15T12:00:00Z",
           "data": {"conversation": {"id": "gleap-T1", "customer_id": "u-1"}, "target": "billing", "reason_code": "customer-request", "reason": "asked"}})
}

const MS: i64 = 1_000_000;

/// A world whose first Gleap call has forwarded "hi" and is pending.
fn pending_call(settle_ms: u32) -> (World, Pending) {
    let mut w = World::new(|c| {
        c.gleap_mut().reply_wait_ms = 8_000;
        c.gleap_mut().settle_ms = settle_ms;
    });
    for r in [ok(CONV), ok("{}"), ok(MSG)] {
        w.http.push(r);
    }
    let turn = w.action_turn(
        Some("Bearer gleap-shared"),
        &gleap_call(json!([comment("c1", "hi")])),
    );
    let Turn::Pending(first) = turn else {
        panic!("a Gleap call never answers replies itself: {turn:?}")
    };
    assert_eq!(
        first.wake_at,
        w.clock.now(),
        "collect at once, once the caller is known to be there"
    );
    let turn = w.collect(&first);
    let Turn::Pending(p) = turn else {
        panic!("nothing queued yet, so the call must wait: {turn:?}")
    };
    assert_eq!(p.conversation, "gleap-T1");
    assert_eq!(p.deadline.0, w.clock.now().0 + 8_000 * MS);
    assert_eq!(
        p.wake_at, p.deadline,
        "nothing to settle: wait for the deadline"
    );
    (w, p)
}

#[test]
fn a_reply_that_arrives_while_the_call_is_pending_is_answered_after_the_settle_window() {
    let (mut w, p) = pending_call(300);
    w.advance_to(Timestamp(w.clock.now().0 + 40 * MS));
    let a = w.webhook(&agent_message("wh1", 1, "It ships today.", false));
    assert_eq!(a.outcome, Outcome::Accepted);
    assert_eq!(
        a.wake,
        vec!["gleap-T1".to_owned()],
        "the webhook names whom to wake"
    );
    let replied_at = w.clock.now().0;

    // Woken at once: the reply is there, but a finish may still follow it.
    let Turn::Pending(p) = w.collect(&p) else {
        panic!("must settle first")
    };
    assert_eq!(p.wake_at.0, replied_at + 300 * MS);
    w.advance_to(Timestamp(replied_at + 299 * MS));
    assert!(w.collect(&p).answer().is_none(), "1 ms early");
    w.advance_to(p.wake_at);
    let a = w.collect(&p).answer().cloned().unwrap();
    assert_eq!((a.status, a.outcome), (200, Outcome::Replied));
    assert_eq!(a.body["message"], "It ships today.");
    assert!(a.body.get("tags").is_none());
    assert_eq!(
        w.clock.now().0 - (replied_at - 40 * MS),
        340 * MS,
        "answered 340 ms after the call, not after the 8 s reply wait"
    );
    assert_eq!(w.bridge.queue_depth(&w.store).unwrap(), 0);
    assert!(w.store.list_keys("gleap/waiting/").unwrap().is_empty());
}

#[test]
fn a_finish_1_ms_after_the_reply_goes_into_the_same_answer() {
    let (mut w, p) = pending_call(300);
    w.webhook(&agent_message("wh1", 1, "You're welcome!", false));
    assert!(w.collect(&p).answer().is_none(), "settling");
    w.advance_to(Timestamp(w.clock.now().0 + MS));
    assert_eq!(
        w.webhook(&finished("wh2", 2)).wake,
        vec!["gleap-T1".to_owned()]
    );
    // The finish ends the turn at once: no need to wait out the settle window.
    let a = w.collect(&p).answer().cloned().unwrap();
    assert_eq!(a.outcome, Outcome::Finished);
    assert_eq!(a.body["message"], "You're welcome!");
    assert_eq!(a.body["tags"], json!(["ai-finished"]));
    assert_eq!(w.bridge.queue_depth(&w.store).unwrap(), 0);
}

#[test]
fn a_finish_that_overtakes_the_reply_is_held_and_both_go_out_in_order() {
    let (mut w, p) = pending_call(300);
    // Sequence 2 first: the sequencer holds it, so nothing is queued yet.
    assert!(w.webhook(&finished("wh2", 2)).wake.is_empty());
    assert!(w.collect(&p).answer().is_none());
    assert_eq!(
        w.webhook(&agent_message("wh1", 1, "Bye!", false)).wake,
        vec!["gleap-T1".to_owned()]
    );
    let a = w.collect(&p).answer().cloned().unwrap();
    assert_eq!(
        (a.outcome, a.body["message"].as_str()),
        (Outcome::Finished, Some("Bye!"))
    );
}

#[test]
fn a_hand_off_1_ms_after_the_reply_goes_into_the_same_answer() {
    let (mut w, p) = pending_call(300);
    w.webhook(&agent_message("wh1", 1, "Let me get a colleague.", false));
    w.advance_to(Timestamp(w.clock.now().0 + MS));
    w.webhook(&hand_off("wh2", 2));
    let a = w.collect(&p).answer().cloned().unwrap();
    assert_eq!(a.outcome, Outcome::HandOff);
    assert_eq!(
        a.body["message"],
        "Let me get a colleague.\n\nI'm passing you to a member of our team, who will reply here shortly."
    );
    assert_eq!(a.body["tags"], json!(["ai-handoff"]));
}

#[test]
fn the_first_part_of_a_two_part_reply_does_not_end_the_turn() {
    let (mut w, p) = pending_call(300);
    let mut first = agent_message("wh1", 1, "First,", false);
    first["data"]["total"] = json!(2);
    first["data"]["sequence"] = json!(1);
    w.webhook(&first);
    let Turn::Pending(next) = w.collect(&p) else {
        panic!("one part of two")
    };
    assert_eq!(next.wake_at, p.deadline, "still waiting for the reply");
    let mut e = agent_message("wh2", 2, "second.", false);
    e["data"]["total"] = json!(2);
    e["data"]["sequence"] = json!(2);
    w.webhook(&e);
    let a = w.settle(Turn::Pending(next));
    assert_eq!(a.body["message"], "First,\n\nsecond.");
}

#[test]
fn a_finish_after_the_answer_was_written_is_delivered_with_the_next_answer() {
    let (mut w, p) = pending_call(300);
    w.webhook(&agent_message("wh1", 1, "Glad to help.", false));
    let a = w.settle(Turn::Pending(p));
    assert_eq!(a.outcome, Outcome::Replied);
    // 2 s later — long after the answer went out — the finish arrives.
    w.advance_to(Timestamp(w.clock.now().0 + 2_000 * MS));
    w.webhook(&finished("wh2", 2));
    assert_eq!(
        w.bridge.queue_depth(&w.store).unwrap(),
        1,
        "kept, not dropped"
    );

    // The customer writes again: the leftover finish does not end the new
    // turn; it goes out with the agent's next reply, marked as earlier.
    w.http.push(ok(MSG));
    let turn = w.action_turn(
        Some("Bearer gleap-shared"),
        &gleap_call(json!([
            comment("c1", "hi"),
            comment("c2", "One more thing")
        ])),
    );
    let Turn::Pending(p) = turn else {
        panic!("the earlier finish must not answer the new message: {turn:?}")
    };
    w.advance_to(Timestamp(w.clock.now().0 + 10 * MS));
    w.webhook(&agent_message("wh3", 3, "Sure, go ahead.", false));
    let a = w.settle(Turn::Pending(p));
    assert_eq!(a.outcome, Outcome::Replied);
    assert_eq!(a.body["message"], "Sure, go ahead.");
    assert_eq!(a.body["attributes"]["earlier_turn_finished"], true);
    assert_eq!(w.bridge.queue_depth(&w.store).unwrap(), 0);

    // A finish that trails and is collected by a replay (nothing new
    // forwarded) ends that answer with the tag.
    w.advance_to(Timestamp(w.clock.now().0 + 2_000 * MS));
    w.webhook(&finished("wh4", 4));
    let a = w.action(
        Some("Bearer gleap-shared"),
        &gleap_call(json!([
            comment("c1", "hi"),
            comment("c2", "One more thing")
        ])),
    );
    assert_eq!(a.outcome, Outcome::Finished);
    assert_eq!(a.body["tags"], json!(["ai-finished"]));
}

#[test]
fn with_gleap_rest_a_late_hand_off_is_pushed_and_a_late_finish_waits_for_the_next_answer() {
    let mut w = World::new(|c| {
        c.gleap_mut().rest = Some(RestConfig {
            base_url: "https://gleap.example.test/v3".into(),
            api_key: Secret::new("gk"),
            project_id: "p1".into(),
        });
        c.gleap_mut().hand_off_text = "A human will take over.".into();
    });
    for r in [ok(CONV), ok("{}"), ok(MSG)] {
        w.http.push(r);
    }
    let a = w.action(
        Some("Bearer gleap-shared"),
        &gleap_call(json!([comment("c1", "hi")])),
    );
    assert_eq!(a.outcome, Outcome::Holding);
    w.webhook(&hand_off("wh1", 1));
    w.webhook(&finished("wh2", 2));
    w.http.push(ok("{}"));
    let report = w.tick();
    assert_eq!((report.pushed, report.failed), (1, 0));
    let push = w.http.sent().last().cloned().unwrap();
    let body: Value = serde_json::from_slice(push.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body["comment"]["content"][0]["content"][0]["text"],
        "A human will take over."
    );
    assert_eq!(
        w.bridge.queue_depth(&w.store).unwrap(),
        1,
        "the finish stays"
    );
    let report = w.tick();
    assert_eq!((report.pushed, report.failed), (0, 0), "and is not pushed");
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let mut client = Config::new("https://api.example.test", "sk_live_apikey");
    client.retry.max_attempts = 1;
    let mut config = BridgeConfig::new(client, "whsec_signing");
    config.gleap_mut().gleap_secret = Some(Secret::new("Bearer gleap-shared"));
    config.core.actions.push(ActionEndpoint {
        name: "a".into(),
        url: "https://x.test".into(),
        headers: vec![("Authorization".into(), "Bearer action-cred".into())],
        timeout_ms: 1,
    });
    config.gleap_mut().rest = Some(RestConfig {
        base_url: "https://g.test".into(),
        api_key: Secret::new("gleap-rest-key"),
        project_id: "p".into(),
    });
    let text = format!("{config:?} {:?}", config.clone().open().unwrap());
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

const HOUR: i64 = 3_600 * 1_000 * MS;

/// Every key in the store.
fn keys(w: &World) -> Vec<String> {
    w.store.list_keys("").unwrap()
}

#[test]
fn a_finished_conversation_is_forgotten_once_the_api_no_longer_redelivers() {
    let (mut w, p) = pending_call(0);
    let queued = w.webhook(&agent_message("wh1", 1, "Glad to help.", false));
    assert_eq!(queued.queue_change, 1);
    assert_eq!(w.webhook(&finished("wh2", 2)).queue_change, 1);
    assert_eq!(
        w.webhook(&finished("wh2", 2)).queue_change,
        0,
        "a duplicate"
    );
    let a = w.settle(Turn::Pending(p));
    assert_eq!(a.outcome, Outcome::Finished);
    assert_eq!(a.queue_change, -2, "both taken");
    let kept = keys(&w);
    assert!(
        kept.iter().any(|k| k == "gleap/forwarded/gleap-T1"),
        "{kept:?}"
    );

    // 25 hours on, the API may still redeliver: it is still a duplicate.
    w.advance_to(Timestamp(w.clock.now().0 + 25 * HOUR));
    w.tick();
    let again = w.webhook(&agent_message("wh1", 1, "Glad to help.", false));
    assert_eq!(again.outcome, Outcome::Duplicate);
    let within: Vec<String> = keys(&w)
        .into_iter()
        .filter(|k| k != "gleap/ended-cursor")
        .collect();
    assert_eq!(within, kept, "nothing forgotten within the horizon");

    // Past the horizon: nothing of the conversation is left.
    w.advance_to(Timestamp(w.clock.now().0 + 2 * HOUR));
    w.tick();
    let left = keys(&w);
    assert!(
        left.iter().all(|k| !k.contains("gleap-T1")),
        "forgotten: {left:?}"
    );
    assert_eq!(left, vec!["gleap/ended-cursor".to_owned()]);
}

#[test]
fn a_conversation_that_went_on_or_still_has_replies_queued_is_kept() {
    // Went on: a message after the finish.
    let (mut w, p) = pending_call(0);
    w.webhook(&agent_message("wh1", 1, "Glad to help.", false));
    w.webhook(&finished("wh2", 2));
    w.settle(Turn::Pending(p));
    w.webhook(&agent_message("wh3", 3, "One more thing.", false));
    w.advance_to(Timestamp(w.clock.now().0 + 30 * HOUR));
    w.tick();
    assert!(
        keys(&w).iter().any(|k| k == "gleap/forwarded/gleap-T1"),
        "{:?}",
        keys(&w)
    );

    // Finished, but its finish was never delivered to Gleap.
    let (mut w, _) = pending_call(0);
    w.webhook(&agent_message("wh1", 1, "Glad to help.", false));
    w.webhook(&finished("wh2", 2));
    w.advance_to(Timestamp(w.clock.now().0 + 30 * HOUR));
    w.tick();
    assert_eq!(w.bridge.queue_depth(&w.store).unwrap(), 2, "kept");
    // Delivered later, it is forgotten a horizon after that look.
    let a = w.action(
        Some("Bearer gleap-shared"),
        &gleap_call(json!([comment("c1", "hi")])),
    );
    assert_eq!(a.body["message"], "Glad to help.");
    w.advance_to(Timestamp(w.clock.now().0 + 27 * HOUR));
    w.tick();
    assert_eq!(keys(&w), vec!["gleap/ended-cursor".to_owned()]);
}

#[test]
fn forwarded_comments_are_one_set_written_once_and_older_markers_fold_into_it() {
    let mut w = World::new(|_| {});
    // A store from before: one key per forwarded comment.
    w.store
        .compare_and_swap("gleap/fwd/gleap-T1/gleap-c1", None, Some(b"1"))
        .unwrap();
    w.store
        .compare_and_swap(
            "gleap/conv/gleap-T1",
            None,
            Some(br#"{"started":true,"ticket":"T1"}"#),
        )
        .unwrap();
    w.http.push(ok(MSG));
    let turn = w.action_turn(
        Some("Bearer gleap-shared"),
        &gleap_call(json!([comment("c1", "hi"), comment("c2", "again")])),
    );
    assert!(matches!(turn, Turn::Pending(_)), "{turn:?}");
    let sent = w.http.sent();
    assert_eq!(sent.len(), 1, "only c2 is new: {sent:?}");
    assert!(String::from_utf8_lossy(sent[0].body.as_deref().unwrap()).contains("gleap-c2"));
    let keys = keys(&w);
    assert!(
        !keys.iter().any(|k| k.starts_with("gleap/fwd/")),
        "folded: {keys:?}"
    );
    let set = w.store.get("gleap/forwarded/gleap-T1").unwrap().unwrap();
    assert_eq!(set, br#"["gleap-c1","gleap-c2"]"#);
    // A replay forwards nothing and writes nothing.
    let before = w.store.get("gleap/forwarded/gleap-T1").unwrap();
    let turn = w.action_turn(
        Some("Bearer gleap-shared"),
        &gleap_call(json!([comment("c1", "hi"), comment("c2", "again")])),
    );
    assert!(matches!(turn, Turn::Pending(_)));
    assert_eq!(w.http.sent().len(), 1);
    assert_eq!(w.store.get("gleap/forwarded/gleap-T1").unwrap(), before);
}

#[test]
fn with_chatwoot_bridged_too_its_conversations_events_go_to_its_queue_not_gleaps() {
    use glbridge_guest::helpdesk::chatwoot::adapter::{Auth, ChatwootConfig};
    use glbridge_guest::helpdesk::chatwoot::Settings;
    let mut w = World::new(|c| {
        c.chatwoot = Some(ChatwootConfig {
            settings: Settings {
                base_url: "https://chat.example.com".into(),
                bot_token: "bot-token".into(),
                teams: Default::default(),
            },
            auth: Auth::Insecure,
        });
    });
    // The customer's message starts the agent conversation (queued, then drained).
    let event = json!({
        "event": "message_created", "id": 4521, "content": "Where is my parcel?",
        "message_type": "incoming", "private": false, "sender": {"id": 9, "type": "contact"},
        "conversation": {"id": 101, "status": "pending", "channel": "Channel::WebWidget"},
        "account": {"id": 7}
    })
    .to_string();
    let io = Io {
        http: &w.http,
        clock: &w.clock,
        store: &w.store,
    };
    let a = chatwoot::handle_event(&mut w.bridge, io, None, None, None, event.as_bytes());
    assert_eq!(
        (a.status, a.work.clone()),
        (200, vec!["chatwoot-7-101".to_owned()])
    );
    assert_eq!(w.bridge.busy(&w.store).unwrap(), ["chatwoot-7-101"]);
    // The agent answers: the webhook queues a Chatwoot call, not a Gleap reply.
    let reply = json!({
        "id": "webhook_1", "type": "agent.message", "sequence_number": 1,
        "timestamp": "2026-11-20T10:00:01Z",
        "data": {"conversation": {"id": "chatwoot-7-101", "customer_id": "c"}, "body": "Today.", "is_holding": false}
    });
    // Drain the agent-bound calls first so the phase is the agent's.
    w.http.push(Ok(HttpResponse::json(200, r#"{"id":"chatwoot-7-101","customer_id":"c","channel":"web","created":"2026-11-20T10:00:00Z","updated":"2026-11-20T10:00:00Z","status":"active","agent_is_active":true}"#)));
    w.http.push(Ok(HttpResponse::json(200, r#"{"id":"chatwoot-7-4521","body":"Where is my parcel?","participant_id":"c","participant_type":"Customer"}"#)));
    let io = Io {
        http: &w.http,
        clock: &w.clock,
        store: &w.store,
    };
    // One call per drain.
    assert_eq!(w.bridge.drain(io, "chatwoot-7-101").unwrap().left, 1);
    assert_eq!(w.bridge.drain(io, "chatwoot-7-101").unwrap().left, 0);
    let a = w.webhook(&reply);
    assert_eq!(a.status, 200);
    assert_eq!(a.work, ["chatwoot-7-101"]);
    assert!(a.wake.is_empty(), "nothing for a Gleap call");
    assert_eq!(a.queue_change, 0);
    w.http.push(Ok(HttpResponse::json(200, "{}")));
    let io = Io {
        http: &w.http,
        clock: &w.clock,
        store: &w.store,
    };
    assert_eq!(w.bridge.drain(io, "chatwoot-7-101").unwrap().done, 1);
    let sent = w.http.sent();
    assert_eq!(
        sent.last().unwrap().url,
        "https://chat.example.com/api/v1/accounts/7/conversations/101/messages"
    );
    // Without Chatwoot configured, its route is 404.
    let mut plain = World::new(|_| {});
    let io = Io {
        http: &plain.http,
        clock: &plain.clock,
        store: &plain.store,
    };
    assert_eq!(
        chatwoot::handle_event(&mut plain.bridge, io, None, None, None, b"{}").status,
        404
    );
}
