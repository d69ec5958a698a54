//! Named locks held by an export call until its transaction is committed.
//!
//! In-process: calls of one process that share an [`crate::Env`] exclude each
//! other. (Replicas sharing a database would use its own locks, e.g.
//! PostgreSQL's advisory locks, behind the same two calls.)

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A table of named locks.
#[derive(Debug, Default)]
pub struct Locks {
    held: Mutex<HashSet<String>>,
    released: Condvar,
}

impl Locks {
    /// Takes `name` if nobody holds it; whether it did.
    pub fn try_acquire(&self, name: &str) -> bool {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.contains(name) {
            return false;
        }
        held.insert(name.to_owned())
    }

    /// Takes `name`, waiting up to `timeout` for its holder to let go;
    /// whether it was taken.
    pub fn acquire(&self, name: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if !held.contains(name) {
                held.insert(name.to_owned());
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            held = self
                .released
                .wait_timeout(held, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Lets go of `names`.
    pub fn release(&self, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        for n in names {
            held.remove(n);
        }
        drop(held);
        self.released.notify_all();
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
