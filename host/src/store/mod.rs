//! The component's `store` import: each export call is one transaction.
//!
//! A [`Backend`] holds committed state (in memory, or a SQLite file). A
//! [`Transaction`] is what one export call sees: reads go to the backend
//! unless the call wrote the key itself, writes stay in the transaction, and
//! when the call returns the host commits them all at once — or none, after a
//! trap or a conflict. Calls serialize on named locks ([`Locks`]) that the
//! component takes per conversation, and commit may still refuse a write
//! whose key changed since the call first read it (first committer wins), so
//! nothing a call relied on is silently overwritten.

mod cache;
mod keys;
mod locks;
mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
mod sqlite;
mod tx;

use glbridge_guest::env::StoreError;

pub use locks::Locks;
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use sqlite::{Durability, SqliteStore, DEFAULT_WAL_LIMIT, MIN_WAL_LIMIT};
pub use tx::Transaction;

/// One key a transaction wrote: the committed value it based the write on,
/// and the value it leaves (`None` deletes).
#[derive(Clone, PartialEq, Eq)]
pub struct Write {
    /// The key.
    pub key: String,
    /// What the key held when the transaction first read it.
    pub base: Option<Vec<u8>>,
    /// What it holds after the commit.
    pub value: Option<Vec<u8>>,
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values are the component's opaque state: sizes only.
        f.debug_struct("Write")
            .field("key", &self.key)
            .field("base_len", &self.base.as_ref().map(Vec::len))
            .field("value_len", &self.value.as_ref().map(Vec::len))
            .finish()
    }
}

/// A lease a call's commit depends on: the commit applies only while
/// `owner` still holds `lane` at `epoch` (fencing a holder whose lease
/// expired and was taken over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lane (e.g. `chatwoot/<conversation>`).
    pub lane: String,
    /// Who claimed it.
    pub owner: String,
    /// The claim's epoch: every new claim of the lane by another owner
    /// raises it.
    pub epoch: i64,
}

/// One call's writes and what its commit carries beside them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The keys it wrote.
    pub writes: Vec<Write>,
    /// Conversations to wake (in every replica sharing the store) once the
    /// writes are committed.
    pub wake: Vec<String>,
    /// Leases the writes depend on.
    pub fences: Vec<Fence>,
}

impl From<Vec<Write>> for Changes {
    fn from(writes: Vec<Write>) -> Self {
        Changes {
            writes,
            ..Changes::default()
        }
    }
}

/// Why a commit did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// Another call changed this key since the transaction read it.
    #[error("another call changed {0} first")]
    Conflict(String),
    /// A lease the call depended on is no longer held by its owner.
    #[error("the lease on {0} was lost")]
    LeaseLost(String),
    /// The backing store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Committed state that host calls run transactions against.
pub trait Backend: Send + Sync {
    /// Reads a committed value.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Committed keys starting with `prefix`, ascending.
    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Reads a value, maybe from a cache of committed values. A backend
    /// shared with other processes may answer a stale value: it must then
    /// check every such read at commit ([`Backend::shared`]). By default the
    /// same as [`Backend::get`].
    fn get_cached(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(key)
    }
    /// The base of a write that inserts `key` (a compare-and-swap expecting
    /// it absent) that no read of the call came before, in a call that
    /// reads through the cache on a shared backend. Such a base is checked
    /// at commit like any cached read, so a backend may guess it rather
    /// than ask; a wrong guess costs the call a conflict, and the backend
    /// must then know better when the call runs again. By default
    /// [`Backend::get_cached`].
    fn base_for_insert(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_cached(key)
    }
    /// Applies `writes` atomically and durably if every key still holds its
    /// `base`; otherwise applies none of them.
    fn commit(&self, writes: Vec<Write>) -> Result<(), CommitError>;

    /// Commits several calls' writes, in order, each all-or-nothing as
    /// [`Backend::commit`] would; a backend may make them durable together
    /// (group commit).
    fn commit_all(&self, sets: Vec<Vec<Write>>) -> Vec<Result<(), CommitError>> {
        sets.into_iter().map(|w| self.commit(w)).collect()
    }

    /// Whether other processes may commit to the same state (a database
    /// server): then the named locks of one process do not exclude the
    /// calls of another, so each call that writes has what it read checked
    /// at commit as well (see [`Transaction::take`]).
    fn shared(&self) -> bool {
        false
    }

    /// Commits several calls as [`Backend::commit_all`] does, each with its
    /// wake-ups and fences. A backend without leases refuses fenced calls;
    /// one without cross-process wake-ups ignores `wake` (the host wakes its
    /// own waiters).
    fn commit_changes(&self, sets: Vec<Changes>) -> Vec<Result<(), CommitError>> {
        if let Some(fenced) = sets.iter().find_map(|c| c.fences.first()) {
            let lane = fenced.lane.clone();
            return sets
                .iter()
                .map(|_| {
                    Err(CommitError::LeaseLost(format!(
                        "{lane} (this store has no leases)"
                    )))
                })
                .collect();
        }
        self.commit_all(sets.into_iter().map(|c| c.writes).collect())
    }
}

