//! The events Chatwoot posts to an agent bot, read tolerantly: ids as
//! numbers or strings, `message_type` as a string (top level) or an integer
//! (nested), a null `content`, unknown fields and events.

use serde_json::Value;

use crate::model::conversations::{Attachment, AttachmentType};

/// `message_type`: a string at the top level, an integer inside
/// `conversation.messages[]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// `incoming` / 0: from the contact.
    Incoming,
    /// `outgoing` / 1: from an agent or bot.
    Outgoing,
    /// `activity` / 2: a system line.
    Activity,
    /// `template` / 3.
    Template,
}

impl MessageType {
    fn read(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => match s.as_str() {
                "incoming" => Some(Self::Incoming),
                "outgoing" => Some(Self::Outgoing),
                "activity" => Some(Self::Activity),
                "template" => Some(Self::Template),
                _ => None,
            },
            Value::Number(n) => match n.as_u64()? {
                0 => Some(Self::Incoming),
                1 => Some(Self::Outgoing),
                2 => Some(Self::Activity),
                3 => Some(Self::Template),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A conversation's status: who owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A human owns it (0).
    Open,
    /// Finished (1).
    Resolved,
    /// The bot owns it (2).
    Pending,
    /// A human parked it (3).
    Snoozed,
}

impl Status {
    fn read(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => match s.as_str() {
                "open" => Some(Self::Open),
                "resolved" => Some(Self::Resolved),
                "pending" => Some(Self::Pending),
                "snoozed" => Some(Self::Snoozed),
                _ => None,
            },
            Value::Number(n) => match n.as_u64()? {
                0 => Some(Self::Open),
                1 => Some(Self::Resolved),
                2 => Some(Self::Pending),
                3 => Some(Self::Snoozed),
                _ => None,
            },
            _ => None,
        }
    }

    /// The wire spelling (`toggle_status` bodies).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Resolved => "resolved",
            Status::Pending => "pending",
            Status::Snoozed => "snoozed",
        }
    }
}

/// Who sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderType {
    /// The customer.
    Contact,
    /// A human agent.
    User,
    /// A bot (this one or another).
    AgentBot,
    /// Anything else, or not said.
    Other,
}

/// The customer, as far as the event tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// Chatwoot's contact id.
    pub id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// The helpdesk owner's own id for the contact.
    pub identifier: Option<String>,
}

/// A `message_created` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Account id.
    pub account_id: u64,
    /// The conversation's display id (the one REST paths use).
    pub conversation_id: u64,
    /// Message id (unique per install).
    pub message_id: u64,
    /// Text; `None` for an attachment-only message.
    pub content: Option<String>,
    /// Direction.
    pub message_type: MessageType,
    /// An internal note.
    pub private: bool,
    /// Sender kind.
    pub sender_type: SenderType,
    /// The conversation's status when the event was sent.
    pub status: Status,
    /// `Channel::WebWidget`, `Channel::Email`, ...
    pub channel: String,
    /// Inbox id.
    pub inbox_id: Option<u64>,
    /// The customer.
    pub contact: Contact,
    /// Files, passed on to the agent by URL.
    pub attachments: Vec<Attachment>,
    /// Labels, custom attributes and other context the agent may use.
    pub context: Value,
}

/// A conversation's status changed (`conversation_status_changed`, or the
/// older `conversation_opened` / `conversation_resolved`).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    /// Account id.
    pub account_id: u64,
    /// The conversation's display id.
    pub conversation_id: u64,
    /// The status now.
    pub status: Status,
}

/// What Chatwoot sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A message was created.
    MessageCreated(Box<Message>),
    /// A conversation changed status.
    StatusChanged(StatusChange),
    /// Anything else (`message_updated`, `webwidget_triggered`, new kinds):
    /// acknowledged, nothing to do.
    Other {
        /// The `event` field.
        event: String,
    },
}

impl Event {
    /// The AI-agent conversation the event is about, if any.
    pub fn conversation_id(&self) -> Option<String> {
        match self {
            Event::MessageCreated(m) => {
                Some(super::ids::conversation_id(m.account_id, m.conversation_id))
            }
            Event::StatusChanged(c) => {
                Some(super::ids::conversation_id(c.account_id, c.conversation_id))
            }
            Event::Other { .. } => None,
        }
    }

    /// The key a redelivery shares with the first delivery: account, event
    /// and message (or conversation and status) — `X-Chatwoot-Delivery`
    /// changes per delivery and cannot serve.
    pub fn dedup_key(&self) -> Option<String> {
        match self {
            Event::MessageCreated(m) => {
                Some(format!("{}/message_created/{}", m.account_id, m.message_id))
            }
            Event::StatusChanged(_) | Event::Other { .. } => None,
        }
    }
}

/// Why a body is not a usable event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadEvent(pub String);

