//! Committed values kept in memory. For a backend that is the only writer
//! of its data (the SQLite store holds its file exclusively) every commit
//! passes through it, so what it holds is never stale; a shared backend
//! (PostgreSQL) checks what was read from it at commit instead. Sharded, so
//! calls on different keys do not contend; bounded, by dropping a shard
//! when full.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};

const SHARDS: usize = 16;

/// Values up to this size are cached as they are committed.
const SMALL_VALUE: usize = 512;

#[derive(Default)]
struct Shard {
    values: HashMap<String, Option<Vec<u8>>>,
    bytes: usize,
}

/// Keys and their committed values (`None`: known to be absent).
pub(crate) struct ValueCache {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    max_shard_bytes: usize,
}

impl ValueCache {
    /// A cache of about `max_bytes` of keys and values.
    pub(crate) fn new(max_bytes: usize) -> Self {
        ValueCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            max_shard_bytes: max_bytes / SHARDS,
        }
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, Shard> {
        let at = (self.hasher.hash_one(key) as usize) % SHARDS;
        // `at` < SHARDS = shards.len().
        self.shards[at]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The committed value, if the cache knows it.
    pub(crate) fn get(&self, key: &str) -> Option<Option<Vec<u8>>> {
        self.shard(key).values.get(key).cloned()
    }

    /// Records the committed value of `key`, read from the store.
    pub(crate) fn put(&self, key: &str, value: Option<&[u8]>) {
        Self::insert(&mut self.shard(key), self.max_shard_bytes, key, value);
    }

    /// Records what a commit wrote to `key`. A large value under a key the
    /// cache does not hold yet (an outbox item, read once much later if at
    /// all) is left out, so that a stream of them does not push out the
    /// small, hot state that every call reads.
    pub(crate) fn put_committed(&self, key: &str, value: Option<&[u8]>) {
        let mut shard = self.shard(key);
        if value.is_some_and(|v| v.len() > SMALL_VALUE) && !shard.values.contains_key(key) {
            return;
        }
        Self::insert(&mut shard, self.max_shard_bytes, key, value);
    }

    /// Forgets `key` (its cached value was found stale).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn forget(&self, key: &str) {
        let mut shard = self.shard(key);
        if let Some(old) = shard.values.remove(key) {
            shard.bytes = shard
                .bytes
                .saturating_sub(key.len() + old.map_or(0, |v| v.len()) + 64);
        }
    }

    fn insert(shard: &mut Shard, max_shard_bytes: usize, key: &str, value: Option<&[u8]>) {
        let size = key.len() + value.map_or(0, <[u8]>::len) + 64;
        if shard.bytes + size > max_shard_bytes {
            shard.values.clear();
            shard.bytes = 0;
        }
        let old = shard
            .values
            .insert(key.to_owned(), value.map(<[u8]>::to_vec));
        shard.bytes += size;
        if let Some(old) = old {
            shard.bytes = shard
                .bytes
                .saturating_sub(key.len() + old.map_or(0, |v| v.len()) + 64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_values_and_absences_within_its_bound() {
        let cache = ValueCache::new(16 * 1024);
        assert_eq!(cache.get("a"), None);
        cache.put("a", Some(b"1"));
        cache.put("b", None);
        assert_eq!(cache.get("a"), Some(Some(b"1".to_vec())));
        assert_eq!(cache.get("b"), Some(None));
        for i in 0..10_000 {
            cache.put(&format!("k{i}"), Some(&[0; 100]));
        }
        let total: usize = cache.shards.iter().map(|s| s.lock().unwrap().bytes).sum();
        assert!(total <= 16 * 1024, "{total}");

        // What commits write: small values and keys already held are kept.
        let cache = ValueCache::new(1024 * 1024);
        cache.put_committed("small", Some(&[1; 10]));
        cache.put_committed("big", Some(&[1; 4096]));
        assert_eq!(cache.get("small"), Some(Some(vec![1; 10])));
        assert_eq!(cache.get("big"), None, "read from the store when needed");
        cache.put("held", None);
        cache.put_committed("held", Some(&[2; 4096]));
        assert_eq!(cache.get("held"), Some(Some(vec![2; 4096])), "never stale");
    }
}
