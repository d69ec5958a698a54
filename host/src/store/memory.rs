//! The in-memory backend: the guest library's `MemoryStore`, committed to
//! atomically under its lock.

use glbridge_guest::env::{Store, StoreError};

pub use glbridge_guest::testing::MemoryStore;

use super::{Backend, CommitError, Write};

impl Backend for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Store::get(self, key)
    }

    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Store::list_keys(self, prefix)
    }

    fn commit(&self, writes: Vec<Write>) -> Result<(), CommitError> {
        self.with_map(|map| {
            if let Some(w) = writes.iter().find(|w| map.get(&w.key) != w.base.as_ref()) {
                return Err(CommitError::Conflict(w.key.clone()));
            }
            for w in writes {
                match w.value {
                    Some(v) => map.insert(w.key, v),
                    None => map.remove(&w.key),
                };
            }
            Ok(())
        })
    }
}
