//! Everything the sandbox remembers, and its optional SQLite snapshot.

use std::collections::BTreeMap;
use std::path::Path;

use glbridge_guest::model::conversations::{Attachment, Status};
use glbridge_guest::model::knowledge::{Article, Topic, UsageStatus};
use glbridge_guest::model::management::{HandOffTarget, ResourceType};
use glbridge_guest::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::seed::ActionRule;

/// A recorded message, in the API's message shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Message id.
    pub id: String,
    /// Text.
    pub body: String,
    /// Sender.
    pub participant_id: String,
    /// `Customer`, `Agent`, `Bot` or `AI Agent`.
    pub participant_type: String,
    /// When it was sent.
    pub created: Timestamp,
    /// Files.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// A conversation and all it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationRecord {
    /// Id.
    pub id: String,
    /// Customer id.
    pub customer_id: String,
    /// Channel (wire spelling).
    pub channel: String,
    /// Started.
    pub created: Timestamp,
    /// Last change.
    pub updated: Timestamp,
    /// Status.
    pub status: Status,
    /// Assignee type (wire spelling), if assigned.
    pub assignee_type: Option<String>,
    /// Assignee id.
    pub assignee_id: Option<String>,
    /// Metadata.
    pub metadata: Option<Value>,
    /// Token echoed in `X-GradientLabs-Token`.
    pub token: Option<String>,
    /// Messages in order.
    pub messages: Vec<MessageRecord>,
    /// Resources by lower-cased name.
    pub resources: BTreeMap<String, Value>,
    /// Events recorded (typing, read, notes...).
    pub events: Vec<Value>,
    /// Ratings recorded.
    pub ratings: Vec<Value>,
    /// Idempotency keys of events already recorded.
    pub event_keys: Vec<String>,
    /// The next webhook sequence number.
    pub next_sequence: u64,
    /// Ids of customer messages the agent has answered (or handed off on).
    pub handled: Vec<String>,
    /// The agent has given at least one answer.
    pub agent_answered: bool,
    /// Latest classified intent.
    pub latest_intent: Option<String>,
}

impl ConversationRecord {
    /// Whether the AI agent is handling it.
    pub fn agent_active(&self) -> bool {
        self.status == Status::Active
    }

    /// Whether it has ended (no more messages or assignment).
    pub fn is_closed(&self) -> bool {
        matches!(
            self.status,
            Status::Finished | Status::Cancelled | Status::Failed
        )
    }

    /// The API's conversation shape.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "created": self.created,
            "updated": self.updated,
            "status": self.status,
            "agent_is_active": self.agent_active(),
        });
        if let Some(m) = &self.metadata {
            v["metadata"] = m.clone();
        }
        if let Some(i) = &self.latest_intent {
            v["latest_intent"] = Value::String(i.clone());
        }
        if let Some(a) = &self.assignee_type {
            v["assignee_type"] = Value::String(a.clone());
        }
        if let Some(a) = &self.assignee_id {
            v["assignee_id"] = Value::String(a.clone());
        }
        v
    }

    /// `data.conversation` of this conversation's webhooks.
    pub fn webhook_conversation(&self) -> Value {
        let mut v = serde_json::json!({"id": self.id, "customer_id": self.customer_id});
        if let Some(m) = &self.metadata {
            v["metadata"] = m.clone();
        }
        v
    }
}

/// An article with the sandbox's bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArticleRecord {
    /// The article as last upserted.
    pub article: Article,
    /// Whether the agent may use it.
    pub usage: UsageStatus,
    /// Soft-deleted.
    pub deleted: bool,
}

/// A secret; its value is never returned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretRecord {
    /// The value.
    pub value: String,
    /// Stored.
    pub created: Timestamp,
    /// Changed.
    pub updated: Timestamp,
}

/// The whole sandbox state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Conversations by id.
    pub conversations: BTreeMap<String, ConversationRecord>,
    /// Articles by id.
    pub articles: BTreeMap<String, ArticleRecord>,
    /// Topics by id.
    pub topics: BTreeMap<String, Topic>,
    /// Hand-off targets by id.
    pub hand_off_targets: BTreeMap<String, HandOffTarget>,
    /// Default hand-off target id by channel.
    pub default_targets: BTreeMap<String, String>,
    /// Secrets by name.
    pub secrets: BTreeMap<String, SecretRecord>,
    /// Resource types by lower-cased name.
    pub resource_types: BTreeMap<String, ResourceType>,
    /// Actions the agent can call.
    pub actions: Vec<ActionRule>,
    /// Webhook events created so far (for unique ids).
    pub webhooks_created: u64,
    /// Webhooks not delivered yet, by id: kept with their schedule, so a
    /// restarted sandbox carries on delivering them.
    #[serde(default)]
    pub pending_deliveries: BTreeMap<String, crate::delivery::Pending>,
}

impl State {
    /// The default hand-off target for a channel: the channel's default, else
    /// a default set for every channel (`*`), else none.
    pub fn default_target(&self, channel: &str) -> Option<String> {
        self.default_targets
            .get(channel)
            .or_else(|| self.default_targets.get("*"))
            .cloned()
    }
}

/// Where the state is kept between runs.
pub struct Snapshot {
    conn: Connection,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Snapshot")
    }
}

impl Snapshot {
    /// Opens (creating) the snapshot database.
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS sandbox_state (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);",
        )?;
        Ok(Snapshot { conn })
    }

    /// The stored state, if any.
    pub fn load(&self) -> Result<Option<State>, String> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT json FROM sandbox_state WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| e.to_string())?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| format!("stored state is unreadable: {e}"))
        })
        .transpose()
    }

    /// Replaces the stored state.
    pub fn save(&self, state: &State) -> Result<(), String> {
        let json = serde_json::to_string(state).map_err(|e| e.to_string())?;
        self.conn
            .execute(
                "INSERT INTO sandbox_state (id, json) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET json = excluded.json",
                params![json],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
