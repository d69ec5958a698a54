//! What a replica does differently when its store is shared with others
//! (PostgreSQL): it hears the wake-ups other replicas' commits send, takes
//! a lease on a lane before doing that lane's outbound work (a Chatwoot
//! conversation's queued calls, the tick) and commits that work fenced by
//! the lease, and looks for lanes left with work on a timer, so that work
//! a dead replica held is taken over once its lease expires.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Result;
use glbridge_host::store::postgres::{Listener, Signal};
use glbridge_host::store::{CommitError, Fence};
use glbridge_host::{HostError, PostgresStore, Session, Uncommitted};

use super::{App, FALLBACK_LOOK};

/// The shared store and this replica's place among the others.
pub(super) struct Shared {
    pub(super) store: Arc<PostgresStore>,
    /// This replica's name in the leases.
    owner: String,
    ttl: Duration,
    listener: Mutex<Option<Listener>>,
}

/// What a leased call came to.
pub(super) enum Leased<R> {
    /// It ran and its writes are committed, under this lease.
    Done(R, Fence),
    /// Another replica holds the lane (or took it over meanwhile: then
    /// nothing of the call was kept).
    Elsewhere,
}

/// A name for this replica: host, process and a random part.
fn replica_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!(
        "{host}-{}-{:06x}",
        std::process::id(),
        super::rand_seed() & 0xff_ffff
    )
}

impl Shared {
    pub(super) fn new(store: Arc<PostgresStore>, owner: Option<String>, ttl: Duration) -> Self {
        let owner = owner.unwrap_or_else(replica_name);
        tracing::info!(replica = %owner, lease_ttl = ?ttl, "leases are taken as this replica");
        Shared {
            store,
            owner,
            ttl,
            listener: Mutex::new(None),
        }
    }

    /// Starts hearing other replicas' wake-ups (on the store's connection
    /// of its own): a woken conversation's parked calls look again; after
    /// a reconnection, every parked call does.
    pub(super) fn listen(&self, app: &Arc<App>) {
        let weak = Arc::downgrade(app);
        let listener = self.store.listen(move |signal| {
            let Some(app) = weak.upgrade() else {
                return;
            };
            match signal {
                Signal::Wake(conversation) => {
                    app.metrics.wakeups_heard.inc();
                    app.wakeups.wake(conversation);
                }
                Signal::Reconnected => {
                    app.metrics.store_ready.set(1);
                    app.wakeups.wake_all();
                }
                Signal::Lost => {
                    app.metrics.store_ready.set(0);
                }
            }
        });
        *self.listener.lock().unwrap_or_else(PoisonError::into_inner) = Some(listener);
    }

    /// Claims `lane` (or extends this replica's claim), runs `f` with its
    /// commits deferred, and commits them fenced by the lease, with the
    /// wake-ups `wake` names. A commit that lost to another call runs `f`
    /// again.
    pub(super) fn leased<R>(
        &self,
        app: &App,
        lane: &str,
        mut f: impl FnMut(&mut Session) -> Result<R, HostError>,
        wake: impl Fn(&R) -> Vec<String>,
    ) -> Result<Leased<R>> {
        let mut conflicts = 0;
        loop {
            let Some(fence) = self.store.claim(lane, &self.owner, self.ttl)? else {
                return Ok(Leased::Elsewhere);
            };
            let (result, mut pending) = app.call(|s| Ok(s.deferred(&mut f)))?;
            let result = result?;
            for p in &mut pending {
                p.fence(fence.clone());
            }
            if let Some(last) = pending.last_mut() {
                last.wake(wake(&result));
            }
            let committed = Uncommitted::commit_all(pending)
                .into_iter()
                .find(Result::is_err)
                .unwrap_or(Ok(()));
            match committed {
                Ok(()) => return Ok(Leased::Done(result, fence)),
                Err(CommitError::LeaseLost(_)) => {
                    app.metrics.leases_lost.inc();
                    tracing::warn!(
                        lane,
                        "another replica took the lane over; this one's work was not kept"
                    );
                    return Ok(Leased::Elsewhere);
                }
                Err(CommitError::Conflict(_)) if conflicts < super::COMMIT_RETRIES => {
                    conflicts += 1;
                    app.metrics.store_conflicts.inc();
                }
                Err(e) => return Err(HostError::Commit(e).into()),
            }
        }
    }

    /// Lets a lane go while it is still held under `fence` (so that another
    /// replica may take it at once rather than when the lease ends).
    pub(super) fn release(&self, fence: &Fence) {
        if let Err(e) = self.store.release(fence) {
            tracing::debug!(lane = %fence.lane, "releasing a lease: {e}");
        }
    }
}

/// Every fallback interval: drains the helpdesk conversations that have
/// calls queued (a lane whose lease is held elsewhere is skipped), so that
/// work left by a replica that died is taken over once its lease expires.
pub(super) async fn scan_loop(app: Arc<App>) {
    let mut interval = tokio::time::interval(FALLBACK_LOOK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match app.call(|s| s.busy()) {
            Ok(busy) => {
                for c in &busy {
                    app.drains.schedule(c);
                }
            }
            Err(e) => tracing::debug!("looking for queued helpdesk calls: {e:#}"),
        }
    }
}
