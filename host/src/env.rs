//! What the host supplies to the component's imports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use glbridge_guest::env::{Clock, Transport};
use glbridge_guest::Timestamp;

use crate::bindings::{clock, http, store, types};
use crate::convert::{request_from_wit, response_to_wit};
use crate::store::{Backend, CommitError, Locks, Transaction};

/// How long a call waits for another call's lock on a conversation.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// The three imports, shareable between many sessions. Sessions made from
/// clones of one `Env` share its store and its named locks.
#[derive(Clone)]
pub struct Env {
    /// Performs `http.send`.
    pub transport: Arc<dyn Transport + Send + Sync>,
    /// Answers `clock.now` and `clock.sleep`.
    pub clock: Arc<dyn Clock + Send + Sync>,
    /// Backs the `store` interface; each export call is one transaction on it.
    pub store: Arc<dyn Backend>,
    /// The named locks of `store.lock`.
    pub locks: Arc<Locks>,
    /// How long `store.lock` waits.
    pub lock_timeout: Duration,
    /// Runs the imports that may block the thread for long — HTTP, sleeps,
    /// waiting for another call's lock. Runs them directly by default; a
    /// service that calls the component on async-runtime threads passes
    /// e.g. `|f| tokio::task::block_in_place(f)`.
    pub blocking: fn(&mut dyn FnMut()),
}

fn run_directly(f: &mut dyn FnMut()) {
    f()
}

impl Env {
    /// An environment from its three parts.
    pub fn new(
        transport: Arc<dyn Transport + Send + Sync>,
        clock: Arc<dyn Clock + Send + Sync>,
        store: Arc<dyn Backend>,
    ) -> Self {
        Env {
            transport,
            clock,
            store,
            locks: Arc::new(Locks::default()),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            blocking: run_directly,
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
    pub(crate) limits: crate::limits::Limits,
    pub(crate) call_started: Instant,
    pub(crate) in_imports: Duration,
    pub(crate) guest_time_limit: Duration,
    pub(crate) tx: Transaction,
}

impl HostState {
    pub(crate) fn new(env: Env, limits: crate::limits::Limits, guest_time_limit: Duration) -> Self {
        let mut tx = Transaction::default();
        tx.validate_reads(env.store.shared());
        HostState {
            env,
            limits,
            call_started: Instant::now(),
            in_imports: Duration::ZERO,
            guest_time_limit,
            tx,
        }
    }

    /// Ends the call's transaction: commits what it wrote when `commit` is
    /// set (else discards it), then releases its locks.
    pub(crate) fn end_call(&mut self, commit: bool) -> Result<(), CommitError> {
        let env = &self.env;
        self.tx.finish(&*env.store, &env.locks, commit)
    }

    /// Starts the accounting of a new export call, reading through the
    /// store's cache when `cached`.
    pub(crate) fn begin_call(&mut self, cached: bool) {
        self.tx.cached_reads(cached);
        self.call_started = Instant::now();
        self.in_imports = Duration::ZERO;
    }

    /// Time spent running guest code since the call began.
    pub(crate) fn guest_time(&self) -> Duration {
        self.call_started.elapsed().saturating_sub(self.in_imports)
    }

    /// Runs an import that may block, through `Env::blocking`, and keeps
    /// its time out of the guest's CPU budget.
    fn blocking<R>(&mut self, f: impl FnOnce(&Env) -> R) -> R {
        let started = Instant::now();
        let env = &self.env;
        let mut f = Some(f);
        let mut out = None;
        (env.blocking)(&mut || {
            if let Some(f) = f.take() {
                out = Some(f(env));
            }
        });
        self.in_imports += started.elapsed();
        match out {
            Some(r) => r,
            // `blocking` must run the closure; if it did not, run it here.
            None => match f.take() {
                Some(f) => f(env),
                None => unreachable!("the closure ran but left no result"),
            },
        }
    }
}

impl http::Host for HostState {
    fn send(&mut self, req: http::Request) -> Result<http::Response, http::Error> {
        let request = request_from_wit(req);
        response_to_wit(self.blocking(|env| env.transport.send(&request)))
    }
}

impl clock::Host for HostState {
    fn now(&mut self) -> i64 {
        self.env.clock.now().0
    }

    fn sleep(&mut self, duration_ns: u64) {
        self.blocking(|env| env.clock.sleep(duration_ns))
    }
}

fn unavailable(e: glbridge_guest::env::StoreError) -> store::Error {
    store::Error::Unavailable(e.0)
}

impl store::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, store::Error> {
        let started = Instant::now();
        let r = self.tx.get(&*self.env.store, &key).map_err(unavailable);
        self.in_imports += started.elapsed();
        r
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> Result<bool, store::Error> {
        let started = Instant::now();
        let r = self
            .tx
            .compare_and_swap(&*self.env.store, &key, expected.as_deref(), new.as_deref())
            .map_err(unavailable);
        self.in_imports += started.elapsed();
        r
    }

    fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, store::Error> {
        let started = Instant::now();
        let r = self
            .tx
            .list_keys(&*self.env.store, &prefix)
            .map_err(unavailable);
        self.in_imports += started.elapsed();
        r
    }

    fn lock(&mut self, name: String) -> Result<(), store::Error> {
        let started = Instant::now();
        let r = self
            .tx
            .lock(
                &self.env.locks,
                &name,
                self.env.lock_timeout,
                self.env.blocking,
            )
            .map_err(|e| store::Error::LockTimeout(e.0));
        self.in_imports += started.elapsed();
        r
    }

    fn rollback(&mut self) {
        self.tx.rollback();
    }
}

impl types::Host for HostState {}

/// Converts the host clock's reading for callers outside the component.
pub fn now(env: &Env) -> Timestamp {
    env.clock.now()
}
