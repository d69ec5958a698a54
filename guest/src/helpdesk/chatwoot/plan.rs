//! What each Chatwoot event means for the AI agent, and which Chatwoot REST
//! calls carry each of the agent's events back: the mapping of the README's
//! Chatwoot table, as pure functions of the event and the conversation's
//! phase (which the bridge keeps in its store).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::event::{Event, Message, MessageType, SenderType, Status, StatusChange};
pub use super::ids::{chatwoot_ids, conversation_id, message_id};
use crate::http::{HttpRequest, Method};
use crate::model::conversations::{AssignParams, FinishParams, MessageParams, StartParams};
use crate::model::{Channel, ParticipantType};
use crate::operation::Operation;
use crate::webhook::{EventData, WebhookEvent};
use crate::Timestamp;

/// Who has a Chatwoot conversation, as the bridge last saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// No agent conversation yet.
    #[default]
    New,
    /// The AI agent has it.
    Agent,
    /// The AI agent handed it off (the bridge set it `open`).
    HandedOff,
    /// A human took it (set `open` or `snoozed` in Chatwoot).
    Human,
    /// It ended (the agent finished, or a user resolved it).
    Finished,
}

/// How the bridge reaches Chatwoot.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// Chatwoot's base URL, e.g. `https://chat.example.com`.
    pub base_url: String,
    /// The agent bot's access token (`api_access_token`).
    pub bot_token: String,
    /// Hand-off target id → Chatwoot team id to assign on that hand-off.
    pub teams: BTreeMap<String, u64>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("base_url", &self.base_url)
            .field("bot_token", &"<redacted>")
            .field("teams", &self.teams)
            .finish()
    }
}

/// What a Chatwoot event comes to.
pub type Plan = crate::bridge::inbound::Plan<Phase>;

/// The API's channel for a Chatwoot inbox channel.
pub fn channel(chatwoot_channel: &str) -> Channel {
    match chatwoot_channel {
        "Channel::Email" => Channel::Email,
        "Channel::Voice" | "Channel::TwilioVoice" => Channel::Voice,
        _ => Channel::Web,
    }
}

/// The customer id sent to the API: Chatwoot's contact identifier, else its
/// e-mail, else its contact id.
fn customer_id(m: &Message) -> String {
    m.contact
        .identifier
        .clone()
        .or_else(|| m.contact.email.clone())
        .or_else(|| {
            m.contact
                .id
                .as_ref()
                .map(|id| format!("chatwoot-{}-contact-{id}", m.account_id))
        })
        .unwrap_or_else(|| {
            format!(
                "chatwoot-{}-conversation-{}",
                m.account_id, m.conversation_id
            )
        })
}

/// Why a message is not for the AI agent, if it is not: only what a contact
/// writes, publicly, on a conversation the bot owns (`pending`) is.
pub fn not_for_agent(m: &Message) -> Option<String> {
    if m.message_type != MessageType::Incoming {
        return Some(format!("not incoming ({:?})", m.message_type));
    }
    if m.private {
        return Some("a private note".into());
    }
    if m.sender_type != SenderType::Contact {
        return Some(format!("not from the contact ({:?})", m.sender_type));
    }
    if m.status != Status::Pending {
        return Some(format!("the conversation is {}", m.status.as_str()));
    }
    if m.content.as_deref().is_none_or(|c| c.trim().is_empty()) && m.attachments.is_empty() {
        return Some("no text and no attachment".into());
    }
    None
}

fn to_ai(now: Timestamp, reason: &str) -> AssignParams {
    AssignParams {
        assignee_type: ParticipantType::AiAgent,
        assignee_id: None,
        timestamp: Some(now),
        reason: Some(reason.into()),
    }
}

