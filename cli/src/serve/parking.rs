//! How many Gleap calls may hold a connection at once. A Gleap call waits
//! for the agent's turn, for up to `--reply-wait`, on its connection; the
//! routes that receive the agent's and the helpdesks' events answer in
//! milliseconds. Gleap calls are kept below the connection cap by a reserve,
//! so that however many wait, an event always finds a connection; past their
//! share, the oldest waiting call answers at once with what it has (its
//! replies stay queued for the next call or the REST push).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Connections kept for everything but Gleap calls: an eighth of the cap,
/// at least 8 and at most 1,024.
pub fn reserve(cap: usize) -> usize {
    (cap / 8).clamp(8, 1_024)
}

/// The Gleap calls in progress, oldest first, each with the signal that
/// makes it answer now.
#[derive(Debug)]
pub struct Parking {
    share: usize,
    calls: Mutex<BTreeMap<u64, Arc<tokio::sync::Notify>>>,
    next: AtomicU64,
}

impl Parking {
    /// Room for `share` calls at once (at least one).
    pub fn new(share: usize) -> Self {
        Parking {
            share: share.max(1),
            calls: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
        }
    }

    /// For a connection cap of `cap`: the cap less its [`reserve`].
    pub fn for_cap(cap: usize) -> Self {
        Parking::new(cap.saturating_sub(reserve(cap)))
    }

    /// How many calls may be in progress at once.
    pub fn share(&self) -> usize {
        self.share
    }

    /// Registers a call for as long as the returned ticket lives. Past the
    /// share, the oldest call is told to answer now; whether one was.
    pub fn enter(&self) -> (Ticket<'_>, bool) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let answer_now = Arc::new(tokio::sync::Notify::new());
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        calls.insert(id, answer_now.clone());
        let mut shed = false;
        if calls.len() > self.share {
            if let Some((_, oldest)) = calls.pop_first() {
                // A stored permit: a call not yet waiting answers as it starts to.
                oldest.notify_one();
                shed = true;
            }
        }
        drop(calls);
        (
            Ticket {
                parking: self,
                id,
                answer_now,
            },
            shed,
        )
    }
}

/// One Gleap call in progress.
#[derive(Debug)]
pub struct Ticket<'a> {
    parking: &'a Parking,
    id: u64,
    answer_now: Arc<tokio::sync::Notify>,
}

impl Ticket<'_> {
    /// Completes when the call is to answer now, to make room.
    pub async fn answer_now(&self) {
        self.answer_now.notified().await;
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.parking
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_its_share_the_oldest_call_is_told_to_answer() {
        let parking = Parking::new(2);
        let (first, shed) = parking.enter();
        assert!(!shed);
        let (second, shed) = parking.enter();
        assert!(!shed);
        let (third, shed) = parking.enter();
        assert!(shed);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        runtime.block_on(async {
            // The first was told (the permit waits for it); the others not.
            tokio::time::timeout(std::time::Duration::from_secs(1), first.answer_now())
                .await
                .unwrap_or_else(|_| panic!("the oldest call was not told"));
            assert!(tokio::time::timeout(
                std::time::Duration::from_millis(20),
                second.answer_now()
            )
            .await
            .is_err());
        });
        // The first no longer counts: one leaving makes room without a shed.
        drop(first);
        drop(third);
        let (_fourth, shed) = parking.enter();
        assert!(!shed);
        drop(second);
    }

    #[test]
    fn the_reserve_is_an_eighth_of_the_cap_within_bounds() {
        assert_eq!(reserve(192), 24);
        assert_eq!(reserve(16), 8);
        assert_eq!(reserve(100_000), 1_024);
        assert_eq!(Parking::for_cap(192).share(), 168);
        assert_eq!(Parking::for_cap(4).share(), 1);
    }
}
