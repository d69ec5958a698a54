//! The mapping, event by event, on fixed inputs.

use serde_json::json;

use super::event::{MessageType, SenderType, Status};
use super::plan::{chatwoot_ids, conversation_id};
use super::*;
use crate::model::conversations::AttachmentType;
use crate::model::conversations::{AssignParams, MessageParams, StartParams};
use crate::model::{Channel, ParticipantType};
use crate::operation::Operation;
use crate::webhook::WebhookEvent;
use crate::Timestamp;

const NOW: Timestamp = Timestamp(1_795_000_000_000_000_000);

/// A `message_created` as Chatwoot 4.x posts it (string `message_type` at
/// the top, integers inside `conversation.messages`).
fn message(overrides: serde_json::Value) -> serde_json::Value {
    let mut v = json!({
        "event": "message_created",
        "id": 4521,
        "content": "Where is my parcel?",
        "message_type": "incoming",
        "content_type": "text",
        "private": false,
        "created_at": "2026-11-20T10:00:00.000Z",
        "sender": {"id": 9, "name": "Sam", "type": "contact"},
        "conversation": {
            "id": 101, "status": "pending", "inbox_id": 3, "channel": "Channel::WebWidget",
            "meta": {"sender": {"id": 9, "name": "Sam", "email": "sam@example.com", "identifier": "cust-9"}, "assignee": null},
            "labels": ["vip"], "custom_attributes": {"plan": "pro"},
            "messages": [{"id": 4521, "message_type": 0, "account_id": 7}]
        },
        "account": {"id": 7, "name": "Acme"},
        "inbox": {"id": 3, "name": "Website"},
        "some_new_field": {"ignored": true}
    });
    merge(&mut v, overrides);
    v
}

fn merge(v: &mut serde_json::Value, overrides: serde_json::Value) {
    if let (Some(target), serde_json::Value::Object(o)) = (v.as_object_mut(), overrides) {
        for (k, val) in o {
            match (target.get_mut(&k), val) {
                (Some(t @ serde_json::Value::Object(_)), val @ serde_json::Value::Object(_)) => {
                    merge(t, val)
                }
                (_, val) => {
                    target.insert(k, val);
                }
            }
        }
    }
}

fn parsed(v: serde_json::Value) -> Event {
    parse(v.to_string().as_bytes()).unwrap()
}

fn plan(v: serde_json::Value, phase: Phase) -> Plan {
    for_event(&parsed(v), phase, NOW)
}

#[test]
fn a_contacts_first_message_starts_the_conversation_once_and_adds_the_message() {
    let p = plan(message(json!({})), Phase::New);
    assert_eq!(p.phase, Phase::Agent);
    assert_eq!(p.ignored, None);
    assert_eq!(
        names(&p),
        ["conversations.start", "conversations.add-message"]
    );
    let start: StartParams = p.operations[0].body_as().unwrap();
    let conversation_id = p.operations[1].param("conversation_id").unwrap();
    let params: MessageParams = p.operations[1].body_as().unwrap();
    assert_eq!(start.id, "chatwoot-7-101");
    assert_eq!(start.customer_id, "cust-9");
    assert_eq!(start.channel, Channel::Web);
    assert_eq!(start.assignee_type, Some(ParticipantType::AiAgent));
    let context = &start.resources.as_ref().unwrap()["chatwoot-context"];
    assert_eq!(context["contact"]["email"], "sam@example.com");
    assert_eq!(context["labels"], json!(["vip"]));
    assert_eq!(conversation_id, "chatwoot-7-101");
    assert_eq!(params.id, "chatwoot-7-4521");
    assert_eq!(params.body, "Where is my parcel?");
    assert_eq!(params.participant_type, ParticipantType::Customer);
    // Every operation is valid as the API client would send it.
    for op in &p.operations {
        op.validate().unwrap();
    }

    // The next message only adds.
    let p = plan(
        message(json!({"id": 4522, "content": "Any news?"})),
        Phase::Agent,
    );
    assert!(
        names(&p) == ["conversations.add-message"]
            && p.operations[0].body_as::<MessageParams>().unwrap().id == "chatwoot-7-4522"
    );
}

