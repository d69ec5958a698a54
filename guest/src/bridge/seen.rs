//! De-duplication marks of the helpdesks' own inbound events (Chatwoot's,
//! Zendesk's), kept while a helpdesk may redeliver, then swept by the tick
//! so that the store does not grow with every event ever received.
//!
//! A mark lives under the day it was written, `<ns>/seen/<day>/<id>`. An
//! event is new when neither today's nor yesterday's day holds its mark, so
//! a redelivery is caught for at least 24 hours (Zendesk retries for 15
//! minutes, Chatwoot a few times); the tick deletes the days before
//! yesterday, one day at a time and at most [`SWEEP_BATCH`] marks a tick.
//! Marks written by releases before this one (`<ns>/seen/<id>`) are not
//! swept.

use crate::env::Store;
use crate::error::Result;
use crate::state::{self, store_error};
use crate::time::Timestamp;

const DAY_NS: i64 = 86_400 * 1_000_000_000;

/// Most marks one tick deletes for one helpdesk (the rest wait for the next
/// tick), so that a busy day's sweep never makes one long transaction.
pub const SWEEP_BATCH: usize = 512;

fn day_of(t: Timestamp) -> i64 {
    t.0.div_euclid(DAY_NS)
}

fn day_prefix(ns: &str, day: i64) -> String {
    format!("{ns}/seen/{day:06}/")
}

/// The first day whose marks are not swept yet.
fn cursor_key(ns: &str) -> String {
    format!("{ns}/seen-swept")
}

/// Marks `id` as seen; `false` when it was seen today or yesterday (a
/// redelivery). Inside the caller's transaction, so a call that rolls back
/// leaves no mark.
pub fn first_time(store: &dyn Store, ns: &str, id: &str, now: Timestamp) -> Result<bool> {
    let day = day_of(now);
    let yesterday = format!("{}{id}", day_prefix(ns, day - 1));
    if store.get(&yesterday).map_err(store_error)?.is_some() {
        return Ok(false);
    }
    state::insert_new(store, &format!("{}{id}", day_prefix(ns, day)), &now.0)
}

/// Deletes the marks of the days before yesterday; how many it deleted.
pub fn sweep(store: &dyn Store, ns: &str, now: Timestamp) -> Result<usize> {
    let keep_from = day_of(now) - 1;
    let cursor = cursor_key(ns);
    let (raw, from) = state::read::<i64>(store, &cursor)?;
    // A first sweep starts where marks begin: nothing of this scheme is
    // older than the release that writes it.
    let mut day = from.unwrap_or(keep_from);
    let mut deleted = 0;
    // At most a few weeks of days a tick, should the clock have jumped.
    let mut days = 0;
    while day < keep_from && days < 32 {
        let keys = store.list_keys(&day_prefix(ns, day)).map_err(store_error)?;
        let room = SWEEP_BATCH - deleted;
        for key in keys.iter().take(room) {
            state::delete(store, key)?;
            deleted += 1;
        }
        if keys.len() > room {
            break; // the rest of this day waits for the next tick
        }
        day += 1;
        days += 1;
        if deleted == SWEEP_BATCH {
            break;
        }
    }
    if from != Some(day) {
        let value = state::encode(&day)?;
        store
            .compare_and_swap(&cursor, raw.as_deref(), Some(&value))
            .map_err(store_error)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;

    const T0: Timestamp = Timestamp(20_000 * DAY_NS + 3_600 * 1_000_000_000);

    fn at(days: i64, hours: i64) -> Timestamp {
        Timestamp(T0.0 + days * DAY_NS + hours * 3_600 * 1_000_000_000)
    }

    fn marks(store: &MemoryStore, ns: &str) -> usize {
        store.list_keys(&format!("{ns}/seen/")).unwrap().len()
    }

    #[test]
    fn a_redelivery_is_caught_the_same_day_and_the_next() {
        let s = MemoryStore::default();
        assert!(first_time(&s, "zendesk", "e-1", at(0, 0)).unwrap());
        assert!(!first_time(&s, "zendesk", "e-1", at(0, 1)).unwrap());
        // Just past midnight, the mark is yesterday's: still a redelivery.
        assert!(!first_time(&s, "zendesk", "e-1", at(0, 23)).unwrap());
        assert!(!first_time(&s, "zendesk", "e-1", at(1, 20)).unwrap());
        // Another helpdesk's namespace, another id: new.
        assert!(first_time(&s, "chatwoot", "e-1", at(0, 0)).unwrap());
        assert!(first_time(&s, "zendesk", "e-2", at(0, 0)).unwrap());
    }

    #[test]
    fn the_tick_sweeps_the_days_before_yesterday_and_keeps_the_rest() {
        let s = MemoryStore::default();
        assert_eq!(sweep(&s, "zendesk", at(0, 0)).unwrap(), 0);
        for i in 0..3 {
            first_time(&s, "zendesk", &format!("d0-{i}"), at(0, 0)).unwrap();
        }
        first_time(&s, "zendesk", "d1", at(1, 0)).unwrap();
        first_time(&s, "chatwoot", "d0", at(0, 0)).unwrap();
        // Day 1: days 0 and 1 are kept.
        assert_eq!(sweep(&s, "zendesk", at(1, 5)).unwrap(), 0);
        assert_eq!(marks(&s, "zendesk"), 4);
        // Day 2: day 0 goes, day 1 stays; the other helpdesk is not touched.
        assert_eq!(sweep(&s, "zendesk", at(2, 0)).unwrap(), 3);
        assert_eq!(marks(&s, "zendesk"), 1);
        assert_eq!(marks(&s, "chatwoot"), 1);
        // Past the window an id is new again (no helpdesk redelivers so late).
        assert!(first_time(&s, "zendesk", "d0-0", at(2, 1)).unwrap());
        // Days with nothing in them are passed over; the cursor keeps up.
        assert_eq!(sweep(&s, "zendesk", at(9, 0)).unwrap(), 2);
        assert_eq!(marks(&s, "zendesk"), 0);
        assert_eq!(sweep(&s, "zendesk", at(9, 1)).unwrap(), 0);
    }

    #[test]
    fn a_busy_day_is_swept_over_several_ticks() {
        let s = MemoryStore::default();
        sweep(&s, "chatwoot", at(0, 0)).unwrap();
        let n = SWEEP_BATCH + 100;
        for i in 0..n {
            first_time(&s, "chatwoot", &format!("m-{i}"), at(0, 0)).unwrap();
        }
        first_time(&s, "chatwoot", "later", at(1, 0)).unwrap();
        assert_eq!(sweep(&s, "chatwoot", at(3, 0)).unwrap(), SWEEP_BATCH);
        assert_eq!(marks(&s, "chatwoot"), n - SWEEP_BATCH + 1);
        assert_eq!(sweep(&s, "chatwoot", at(3, 0)).unwrap(), 101);
        assert_eq!(marks(&s, "chatwoot"), 0);
    }
}