fn start(m: &Message, id: &str) -> Operation {
    let contact = json!({
        "id": m.contact.id, "name": m.contact.name, "email": m.contact.email,
        "phone_number": m.contact.phone, "identifier": m.contact.identifier,
    });
    Operation::start(&StartParams {
        id: id.to_owned(),
        customer_id: customer_id(m),
        channel: channel(&m.channel),
        assignee_id: None,
        assignee_type: Some(ParticipantType::AiAgent),
        created: None,
        metadata: Some(json!({
            "chatwoot_account_id": m.account_id,
            "chatwoot_conversation_id": m.conversation_id,
            "chatwoot_inbox_id": m.inbox_id,
        })),
        resources: Some(json!({
            "chatwoot-context": {
                "contact": contact,
                "channel": m.channel,
                "account_id": m.account_id,
                "conversation_id": m.conversation_id,
                "inbox_id": m.inbox_id,
                "labels": m.context.get("labels"),
                "custom_attributes": m.context.get("custom_attributes"),
            }
        })),
        conversation_token: None,
        traffic_group_id: None,
        customer_support_platform_identifiers: None,
    })
}

fn add(m: &Message, id: &str) -> Operation {
    Operation::add_message(
        id,
        &MessageParams {
            id: message_id(m.account_id, m.message_id),
            body: m.content.clone().unwrap_or_default(),
            participant_id: customer_id(m),
            participant_type: ParticipantType::Customer,
            created: None,
            subject: None,
            attachments: m.attachments.clone(),
            metadata: None,
            conversation_token: None,
        },
    )
}

fn message_plan(m: &Message, phase: Phase, now: Timestamp) -> Plan {
    if let Some(why) = not_for_agent(m) {
        return Plan::ignore(phase, why);
    }
    let id = conversation_id(m.account_id, m.conversation_id);
    let mut operations = match phase {
        Phase::New => vec![start(m, &id)],
        Phase::Agent => vec![],
        // `pending` again: the bot owns it once more.
        Phase::HandedOff | Phase::Human => vec![Operation::assign(
            &id,
            &to_ai(now, "the conversation is pending in Chatwoot again"),
        )],
        // A customer wrote on a resolved conversation (Chatwoot made it
        // `pending`): the agent conversation resumes.
        Phase::Finished => vec![Operation::resume(
            &id,
            &to_ai(now, "the customer wrote again"),
        )],
    };
    operations.push(add(m, &id));
    Plan {
        operations,
        phase: Phase::Agent,
        ignored: None,
    }
}

fn status_plan(c: &StatusChange, phase: Phase, now: Timestamp) -> Plan {
    let id = conversation_id(c.account_id, c.conversation_id);
    let one = |operation: Operation, phase: Phase| Plan {
        operations: vec![operation],
        phase,
        ignored: None,
    };
    match (c.status, phase) {
        (_, Phase::New) => Plan::ignore(phase, "no agent conversation yet"),
        // A human took it (the bridge's own `open` after a hand-off comes
        // back as an event too, and is nothing new).
        (Status::Open | Status::Snoozed, Phase::Agent) => one(
            Operation::assign(
                &id,
                &AssignParams {
                    assignee_type: ParticipantType::Agent,
                    assignee_id: None,
                    timestamp: Some(now),
                    reason: Some(format!("{} in Chatwoot by a user", c.status.as_str())),
                },
            ),
            Phase::Human,
        ),
        (Status::Pending, Phase::HandedOff | Phase::Human) => one(
            Operation::assign(&id, &to_ai(now, "handed back to the bot in Chatwoot")),
            Phase::Agent,
        ),
        (Status::Pending, Phase::Finished) => one(
            Operation::resume(&id, &to_ai(now, "reopened for the bot in Chatwoot")),
            Phase::Agent,
        ),
        (Status::Resolved, Phase::Agent | Phase::HandedOff | Phase::Human) => one(
            Operation::finish(
                &id,
                &FinishParams {
                    timestamp: Some(now),
                    reason: Some("resolved in Chatwoot".into()),
                    reason_code: None,
                },
            ),
            Phase::Finished,
        ),
        (status, phase) => Plan::ignore(
            phase,
            format!("{} changes nothing in phase {phase:?}", status.as_str()),
        ),
    }
}

