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
    /// The traffic group it started in and the procedures that routes it to.
    #[serde(default)]
    pub routing: Option<Value>,
}

impl ConversationRecord {
    /// A conversation started at `at`, with nothing in it yet.
    pub fn new(
        id: String,
        customer_id: String,
        channel: String,
        at: Timestamp,
        status: Status,
    ) -> Self {
        ConversationRecord {
            id,
            customer_id,
            channel,
            created: at,
            updated: at,
            status,
            assignee_type: None,
            assignee_id: None,
            metadata: None,
            token: None,
            messages: Vec::new(),
            resources: BTreeMap::new(),
            events: Vec::new(),
            ratings: Vec::new(),
            event_keys: Vec::new(),
            next_sequence: 1,
            handled: Vec::new(),
            agent_answered: false,
            latest_intent: None,
            routing: None,
        }
    }

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
        // The sandbox's own addition: where a traffic group routed it.
        if let Some(r) = &self.routing {
            v["traffic_group_id"] = r["traffic_group_id"].clone();
            v["procedures"] = r["procedures"].clone();
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

/// The whole sandbox state. Its own serialization is the shared part (what
/// is not per conversation); the snapshot keeps each conversation, with its
/// pending deliveries, in a row of its own.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Conversations by id.
    #[serde(skip)]
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
    /// Resource types as an earlier version kept them (by lower-cased
    /// name); read once into the catalog.
    #[serde(default, skip_serializing)]
    pub resource_types: BTreeMap<String, ResourceType>,
    /// Actions the agent can call.
    pub actions: Vec<ActionRule>,
    /// Procedures, tools, notes, resource types and sources, traffic
    /// groups, terminology and the rest of the newer operations.
    #[serde(default)]
    pub catalog: crate::catalog::Catalog,
    /// Webhook events created so far (for unique ids).
    #[serde(skip)]
    pub webhooks_created: u64,
    /// Webhooks not delivered yet, by id: kept with their schedule, so a
    /// restarted sandbox carries on delivering them.
    #[serde(skip)]
    pub pending_deliveries: BTreeMap<String, crate::delivery::Pending>,
}

/// What a change touched, so the snapshot rewrites only that: a
/// conversation's row (with its pending deliveries) and/or the shared part.
#[derive(Debug, Clone, Copy, Default)]
pub struct Changed<'a> {
    /// The conversation whose row is rewritten (or deleted when it is gone).
    pub conversation: Option<&'a str>,
    /// Whether the shared part (knowledge, management) is rewritten.
    pub shared: bool,
}

impl<'a> Changed<'a> {
    /// Nothing to save (a read).
    pub const NOTHING: Changed<'static> = Changed {
        conversation: None,
        shared: false,
    };
    /// The shared part (knowledge, targets, secrets, resource types).
    pub const SHARED: Changed<'static> = Changed {
        conversation: None,
        shared: true,
    };

    /// One conversation and its pending deliveries.
    pub fn conversation(id: &'a str) -> Self {
        Changed {
            conversation: Some(id),
            shared: false,
        }
    }

    /// This and the shared part.
    pub fn and_shared(self) -> Self {
        Changed {
            shared: true,
            ..self
        }
    }
}

/// A conversation's row in the snapshot, as written.
#[derive(Serialize)]
struct ConversationRowRef<'a> {
    conversation: &'a ConversationRecord,
    pending: Vec<&'a crate::delivery::Pending>,
}

/// A conversation's row in the snapshot, as read.
#[derive(Deserialize)]
struct ConversationRow {
    conversation: ConversationRecord,
    #[serde(default)]
    pending: Vec<crate::delivery::Pending>,
}

