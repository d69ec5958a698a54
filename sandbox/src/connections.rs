//! The open connections of a server, so that at its cap the oldest idle one
//! can be closed to make room for a newcomer, rather than the newcomer
//! waiting in the listen backlog behind clients that send nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// No request in progress: waiting for one's head (a new or a keep-alive
/// connection, or a client too slow to send one).
const IDLE: u8 = 0;
/// A request is being handled or its response written.
const BUSY: u8 = 1;
/// Chosen to be closed; it takes no further request.
const SHED: u8 = 2;

/// How long a connection must have been idle to be shed: a connection just
/// taken in (or just done with a request) may have its next request's head
/// already waiting to be read, and closing it would lose that request.
pub(crate) const MIN_IDLE: Duration = Duration::from_millis(250);

/// One connection's state and the signal that closes it.
#[derive(Debug)]
pub(crate) struct Connection {
    state: AtomicU8,
    /// When it last became idle, in ms since its [`Connections`]' start.
    idle_since: AtomicU64,
    /// Whether its last read found nothing to read: the server waits on the
    /// client. A connection not read yet (just taken in, its request
    /// perhaps waiting in the socket) or with bytes just read is never
    /// shed, so closing one loses no request that reached the server.
    waiting: AtomicBool,
    shed: tokio::sync::Notify,
    epoch: Instant,
}

impl Connection {
    /// Marks a request as started; `None` if the connection is being shed.
    pub(crate) fn begin(self: &Arc<Self>) -> Option<Busy> {
        self.state
            .compare_exchange(IDLE, BUSY, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Busy(self.clone()))
    }

    /// Notes what the connection's last read found: nothing yet
    /// (`waiting`), or bytes or the end of the stream.
    pub(crate) fn read_found_nothing(&self, waiting: bool) {
        self.waiting.store(waiting, Ordering::Release);
    }

    /// Completes when the connection is to be closed.
    pub(crate) async fn shed(&self) {
        self.shed.notified().await;
    }
}

/// A request in progress on a connection: until it is dropped (with the
/// response's body, once written) the connection is not idle.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Connection>);

impl Drop for Busy {
    fn drop(&mut self) {
        let connection = &self.0;
        // Its next request may already be in the socket until a read says not.
        connection.waiting.store(false, Ordering::Release);
        connection
            .idle_since
            .store(millis_since(connection.epoch), Ordering::Release);
        let _ = connection
            .state
            .compare_exchange(BUSY, IDLE, Ordering::AcqRel, Ordering::Acquire);
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The open connections, oldest first.
#[derive(Debug)]
pub(crate) struct Connections {
    open: Mutex<BTreeMap<u64, Arc<Connection>>>,
    next: AtomicU64,
    /// Shed but not yet gone.
    shedding: AtomicUsize,
    epoch: Instant,
    min_idle: Duration,
}

impl Default for Connections {
    fn default() -> Self {
        Connections::new(MIN_IDLE)
    }
}

impl Connections {
    /// No connection yet; one is shed only once idle for `min_idle`.
    pub(crate) fn new(min_idle: Duration) -> Self {
        Connections {
            open: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
            shedding: AtomicUsize::new(0),
            epoch: Instant::now(),
            min_idle,
        }
    }

    /// Registers a new connection; `remove` it with the returned id.
    pub(crate) fn add(&self) -> (u64, Arc<Connection>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            state: AtomicU8::new(IDLE),
            idle_since: AtomicU64::new(millis_since(self.epoch)),
            waiting: AtomicBool::new(false),
            shed: tokio::sync::Notify::new(),
            epoch: self.epoch,
        });
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, connection.clone());
        (id, connection)
    }

    /// Forgets a connection that has closed.
    pub(crate) fn remove(&self, id: u64) {
        let gone = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if gone.is_some_and(|c| c.state.load(Ordering::Acquire) == SHED) {
            self.shedding.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Closes the oldest connection idle for long enough and waiting on its
    /// client, unless one shed
    /// earlier is still going; whether one is (now or still) on its way out.
    pub(crate) fn shed_oldest_idle(&self) -> bool {
        if self.shedding.load(Ordering::Acquire) > 0 {
            return true;
        }
        let min_idle = u64::try_from(self.min_idle.as_millis()).unwrap_or(u64::MAX);
        let now = millis_since(self.epoch);
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        for connection in open.values() {
            if connection
                .idle_since
                .load(Ordering::Acquire)
                .saturating_add(min_idle)
                <= now
                && connection.waiting.load(Ordering::Acquire)
                && connection
                    .state
                    .compare_exchange(IDLE, SHED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                self.shedding.fetch_add(1, Ordering::AcqRel);
                connection.shed.notify_one();
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_idle_connection_is_shed_and_a_busy_one_never() {
        let all = Connections::new(Duration::ZERO);
        let (a, first) = all.add();
        let (_, second) = all.add();
        let (_, third) = all.add();
        for c in [&first, &second, &third] {
            c.read_found_nothing(true);
        }
        let busy = first.begin().expect("idle");
        assert!(all.shed_oldest_idle());
        // The first is busy: the second, the oldest idle, goes.
        assert!(second.begin().is_none(), "a shed connection takes nothing");
        assert!(all.shed_oldest_idle(), "still on its way out");
        drop(busy);
        // Once the first request is over, the first connection is idle again.
        assert!(first.begin().is_some());
        assert!(third.begin().is_some());
        all.remove(a);
        assert_eq!(all.shedding.load(Ordering::Acquire), 1);
    }

    #[test]
    fn with_every_connection_busy_none_is_shed() {
        let all = Connections::new(Duration::ZERO);
        let (_, c) = all.add();
        let _busy = c.begin().expect("idle");
        assert!(!all.shed_oldest_idle());
    }

    #[test]
    fn a_connection_not_read_yet_or_just_read_from_is_kept() {
        let all = Connections::new(Duration::ZERO);
        let (_, c) = all.add();
        assert!(!all.shed_oldest_idle(), "not read yet");
        c.read_found_nothing(true);
        c.read_found_nothing(false);
        assert!(!all.shed_oldest_idle(), "bytes just read");
        // Done with a request: its next may be waiting in the socket.
        c.read_found_nothing(true);
        drop(c.begin().expect("idle"));
        assert!(!all.shed_oldest_idle(), "not read since its last request");
        c.read_found_nothing(true);
        assert!(all.shed_oldest_idle());
    }

    #[test]
    fn a_connection_idle_for_less_than_the_minimum_is_kept() {
        let all = Connections::new(Duration::from_secs(3600));
        let (_, c) = all.add();
        c.read_found_nothing(true);
        assert!(!all.shed_oldest_idle());
        assert!(c.begin().is_some(), "not shed");
    }
}
