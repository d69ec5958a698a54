//! What a Zendesk event means for the AI agent, and the Sunshine
//! Conversations calls that carry the agent's events back. Pure: the
//! adapter keeps each conversation's phase and queues what these return.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::event::{Author, Integration, Message, Switch};
use crate::http::{HttpRequest, Method};
use crate::model::conversations::{AssignParams, MessageParams, StartParams};
use crate::model::{Channel, ParticipantType};
use crate::operation::Operation;
use crate::webhook::{EventData, WebhookEvent};
use crate::Timestamp;

/// Who has a Zendesk conversation, as the bridge last saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// No AI-agent conversation yet.
    #[default]
    New,
    /// The bot (the AI agent) is in control.
    Agent,
    /// Control was passed to another integration (a human).
    Human,
    /// The agent finished (the bridge released control).
    Finished,
}

/// How the bridge reaches Zendesk, and what it says there.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// e.g. `https://acme.zendesk.com/sc`.
    pub base_url: String,
    /// The Sunshine Conversations app.
    pub app_id: String,
    /// The bot's switchboard integration (its id or name): control passed
    /// to it means the agent takes the conversation again.
    pub bot_name: String,
    /// Hand-off target id → switchboard integration to pass control to.
    pub targets: BTreeMap<String, String>,
    /// Where a hand-off to a target not in `targets` goes.
    pub default_target: String,
    /// Replies carry the `AI` author subtype (Zendesk then shows its AI
    /// disclaimer).
    pub ai_subtype: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("base_url", &self.base_url)
            .field("app_id", &self.app_id)
            .field("bot_name", &self.bot_name)
            .field("targets", &self.targets)
            .field("default_target", &self.default_target)
            .field("ai_subtype", &self.ai_subtype)
            .finish()
    }
}

/// The switchboard integration of Zendesk's Agent Workspace.
pub const AGENT_WORKSPACE: &str = "zd-agentWorkspace";

/// The AI-agent conversation id of a Sunshine conversation.
pub fn conversation_id(app_id: &str, conversation_id: &str) -> String {
    format!("zendesk-{app_id}-{conversation_id}")
}

/// The AI-agent message id of a Sunshine message.
pub fn message_id(app_id: &str, message_id: &str) -> String {
    format!("zendesk-{app_id}-{message_id}")
}

/// The app and Sunshine conversation of an AI-agent conversation id.
pub fn zendesk_ids(conversation_id: &str) -> Option<(&str, &str)> {
    let rest = conversation_id.strip_prefix("zendesk-")?;
    rest.split_once('-')
        .filter(|(a, c)| !a.is_empty() && !c.is_empty())
}

/// What an event comes to.
pub type Plan = crate::bridge::inbound::Plan<Phase>;

fn assign(id: &str, to: ParticipantType, now: Timestamp, reason: &str) -> Operation {
    Operation::assign(
        id,
        &AssignParams {
            assignee_type: to,
            assignee_id: None,
            timestamp: Some(now),
            reason: Some(reason.into()),
        },
    )
}

fn customer_id(app_id: &str, m: &Message) -> String {
    m.user_id
        .clone()
        .unwrap_or_else(|| format!("zendesk-{app_id}-conversation-{}", m.conversation_id))
}

fn start(app_id: &str, m: &Message, id: &str) -> Operation {
    Operation::start(&StartParams {
        id: id.to_owned(),
        customer_id: customer_id(app_id, m),
        channel: Channel::Web,
        assignee_id: None,
        assignee_type: Some(ParticipantType::AiAgent),
        created: None,
        metadata: Some(json!({
            "zendesk_app_id": app_id,
            "zendesk_conversation_id": m.conversation_id,
        })),
        resources: Some(json!({
            "zendesk-context": {
                "app_id": app_id,
                "conversation_id": m.conversation_id,
                "user_id": m.user_id,
                "display_name": m.display_name,
            }
        })),
        conversation_token: None,
        traffic_group_id: None,
        customer_support_platform_identifiers: None,
    })
}

fn add(app_id: &str, m: &Message, id: &str) -> Operation {
    Operation::add_message(
        id,
        &MessageParams {
            id: message_id(app_id, &m.message_id),
            body: m.text.clone(),
            participant_id: customer_id(app_id, m),
            participant_type: ParticipantType::Customer,
            created: None,
            subject: None,
            attachments: Vec::new(),
            metadata: Some(json!({"zendesk_content_type": m.content_type})),
            conversation_token: None,
        },
    )
}

fn is_bot(active: Option<&Integration>, settings: &Settings) -> bool {
    active.is_some_and(|a| a.is(&settings.bot_name))
}

/// What a customer's (or the business's) message means.
pub fn message_plan(m: &Message, phase: Phase, settings: &Settings, now: Timestamp) -> Plan {
    if m.author == Author::Business {
        return Plan::ignore(phase, "a business message (the bot's own or an agent's)");
    }
    if m.text.trim().is_empty() {
        return Plan::ignore(phase, "an empty message");
    }
    let bot_active = match &m.active {
        Some(a) => a.is(&settings.bot_name),
        // Not said: trust what the bridge last saw.
        None => phase != Phase::Human,
    };
    if !bot_active {
        return Plan::ignore(phase, "another integration is in control");
    }
    let id = conversation_id(&settings.app_id, &m.conversation_id);
    let mut operations = match phase {
        Phase::New => vec![start(&settings.app_id, m, &id)],
        Phase::Agent => vec![],
        // Control came back to the bot without the bridge seeing it.
        Phase::Human => vec![assign(
            &id,
            ParticipantType::AiAgent,
            now,
            "the bot is in control in Zendesk again",
        )],
        Phase::Finished => vec![Operation::resume(
            &id,
            &AssignParams {
                assignee_type: ParticipantType::AiAgent,
                assignee_id: None,
                timestamp: Some(now),
                reason: Some("the customer wrote again".into()),
            },
        )],
    };
    operations.push(add(&settings.app_id, m, &id));
    Plan {
        operations,
        phase: Phase::Agent,
        ignored: None,
    }
}