#[test]
fn only_public_incoming_contact_messages_on_pending_conversations_reach_the_agent() {
    let cases = [
        (
            json!({"message_type": "outgoing", "sender": {"type": "agent_bot"}}),
            "the bot's own reply",
        ),
        (
            json!({"message_type": "outgoing", "sender": {"type": "user"}}),
            "a human agent's reply",
        ),
        (
            json!({"private": true, "sender": {"type": "user"}}),
            "a private note",
        ),
        (
            json!({"private": true}),
            "a private note from the contact side",
        ),
        (
            json!({"sender": {"type": "user"}}),
            "an incoming from a user",
        ),
        (json!({"message_type": "activity"}), "an activity line"),
        (
            json!({"conversation": {"status": "open"}}),
            "on an open conversation",
        ),
        (
            json!({"conversation": {"status": "resolved"}}),
            "on a resolved conversation",
        ),
        (
            json!({"conversation": {"status": "snoozed"}}),
            "on a snoozed conversation",
        ),
        (json!({"content": null}), "no text and no attachment"),
        (json!({"content": "  "}), "blank text"),
    ];
    for (overrides, what) in cases {
        for phase in [Phase::New, Phase::Agent, Phase::Human] {
            let p = plan(message(overrides.clone()), phase);
            assert!(p.operations.is_empty(), "{what}: {:?}", p.operations);
            assert!(p.ignored.is_some(), "{what}");
            assert_eq!(p.phase, phase, "{what}: the phase stays");
        }
    }
}