/// The snapshot's single-row form of earlier versions, read once and
/// rewritten as rows.
#[derive(Deserialize)]
struct LegacyState {
    #[serde(flatten)]
    shared: State,
    #[serde(default)]
    conversations: BTreeMap<String, ConversationRecord>,
    #[serde(default)]
    webhooks_created: u64,
    #[serde(default)]
    pending_deliveries: BTreeMap<String, crate::delivery::Pending>,
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

/// Where the state is kept between runs: one row per conversation, one for
/// the shared part, and the webhook counter, so a change costs a write of
/// what it touched, not of everything.
pub struct Snapshot {
    conn: Connection,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Snapshot")
    }
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Snapshot {
    /// Opens (creating) the snapshot database.
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS sandbox_shared (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS sandbox_conversations (id TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS sandbox_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;",
        )?;
        Ok(Snapshot { conn })
    }

    /// The stored state, if any (a single-row snapshot of an earlier
    /// version is rewritten as rows on the way).
    pub fn load(&self) -> Result<Option<State>, String> {
        if let Some(legacy) = self.load_legacy()? {
            return Ok(Some(legacy));
        }
        let shared: Option<String> = self
            .conn
            .query_row("SELECT json FROM sandbox_shared WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(text)?;
        let has_shared = shared.is_some();
        // The shared row is written on the first shared change only.
        let mut state: State = match shared {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| format!("stored state is unreadable: {e}"))?,
            None => State::default(),
        };
        let legacy_types = std::mem::take(&mut state.resource_types);
        state.catalog.adopt(legacy_types);
        let mut rows = self
            .conn
            .prepare("SELECT id, json FROM sandbox_conversations")
            .map_err(text)?;
        let mut query = rows.query([]).map_err(text)?;
        while let Some(row) = query.next().map_err(text)? {
            let id: String = row.get(0).map_err(text)?;
            let json: String = row.get(1).map_err(text)?;
            let row: ConversationRow = serde_json::from_str(&json)
                .map_err(|e| format!("stored conversation {id} is unreadable: {e}"))?;
            for p in row.pending {
                state.pending_deliveries.insert(p.event.id.clone(), p);
            }
            state.conversations.insert(id, row.conversation);
        }
        if state.conversations.is_empty() && !has_shared {
            return Ok(None);
        }
        state.webhooks_created = self
            .conn
            .query_row(
                "SELECT value FROM sandbox_counters WHERE name = 'webhooks_created'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map_err(text)?
            .map_or(0, |n| u64::try_from(n).unwrap_or(0));
        Ok(Some(state))
    }

    fn load_legacy(&self) -> Result<Option<State>, String> {
        let exists: bool = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sandbox_state'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(text)?
            > 0;
        if !exists {
            return Ok(None);
        }
        let json: Option<String> = self
            .conn
            .query_row("SELECT json FROM sandbox_state WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(text)?;
        let Some(json) = json else {
            return Ok(None);
        };
        let legacy: LegacyState =
            serde_json::from_str(&json).map_err(|e| format!("stored state is unreadable: {e}"))?;
        let mut state = legacy.shared;
        let legacy_types = std::mem::take(&mut state.resource_types);
        state.catalog.adopt(legacy_types);
        state.conversations = legacy.conversations;
        state.webhooks_created = legacy.webhooks_created;
        state.pending_deliveries = legacy.pending_deliveries;
        self.save_all(&state)?;
        self.conn
            .execute_batch("DROP TABLE sandbox_state")
            .map_err(text)?;
        Ok(Some(state))
    }

    /// Writes everything (after a seed is applied, or once on migration).
    pub fn save_all(&self, state: &State) -> Result<(), String> {
        let tx = self.conn.unchecked_transaction().map_err(text)?;
        self.write_shared(state)?;
        for id in state.conversations.keys() {
            self.write_conversation(state, id)?;
        }
        self.write_counter(state)?;
        tx.commit().map_err(text)
    }

    /// Writes what `changed` names, in one transaction.
    pub fn save(&self, state: &State, changed: Changed<'_>) -> Result<(), String> {
        let tx = self.conn.unchecked_transaction().map_err(text)?;
        if changed.shared {
            self.write_shared(state)?;
        }
        if let Some(id) = changed.conversation {
            self.write_conversation(state, id)?;
        }
        // Any change may have created webhooks (it is one small row).
        self.write_counter(state)?;
        tx.commit().map_err(text)
    }

    fn write_shared(&self, state: &State) -> Result<(), String> {
        let json = serde_json::to_string(state).map_err(text)?;
        self.conn
            .prepare_cached(
                "INSERT INTO sandbox_shared (id, json) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET json = excluded.json",
            )
            .and_then(|mut s| s.execute(params![json]))
            .map(|_| ())
            .map_err(text)
    }

    fn write_conversation(&self, state: &State, id: &str) -> Result<(), String> {
        let Some(conversation) = state.conversations.get(id) else {
            return self
                .conn
                .prepare_cached("DELETE FROM sandbox_conversations WHERE id = ?1")
                .and_then(|mut s| s.execute(params![id]))
                .map(|_| ())
                .map_err(text);
        };
        let row = ConversationRowRef {
            conversation,
            pending: state
                .pending_deliveries
                .values()
                .filter(|p| p.event.conversation_id == id)
                .collect(),
        };
        let json = serde_json::to_string(&row).map_err(text)?;
        self.conn
            .prepare_cached(
                "INSERT INTO sandbox_conversations (id, json) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET json = excluded.json",
            )
            .and_then(|mut s| s.execute(params![id, json]))
            .map(|_| ())
            .map_err(text)
    }

    fn write_counter(&self, state: &State) -> Result<(), String> {
        let n = i64::try_from(state.webhooks_created).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "INSERT INTO sandbox_counters (name, value) VALUES ('webhooks_created', ?1) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute(params![n]))
            .map(|_| ())
            .map_err(text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn conversation(id: &str) -> ConversationRecord {
        serde_json::from_value(serde_json::json!({
            "id": id, "customer_id": "c", "channel": "web",
            "created": "2026-11-26T10:00:00Z", "updated": "2026-11-26T10:00:00Z",
            "status": "active", "assignee_type": null, "assignee_id": null,
            "metadata": null, "token": null, "messages": [], "resources": {},
            "events": [], "ratings": [], "event_keys": [], "next_sequence": 1,
            "handled": [], "agent_answered": false, "latest_intent": null
        }))
        .unwrap()
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sandbox-state-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("sandbox.db")
    }

    #[test]
    fn a_change_writes_its_conversation_row_and_a_reload_finds_everything() {
        let path = scratch("rows");
        let snapshot = Snapshot::open(&path).unwrap();
        let mut state = State::default();
        state.conversations.insert("a".into(), conversation("a"));
        state.webhooks_created = 7;
        snapshot.save(&state, Changed::conversation("a")).unwrap();
        // Only `b`'s row is written: `a` must still be there from before.
        state.conversations.insert("b".into(), conversation("b"));
        state.conversations.get_mut("a").unwrap().next_sequence = 99;
        snapshot.save(&state, Changed::conversation("b")).unwrap();
        state.default_targets.insert("*".into(), "t".into());
        snapshot.save(&state, Changed::SHARED).unwrap();
        drop(snapshot);

        let loaded = Snapshot::open(&path).unwrap().load().unwrap().unwrap();
        assert_eq!(loaded.conversations.len(), 2);
        assert_eq!(
            loaded.conversations["a"].next_sequence, 1,
            "a's row was not rewritten"
        );
        assert_eq!(loaded.webhooks_created, 7);
        assert_eq!(loaded.default_target("web").as_deref(), Some("t"));

        // A conversation that is gone loses its row.
        let mut state = loaded;
        state.conversations.remove("b");
        let snapshot = Snapshot::open(&path).unwrap();
        snapshot.save(&state, Changed::conversation("b")).unwrap();
        assert_eq!(snapshot.load().unwrap().unwrap().conversations.len(), 1);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn an_earlier_single_row_snapshot_is_read_and_rewritten_as_rows() {
        let path = scratch("legacy");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE sandbox_state (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);").unwrap();
            let legacy = serde_json::json!({
                "conversations": {"a": conversation("a")},
                "articles": {}, "topics": {}, "hand_off_targets": {}, "default_targets": {"*": "x"},
                "secrets": {}, "resource_types": {}, "actions": [], "webhooks_created": 3,
                "pending_deliveries": {}
            });
            conn.execute(
                "INSERT INTO sandbox_state (id, json) VALUES (1, ?1)",
                params![legacy.to_string()],
            )
            .unwrap();
        }
        let state = Snapshot::open(&path).unwrap().load().unwrap().unwrap();
        assert!(state.conversations.contains_key("a"));
        assert_eq!(state.webhooks_created, 3);
        assert_eq!(state.default_target("web").as_deref(), Some("x"));
        // Read again, from the rows this time.
        let again = Snapshot::open(&path).unwrap().load().unwrap().unwrap();
        assert!(again.conversations.contains_key("a"));
        assert_eq!(again.webhooks_created, 3);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }
}
