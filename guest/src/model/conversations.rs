//! Conversations, messages, events, assignment and their parameters.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Channel, ParticipantType};
use crate::time::Timestamp;

/// `POST /conversations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartParams {
    /// Your id.
    pub id: String,
    /// Your id for the customer.
    pub customer_id: String,
    /// How they get in touch.
    pub channel: Channel,
    /// Assignee id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<String>,
    /// Assignee type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_type: Option<ParticipantType>,
    /// Start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    /// Arbitrary metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Resources to attach (object of name → document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
    /// Echoed in `X-GradientLabs-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_token: Option<String>,
    /// The traffic group whose procedures the agent may run.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::empty_as_none"
    )]
    pub traffic_group_id: Option<String>,
    /// The customer's ids on support platforms:
    /// `[{support_platform, type?, value}]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_support_platform_identifiers: Option<Value>,
}

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not assigned to the AI agent.
    Observing,
    /// The AI agent handles it.
    Active,
    /// Explicitly terminated.
    Cancelled,
    /// Ended naturally.
    Finished,
    /// The agent gave up.
    Failed,
}

/// A conversation as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Your id.
    pub id: String,
    /// Your customer id.
    #[serde(default)]
    pub customer_id: String,
    /// Channel as spelled by the API.
    #[serde(default)]
    pub channel: String,
    /// Start time.
    #[serde(default)]
    pub created: Option<Timestamp>,
    /// Last change.
    #[serde(default)]
    pub updated: Option<Timestamp>,
    /// Status.
    pub status: Status,
    /// Whether the AI agent handles it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_is_active: Option<bool>,
    /// Latest classified intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_intent: Option<String>,
    /// Metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// Image or other file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentType {
    /// `image`
    Image,
    /// `file`
    File,
}

/// A file sent with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Image or file.
    #[serde(rename = "type")]
    pub kind: AttachmentType,
    /// File name.
    pub file_name: String,
    /// Where to fetch it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What it holds, in a sentence, for the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// `POST /conversations/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageParams {
    /// Your message id.
    pub id: String,
    /// Text (may be empty only with attachments).
    #[serde(default)]
    pub body: String,
    /// Sender id.
    pub participant_id: String,
    /// Sender type (never `AI Agent`).
    pub participant_type: ParticipantType,
    /// Sent at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    /// E-mail subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Conversation token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_token: Option<String>,
}

/// A message as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Your id.
    pub id: String,
    /// Text.
    #[serde(default)]
    pub body: String,
    /// Sender id.
    #[serde(default)]
    pub participant_id: String,
    /// Sender type as spelled by the API.
    #[serde(default)]
    pub participant_type: String,
    /// Sent at.
    #[serde(default)]
    pub created: Option<Timestamp>,
}

/// Kinds of conversation event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    /// `typing`
    Typing,
    /// `delivered`
    Delivered,
    /// `read`
    Read,
    /// `join`
    Join,
    /// `leave`
    Leave,
    /// `internal-note`
    InternalNote,
}

/// `POST /conversations/{id}/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventParams {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Who.
    pub participant_id: String,
    /// Their type.
    pub participant_type: ParticipantType,
    /// The message concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Makes the call retryable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Internal note text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// `PUT /conversations/{id}/assignee` (and `/resume`, without resources).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignParams {
    /// New assignee type.
    pub assignee_type: ParticipantType,
    /// Assignee id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `PUT /conversations/{id}/resume`: an assignment, and resources to attach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeParams {
    /// The assignment.
    #[serde(flatten)]
    pub assign: AssignParams,
    /// Resources to attach (object of name → document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
}

/// Why a conversation finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinishReason {
    /// `customer-ended-chat`
    CustomerEndedChat,
    /// `customer-unresponsive`
    CustomerUnresponsive,
}

/// `PUT /conversations/{id}/finish`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FinishParams {
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Coded reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<FinishReason>,
}

/// `PUT /conversations/{id}/cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CancelParams {
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `PUT /conversations/{id}/end` (older name of finish).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EndParams {
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

/// `PUT /conversations/{id}/rate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingParams {
    /// Rating scheme.
    #[serde(rename = "type")]
    pub kind: String,
    /// Score.
    pub value: i32,
    /// Best score.
    pub max_value: i32,
    /// Worst score.
    pub min_value: i32,
    /// Comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}