#[test]
fn string_and_integer_message_types_and_statuses_and_string_ids_are_read() {
    let Event::MessageCreated(m) = parsed(message(json!({
        "message_type": 0, "id": "4521", "account": {"id": "7"},
        "conversation": {"id": "101", "status": 2}
    }))) else {
        panic!()
    };
    assert_eq!(
        (
            m.message_type,
            m.status,
            m.account_id,
            m.conversation_id,
            m.message_id
        ),
        (MessageType::Incoming, Status::Pending, 7, 101, 4521)
    );
    assert_eq!(m.sender_type, SenderType::Contact);
    // Unknown types are refused with a reason, not guessed.
    assert!(parse(
        message(json!({"message_type": "sideways"}))
            .to_string()
            .as_bytes()
    )
    .is_err());
    assert!(parse(b"not json").is_err());
    assert!(parse(br#"{"no_event": 1}"#).is_err());
    assert_eq!(
        parse(br#"{"event": "webwidget_triggered"}"#).unwrap(),
        Event::Other {
            event: "webwidget_triggered".into()
        }
    );
}

#[test]
fn an_attachment_only_message_passes_its_files_on() {
    let p = plan(
        message(json!({"content": null, "attachments": [
            {"data_url": "https://cw.example/rails/blobs/abc/photo.png?x=1", "file_type": "image"},
            {"data_url": "https://cw.example/rails/blobs/def/invoice.pdf", "file_type": "file"}
        ]})),
        Phase::Agent,
    );
    assert_eq!(names(&p), ["conversations.add-message"], "{p:?}");
    let params: MessageParams = p.operations[0].body_as().unwrap();
    assert_eq!(params.body, "");
    assert_eq!(params.attachments.len(), 2);
    assert_eq!(params.attachments[0].kind, AttachmentType::Image);
    assert_eq!(params.attachments[0].file_name, "photo.png");
    assert_eq!(
        params.attachments[1].url.as_deref(),
        Some("https://cw.example/rails/blobs/def/invoice.pdf")
    );
    p.operations[0].validate().unwrap();
}

#[test]
fn channels_map_to_the_apis_channels() {
    for (cw, api) in [
        ("Channel::WebWidget", Channel::Web),
        ("Channel::Api", Channel::Web),
        ("Channel::Whatsapp", Channel::Web),
        ("Channel::Email", Channel::Email),
        ("Channel::Voice", Channel::Voice),
    ] {
        let p = plan(
            message(json!({"conversation": {"channel": cw}})),
            Phase::New,
        );
        let s: StartParams = p.operations[0].body_as().unwrap();
        assert_eq!(s.channel, api, "{cw}");
    }
}

fn status(event: &str, status: serde_json::Value) -> serde_json::Value {
    json!({"event": event, "id": 101, "status": status, "account_id": 7, "inbox_id": 3,
           "messages": [{"id": 1, "account_id": 7}],
           "changed_attributes": [{"status": {"previous_value": "pending", "current_value": status}}]})
}

#[test]
fn a_human_takes_over_hands_back_and_resolves() {
    // `open` by a user while the agent has it: assigned to a human.
    let p = plan(
        status("conversation_status_changed", json!("open")),
        Phase::Agent,
    );
    assert_eq!(p.phase, Phase::Human);
    assert!(
        names(&p) == ["conversations.assign"]
            && p.operations[0].param("conversation_id") == Some("chatwoot-7-101")
            && p.operations[0]
                .body_as::<AssignParams>()
                .unwrap()
                .assignee_type
                == ParticipantType::Agent
    );
    // The older event says the same.
    let p = plan(
        json!({"event": "conversation_opened", "id": 101, "account": {"id": 7}}),
        Phase::Agent,
    );
    assert_eq!(p.phase, Phase::Human);
    // Back to `pending`: the AI agent again.
    for from in [Phase::Human, Phase::HandedOff] {
        let p = plan(
            status("conversation_status_changed", json!("pending")),
            from,
        );
        assert_eq!(p.phase, Phase::Agent);
        assert!(
            names(&p) == ["conversations.assign"]
                && p.operations[0]
                    .body_as::<AssignParams>()
                    .unwrap()
                    .assignee_type
                    == ParticipantType::AiAgent
        );
    }
    // Resolved by a user: the agent conversation ends.
    for from in [Phase::Agent, Phase::Human, Phase::HandedOff] {
        let p = plan(status("conversation_status_changed", json!(1)), from);
        assert_eq!(p.phase, Phase::Finished);
        assert_eq!(names(&p), ["conversations.finish"]);
    }
    let p = plan(
        json!({"event": "conversation_resolved", "id": 101, "account": {"id": 7}}),
        Phase::Agent,
    );
    assert_eq!(names(&p), ["conversations.finish"]);
}

#[test]
fn the_bridges_own_status_changes_come_back_as_nothing_new() {
    // After a hand-off the bridge set `open`; after a finish, `resolved`.
    let p = plan(
        status("conversation_status_changed", json!("open")),
        Phase::HandedOff,
    );
    assert!(p.operations.is_empty() && p.phase == Phase::HandedOff);
    let p = plan(
        status("conversation_status_changed", json!("resolved")),
        Phase::Finished,
    );
    assert!(p.operations.is_empty() && p.phase == Phase::Finished);
    let p = plan(
        status("conversation_status_changed", json!("open")),
        Phase::New,
    );
    assert!(p.operations.is_empty() && p.phase == Phase::New);
}

#[test]
fn a_customer_writing_on_a_finished_or_handed_back_conversation_brings_the_agent_back() {
    let p = plan(message(json!({})), Phase::Finished);
    assert_eq!(
        names(&p),
        ["conversations.resume", "conversations.add-message"]
    );
    assert_eq!(p.phase, Phase::Agent);
    let p = plan(message(json!({})), Phase::HandedOff);
    assert_eq!(
        names(&p),
        ["conversations.assign", "conversations.add-message"]
    );
}

#[test]
fn a_redelivery_has_the_same_key_whatever_its_delivery_id() {
    let a = parsed(message(json!({})));
    let b = parsed(message(json!({"created_at": "later"})));
    assert_eq!(a.dedup_key(), Some("7/message_created/4521".into()));
    assert_eq!(a.dedup_key(), b.dedup_key());
}

fn agent_event(event_type: &str, data: serde_json::Value) -> WebhookEvent {
    let body = json!({
        "id": "webhook_1", "type": event_type, "sequence_number": 1,
        "timestamp": "2026-11-20T10:00:01Z",
        "data": {"conversation": {"id": "chatwoot-7-101", "customer_id": "cust-9"}}
    });
    let mut body = body;
    merge(&mut body["data"], data);
    crate::webhook::parse(body.to_string().as_bytes(), None).unwrap()
}

fn settings() -> Settings {
    Settings {
        base_url: "https://chat.example.com/".into(),
        bot_token: "bot-token".into(),
        teams: [("billing".to_owned(), 4)].into_iter().collect(),
    }
}

#[test]
fn an_agent_reply_is_posted_as_an_outgoing_public_message() {
    let e = agent_event(
        "agent.message",
        json!({"body": "It ships today.", "is_holding": false}),
    );
    let d = for_agent_event(&e, Phase::Agent, &settings());
    assert_eq!(d.phase, Phase::Agent);
    let [r] = d.requests.as_slice() else {
        panic!("{d:?}")
    };
    assert_eq!(
        r.url,
        "https://chat.example.com/api/v1/accounts/7/conversations/101/messages"
    );
    assert_eq!(r.header("api_access_token"), Some("bot-token"));
    let body: serde_json::Value = serde_json::from_str(r.body_text()).unwrap();
    assert_eq!(
        body,
        json!({"content": "It ships today.", "message_type": "outgoing", "private": false})
    );
    // The token never shows in Debug.
    assert!(!format!("{r:?}").contains("bot-token"));
    assert!(!format!("{:?}", settings()).contains("bot-token"));
}

#[test]
fn a_hand_off_leaves_a_note_opens_and_assigns_the_mapped_team() {
    let e = agent_event(
        "conversation.hand_off",
        json!({"target": "billing", "reason_code": "billing", "reason": "Refund over the limit"}),
    );
    let d = for_agent_event(&e, Phase::Agent, &settings());
    assert_eq!(d.phase, Phase::HandedOff);
    let tails: Vec<&str> = d
        .requests
        .iter()
        .map(|r| r.url.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(tails, ["messages", "toggle_status", "assignments"]);
    let bodies: Vec<serde_json::Value> = d
        .requests
        .iter()
        .map(|r| serde_json::from_str(r.body_text()).unwrap())
        .collect();
    assert_eq!(bodies[0]["private"], true);
    assert!(bodies[0]["content"]
        .as_str()
        .unwrap()
        .contains("Refund over the limit"));
    assert_eq!(bodies[1], json!({"status": "open"}));
    assert_eq!(bodies[2], json!({"team_id": 4}));
    // An unmapped target: no assignment.
    let e = agent_event(
        "conversation.hand_off",
        json!({"target": "other", "reason_code": "x", "reason": "y"}),
    );
    assert_eq!(
        for_agent_event(&e, Phase::Agent, &settings())
            .requests
            .len(),
        2
    );
}

#[test]
fn a_finish_resolves_and_nothing_is_posted_after_a_hand_off_or_finish() {
    let e = agent_event("conversation.finished", json!({}));
    let d = for_agent_event(&e, Phase::Agent, &settings());
    assert_eq!(d.phase, Phase::Finished);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(d.requests[0].body_text()).unwrap(),
        json!({"status": "resolved"})
    );
    let reply = agent_event(
        "agent.message",
        json!({"body": "One more thing", "is_holding": false}),
    );
    for phase in [Phase::HandedOff, Phase::Human, Phase::Finished] {
        let d = for_agent_event(&reply, phase, &settings());
        assert!(d.requests.is_empty(), "{phase:?}");
        assert!(d.ignored.is_some());
        let d = for_agent_event(&e, phase, &settings());
        assert!(d.requests.is_empty(), "finish in {phase:?}");
    }
}

#[test]
fn ids_round_trip_and_other_conversations_are_not_chatwoots() {
    assert_eq!(chatwoot_ids(&conversation_id(7, 101)), Some((7, 101)));
    assert_eq!(chatwoot_ids("gleap-123"), None);
    assert_eq!(chatwoot_ids("chatwoot-x-1"), None);
    let mut e = agent_event("agent.message", json!({"body": "hi", "is_holding": false}));
    e.conversation_id = Some("gleap-5".into());
    assert!(for_agent_event(&e, Phase::Agent, &settings())
        .requests
        .is_empty());
}

fn names(p: &Plan) -> Vec<&'static str> {
    p.operations.iter().map(Operation::name).collect()
}