/// What a Chatwoot event means for the AI agent, given the conversation's
/// phase.
pub fn for_event(event: &Event, phase: Phase, now: Timestamp) -> Plan {
    match event {
        Event::MessageCreated(m) => message_plan(m, phase, now),
        Event::StatusChanged(c) => status_plan(c, phase, now),
        Event::Other { event } => Plan::ignore(phase, format!("{event} is not acted on")),
    }
}

/// The Chatwoot REST calls that carry one AI-agent event back.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// In order.
    pub requests: Vec<HttpRequest>,
    /// The conversation's phase once they are made.
    pub phase: Phase,
    /// Why nothing is sent, when nothing is.
    pub ignored: Option<String>,
}

/// Chatwoot's answer time is not documented; its own webhooks wait 5 s.
const REQUEST_TIMEOUT_MS: u32 = 10_000;

fn request(
    settings: &Settings,
    account: u64,
    conversation: u64,
    tail: &str,
    body: &Value,
) -> HttpRequest {
    HttpRequest {
        method: Method::Post,
        url: format!(
            "{}/api/v1/accounts/{account}/conversations/{conversation}/{tail}",
            settings.base_url.trim_end_matches('/')
        ),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("api_access_token".into(), settings.bot_token.clone()),
        ],
        body: Some(body.to_string().into_bytes()),
        timeout_ms: REQUEST_TIMEOUT_MS,
    }
}

/// The Chatwoot calls for an AI-agent webhook event of a Chatwoot
/// conversation: a reply is posted only while the agent has the
/// conversation; a hand-off leaves a private note with the reason, sets the
/// conversation `open` and assigns the mapped team; a finish resolves it.
pub fn for_agent_event(event: &WebhookEvent, phase: Phase, settings: &Settings) -> Delivery {
    let ignore = |why: String| Delivery {
        requests: Vec::new(),
        phase,
        ignored: Some(why),
    };
    let Some((account, conversation)) = event.conversation_id.as_deref().and_then(chatwoot_ids)
    else {
        return ignore("not a Chatwoot conversation".into());
    };
    let req = |tail: &str, body: Value| request(settings, account, conversation, tail, &body);
    match &event.data {
        EventData::AgentMessage(m) if phase == Phase::Agent => Delivery {
            requests: vec![req(
                "messages",
                json!({"content": m.body, "message_type": "outgoing", "private": false}),
            )],
            phase,
            ignored: None,
        },
        EventData::AgentMessage(_) => ignore(format!("a reply in phase {phase:?} is not posted")),
        EventData::HandOff(h) if matches!(phase, Phase::Agent | Phase::New) => {
            let mut note = format!("Handed off by the AI agent: {}", h.reason);
            if let Some(extra) = h.note.as_deref().filter(|n| !n.trim().is_empty()) {
                note.push_str(&format!("\n\n{extra}"));
            }
            let mut requests = vec![
                req(
                    "messages",
                    json!({"content": note, "message_type": "outgoing", "private": true}),
                ),
                req("toggle_status", json!({"status": "open"})),
            ];
            if let Some(team) = h.target.as_ref().and_then(|t| settings.teams.get(t)) {
                requests.push(req("assignments", json!({"team_id": team})));
            }
            Delivery {
                requests,
                phase: Phase::HandedOff,
                ignored: None,
            }
        }
        EventData::HandOff(_) => ignore(format!("a hand-off in phase {phase:?} changes nothing")),
        EventData::Finished(_) if phase == Phase::Agent => Delivery {
            requests: vec![req("toggle_status", json!({"status": "resolved"}))],
            phase: Phase::Finished,
            ignored: None,
        },
        EventData::Finished(_) => ignore(format!("a finish in phase {phase:?} changes nothing")),
        _ => ignore(format!("{} is not for Chatwoot", event.event_type)),
    }
}
