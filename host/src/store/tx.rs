//! What one export call sees of the store: its own writes over the
//! committed state, and the locks it holds.

use std::collections::BTreeMap;
use std::time::Duration;

use glbridge_guest::env::StoreError;

use super::{Backend, CommitError, Locks, Write};

#[derive(Debug)]
struct Pending {
    base: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
}

/// One export call's transaction.
#[derive(Debug, Default)]
pub struct Transaction {
    writes: BTreeMap<String, Pending>,
    /// Committed values this call has read: a compare-and-swap that follows
    /// a read (the usual read-modify-write) needs no second look.
    read: BTreeMap<String, Option<Vec<u8>>>,
    locks: Vec<String>,
    /// Whether the backend is shared with other processes: then what the
    /// call read is checked at commit too (see [`Transaction::take`]).
    validate_reads: bool,
    /// Whether reads go through the backend's cache ([`Backend::get_cached`]).
    cached: bool,
}

impl Transaction {
    /// Reads `key`: this call's write if it made one, else the committed value.
    pub fn get(&mut self, backend: &dyn Backend, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(p) = self.writes.get(key) {
            return Ok(p.value.clone());
        }
        self.committed(backend, key)
    }

    /// The committed value of `key`, read once per call. On a backend of
    /// one process reads are not validated at commit (what a call relies
    /// on it either writes or locks); on a shared one they are.
    fn committed(
        &mut self,
        backend: &dyn Backend,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.read.get(key) {
            return Ok(v.clone());
        }
        let v = if self.cached {
            backend.get_cached(key)?
        } else {
            backend.get(key)?
        };
        self.read.insert(key.to_owned(), v.clone());
        Ok(v)
    }

    /// Compare-and-swap against what this call sees; the write stays in the
    /// transaction until commit.
    pub fn compare_and_swap(
        &mut self,
        backend: &dyn Backend,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        if let Some(p) = self.writes.get_mut(key) {
            if p.value.as_deref() != expected {
                return Ok(false);
            }
            p.value = new.map(<[u8]>::to_vec);
            return Ok(true);
        }
        let base = match self.read.get(key) {
            // An insert with no read before it, in a call whose reads are
            // all checked at commit: the backend may guess its base.
            None if expected.is_none() && self.cached && self.validate_reads => {
                let base = backend.base_for_insert(key)?;
                self.read.insert(key.to_owned(), base.clone());
                base
            }
            _ => self.committed(backend, key)?,
        };
        if base.as_deref() != expected {
            return Ok(false);
        }
        self.writes.insert(
            key.to_owned(),
            Pending {
                base,
                value: new.map(<[u8]>::to_vec),
            },
        );
        Ok(true)
    }

    /// Committed keys under `prefix`, with this call's inserts and deletes applied.
    pub fn list_keys(
        &self,
        backend: &dyn Backend,
        prefix: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut keys = backend.list_keys(prefix)?;
        let mine = self
            .writes
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        let mut changed = false;
        for (k, p) in mine {
            match (&p.value, keys.binary_search(k)) {
                (Some(_), Err(at)) => {
                    keys.insert(at, k.clone());
                    changed = true;
                }
                (None, Ok(at)) => {
                    keys.remove(at);
                    changed = true;
                }
                _ => {}
            }
        }
        debug_assert!(!changed || keys.windows(2).all(|w| w[0] < w[1]));
        Ok(keys)
    }

    /// Takes the lock `name` for the rest of the call; a wait for another
    /// holder runs through `blocking`. The lock excludes the calls of this
    /// process only.
    pub fn lock(
        &mut self,
        locks: &Locks,
        name: &str,
        timeout: Duration,
        blocking: fn(&mut dyn FnMut()),
    ) -> Result<(), StoreError> {
        if self.locks.iter().any(|n| n == name) {
            return Ok(());
        }
        let mut taken = locks.try_acquire(name);
        if !taken {
            blocking(&mut || taken = locks.acquire(name, timeout));
        }
        if !taken {
            return Err(StoreError(format!(
                "waited {} ms for the lock on {name}",
                timeout.as_millis()
            )));
        }
        self.locks.push(name.to_owned());
        Ok(())
    }

    /// Drops this call's writes (its locks stay held).
    pub fn rollback(&mut self) {
        self.writes.clear();
        self.read.clear();
    }

    /// Whether the call wrote anything.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Checks what the call reads at commit as well as what it writes: for
    /// a backend shared with other processes, whose calls this process's
    /// locks do not exclude (see [`Backend::shared`]).
    pub fn validate_reads(&mut self, on: bool) {
        self.validate_reads = on;
    }

    /// Reads through the backend's cache for the rest of this call (set at
    /// the start of each call). With validated reads, a cached read comes
    /// to the commit even if the call writes nothing.
    pub fn cached_reads(&mut self, on: bool) {
        self.cached = on;
    }

