//! What the host supplies to the component's imports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use glbridge_guest::env::{Clock, Store, Transport};
use glbridge_guest::http::{HttpRequest, HttpResponse, Method, TransportError};
use glbridge_guest::Timestamp;
use wasmtime::StoreLimits;

use crate::bindings::{clock, http, store, types};

/// The three imports, shareable between many sessions.
#[derive(Clone)]
pub struct Env {
    /// Performs `http.send`.
    pub transport: Arc<dyn Transport + Send + Sync>,
    /// Answers `clock.now` and `clock.sleep`.
    pub clock: Arc<dyn Clock + Send + Sync>,
    /// Backs the `store` interface.
    pub store: Arc<dyn Store + Send + Sync>,
}

impl Env {
    /// An environment from its three parts.
    pub fn new(
        transport: Arc<dyn Transport + Send + Sync>,
        clock: Arc<dyn Clock + Send + Sync>,
        store: Arc<dyn Store + Send + Sync>,
    ) -> Self {
        Env {
            transport,
            clock,
            store,
        }
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env { .. }")
    }
}

/// The data of one wasmtime `Store`: the imports, the limits, and the
/// accounting that tells guest time from time spent in imports.
pub struct HostState {
    pub(crate) env: Env,
    pub(crate) limits: StoreLimits,
    pub(crate) call_started: Instant,
    pub(crate) in_imports: Duration,
    pub(crate) guest_time_limit: Duration,
}

impl HostState {
    pub(crate) fn new(env: Env, limits: StoreLimits, guest_time_limit: Duration) -> Self {
        HostState {
            env,
            limits,
            call_started: Instant::now(),
            in_imports: Duration::ZERO,
            guest_time_limit,
        }
    }

    /// Starts the accounting of a new export call.
    pub(crate) fn begin_call(&mut self) {
        self.call_started = Instant::now();
        self.in_imports = Duration::ZERO;
    }

    /// Time spent running guest code since the call began.
    pub(crate) fn guest_time(&self) -> Duration {
        self.call_started.elapsed().saturating_sub(self.in_imports)
    }

    fn timed<R>(&mut self, f: impl FnOnce(&Env) -> R) -> R {
        let started = Instant::now();
        let r = f(&self.env);
        self.in_imports += started.elapsed();
        r
    }
}

pub(crate) fn method_to_lib(m: http::Method) -> Method {
    match m {
        http::Method::Get => Method::Get,
        http::Method::Post => Method::Post,
        http::Method::Put => Method::Put,
        http::Method::Delete => Method::Delete,
    }
}

impl http::Host for HostState {
    fn send(&mut self, req: http::Request) -> Result<http::Response, http::Error> {
        let request = HttpRequest {
            method: method_to_lib(req.method),
            url: req.url,
            headers: req.headers,
            body: req.body,
            timeout_ms: req.timeout_ms,
        };
        let answer = self.timed(|env| env.transport.send(&request));
        match answer {
            Ok(HttpResponse {
                status,
                headers,
                body,
            }) => Ok(http::Response {
                status,
                headers,
                body,
            }),
            Err(TransportError::Timeout) => Err(http::Error::Timeout),
            Err(TransportError::Connection(m)) => Err(http::Error::Connection(m)),
            Err(TransportError::InvalidUrl(m)) => Err(http::Error::InvalidUrl(m)),
        }
    }
}

impl clock::Host for HostState {
    fn now(&mut self) -> i64 {
        self.env.clock.now().0
    }

    fn sleep(&mut self, duration_ns: u64) {
        self.timed(|env| env.clock.sleep(duration_ns))
    }
}

impl store::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, store::Error> {
        self.timed(|env| env.store.get(&key))
            .map_err(|e| store::Error::Unavailable(e.0))
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> Result<bool, store::Error> {
        self.timed(|env| {
            env.store
                .compare_and_swap(&key, expected.as_deref(), new.as_deref())
        })
        .map_err(|e| store::Error::Unavailable(e.0))
    }

    fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, store::Error> {
        self.timed(|env| env.store.list_keys(&prefix))
            .map_err(|e| store::Error::Unavailable(e.0))
    }
}

impl types::Host for HostState {}

/// Converts the host clock's reading for callers outside the component.
pub fn now(env: &Env) -> Timestamp {
    env.clock.now()
}
