//! Committed values kept in memory, for a backend that is the only writer
//! of its data (the SQLite store holds its file exclusively): every commit
//! passes through it, so what it holds is never stale. Sharded, so calls on
//! different keys do not contend; bounded, by dropping a shard when full.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};

const SHARDS: usize = 16;

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

    /// Records the committed value of `key`.
    pub(crate) fn put(&self, key: &str, value: Option<&[u8]>) {
        let mut shard = self.shard(key);
        let size = key.len() + value.map_or(0, <[u8]>::len) + 64;
        if shard.bytes + size > self.max_shard_bytes {
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
    }
}