/// What a `switchboard:passControl` means.
pub fn pass_control_plan(s: &Switch, phase: Phase, settings: &Settings, now: Timestamp) -> Plan {
    let id = conversation_id(&settings.app_id, &s.conversation_id);
    let to_bot = is_bot(s.active.as_ref(), settings);
    match (to_bot, phase) {
        (_, Phase::New) => Plan::ignore(phase, "no agent conversation yet"),
        (false, Phase::Agent) => Plan {
            operations: vec![assign(
                &id,
                ParticipantType::Agent,
                now,
                "control passed to a human in Zendesk",
            )],
            phase: Phase::Human,
            ignored: None,
        },
        // The bridge's own hand-off coming back: nothing new.
        (false, _) => Plan::ignore(phase, "control is already away from the bot"),
        (true, Phase::Human) => Plan {
            operations: vec![assign(
                &id,
                ParticipantType::AiAgent,
                now,
                &format!(
                    "control back to the bot in Zendesk ({})",
                    s.reason.as_deref().unwrap_or("no reason given")
                ),
            )],
            phase: Phase::Agent,
            ignored: None,
        },
        // Back to the bot after a finish: the next message resumes it.
        (true, Phase::Finished) => Plan::ignore(phase, "the agent conversation is finished"),
        (true, Phase::Agent) => Plan::ignore(phase, "the bot already has it"),
    }
}

/// The Sunshine calls that carry one AI-agent event back.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// In order.
    pub requests: Vec<HttpRequest>,
    /// The conversation's phase once they are made.
    pub phase: Phase,
    /// Why nothing is sent, when nothing is.
    pub ignored: Option<String>,
}

/// Zendesk gives up on a webhook after 20 s; its own API answers well
/// under that.
const REQUEST_TIMEOUT_MS: u32 = 10_000;

fn request(settings: &Settings, conversation: &str, tail: &str, body: &Value) -> HttpRequest {
    HttpRequest {
        method: Method::Post,
        url: format!(
            "{}/v2/apps/{}/conversations/{conversation}/{tail}",
            settings.base_url.trim_end_matches('/'),
            settings.app_id
        ),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: Some(body.to_string().into_bytes()),
        timeout_ms: REQUEST_TIMEOUT_MS,
    }
}

/// Metadata values are flat strings, at most 4 KB in all: each is cut.
fn flat(s: &str) -> String {
    s.chars().take(1000).collect()
}

/// The calls for an AI-agent event of a Zendesk conversation: a reply is
/// posted (as the business) only while the bot has the conversation; a
/// hand-off passes control to the mapped integration with the reason in its
/// metadata; a finish releases control.
pub fn for_agent_event(event: &WebhookEvent, phase: Phase, settings: &Settings) -> Delivery {
    let ignore = |why: String| Delivery {
        requests: Vec::new(),
        phase,
        ignored: Some(why),
    };
    let Some((app, conversation)) = event.conversation_id.as_deref().and_then(zendesk_ids) else {
        return ignore("not a Zendesk conversation".into());
    };
    if app != settings.app_id {
        return ignore(format!("a conversation of another app ({app})"));
    }
    let req = |tail: &str, body: Value| request(settings, conversation, tail, &body);
    match &event.data {
        EventData::AgentMessage(m) if phase == Phase::Agent => {
            let mut author = serde_json::Map::new();
            author.insert("type".into(), json!("business"));
            if settings.ai_subtype {
                author.insert("subtypes".into(), json!(["AI"]));
            }
            Delivery {
                requests: vec![req(
                    "messages",
                    json!({"author": author, "content": {"type": "text", "text": m.body}}),
                )],
                phase,
                ignored: None,
            }
        }
        EventData::AgentMessage(_) => ignore(format!("a reply in phase {phase:?} is not posted")),
        EventData::HandOff(h) if matches!(phase, Phase::Agent | Phase::New) => {
            let to = h
                .target
                .as_ref()
                .and_then(|t| settings.targets.get(t))
                .cloned()
                .unwrap_or_else(|| settings.default_target.clone());
            let mut metadata = serde_json::Map::new();
            metadata.insert("glbridge_reason".into(), json!(flat(&h.reason)));
            metadata.insert("glbridge_reason_code".into(), json!(flat(&h.reason_code)));
            if let Some(t) = &h.target {
                metadata.insert("glbridge_target".into(), json!(flat(t)));
            }
            if let Some(note) = h.note.as_deref().filter(|n| !n.trim().is_empty()) {
                metadata.insert("glbridge_note".into(), json!(flat(note)));
            }
            Delivery {
                requests: vec![req(
                    "passControl",
                    json!({"switchboardIntegration": to, "metadata": metadata}),
                )],
                phase: Phase::Human,
                ignored: None,
            }
        }
        EventData::HandOff(_) => ignore(format!("a hand-off in phase {phase:?} changes nothing")),
        EventData::Finished(f) if phase == Phase::Agent => {
            let mut metadata = serde_json::Map::new();
            if let Some(code) = &f.reason_code {
                metadata.insert("glbridge_reason_code".into(), json!(flat(code)));
            }
            Delivery {
                requests: vec![req("releaseControl", json!({"metadata": metadata}))],
                phase: Phase::Finished,
                ignored: None,
            }
        }
        EventData::Finished(_) => ignore(format!("a finish in phase {phase:?} changes nothing")),
        _ => ignore(format!("{} is not for Zendesk", event.event_type)),
    }
}
