//! The agent's webhook: screened before its body is read, then verified,
//! de-duplicated and ordered; each event released in order goes to the
//! helpdesk that owns its conversation, inside the call's transaction.

use serde_json::json;

use super::tick::{ended_key, hour_of};
use super::{actions, outbound, outbox, Answer, Bridge, Effect, Io, Outcome};
use crate::env::Store;
use crate::error::Result;
use crate::state;
use crate::time::Timestamp;
use crate::webhook::event::EventData;
use crate::webhook::sequencer::Released;
use crate::webhook::{self, WebhookError};

/// What queueing released events did.
#[derive(Debug, Default)]
pub(super) struct Queued {
    /// Conversations whose outbox grew.
    pub wake: Vec<String>,
    /// Outbox items added.
    pub added: i32,
    /// Conversations whose outbound queue grew.
    pub work: Vec<String>,
}

fn missing_signature() -> Answer {
    Answer::error(
        401,
        Outcome::BadSignature,
        "missing X-GradientLabs-Signature",
    )
}

fn push_once(list: &mut Vec<String>, conversation: &str) {
    if !list.iter().any(|c| c == conversation) {
        list.push(conversation.to_owned());
    }
}

impl Bridge {
    /// Looks at a webhook's signature header before its body is read: the
    /// answer to send at once when it is missing, malformed or outside the
    /// timestamp window (the body need not be read), else `None`.
    pub fn screen_webhook(&self, io: Io<'_>, signature: Option<&str>) -> Option<Answer> {
        let Some(signature) = signature else {
            return Some(missing_signature());
        };
        webhook::screen(
            signature,
            io.clock.now().secs(),
            self.core.config.leeway_secs,
        )
        .err()
        .map(|e| Answer::error(401, Outcome::BadSignature, e.to_string()))
    }

    /// Handles the agent's webhook. Everything it queues is part of this
    /// call's transaction: acknowledged means committed.
    pub fn handle_webhook(
        &mut self,
        io: Io<'_>,
        signature: Option<&str>,
        token: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let Some(signature) = signature else {
            return missing_signature();
        };
        let now = io.clock.now();
        let event = match webhook::verify_and_parse(
            self.core.config.signing_key.expose(),
            signature,
            token,
            body,
            now.secs(),
            self.core.config.leeway_secs,
        ) {
            Ok(e) => e,
            Err(e @ WebhookError::InvalidEnvelope(_)) => {
                return Answer::error(400, Outcome::BadEnvelope, e.to_string())
            }
            Err(e) => return Answer::error(401, Outcome::BadSignature, e.to_string()),
        };
        let action = match &event.data {
            EventData::ActionExecute(a) => Some(a.clone()),
            _ => None,
        };
        let event_id = event.id.clone();
        let conversation = event.conversation_id.clone();
        let queued = self
            .core
            .sequencer
            .offer(io.store, event, now)
            .and_then(|o| Ok((o.duplicate, self.enqueue(io.store, now, o.released)?)));
        let (duplicate, queued) = match queued {
            Ok(q) => q,
            Err(e) => {
                // Not acknowledged, so the API delivers it again: keep nothing.
                io.store.rollback();
                return Answer::error(503, Outcome::StoreError, e.to_string());
            }
        };
        let mut answer = match action {
            Some(a) => actions::run(
                &self.core.config.actions,
                io,
                &actions::cache_key(conversation.as_deref().unwrap_or("-"), &event_id),
                &a,
            ),
            None if duplicate => Answer::new(200, Outcome::Duplicate, json!({})),
            None => Answer::new(200, Outcome::Accepted, json!({})),
        };
        answer.wake = queued.wake;
        answer.queue_change = queued.added;
        answer.work = queued.work;
        answer
    }

    /// Hands events released in order to the helpdesks that own their
    /// conversations. An event of a conversation no served helpdesk owns
    /// is kept in its outbox (counted in the queue depth), never dropped.
    pub(super) fn enqueue(
        &mut self,
        store: &dyn Store,
        now: Timestamp,
        released: Vec<Released>,
    ) -> Result<Queued> {
        let mut out = Queued::default();
        for r in released {
            let Some(conversation) = r.event.conversation_id.clone() else {
                continue;
            };
            // A conversation no served helpdesk owns keeps its events in
            // the outbox.
            if let Some(h) = self.owner(&conversation) {
                if let Effect::Calls(calls) = h.on_agent_event(store, now, &r.event)? {
                    if !calls.is_empty() {
                        outbound::append(store, h.kind(), &conversation, now, calls)?;
                        push_once(&mut out.work, &conversation);
                    }
                    continue;
                }
            }
            let Some(item) = outbox::OutItem::of(&r.event) else {
                continue;
            };
            if matches!(item, outbox::OutItem::Finished { .. }) && r.event.sequence_number > 0 {
                // Its state is forgotten once the API stops redelivering.
                let marker = ended_key(hour_of(now), &conversation);
                state::update::<u64, _>(store, &marker, |n| *n = r.event.sequence_number)?;
            }
            if outbox::append(store, &conversation, &r.event, item, now)? {
                out.added = out.added.saturating_add(1);
            }
            push_once(&mut out.wake, &conversation);
        }
        Ok(out)
    }
}