    /// Ends the transaction: its writes (those that change something) and
    /// its locks, which the caller commits and releases — in that order, so
    /// the next holder of a lock reads what this call wrote.
    ///
    /// When reads are validated and the call wrote something, every key it
    /// read but did not write comes too, as a write that leaves the value
    /// it read: the commit then fails if another process changed it
    /// meanwhile (optimistic concurrency), and the call runs again on the
    /// state that won. A call that writes nothing commits nothing, unless
    /// it read through the cache: then its reads are committed (checked)
    /// alone.
    pub fn take(&mut self) -> (Vec<Write>, Vec<String>) {
        let read = std::mem::take(&mut self.read);
        let mut writes: Vec<Write> = std::mem::take(&mut self.writes)
            .into_iter()
            .filter(|(_, p)| p.base != p.value)
            .map(|(key, p)| Write {
                key,
                base: p.base,
                value: p.value,
            })
            .collect();
        if self.validate_reads && (!writes.is_empty() || (self.cached && !read.is_empty())) {
            let unread = writes.len();
            for (key, value) in read {
                if writes[..unread]
                    .binary_search_by(|w| w.key.cmp(&key))
                    .is_err()
                {
                    writes.push(Write {
                        key,
                        base: value.clone(),
                        value,
                    });
                }
            }
            writes.sort_by(|a, b| a.key.cmp(&b.key));
        }
        (writes, std::mem::take(&mut self.locks))
    }

    /// Ends the transaction here and now: commits its writes when `commit`
    /// is set (else drops them), then releases its locks.
    pub fn finish(
        &mut self,
        backend: &dyn Backend,
        locks: &Locks,
        commit: bool,
    ) -> Result<(), CommitError> {
        let (writes, held) = self.take();
        let result = if commit && !writes.is_empty() {
            backend.commit(writes)
        } else {
            Ok(())
        };
        locks.release(&held);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn validated_reads_come_to_commit_as_unchanged_writes() {
        let store = MemoryStore::default();
        let locks = Locks::default();
        let mut setup = Transaction::default();
        assert!(setup
            .compare_and_swap(&store, "read", None, Some(b"r"))
            .unwrap());
        setup.finish(&store, &locks, true).unwrap();

        let mut a = Transaction::default();
        a.validate_reads(true);
        assert_eq!(a.get(&store, "read").unwrap(), Some(b"r".to_vec()));
        assert_eq!(a.get(&store, "absent").unwrap(), None);
        assert!(a.compare_and_swap(&store, "w", None, Some(b"1")).unwrap());
        // Another process changes what `a` read: `a` must not commit.
        let mut b = Transaction::default();
        assert!(b
            .compare_and_swap(&store, "read", Some(b"r"), Some(b"s"))
            .unwrap());
        b.finish(&store, &locks, true).unwrap();
        assert_eq!(
            a.finish(&store, &locks, true),
            Err(CommitError::Conflict("read".into()))
        );
        assert_eq!(Backend::get(&store, "w").unwrap(), None);

        // Reads alone commit nothing; reads with writes list every key once.
        let mut c = Transaction::default();
        c.validate_reads(true);
        c.get(&store, "read").unwrap();
        assert!(c.take().0.is_empty());
        c.get(&store, "read").unwrap();
        c.get(&store, "absent").unwrap();
        assert!(c
            .compare_and_swap(&store, "read", Some(b"s"), Some(b"t"))
            .unwrap());
        let keys: Vec<String> = c.take().0.into_iter().map(|w| w.key).collect();
        assert_eq!(keys, vec!["absent", "read"]);
    }

    #[test]
    fn a_transaction_reads_its_writes_and_commits_all_or_nothing() {
        let store = MemoryStore::default();
        let locks = Locks::default();
        let mut a = Transaction::default();
        assert!(a.compare_and_swap(&store, "k/1", None, Some(b"1")).unwrap());
        assert!(a.compare_and_swap(&store, "k/2", None, Some(b"2")).unwrap());
        assert_eq!(a.get(&store, "k/1").unwrap(), Some(b"1".to_vec()));
        assert_eq!(
            Backend::get(&store, "k/1").unwrap(),
            None,
            "not yet committed"
        );
        assert_eq!(a.list_keys(&store, "k/").unwrap(), vec!["k/1", "k/2"]);

        // A neighbour commits k/2 first: `a` must not overwrite it.
        let mut b = Transaction::default();
        assert!(b.compare_and_swap(&store, "k/2", None, Some(b"b")).unwrap());
        b.finish(&store, &locks, true).unwrap();
        assert_eq!(
            a.finish(&store, &locks, true),
            Err(CommitError::Conflict("k/2".into()))
        );
        assert_eq!(Backend::get(&store, "k/1").unwrap(), None, "nothing of `a`");

        let mut c = Transaction::default();
        assert!(c.compare_and_swap(&store, "k/2", Some(b"b"), None).unwrap());
        assert_eq!(c.list_keys(&store, "k/").unwrap(), Vec::<String>::new());
        c.rollback();
        c.finish(&store, &locks, true).unwrap();
        assert_eq!(Backend::get(&store, "k/2").unwrap(), Some(b"b".to_vec()));
    }
}
