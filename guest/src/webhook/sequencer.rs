//! De-duplicates webhook events and releases each conversation's events in
//! `sequence_number` order, with all state kept in a [`Store`].
//!
//! Per conversation one key holds the next expected number, the events held
//! back, and the numbers a gap skipped. It is read and written under the
//! conversation's lock and by compare-and-swap, so concurrent instances
//! sharing a store agree and events leave in order. Events without a conversation
//! or a sequence number are de-duplicated by id and released at once.

use serde::{Deserialize, Serialize};

use super::event::WebhookEvent;
use crate::env::Store;
use crate::error::Result;
use crate::state;
use crate::time::Timestamp;

/// Skipped ranges remembered per conversation (oldest forgotten first).
const MAX_SKIPPED_RANGES: usize = 256;

/// A break in the sequence that was given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// First missing number.
    pub first_missing: u64,
    /// Last missing number.
    pub last_missing: u64,
}

/// An event let through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    /// The event.
    pub event: WebhookEvent,
    /// Earlier numbers skipped to release it.
    pub gap: Option<Gap>,
    /// It arrived after a gap had skipped past it.
    pub late: bool,
}

/// What happened to an offered event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OfferOutcome {
    /// Already accepted: dropped.
    pub duplicate: bool,
    /// Now ready, in order.
    pub released: Vec<Released>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Held {
    event: WebhookEvent,
    since: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ConversationState {
    next: u64,
    held: Vec<Held>,
    skipped: Vec<(u64, u64)>,
}

impl ConversationState {
    fn was_skipped(&self, n: u64) -> bool {
        self.skipped.iter().any(|(a, b)| (*a..=*b).contains(&n))
    }

    fn unskip(&mut self, n: u64) {
        let mut out = Vec::with_capacity(self.skipped.len() + 1);
        for (a, b) in self.skipped.drain(..) {
            if (a..=b).contains(&n) {
                if a < n {
                    out.push((a, n - 1));
                }
                if n < b {
                    out.push((n + 1, b));
                }
            } else {
                out.push((a, b));
            }
        }
        self.skipped = out;
    }

    /// Releases held events that are next in line.
    fn drain(&mut self, out: &mut Vec<Released>) {
        self.held.sort_by_key(|h| h.event.sequence_number);
        while self
            .held
            .first()
            .is_some_and(|h| h.event.sequence_number == self.next)
        {
            let h = self.held.remove(0);
            self.next = self.next.saturating_add(1);
            out.push(Released {
                event: h.event,
                gap: None,
                late: false,
            });
        }
    }

    /// Skips gaps in front of held events that have waited long enough.
    fn expire(&mut self, now: i64, max_hold_ns: u64, out: &mut Vec<Released>) {
        self.drain(out);
        while let Some(first) = self.held.first() {
            let waited = now.saturating_sub(first.since);
            if waited < 0 || (waited as u64) < max_hold_ns {
                break;
            }
            let h = self.held.remove(0);
            let n = h.event.sequence_number;
            let gap = Gap {
                first_missing: self.next,
                last_missing: n.saturating_sub(1),
            };
            self.skipped.push((gap.first_missing, gap.last_missing));
            if self.skipped.len() > MAX_SKIPPED_RANGES {
                self.skipped.remove(0);
            }
            self.next = n.saturating_add(1);
            out.push(Released {
                event: h.event,
                gap: Some(gap),
                late: false,
            });
            self.drain(out);
        }
    }
}

/// Orders and de-duplicates webhook events through a [`Store`].
#[derive(Debug, Clone)]
pub struct Sequencer {
    namespace: String,
    max_hold_ns: u64,
    first_sequence_number: u64,
}

impl Sequencer {
    /// A sequencer keeping its keys under `namespace`.
    pub fn new(namespace: impl Into<String>, max_hold_ns: u64, first_sequence_number: u64) -> Self {
        Sequencer {
            namespace: namespace.into(),
            max_hold_ns,
            first_sequence_number,
        }
    }

    fn state_key(&self, conversation: &str) -> String {
        format!("{}/conv/{conversation}", self.namespace)
    }

    fn held_prefix(&self) -> String {
        format!("{}/held/", self.namespace)
    }

    fn fresh_state(&self) -> ConversationState {
        ConversationState {
            next: self.first_sequence_number,
            held: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Keeps the marker `poll` looks for in step with whether events are held.
    fn mark_held(&self, store: &dyn Store, conversation: &str, held: bool) -> Result<()> {
        let marker = format!("{}{conversation}", self.held_prefix());
        let present = store.get(&marker).map_err(state::store_error)?.is_some();
        if held && !present {
            state::insert_new(store, &marker, &1)?;
        } else if !held && present {
            state::remove(store, &marker, b"1")?;
        }
        Ok(())
    }

    /// Offers an event received at `now`. Locks the event's conversation
    /// (see [`Store::lock`]) so that its events are sequenced one at a time.
    pub fn offer(
        &self,
        store: &dyn Store,
        event: WebhookEvent,
        now: Timestamp,
    ) -> Result<OfferOutcome> {
        let conversation = match (&event.conversation_id, event.sequence_number) {
            (Some(c), n) if n > 0 => c.clone(),
            _ => return self.offer_unordered(store, event),
        };
        let key = self.state_key(&conversation);
        state::lock(store, &key)?;
        let n = event.sequence_number;
        let (outcome, held) = state::update_with(
            store,
            &key,
            || self.fresh_state(),
            |state| {
                let mut outcome = OfferOutcome::default();
                if state
                    .held
                    .iter()
                    .any(|h| h.event.id == event.id || h.event.sequence_number == n)
                {
                    outcome.duplicate = true;
                } else if n < state.next {
                    if state.was_skipped(n) {
                        state.unskip(n);
                        outcome.released.push(Released {
                            event: event.clone(),
                            gap: None,
                            late: true,
                        });
                    } else {
                        outcome.duplicate = true;
                    }
                } else {
                    state.held.push(Held {
                        event: event.clone(),
                        since: now.0,
                    });
                }
                if outcome.duplicate {
                    // A redelivery: the state stays as it is.
                    let held = !state.held.is_empty();
                    return ((outcome, held), state::Then::Keep);
                }
                state.expire(now.0, self.max_hold_ns, &mut outcome.released);
                ((outcome, !state.held.is_empty()), state::Then::Write)
            },
        )?;
        if !outcome.duplicate {
            self.mark_held(store, &conversation, held)?;
        }
        Ok(outcome)
    }

    /// The highest sequence number released so far for `conversation`
    /// (0 before the first).
    pub fn released_up_to(&self, store: &dyn Store, conversation: &str) -> Result<u64> {
        let (_, state) = state::read::<ConversationState>(store, &self.state_key(conversation))?;
        Ok(state.map_or(0, |s| s.next.saturating_sub(1)))
    }

    fn offer_unordered(&self, store: &dyn Store, event: WebhookEvent) -> Result<OfferOutcome> {
        let key = format!("{}/seen/{}", self.namespace, event.id);
        state::lock(store, &key)?;
        let fresh = state::insert_new(store, &key, &1)?;
        Ok(OfferOutcome {
            duplicate: !fresh,
            released: if fresh {
                vec![Released {
                    event,
                    gap: None,
                    late: false,
                }]
            } else {
                Vec::new()
            },
        })
    }

    /// Forgets a conversation: its state and held marker. A redelivery of
    /// one of its events would then look new, so this is for conversations
    /// whose events the API no longer redelivers.
    pub fn forget(&self, store: &dyn Store, conversation: &str) -> Result<()> {
        let key = self.state_key(conversation);
        state::lock(store, &key)?;
        state::delete(store, &key)?;
        self.mark_held(store, conversation, false)
    }

    /// Releases, across all conversations, held events that waited long enough.
    pub fn poll(&self, store: &dyn Store, now: Timestamp) -> Result<Vec<Released>> {
        let prefix = self.held_prefix();
        let mut released = Vec::new();
        for marker in store.list_keys(&prefix).map_err(state::store_error)? {
            let Some(conversation) = marker.strip_prefix(&prefix) else {
                continue;
            };
            let key = self.state_key(conversation);
            state::lock(store, &key)?;
            let (out, held) = state::update_with(
                store,
                &key,
                || self.fresh_state(),
                |state| {
                    let mut out = Vec::new();
                    state.expire(now.0, self.max_hold_ns, &mut out);
                    let then = if out.is_empty() {
                        state::Then::Keep
                    } else {
                        state::Then::Write
                    };
                    ((out, !state.held.is_empty()), then)
                },
            )?;
            self.mark_held(store, conversation, held)?;
            released.extend(out);
        }
        Ok(released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;
    use crate::webhook::event::EventData;

    fn ev(conv: &str, n: u64) -> WebhookEvent {
        WebhookEvent {
            id: format!("{conv}-{n}"),
            event_type: "agent.message".into(),
            sequence_number: n,
            timestamp: Timestamp::default(),
            conversation_id: Some(conv.into()),
            data: EventData::Unknown(serde_json::json!({})),
            raw_data: crate::webhook::RawJson::from_value(&serde_json::json!({})),
            token: None,
        }
    }

    fn numbers(r: &[Released]) -> Vec<u64> {
        r.iter().map(|r| r.event.sequence_number).collect()
    }

    const SEC: i64 = 1_000_000_000;

    #[test]
    fn in_order_events_pass_and_duplicates_drop() {
        let store = MemoryStore::default();
        let s = Sequencer::new("wh", 10 * SEC as u64, 1);
        let t = Timestamp(0);
        assert_eq!(
            numbers(&s.offer(&store, ev("a", 1), t).unwrap().released),
            vec![1]
        );
        assert_eq!(
            numbers(&s.offer(&store, ev("a", 2), t).unwrap().released),
            vec![2]
        );
        let dup = s.offer(&store, ev("a", 1), t).unwrap();
        assert!(dup.duplicate && dup.released.is_empty());
    }

    #[test]
    fn out_of_order_events_are_held_then_released_in_order() {
        let store = MemoryStore::default();
        let s = Sequencer::new("wh", 10 * SEC as u64, 1);
        let t = Timestamp(0);
        assert!(s.offer(&store, ev("a", 3), t).unwrap().released.is_empty());
        assert!(s.offer(&store, ev("a", 2), t).unwrap().released.is_empty());
        assert!(
            s.offer(&store, ev("a", 3), t).unwrap().duplicate,
            "held duplicate"
        );
        assert_eq!(
            numbers(&s.offer(&store, ev("a", 1), t).unwrap().released),
            vec![1, 2, 3]
        );
        assert!(store.list_keys("wh/held/").unwrap().is_empty());
    }

    #[test]
    fn a_gap_is_given_up_on_after_the_wait_and_late_events_still_pass_once() {
        let store = MemoryStore::default();
        let s = Sequencer::new("wh", 10 * SEC as u64, 1);
        assert_eq!(
            numbers(&s.offer(&store, ev("a", 1), Timestamp(0)).unwrap().released),
            vec![1]
        );
        assert!(s
            .offer(&store, ev("a", 3), Timestamp(SEC))
            .unwrap()
            .released
            .is_empty());
        assert!(
            s.poll(&store, Timestamp(10 * SEC)).unwrap().is_empty(),
            "waited 9 s only"
        );
        let out = s.poll(&store, Timestamp(11 * SEC)).unwrap();
        assert_eq!(numbers(&out), vec![3]);
        assert_eq!(
            out[0].gap,
            Some(Gap {
                first_missing: 2,
                last_missing: 2
            })
        );
        let late = s.offer(&store, ev("a", 2), Timestamp(12 * SEC)).unwrap();
        assert_eq!(numbers(&late.released), vec![2]);
        assert!(late.released[0].late);
        assert!(
            s.offer(&store, ev("a", 2), Timestamp(13 * SEC))
                .unwrap()
                .duplicate
        );
    }

    #[test]
    fn conversations_are_independent_and_unordered_events_dedupe_by_id() {
        let store = MemoryStore::default();
        let s = Sequencer::new("wh", SEC as u64, 1);
        let t = Timestamp(0);
        assert!(s.offer(&store, ev("a", 2), t).unwrap().released.is_empty());
        assert_eq!(
            numbers(&s.offer(&store, ev("b", 1), t).unwrap().released),
            vec![1]
        );
        let mut loose = ev("x", 0);
        loose.conversation_id = None;
        assert_eq!(s.offer(&store, loose.clone(), t).unwrap().released.len(), 1);
        assert!(s.offer(&store, loose, t).unwrap().duplicate);
    }
}
