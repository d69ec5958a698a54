//! Named locks held by an export call until its transaction is committed.
//!
//! In-process: calls of one process that share an [`crate::Env`] exclude each
//! other. (Replicas sharing a database would use its own locks, e.g.
//! PostgreSQL's advisory locks, behind the same two calls.)

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A table of named locks.
#[derive(Debug, Default)]
pub struct Locks {
    table: Mutex<Table>,
    released: Condvar,
}

#[derive(Debug, Default)]
struct Table {
    held: HashSet<String>,
    /// Callers waiting in [`Locks::acquire`]: a release wakes them only if
    /// there are any (a notification is a system call even with nobody to
    /// wake, and releases happen on every call).
    waiting: usize,
}

impl Locks {
    /// Takes `name` if nobody holds it; whether it did.
    pub fn try_acquire(&self, name: &str) -> bool {
        let mut table = self.table();
        if table.held.contains(name) {
            return false;
        }
        table.held.insert(name.to_owned())
    }

    /// Takes `name`, waiting up to `timeout` for its holder to let go;
    /// whether it was taken.
    pub fn acquire(&self, name: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut table = self.table();
        loop {
            if !table.held.contains(name) {
                table.held.insert(name.to_owned());
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            table.waiting += 1;
            table = self
                .released
                .wait_timeout(table, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            table.waiting -= 1;
        }
    }

    /// Lets go of `names`.
    pub fn release(&self, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let mut table = self.table();
        for n in names {
            table.held.remove(n);
        }
        let anyone_waiting = table.waiting > 0;
        drop(table);
        if anyone_waiting {
            self.released.notify_all();
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_lock_excludes_until_released_and_times_out() {
        let locks = Arc::new(Locks::default());
        assert!(locks.acquire("a", Duration::ZERO));
        assert!(!locks.acquire("a", Duration::from_millis(10)));
        assert!(locks.acquire("b", Duration::ZERO));
        let waiter = {
            let locks = locks.clone();
            std::thread::spawn(move || locks.acquire("a", Duration::from_secs(10)))
        };
        std::thread::sleep(Duration::from_millis(20));
        locks.release(&["a".into()]);
        assert!(waiter.join().unwrap());
    }
}
