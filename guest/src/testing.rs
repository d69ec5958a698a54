//! Deterministic stand-ins for the outside world: a fake clock whose sleep
//! only advances time, a scripted and recording HTTP transport, and an
//! in-memory store. The host crate uses the same types for its fakes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::env::{Clock, Store, StoreError, Transport};
use crate::http::{HttpRequest, HttpResponse, TransportError};
use crate::time::Timestamp;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not make the fakes unusable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A clock that only moves when told to, or when slept on.
#[derive(Debug, Default)]
pub struct FakeClock {
    state: Mutex<(Timestamp, Vec<u64>)>,
}

impl FakeClock {
    /// A clock reading `start`.
    pub fn new(start: Timestamp) -> Self {
        FakeClock {
            state: Mutex::new((start, Vec::new())),
        }
    }
    /// Moves time forward.
    pub fn advance(&self, nanos: u64) {
        let mut s = lock(&self.state);
        s.0 = Timestamp(
            s.0 .0
                .saturating_add(i64::try_from(nanos).unwrap_or(i64::MAX)),
        );
    }
    /// Sets the time.
    pub fn set(&self, now: Timestamp) {
        lock(&self.state).0 = now;
    }
    /// Every sleep asked for, in order, in nanoseconds.
    pub fn sleeps(&self) -> Vec<u64> {
        lock(&self.state).1.clone()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        lock(&self.state).0
    }
    fn sleep(&self, nanos: u64) {
        lock(&self.state).1.push(nanos);
        self.advance(nanos);
    }
}

/// Answers requests from a script, in order, and records every request.
/// An exhausted script answers with a connection error.
#[derive(Debug, Default)]
pub struct ScriptedTransport {
    script: Mutex<VecDeque<Result<HttpResponse, TransportError>>>,
    sent: Mutex<Vec<HttpRequest>>,
}

impl ScriptedTransport {
    /// A transport that will answer with `script`, in order.
    pub fn new(script: impl IntoIterator<Item = Result<HttpResponse, TransportError>>) -> Self {
        ScriptedTransport {
            script: Mutex::new(script.into_iter().collect()),
            sent: Mutex::default(),
        }
    }
    /// Adds an answer to the end of the script.
    pub fn push(&self, answer: Result<HttpResponse, TransportError>) {
        lock(&self.script).push_back(answer);
    }
    /// Every request sent so far.
    pub fn sent(&self) -> Vec<HttpRequest> {
        lock(&self.sent).clone()
    }
    /// Answers not used yet.
    pub fn remaining(&self) -> usize {
        lock(&self.script).len()
    }
}

impl Transport for ScriptedTransport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        lock(&self.sent).push(request.clone());
        lock(&self.script)
            .pop_front()
            .unwrap_or_else(|| Err(TransportError::Connection("script exhausted".into())))
    }
}

/// A store in memory, safe to share between threads.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStore {
    /// Runs `f` on the whole map at once, under the store's lock: how a
    /// host applies a transaction's writes atomically.
    pub fn with_map<R>(&self, f: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> R) -> R {
        f(&mut lock(&self.map))
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(lock(&self.map).get(key).cloned())
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let mut map = lock(&self.map);
        if map.get(key).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        match new {
            Some(v) => map.insert(key.to_owned(), v.to_vec()),
            None => map.remove(key),
        };
        Ok(true)
    }

    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(lock(&self.map)
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }
}