fn id(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn need<T>(v: Option<T>, what: &str) -> Result<T, BadEvent> {
    v.ok_or_else(|| BadEvent(format!("missing or unusable `{what}`")))
}

/// The account id: `account.id`, else `account_id`, else the first nested
/// message's `account_id` (status events of some versions carry only that).
fn account_id(v: &Value, conversation: &Value) -> Option<u64> {
    id(v.pointer("/account/id"))
        .or_else(|| id(v.get("account_id")))
        .or_else(|| id(conversation.get("account_id")))
        .or_else(|| id(conversation.pointer("/messages/0/account_id")))
}

fn attachment(v: &Value) -> Option<Attachment> {
    let url = v
        .get("data_url")
        .or_else(|| v.get("file_url"))
        .and_then(Value::as_str)?
        .to_owned();
    let kind = match v.get("file_type").and_then(Value::as_str) {
        Some("image") => AttachmentType::Image,
        _ => AttachmentType::File,
    };
    let file_name = url
        .split(['?', '#'])
        .next()
        .and_then(|path| path.rsplit('/').next())
        .filter(|name| !name.is_empty())
        .unwrap_or("attachment")
        .to_owned();
    Some(Attachment {
        kind,
        file_name,
        url: Some(url),
        summary: None,
    })
}

fn contact(v: &Value) -> Contact {
    // The conversation's contact, else the sender when it is the contact.
    let from = |c: &Value| Contact {
        id: text(c.get("id")),
        name: text(c.get("name")),
        email: text(c.get("email")),
        phone: text(c.get("phone_number")),
        identifier: text(c.get("identifier")),
    };
    match v.pointer("/conversation/meta/sender") {
        Some(c) if c.is_object() => from(c),
        _ => v.get("sender").map(from).unwrap_or_default(),
    }
}

fn message_created(v: &Value) -> Result<Message, BadEvent> {
    let conversation = v
        .get("conversation")
        .filter(|c| c.is_object())
        .ok_or_else(|| BadEvent("missing object `conversation`".into()))?;
    let sender_type = match v
        .pointer("/sender/type")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("contact") => SenderType::Contact,
        Some("user") => SenderType::User,
        Some("agent_bot" | "agentbot") => SenderType::AgentBot,
        _ => SenderType::Other,
    };
    let context = serde_json::json!({
        "labels": conversation.get("labels").cloned().unwrap_or(Value::Array(vec![])),
        "custom_attributes": conversation.get("custom_attributes").cloned().unwrap_or(Value::Object(Default::default())),
        "inbox": v.get("inbox").cloned().unwrap_or(Value::Null),
    });
    Ok(Message {
        account_id: need(account_id(v, conversation), "account.id")?,
        conversation_id: need(id(conversation.get("id")), "conversation.id")?,
        message_id: need(id(v.get("id")), "id")?,
        content: v.get("content").and_then(Value::as_str).map(str::to_owned),
        message_type: need(
            v.get("message_type").and_then(MessageType::read),
            "message_type",
        )?,
        private: v.get("private").and_then(Value::as_bool).unwrap_or(false),
        sender_type,
        status: need(
            conversation.get("status").and_then(Status::read),
            "conversation.status",
        )?,
        channel: conversation
            .get("channel")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        inbox_id: id(conversation.get("inbox_id")).or_else(|| id(v.pointer("/inbox/id"))),
        contact: contact(v),
        attachments: v
            .get("attachments")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(attachment).collect())
            .unwrap_or_default(),
        context,
    })
}

fn status_change(v: &Value, event: &str) -> Result<StatusChange, BadEvent> {
    // Conversation events carry the conversation itself at the top level.
    let status = match event {
        "conversation_opened" => Some(Status::Open),
        "conversation_resolved" => Some(Status::Resolved),
        _ => v.get("status").and_then(Status::read).or_else(|| {
            v.get("changed_attributes")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find_map(|c| c.pointer("/status/current_value")))
                .and_then(Status::read)
        }),
    };
    Ok(StatusChange {
        account_id: need(account_id(v, v), "account.id")?,
        conversation_id: need(id(v.get("id")), "id")?,
        status: need(status, "status")?,
    })
}

/// Reads the JSON Chatwoot posts to the bot.
pub fn parse(body: &[u8]) -> Result<Event, BadEvent> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| BadEvent(format!("body is not JSON: {e}")))?;
    let event = v
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| BadEvent("missing `event`".into()))?
        .to_owned();
    match event.as_str() {
        "message_created" => message_created(&v).map(|m| Event::MessageCreated(Box::new(m))),
        "conversation_status_changed" | "conversation_opened" | "conversation_resolved" => {
            status_change(&v, &event).map(Event::StatusChanged)
        }
        _ => Ok(Event::Other { event }),
    }
}