impl<T: Backend + ?Sized> Backend for std::sync::Arc<T> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(key)
    }
    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        (**self).list_keys(prefix)
    }
    fn get_cached(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get_cached(key)
    }
    fn base_for_insert(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).base_for_insert(key)
    }
    fn commit(&self, writes: Vec<Write>) -> Result<(), CommitError> {
        (**self).commit(writes)
    }
    fn commit_all(&self, sets: Vec<Vec<Write>>) -> Vec<Result<(), CommitError>> {
        (**self).commit_all(sets)
    }
    fn shared(&self) -> bool {
        (**self).shared()
    }
    fn commit_changes(&self, sets: Vec<Changes>) -> Vec<Result<(), CommitError>> {
        (**self).commit_changes(sets)
    }
}

/// A call's writes and locks, not committed yet: what a deferred call
/// ([`crate::Session::deferred`]) leaves, so that a service can commit many
/// calls together. Dropping it discards the writes and releases the locks.
pub struct Uncommitted {
    changes: Changes,
    held: Vec<String>,
    store: std::sync::Arc<dyn Backend>,
    locks: std::sync::Arc<Locks>,
}

impl std::fmt::Debug for Uncommitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uncommitted")
            .field("changes", &self.changes)
            .field("locks", &self.held)
            .finish()
    }
}

impl Uncommitted {
    pub(crate) fn new(
        writes: Vec<Write>,
        held: Vec<String>,
        store: std::sync::Arc<dyn Backend>,
        locks: std::sync::Arc<Locks>,
    ) -> Self {
        Uncommitted {
            changes: writes.into(),
            held,
            store,
            locks,
        }
    }

    /// Wakes `conversations` in every replica once this is committed (a
    /// store shared between processes carries the signal, e.g. PostgreSQL's
    /// `NOTIFY` in the committing transaction).
    pub fn wake(&mut self, conversations: impl IntoIterator<Item = String>) {
        self.changes.wake.extend(conversations);
    }

    /// Makes the commit depend on a lease: it fails with
    /// [`CommitError::LeaseLost`] if `fence.owner` no longer holds it.
    pub fn fence(&mut self, fence: Fence) {
        self.changes.fences.push(fence);
    }

    /// Commits, then releases the call's locks.
    pub fn commit(self) -> Result<(), CommitError> {
        let mut all = Self::commit_all(vec![self]);
        all.pop()
            .unwrap_or_else(|| Err(CommitError::Store(StoreError("nothing committed".into()))))
    }

    /// Commits several calls in one group per store, in order, then
    /// releases their locks; one result per call.
    pub fn commit_all(mut batch: Vec<Uncommitted>) -> Vec<Result<(), CommitError>> {
        let mut results: Vec<Option<Result<(), CommitError>>> = vec![None; batch.len()];
        let mut done = vec![false; batch.len()];
        for first in 0..batch.len() {
            if done[first] {
                continue;
            }
            // The calls on the same store as `first`, committed together.
            let same: Vec<usize> = (first..batch.len())
                .filter(|&i| {
                    !done[i] && std::sync::Arc::ptr_eq(&batch[i].store, &batch[first].store)
                })
                .collect();
            let sets = same
                .iter()
                .map(|&i| std::mem::take(&mut batch[i].changes))
                .collect();
            let store = batch[first].store.clone();
            for (i, r) in same.iter().zip(store.commit_changes(sets)) {
                results[*i] = Some(r);
                done[*i] = true;
            }
        }
        // Dropping releases each call's locks, now that its writes are in.
        drop(batch);
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(CommitError::Store(StoreError("not committed".into()))))
            })
            .collect()
    }
}

impl Drop for Uncommitted {
    fn drop(&mut self) {
        self.locks.release(&std::mem::take(&mut self.held));
    }
}

/// The smallest key greater than every key starting with `prefix`, for
/// range scans (`None`: no bound).
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next scalar value after `last`, skipping the surrogate gap.
        let next = match last as u32 {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(c) = next {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_bounds_exactly_the_prefixed_keys() {
        assert_eq!(prefix_end("a/b/").as_deref(), Some("a/b0"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end(""), None);
        let end = prefix_end("gleap/out/c/").unwrap();
        assert!("gleap/out/c/\u{10FFFF}x".as_bytes() < end.as_bytes());
        assert!("gleap/out/c0".as_bytes() >= end.as_bytes());
    }
}
