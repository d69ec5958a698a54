//! The per-conversation outbox: what the agent did (a reply, a hand-off, a
//! finish), kept in the agent's order until a helpdesk takes it. One key per
//! item, `<sequence number>-<event id>`, so that items sort in order and a
//! redelivered event lands on the key it already has.

use serde::{Deserialize, Serialize};

use super::NS;
use crate::env::Store;
use crate::error::Result;
use crate::state::{self, store_error};
use crate::time::Timestamp;
use crate::webhook::event::EventData;
use crate::webhook::WebhookEvent;

/// Something the agent did, waiting to be handed to a helpdesk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    /// When it was queued (ns since the epoch).
    pub at: i64,
    /// What it is.
    pub item: OutItem,
}

/// What the agent did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutItem {
    /// `agent.message`
    Message {
        /// Webhook id.
        event_id: String,
        /// Markdown text.
        body: String,
        /// A holding message.
        holding: bool,
        /// Parts in this reply.
        total: Option<u32>,
        /// This part.
        sequence: Option<u32>,
    },
    /// `conversation.hand_off`
    HandOff {
        /// Webhook id.
        event_id: String,
        /// Target.
        target: Option<String>,
        /// Coded reason.
        reason_code: String,
        /// Reason.
        reason: String,
    },
    /// `conversation.finished`
    Finished {
        /// Webhook id.
        event_id: String,
        /// Coded reason.
        reason_code: Option<String>,
    },
}

impl OutItem {
    /// What an event puts in the outbox (none for events that are not a
    /// reply, a hand-off or a finish).
    pub fn of(event: &WebhookEvent) -> Option<OutItem> {
        let event_id = event.id.clone();
        Some(match &event.data {
            EventData::AgentMessage(m) => OutItem::Message {
                event_id,
                body: m.body.clone(),
                holding: m.is_holding,
                total: m.total,
                sequence: m.sequence,
            },
            EventData::HandOff(h) => OutItem::HandOff {
                event_id,
                target: h.target.clone(),
                reason_code: h.reason_code.clone(),
                reason: h.reason.clone(),
            },
            EventData::Finished(f) => OutItem::Finished {
                event_id,
                reason_code: f.reason_code.clone(),
            },
            _ => return None,
        })
    }

    /// The agent's last message of a turn (not a holding message, and the
    /// last part of a multi-part reply).
    pub fn ends_reply(&self) -> bool {
        match self {
            OutItem::Message { holding: true, .. } => false,
            OutItem::Message {
                total, sequence, ..
            } => match (total, sequence) {
                (Some(t), Some(s)) => s >= t,
                _ => true,
            },
            OutItem::HandOff { .. } | OutItem::Finished { .. } => false,
        }
    }

    /// A hand-off or a finish: nothing follows in this turn.
    pub fn ends_conversation_turn(&self) -> bool {
        matches!(self, OutItem::HandOff { .. } | OutItem::Finished { .. })
    }
}

/// Where every outbox is.
fn all_prefix() -> String {
    format!("{NS}/out/")
}

/// The conversation's outbox.
pub fn prefix(conversation: &str) -> String {
    format!("{NS}/out/{conversation}/")
}

/// An outbox entry: its key, its stored bytes, and what it holds.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its key (remove it with [`state::remove`] and `raw`).
    pub key: String,
    /// The event's sequence number.
    pub position: u64,
    /// The stored bytes.
    pub raw: Vec<u8>,
    /// What it holds.
    pub queued: Queued,
}

/// The conversation's outbox, in order.
pub fn read(store: &dyn Store, conversation: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for key in store
        .list_keys(&prefix(conversation))
        .map_err(store_error)?
    {
        let position = key
            .rsplit('/')
            .next()
            .and_then(|p| p.split('-').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if let (Some(raw), Some(queued)) = state::read::<Queued>(store, &key)? {
            entries.push(Entry {
                key,
                position,
                raw,
                queued,
            });
        }
    }
    Ok(entries)
}

/// Appends an event's item to its conversation's outbox; whether it was
/// new (a redelivery finds its key taken).
pub fn append(
    store: &dyn Store,
    conversation: &str,
    event: &WebhookEvent,
    item: OutItem,
    now: Timestamp,
) -> Result<bool> {
    let key = format!(
        "{}{:020}-{}",
        prefix(conversation),
        event.sequence_number,
        event.id
    );
    state::insert_new(store, &key, &Queued { at: now.0, item })
}

/// Whether the conversation's outbox holds anything.
pub fn is_empty(store: &dyn Store, conversation: &str) -> Result<bool> {
    Ok(store
        .list_keys(&prefix(conversation))
        .map_err(store_error)?
        .is_empty())
}

/// The conversations whose outbox holds something, in key order.
pub fn conversations(store: &dyn Store) -> Result<Vec<String>> {
    let all = all_prefix();
    let mut out: Vec<String> = Vec::new();
    for key in store.list_keys(&all).map_err(store_error)? {
        let conversation = key
            .strip_prefix(&all)
            .and_then(|rest| rest.rsplit_once('/'))
            .map(|(c, _)| c.to_owned());
        if let Some(c) = conversation {
            if out.last() != Some(&c) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// Items waiting across all outboxes.
pub fn depth(store: &dyn Store) -> Result<u64> {
    let keys = store.list_keys(&all_prefix()).map_err(store_error)?;
    Ok(keys.len() as u64)
}
