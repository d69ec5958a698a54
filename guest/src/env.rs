//! The three things the outside world supplies: HTTP, time and a store.
//!
//! In the component these are the WIT imports; natively they are whatever
//! implements these traits (see [`crate::testing`] for fakes, and the host
//! crate for the real ones). They take `&self` so one implementation can be
//! shared by many instances at once.

use crate::http::{HttpRequest, HttpResponse, TransportError};
use crate::time::Timestamp;

/// Sends HTTP requests.
pub trait Transport {
    /// Sends one request and waits for its answer.
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// Tells and passes time.
pub trait Clock {
    /// The current time.
    fn now(&self) -> Timestamp;
    /// Waits `nanos` nanoseconds (a fake clock only advances `now`).
    fn sleep(&self, nanos: u64);
}

/// Why the store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

/// A small key-value store with compare-and-swap.
///
/// A transactional host (glbridge-host) makes each component call one
/// transaction and implements [`Store::lock`] and [`Store::rollback`]; plain
/// stores, like the test fakes, apply each write at once and need neither.
pub trait Store {
    /// Reads a key.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` to `new` (`None` deletes) if its value is `expected`
    /// (`None` = absent); returns whether it did.
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError>;
    /// Keys starting with `prefix`, ascending.
    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Serializes this call with every other call locking `name`, until this
    /// call's writes are committed. Plain stores need no locking.
    fn lock(&self, name: &str) -> Result<(), StoreError> {
        let _ = name;
        Ok(())
    }
    /// Discards the writes of the current call (plain stores: nothing to do).
    fn rollback(&self) {}
}

impl<T: Transport + ?Sized> Transport for &T {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request)
    }
}

impl<T: Clock + ?Sized> Clock for &T {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
    fn sleep(&self, nanos: u64) {
        (**self).sleep(nanos)
    }
}

impl<T: Store + ?Sized> Store for &T {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(key)
    }
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        (**self).compare_and_swap(key, expected, new)
    }
    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        (**self).list_keys(prefix)
    }
    fn lock(&self, name: &str) -> Result<(), StoreError> {
        (**self).lock(name)
    }
    fn rollback(&self) {
        (**self).rollback()
    }
}
