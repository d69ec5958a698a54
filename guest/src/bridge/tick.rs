//! The tick: releases events held too long for a missing predecessor, runs
//! each helpdesk's periodic work, and forgets conversations that stayed
//! finished once the API no longer redelivers their events.

use super::{actions, outbox, Bridge, Io, NS};
use crate::env::Store;
use crate::error::Result;
use crate::state::{self, store_error};
use crate::time::Timestamp;

/// What a tick did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TickReport {
    /// Events released after waiting for a gap.
    pub released: u32,
    /// Outbox items handed to their helpdesks.
    pub pushed: u32,
    /// Hand-overs that failed (the items stay).
    pub failed: u32,
    /// Conversations whose outbox grew.
    pub wake: Vec<String>,
    /// Items added to the outboxes (released) less those handed over.
    pub queue_change: i32,
    /// Conversations whose outbound queue grew: drain them.
    pub work: Vec<String>,
}

/// A conversation that finished in hour `hour` (since the epoch), holding
/// the finish's sequence number: looked at once the hour is
/// [`FORGET_AFTER_NS`] old.
pub(super) fn ended_key(hour: i64, c: &str) -> String {
    format!("{}{c}", ended_prefix(hour))
}
fn ended_prefix(hour: i64) -> String {
    format!("{NS}/ended/{hour:012}/")
}
/// The first hour whose ended conversations are not looked at yet.
fn ended_cursor() -> String {
    format!("{NS}/ended-cursor")
}
const HOUR_NS: i64 = 3_600 * 1_000_000_000;

pub(super) fn hour_of(t: Timestamp) -> i64 {
    t.0.div_euclid(HOUR_NS)
}

/// How long after its finish a conversation's de-duplication state is
/// kept: the API redelivers a webhook for about 24 hours (36 attempts), so
/// 26 hours, after which the sequencer state, the action answers and what
/// its helpdesk kept of a conversation that stayed finished are deleted.
pub const FORGET_AFTER_NS: i64 = 26 * HOUR_NS;

impl Bridge {
    /// Releases held events, runs each helpdesk's periodic work (e.g.
    /// pushing replies nobody waits for) and forgets what has aged out.
    pub fn tick(&mut self, io: Io<'_>) -> Result<TickReport> {
        let mut report = TickReport::default();
        let now = io.clock.now();
        let released = self.core.sequencer.poll(io.store, now)?;
        report.released = u32::try_from(released.len()).unwrap_or(u32::MAX);
        let queued = self.enqueue(io.store, now, released)?;
        report.wake = queued.wake;
        report.queue_change = queued.added;
        report.work = queued.work;
        self.forget_ended(io.store, now)?;
        for h in &mut self.helpdesks {
            let pushed = h.tick(io)?;
            report.pushed += pushed.pushed;
            report.failed += pushed.failed;
            report.queue_change = report
                .queue_change
                .saturating_sub(i32::try_from(pushed.pushed).unwrap_or(i32::MAX));
        }
        Ok(report)
    }

    /// Deletes what is kept of conversations that finished more than
    /// [`FORGET_AFTER_NS`] ago and stayed finished with nothing left to
    /// deliver; one hour of finishes at a time, so a tick looks at no more
    /// than the finishes that came of age.
    fn forget_ended(&mut self, store: &dyn Store, now: Timestamp) -> Result<()> {
        let due = hour_of(Timestamp(now.0.saturating_sub(FORGET_AFTER_NS)));
        let (_, cursor) = state::read::<i64>(store, &ended_cursor())?;
        // A store without a cursor looks a week back once.
        let mut hour = cursor.unwrap_or(due - 24 * 7);
        if hour > due {
            return Ok(());
        }
        while hour <= due {
            let prefix = ended_prefix(hour);
            for marker in store.list_keys(&prefix).map_err(store_error)? {
                let Some(conversation) = marker.strip_prefix(&prefix) else {
                    continue;
                };
                let (raw, finish) = state::read::<u64>(store, &marker)?;
                let (Some(raw), Some(finish)) = (raw, finish) else {
                    continue;
                };
                state::remove(store, &marker, &raw)?;
                self.forget(store, conversation, finish, now)?;
            }
            hour += 1;
        }
        state::update::<i64, _>(store, &ended_cursor(), |c| *c = hour)?;
        Ok(())
    }

    /// Forgets one conversation that finished with event `finish`, unless
    /// it went on after it (then a later finish has its own marker) or
    /// something still waits on it (then it is looked at again later).
    fn forget(
        &self,
        store: &dyn Store,
        conversation: &str,
        finish: u64,
        now: Timestamp,
    ) -> Result<()> {
        let helpdesk = self.owner_ref(conversation);
        if let Some(h) = helpdesk {
            state::lock(store, &h.conversation_key(conversation))?;
        }
        if self.core.sequencer.released_up_to(store, conversation)? != finish {
            return Ok(());
        }
        let waiting = match helpdesk {
            Some(h) => h.waiting(store, conversation)?,
            None => false,
        };
        if waiting || !outbox::is_empty(store, conversation)? {
            let marker = ended_key(hour_of(now), conversation);
            state::update::<u64, _>(store, &marker, |n| *n = finish)?;
            return Ok(());
        }
        for key in store
            .list_keys(&actions::cache_prefix(conversation))
            .map_err(store_error)?
        {
            state::delete(store, &key)?;
        }
        if let Some(h) = helpdesk {
            h.forget(store, conversation)?;
        }
        self.core.sequencer.forget(store, conversation)
    }
}
