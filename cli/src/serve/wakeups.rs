//! Per-conversation wake-ups: a parked Gleap call waits on its
//! conversation's, and the webhook route signals it after committing
//! something for that conversation. Nothing is held while waiting — no
//! thread, no component instance.
//!
//! Waiters register before they look (see [`Wakeups::subscribe`]), so a
//! signal between a look and the wait is never lost. (Replicas sharing a
//! database would carry the same signal over e.g. PostgreSQL's NOTIFY.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// The wake-ups of every conversation with a parked call.
#[derive(Debug, Default)]
pub struct Wakeups {
    waiting: Mutex<HashMap<String, Arc<Notify>>>,
}

/// A parked call's registration; unregisters when dropped.
pub struct Subscription<'a> {
    wakeups: &'a Wakeups,
    conversation: String,
    notify: Arc<Notify>,
}

impl Wakeups {
    /// Registers interest in `conversation`.
    pub fn subscribe(&self, conversation: &str) -> Subscription<'_> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let notify = waiting.entry(conversation.to_owned()).or_default().clone();
        Subscription {
            wakeups: self,
            conversation: conversation.to_owned(),
            notify,
        }
    }

    /// Wakes every call parked on `conversation`.
    pub fn wake(&self, conversation: &str) {
        let waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = waiting.get(conversation) {
            n.notify_waiters();
        }
    }

    /// Wakes every parked call.
    pub fn wake_all(&self) {
        let waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        for n in waiting.values() {
            n.notify_waiters();
        }
    }

    /// Conversations with a parked call.
    pub fn len(&self) -> usize {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no call is parked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Subscription<'_> {
    /// The signal to wait for: call `enable` on it (pinned) *before* looking
    /// at the conversation, then await it.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        let mut waiting = self
            .wakeups
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map's reference and ours: nobody else waits here.
        if Arc::strong_count(&self.notify) == 2 {
            waiting.remove(&self.conversation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wake_after_enable_is_not_lost_and_registrations_are_dropped() {
        let w = Wakeups::default();
        let sub = w.subscribe("c");
        {
            let notified = sub.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            w.wake("c"); // before anyone awaits
            tokio::time::timeout(std::time::Duration::from_secs(1), notified)
                .await
                .expect("woken");
        }
        assert_eq!(w.len(), 1);
        drop(sub);
        assert!(w.is_empty());
    }
}
