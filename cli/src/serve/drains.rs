//! Draining the helpdesks' outbound queues: each conversation's queued calls are made
//! by one task at a time, again whenever something was queued meanwhile,
//! and again when the head's back-off ends. The queues themselves are in
//! the store, so nothing is lost if the process stops: at start every
//! conversation with calls queued is drained.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// What one drain of a conversation came to.
pub enum Drained {
    /// Everything due was made; the head is due again at this time (ns
    /// since the epoch), if anything is left.
    Done(Option<i64>),
    /// The drain itself failed (the store, the component): try again soon.
    Failed,
}

/// Runs one drain of a conversation (a component call).
pub type DrainOne = Box<dyn Fn(&str) -> Drained + Send + Sync>;

/// The drains of one service.
pub struct Drains {
    /// Conversations being drained → whether more was queued meanwhile.
    running: Mutex<HashMap<String, bool>>,
    /// Most drains at once (each holds a worker while it calls out).
    slots: Arc<tokio::sync::Semaphore>,
    drain: OnceLock<DrainOne>,
    now_ns: fn() -> i64,
}

impl Drains {
    /// At most `concurrent` drains at once; `now_ns` tells the time.
    pub fn new(concurrent: usize, now_ns: fn() -> i64) -> Self {
        Drains {
            running: Mutex::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(concurrent.max(1))),
            drain: OnceLock::new(),
            now_ns,
        }
    }

    /// Sets what a drain does (once, when the service is built).
    pub fn set(&self, drain: DrainOne) {
        let _ = self.drain.set(drain);
    }

    /// Drains `conversation` soon (once more, if a drain of it is running).
    pub fn schedule(self: &Arc<Self>, conversation: &str) {
        {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(again) = running.get_mut(conversation) {
                *again = true;
                return;
            }
            running.insert(conversation.to_owned(), false);
        }
        tokio::spawn(run(self.clone(), conversation.to_owned()));
    }
}

async fn run(drains: Arc<Drains>, conversation: String) {
    loop {
        let slot = drains.slots.clone().acquire_owned().await;
        let outcome = match drains.drain.get() {
            Some(drain) => drain(&conversation),
            None => Drained::Failed,
        };
        drop(slot);
        let retry_in = match outcome {
            Drained::Done(None) => None,
            Drained::Done(Some(at)) => Some(Duration::from_nanos(
                u64::try_from(at.saturating_sub((drains.now_ns)())).unwrap_or(0),
            )),
            Drained::Failed => Some(Duration::from_secs(1)),
        };
        {
            let mut running = drains.running.lock().unwrap_or_else(|e| e.into_inner());
            match running.get_mut(&conversation) {
                // Something was queued while it ran: again, at once.
                Some(again) if *again => {
                    *again = false;
                    continue;
                }
                _ => {
                    running.remove(&conversation);
                }
            }
        }
        if let Some(wait) = retry_in {
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                drains.schedule(&conversation);
            });
        }
        return;
    }
}
