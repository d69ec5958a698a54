//! Which keys may exist, kept in memory for a backend that is the only
//! writer of its data: a Bloom filter of every key committed since the
//! store was opened (and of every key it held then).
//!
//! Most reads of a key that is not in the value cache are of keys that do
//! not exist — a new outbox item, a conversation's first state — and
//! without this each of them took the connection (waiting out a group
//! commit) for an index lookup that found nothing. A "no" from the filter is
//! certain; a "maybe" (about 1 % of absent keys) reads the file as before.
//! Deleted keys stay in the filter until it is rebuilt, which only costs
//! those keys the read.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use fastbloom::AtomicBloomFilter;

/// The share of absent keys the filter may call present.
const FALSE_POSITIVES: f64 = 0.01;

/// The fewest keys a filter is sized for (about 120 KiB).
const MIN_CAPACITY: usize = 100_000;

struct Sized {
    filter: AtomicBloomFilter,
    capacity: usize,
}

/// Keys that may exist; every committed key is in it.
pub(crate) struct KeyFilter {
    current: RwLock<Sized>,
    /// Keys added since the filter was last built (counted with repeats).
    added: AtomicUsize,
}

impl KeyFilter {
    /// A filter holding `keys`, the keys the store holds now.
    pub(crate) fn new<'a>(keys: impl ExactSizeIterator<Item = &'a str>) -> Self {
        KeyFilter {
            current: RwLock::new(Self::build(keys)),
            added: AtomicUsize::new(0),
        }
    }

    fn build<'a>(keys: impl ExactSizeIterator<Item = &'a str>) -> Sized {
        // Room to double before the filter is rebuilt.
        let capacity = (keys.len() * 2).max(MIN_CAPACITY);
        let filter = AtomicBloomFilter::with_false_pos(FALSE_POSITIVES).expected_items(capacity);
        for k in keys {
            filter.insert(k);
        }
        Sized { filter, capacity }
    }

    /// Whether `key` may exist (`false`: it certainly does not).
    pub(crate) fn may_contain(&self, key: &str) -> bool {
        self.read().filter.contains(key)
    }

    /// Records keys about to be committed. Call it before the commit makes
    /// them visible, so that no reader is ever told a committed key is absent.
    pub(crate) fn add<'a>(&self, keys: impl Iterator<Item = &'a str>) {
        let current = self.read();
        let mut n = 0;
        for k in keys {
            current.filter.insert(k);
            n += 1;
        }
        self.added.fetch_add(n, Ordering::Relaxed);
    }

    /// Whether more keys were added than the filter was sized for, so that
    /// its false positives have grown: then [`KeyFilter::rebuild`] it.
    pub(crate) fn is_full(&self) -> bool {
        self.added.load(Ordering::Relaxed) > self.read().capacity
    }

    /// Rebuilds the filter from every key the store holds. The caller holds
    /// the store's writer, so no commit adds a key meanwhile.
    pub(crate) fn rebuild<'a>(&self, keys: impl ExactSizeIterator<Item = &'a str>) {
        let rebuilt = Self::build(keys);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = rebuilt;
        self.added.store(0, Ordering::Relaxed);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Sized> {
        self.current.read().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_calls_an_added_key_absent_and_rebuilds_when_full() {
        let filter = KeyFilter::new(["a", "b"].into_iter());
        assert!(filter.may_contain("a") && filter.may_contain("b"));
        let keys: Vec<String> = (0..MIN_CAPACITY + 1).map(|i| format!("k/{i}")).collect();
        filter.add(keys.iter().map(String::as_str));
        assert!(keys.iter().all(|k| filter.may_contain(k)));
        assert!(filter.is_full());
        let absent = (0..10_000)
            .filter(|i| filter.may_contain(&format!("absent/{i}")))
            .count();
        assert!(
            absent < 500,
            "{absent} of 10,000 absent keys called present"
        );

        filter.rebuild(["a"].into_iter());
        assert!(!filter.is_full());
        assert!(filter.may_contain("a"));
        let absent = (0..10_000)
            .filter(|i| filter.may_contain(&format!("k/{i}")))
            .count();
        assert!(
            absent < 300,
            "{absent} of 10,000 dropped keys still called present"
        );
    }
}
