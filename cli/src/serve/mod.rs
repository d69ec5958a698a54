//! `glbridge serve`: the bridge as a service. The host stays thin: it moves
//! HTTP in and out, supplies time and a SQLite store, and lets the
//! component's bridge (`bridge-core` and the helpdesks attached to it) decide
//! everything else.

pub mod committer;
pub mod config;
mod drains;
pub mod metrics;
pub mod parking;
mod shared;
pub mod wakeups;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use glbridge_guest::bridge::ActionEndpoint;
use glbridge_guest::client::Secret;
use glbridge_guest::env::Clock;
use glbridge_guest::helpdesk::chatwoot::adapter::{Auth as ChatwootAuth, ChatwootConfig};
use glbridge_guest::helpdesk::chatwoot::Settings as ChatwootSettings;
use glbridge_guest::helpdesk::gleap::adapter::{RestConfig, DEFAULT_SETTLE_MS};
use glbridge_guest::helpdesk::BridgeConfig;
use glbridge_guest::{Config, RetryPolicy};
use glbridge_host::bindings::gleap::{Answer, Pending, Turn};
use glbridge_host::store::CommitError;
use glbridge_host::{
    convert, Backend, Bridge, BridgeOptions, Durability, Env, HostError, PostgresStore, Session,
    SqliteStore, SystemClock, UreqTransport,
};
use glbridge_sandbox::background::{BodyBudget, ConnectionLimits};
use glbridge_sandbox::{Sandbox, SandboxConfig, Seed};

use committer::Committer;
use drains::{Drained, Drains};
use metrics::{Metrics, NameLabels, RequestLabels};
use parking::{Parking, Ticket};
use shared::Shared;
use subtle::ConstantTimeEq;
use wakeups::Wakeups;

/// Largest Gleap call accepted.
pub const MAX_GLEAP_BODY: usize = 1024 * 1024;
/// Largest webhook accepted.
pub const MAX_WEBHOOK_BODY: usize = 4 * 1024 * 1024;
/// Largest Chatwoot event accepted.
pub const MAX_CHATWOOT_BODY: usize = 1024 * 1024;
/// Largest Zendesk delivery accepted (its JSON bodies are limited to
/// 100 KB; a delivery carries several events).
pub const MAX_ZENDESK_BODY: usize = 1024 * 1024;
/// Chatwoot conversations drained at once.
const CONCURRENT_DRAINS: usize = 4;
/// Times a call is re-run when its commit lost to another call.
const COMMIT_RETRIES: usize = 8;
/// On a shared store, how soon a drain looks again at a lane another
/// replica was draining.
const LANE_BUSY_RETRY_NS: i64 = 500_000_000;
/// On a shared store, the longest a parked Gleap call goes without looking
/// again: a wake-up lost on the way from another replica costs at most this.
const FALLBACK_LOOK: Duration = Duration::from_secs(2);

/// Where the AI-agent API is.
#[derive(Clone)]
pub enum Upstream {
    /// The real service (or any API-compatible one).
    Api {
        /// Base URL.
        url: String,
        /// Integration key.
        api_key: Secret,
        /// Webhook signing key.
        signing_key: Secret,
    },
    /// A sandbox started in-process on loopback, wired to this service.
    EmbeddedSandbox {
        /// Its help centre, hand-off targets and actions.
        seed: Option<Seed>,
    },
}

/// Where the bridge keeps its state.
#[derive(Clone)]
pub enum StoreLocation {
    /// A SQLite file: one process holds it.
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…`): several replicas may share it.
    Postgres(Secret),
}

impl StoreLocation {
    /// A `postgres://` or `postgresql://` URL names a database; anything
    /// else is a SQLite file's path.
    pub fn parse(s: &str) -> Self {
        if glbridge_host::store::postgres::is_url(s) {
            StoreLocation::Postgres(Secret::new(s))
        } else {
            StoreLocation::Sqlite(PathBuf::from(s))
        }
    }
}

impl From<PathBuf> for StoreLocation {
    fn from(path: PathBuf) -> Self {
        StoreLocation::Sqlite(path)
    }
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            StoreLocation::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

/// A resolved `glbridge serve` configuration.
#[derive(Clone)]
pub struct ServeConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// The API.
    pub upstream: Upstream,
    /// Where the bridge's state is: a SQLite file, or a PostgreSQL
    /// database that several replicas share.
    pub store: StoreLocation,
    /// On a shared store: how long a replica's claim on a lane of outbound
    /// work (a Chatwoot conversation's calls, the tick) lasts unless
    /// extended; a replica that dies holds its lanes this long at most.
    pub lease_ttl: Duration,
    /// This replica's name in the leases it takes (default: host name,
    /// process id and a random suffix).
    pub replica: Option<String>,
    /// Gleap's Authorization header value. With none, embedded mode makes
    /// one up unless `insecure_no_gleap_auth` is set.
    pub gleap_secret: Option<Secret>,
    /// Accept Gleap calls without authentication.
    pub insecure_no_gleap_auth: bool,
    /// Whether `POST /gleap/action` is served (off for a Chatwoot-only
    /// bridge that has no Gleap secret).
    pub gleap_enabled: bool,
    /// Bearer token GET /metrics requires (`None`: open).
    pub metrics_token: Option<Secret>,
    /// How long a Gleap call waits for the agent.
    pub reply_wait: Duration,
    /// How long after the agent's last message a trailing finish or
    /// hand-off still goes into the same Gleap answer.
    pub settle: Duration,
    /// What a commit survives.
    pub durability: Durability,
    /// SQLite: the bound on the WAL file's size, bytes.
    pub wal_limit: u64,
    /// Worker threads: each runs requests and owns one component instance;
    /// calls that wait (HTTP, another call's lock) hand their thread's other
    /// work to a spare thread meanwhile.
    pub workers: usize,
    /// Answered when nothing arrived in time (`None`: the default text).
    pub holding_text: Option<String>,
    /// Answered on a hand-off (`None`: the default text).
    pub hand_off_text: Option<String>,
    /// Action endpoints.
    pub actions: Vec<ActionEndpoint>,
    /// Gleap REST credentials for late replies.
    pub rest: Option<RestConfig>,
    /// How the component is loaded and bounded.
    pub bridge_options: BridgeOptions,
    /// How often held webhooks and late replies are looked at.
    pub tick: Duration,
    /// How calls to the API are retried (the jitter seed is drawn at start).
    pub retry: RetryPolicy,
    /// Header-read (and idle keep-alive) timeout and connection cap.
    pub limits: ConnectionLimits,
    /// How long a client has to send a whole request body.
    pub body_read_timeout: Duration,
    /// Chatwoot, when it is bridged: where it is, the bot token, the team
    /// map, and how its events are authenticated.
    pub chatwoot: Option<(ChatwootSettings, ChatwootAuth)>,
    /// Zendesk messaging, when it is bridged too.
    pub zendesk: Option<glbridge_guest::helpdesk::zendesk::adapter::ZendeskConfig>,
    /// Most request-body bytes held in memory at once, over all requests.
    pub max_buffered_body: usize,
}

impl ServeConfig {
    /// Defaults around a store and an upstream.
    pub fn new(upstream: Upstream, store: impl Into<StoreLocation>) -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            upstream,
            store: store.into(),
            lease_ttl: Duration::from_secs(30),
            replica: None,
            gleap_secret: None,
            insecure_no_gleap_auth: false,
            gleap_enabled: true,
            metrics_token: None,
            reply_wait: Duration::from_secs(8),
            settle: Duration::from_millis(u64::from(DEFAULT_SETTLE_MS)),
            durability: Durability::default(),
            wal_limit: glbridge_host::store::DEFAULT_WAL_LIMIT,
            // Twice the cores: a worker whose webhook waits for its group
            // commit leaves the core to another (measured: 2 workers on 2
            // cores 11.9k webhooks/s, 4 workers 18.7k; BENCHMARKS.md).
            workers: 2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            holding_text: None,
            hand_off_text: None,
            actions: Vec::new(),
            rest: None,
            bridge_options: BridgeOptions::default(),
            tick: Duration::from_millis(500),
            // A Gleap call should not fail on a transient error: more
            // attempts, shorter waits than the library's defaults.
            retry: RetryPolicy {
                max_attempts: 8,
                initial_backoff_ms: 100,
                max_backoff_ms: 2_000,
                max_retry_after_ms: 2_000,
                jitter_seed: 0,
            },
            limits: ConnectionLimits {
                max_connections: ConnectionLimits::FOLLOW_OPEN_FILES,
                ..ConnectionLimits::default()
            },
            body_read_timeout: Duration::from_secs(30),
            max_buffered_body: 64 * 1024 * 1024,
            chatwoot: None,
            zendesk: None,
        }
    }
}

type MakeSession = Box<dyn Fn() -> Result<Session> + Send + Sync>;

thread_local! {
    /// Each worker thread's component instances, by service.
    static SESSIONS: std::cell::RefCell<Vec<(u64, Session)>> = const { std::cell::RefCell::new(Vec::new()) };
}

struct App {
    /// Tells this service's instances from another's in the same process.
    id: u64,
    make_session: MakeSession,
    committer: Committer,
    wakeups: Wakeups,
    /// Set when the service stops: parked calls stop waiting.
    stopping: std::sync::atomic::AtomicBool,
    clock: Arc<dyn Clock + Send + Sync>,
    metrics: Metrics,
    /// `Bearer <token>` that GET /metrics requires, if set.
    metrics_auth: Option<Secret>,
    /// Bytes of request bodies that may still be buffered (one permit a byte).
    body_budget: BodyBudget,
    body_read_timeout: Duration,
    /// Replies queued for Gleap: counted once at start, then kept from
    /// each committed call's `queue-change` (never a scan).
    queue_depth: std::sync::atomic::AtomicI64,
    /// The Chatwoot conversations whose queued calls are being made.
    drains: Arc<Drains>,
    /// The store shared with other replicas, if it is one.
    shared: Option<Shared>,
    /// The Gleap calls holding connections, kept below the cap.
    parking: Parking,
}

/// A running service.
pub struct Service {
    addr: SocketAddr,
    api_url: String,
    sandbox: Option<Sandbox>,
    generated_gleap_secret: Option<String>,
    server: glbridge_sandbox::background::Background,
    app: Arc<App>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("addr", &self.addr)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Starts the service (and, in embedded mode, the sandbox) on its own runtime thread.
    pub fn start(config: ServeConfig) -> Result<Service> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.workers.max(1))
            .enable_all()
            .thread_name("glbridge-serve")
            // Threads that stood in for a worker during a blocking import
            // (HTTP, a lock) are few and do not linger.
            .max_blocking_threads(128)
            .thread_keep_alive(Duration::from_secs(2))
            // Instances are dropped while the thread is still whole: dropped
            // among the thread-locals' destructors, wasmtime's trace records
            // would reach a log whose own thread-locals are gone (an abort).
            .on_thread_stop(|| {
                let sessions = SESSIONS
                    .with(|cell| cell.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)));
                drop(sessions);
            })
            .build()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(config.listen))
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let mut generated_gleap_secret = None;
        let mut gleap_secret = config.gleap_secret.clone();
        let (api_url, api_key, signing_key, sandbox) = match &config.upstream {
            Upstream::Api {
                url,
                api_key,
                signing_key,
            } => (url.clone(), api_key.clone(), signing_key.clone(), None),
            Upstream::EmbeddedSandbox { seed } => {
                let sandbox = Sandbox::start(SandboxConfig {
                    webhook_url: Some(format!("http://{addr}/webhooks/gradient-labs")),
                    // Beside the bridge's store, so a restarted `serve`
                    // still knows the conversations it is bridging (in
                    // memory beside a database: it is for trying things).
                    store: match &config.store {
                        StoreLocation::Sqlite(path) => Some(sandbox_store(path)),
                        StoreLocation::Postgres(_) => None,
                    },
                    seed: seed.clone(),
                    ..SandboxConfig::default()
                })?;
                if gleap_secret.is_none() && !config.insecure_no_gleap_auth {
                    // Local development: a throwaway secret, shown once at start-up.
                    let secret = format!("Bearer {}", glbridge_sandbox::random_key("gleap_"));
                    generated_gleap_secret = Some(secret.clone());
                    gleap_secret = Some(Secret::new(secret));
                }
                let c = sandbox.config();
                (
                    sandbox.url(),
                    Secret::new(c.integration_key.clone()),
                    Secret::new(c.signing_key.clone()),
                    Some(sandbox),
                )
            }
        };
        let mut client = Config::new(api_url.clone(), api_key.expose());
        client.retry = RetryPolicy {
            jitter_seed: rand_seed(),
            ..config.retry
        };
        let mut gleap = BridgeConfig::new(client, signing_key.expose());
        gleap.gleap_mut().gleap_secret = gleap_secret;
        gleap.gleap_mut().reply_wait_ms =
            u32::try_from(config.reply_wait.as_millis()).unwrap_or(u32::MAX);
        gleap.gleap_mut().settle_ms = u32::try_from(config.settle.as_millis()).unwrap_or(u32::MAX);
        if let Some(t) = &config.holding_text {
            gleap.gleap_mut().holding_text.clone_from(t);
        }
        if let Some(t) = &config.hand_off_text {
            gleap.gleap_mut().hand_off_text.clone_from(t);
        }
        gleap.core.actions.clone_from(&config.actions);
        gleap.gleap_mut().rest.clone_from(&config.rest);
        gleap.chatwoot = config
            .chatwoot
            .clone()
            .map(|(settings, auth)| {
                tracing::info!(chatwoot = %settings.base_url, "bridging Chatwoot: its agent bot's URL is POST /chatwoot/webhook");
                if auth == ChatwootAuth::Insecure {
                    tracing::warn!("Chatwoot events are not authenticated (--insecure-no-chatwoot-auth)");
                }
                ChatwootConfig { settings, auth }
            });
        gleap.zendesk = config.zendesk.clone();
        if !config.gleap_enabled {
            // Not bridged at all: no route, nothing in the component.
            gleap.gleap = None;
        }
        if let Some(z) = &gleap.zendesk {
            tracing::info!(zendesk = %z.settings.base_url, app = %z.settings.app_id, "bridging Zendesk: its webhook's target is POST /zendesk/webhook");
        }

        let bridge = Bridge::new(config.bridge_options.clone())?;
        let (store, shared): (Arc<dyn Backend>, Option<Arc<PostgresStore>>) = match &config.store {
            StoreLocation::Sqlite(path) => {
                let store =
                    SqliteStore::open_with_wal_limit(path, config.durability, config.wal_limit)
                        .map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
                (Arc::new(store), None)
            }
            StoreLocation::Postgres(url) => {
                let store = Arc::new(
                    PostgresStore::open(url.expose())
                        .map_err(|e| anyhow::anyhow!("opening the PostgreSQL store: {e}"))?,
                );
                tracing::info!(
                    store = store.location(),
                    "state kept in PostgreSQL, shared with any other replica on it"
                );
                (store.clone(), Some(store))
            }
        };
        let clock: Arc<dyn Clock + Send + Sync> = Arc::new(SystemClock);
        let mut env = Env::new(Arc::new(UreqTransport::new()), clock.clone(), store);
        // Component calls run on the runtime's worker threads; the imports
        // that wait let the runtime move its other work elsewhere meanwhile.
        env.blocking = |f| tokio::task::block_in_place(f);
        let make_session: MakeSession = Box::new(move || {
            let mut s = bridge.session(env.clone());
            s.open_bridge(&gleap).context("configuring the component")?;
            Ok(s)
        });
        static SERVICES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let service_metrics = Metrics::default();
        let limits = config.limits.fit_descriptors();
        let parking = Parking::for_cap(limits.max_connections);
        tracing::info!(
            "at most {} connections at once, {} of them for Gleap calls",
            limits.max_connections,
            parking.share()
        );
        let app = Arc::new(App {
            id: SERVICES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            make_session,
            committer: Committer::start(service_metrics.commit_group_calls.clone())?,
            wakeups: Wakeups::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            clock,
            metrics: service_metrics,
            metrics_auth: config
                .metrics_token
                .as_ref()
                .map(|t| Secret::new(format!("Bearer {}", t.expose()))),
            body_budget: BodyBudget::new(config.max_buffered_body),
            body_read_timeout: config.body_read_timeout,
            queue_depth: std::sync::atomic::AtomicI64::new(0),
            drains: Arc::new(Drains::new(CONCURRENT_DRAINS, now_ns)),
            shared: shared
                .map(|store| Shared::new(store, config.replica.clone(), config.lease_ttl)),
            parking,
        });
        app.metrics.store_ready.set(1);
        let weak = Arc::downgrade(&app);
        app.drains.set(Box::new(move |conversation| {
            let Some(app) = weak.upgrade() else {
                return Drained::Failed;
            };
            app.drain(conversation)
        }));
        // A bad configuration fails here, not on the first call.
        let mut first = (app.make_session)()?;
        let depth = first.queue_depth().context("counting the queued replies")?;
        app.queue_changed(i32::try_from(depth).unwrap_or(i32::MAX));
        let busy = first.busy().context("listing the queued helpdesk calls")?;
        drop(first);
        if !busy.is_empty() {
            tracing::info!(
                "carrying on with the queued calls of {} helpdesk conversations",
                busy.len()
            );
            let _inside = runtime.enter();
            for c in &busy {
                app.drains.schedule(c);
            }
        }

        if let Some(shared) = &app.shared {
            let _inside = runtime.enter();
            shared.listen(&app);
            tokio::spawn(shared::scan_loop(app.clone()));
        }

        let mut router = Router::new();
        if config.gleap_enabled {
            router = router.route("/gleap/action", post(gleap_action));
        }
        // Each bridged helpdesk's route, and only those.
        if config.chatwoot.is_some() {
            router = router.route("/chatwoot/webhook", post(chatwoot_webhook));
        }
        if config.zendesk.is_some() {
            router = router.route("/zendesk/webhook", post(zendesk_webhook));
        }
        let router = router
            .route("/webhooks/gradient-labs", post(webhook))
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .with_state(app.clone());
        let server = glbridge_sandbox::background::Background::spawn(
            "glbridge-serve",
            runtime,
            listener,
            router,
            limits,
            tick_loop(app.clone(), config.tick),
            Duration::from_secs(1),
        )?;
        Ok(Service {
            addr,
            api_url,
            sandbox,
            generated_gleap_secret,
            server,
            app,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The API it talks to.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The embedded sandbox, if any.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
    }

    /// The Gleap Authorization value generated for embedded mode, if one was.
    pub fn generated_gleap_secret(&self) -> Option<&str> {
        self.generated_gleap_secret.as_deref()
    }

    /// Stops serving (finishing requests in flight), then the sandbox.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        // Parked Gleap calls answer now with what they have (their replies
        // stay queued), so that stopping does not wait out the reply wait.
        self.app
            .stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.app.wakeups.wake_all();
        self.server.stop();
        if let Some(s) = self.sandbox.take() {
            s.stop();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

fn rand_seed() -> u64 {
    use glbridge_guest::env::Clock;
    (SystemClock.now().0 as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

async fn tick_loop(app: Arc<App>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let ticked = match &app.shared {
            None => app.call(|s| s.tick()).map(Some),
            // One replica at a time releases held events and pushes late
            // replies: the holder of the tick's lease.
            Some(shared) => shared
                .leased(&app, "tick", |s| s.tick(), |r| r.wake.clone())
                .map(|l| match l {
                    shared::Leased::Done(r, _) => Some(r),
                    shared::Leased::Elsewhere => None,
                }),
        };
        match ticked {
            Ok(None) => {}
            Ok(Some(r)) => {
                app.queue_changed(r.queue_change);
                for c in &r.wake {
                    app.wakeups.wake(c);
                }
                for c in &r.work {
                    app.drains.schedule(c);
                }
                if r.released + r.pushed + r.failed > 0 {
                    tracing::info!(
                        released = r.released,
                        pushed = r.pushed,
                        failed = r.failed,
                        "tick"
                    );
                }
            }
            Err(e) => tracing::warn!("tick: {e:#}"),
        }
    }
}

/// A header's value as text. Bytes that are not UTF-8 become U+FFFD
/// rather than making the header look absent: the component then says what
/// is wrong with it ("malformed"), not that it is "missing". Borrowed
/// unless it had to be repaired.
fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<std::borrow::Cow<'h, str>> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
}

fn json_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [("content-type", "application/json")], body).into_response()
}

/// Numbers the failures answered 500, so that an answer and its log line
/// can be matched.
static INCIDENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The 500 answer for a failure around the component: what went wrong in
/// words, and the incident number of the log line that has the details
/// (a trap's wasm backtrace, a SQLite message) — never the details.
fn internal_error(e: &anyhow::Error, incident: u64) -> Response {
    if is_unavailable(e) {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the bridge's store is unavailable; nothing was kept; try again (incident {incident} in the service log)"),
        );
    }
    let what = match e.downcast_ref::<HostError>() {
        Some(HostError::Trap(_)) => {
            "the bridge's component failed on this request (it was stopped and replaced)"
        }
        Some(HostError::Commit(_)) => "the request's state could not be saved; nothing was kept",
        Some(HostError::Load(_)) => "the bridge's component could not be started",
        _ => "internal error",
    };
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("{what}; try again (incident {incident} in the service log)"),
    )
}

/// Where the embedded sandbox keeps its state: beside the bridge's store
/// (`glbridge.db` → `glbridge.sandbox.db`).
pub fn sandbox_store(store: &std::path::Path) -> PathBuf {
    let stem = store
        .file_stem()
        .map_or_else(|| "glbridge".into(), |s| s.to_string_lossy().into_owned());
    store.with_file_name(format!("{stem}.sandbox.db"))
}

fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(
        status.as_u16(),
        serde_json::json!({ "error": message }).to_string(),
    )
}

impl App {
    /// Runs `f` on this thread's instance of the component (made on first
    /// use); a call whose commit lost to another call (on a shared store,
    /// maybe another replica's) runs again on the state that won.
    fn call<R>(&self, mut f: impl FnMut(&mut Session) -> Result<R, HostError>) -> Result<R> {
        let mut conflicts = 0;
        loop {
            match self.call_once(&mut f) {
                Err(e) if is_conflict(&e) && conflicts < COMMIT_RETRIES => {
                    conflicts += 1;
                    self.metrics.store_conflicts.inc();
                }
                r => return r,
            }
        }
    }

    fn call_once<R>(&self, f: impl FnOnce(&mut Session) -> Result<R, HostError>) -> Result<R> {
        SESSIONS.with(|cell| {
            let mut sessions = cell.borrow_mut();
            let at = match sessions.iter().position(|(id, _)| *id == self.id) {
                Some(at) => at,
                None => {
                    sessions.push((self.id, (self.make_session)()?));
                    sessions.len() - 1
                }
            };
            let Some((_, session)) = sessions.get_mut(at) else {
                anyhow::bail!("no component instance");
            };
            Ok(f(session)?)
        })
    }

    /// Counts a finished request and turns the component's answer (or the
    /// failure around it) into the HTTP response.
    fn respond(
        &self,
        route: &'static str,
        started: Instant,
        result: Result<Answer, anyhow::Error>,
    ) -> Response {
        self.metrics
            .guest_call_seconds
            .get_or_create(&NameLabels { name: route })
            .observe(started.elapsed().as_secs_f64());
        let response = match result {
            Ok(answer) => {
                let outcome = convert::outcome(answer.outcome).as_str();
                self.count_outcome(outcome);
                if outcome == "bad-signature" {
                    self.metrics.verify_failures.inc();
                }
                tracing::debug!(
                    route,
                    status = answer.status,
                    outcome,
                    us = started.elapsed().as_micros() as u64,
                    "handled"
                );
                json_response(answer.status, answer.body)
            }
            Err(e) => {
                let incident = INCIDENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                tracing::error!(route, incident, "{e:#}");
                internal_error(&e, incident)
            }
        };
        self.count_request(route, response.status());
        response
    }

    /// Applies a committed call's change to the queue depth.
    fn queue_changed(&self, change: i32) {
        if change != 0 {
            let depth = self
                .queue_depth
                .fetch_add(i64::from(change), std::sync::atomic::Ordering::Relaxed)
                + i64::from(change);
            self.metrics.queue_depth.set(depth.max(0));
        }
    }

    fn count_outcome(&self, name: &'static str) {
        self.metrics
            .outcomes
            .get_or_create(&NameLabels { name })
            .inc();
    }

    fn count_request(&self, route: &'static str, status: StatusCode) {
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                route,
                status: status.as_u16(),
            })
            .inc();
    }

    /// Reads a body of at most `limit` bytes within the body-read timeout,
    /// holding its size (as announced, else `limit`) of the buffered-body
    /// budget meanwhile; or the answer that says why not (413, 408, 503).
    async fn body(
        &self,
        route: &'static str,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Result<axum::body::Bytes, Response> {
        let refuse = |status: StatusCode, outcome: &'static str, message: String| {
            self.count_outcome(outcome);
            let response = error_response(status, &message);
            self.count_request(route, response.status());
            response
        };
        let deadline = tokio::time::Instant::now() + self.body_read_timeout;
        let Some(_room) = self.body_budget.hold(headers, limit, deadline).await else {
            return Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many request bodies in memory at once; try again".into(),
            ));
        };
        match tokio::time::timeout_at(deadline, axum::body::to_bytes(body, limit)).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(_)) => Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                format!("body over {limit} bytes"),
            )),
            Err(_) => Err(refuse(
                StatusCode::REQUEST_TIMEOUT,
                "body-timeout",
                format!(
                    "the body did not arrive within {}",
                    humantime::format_duration(self.body_read_timeout)
                ),
            )),
        }
    }

    /// Drains a conversation's outbound queue (whichever helpdesk it is
    /// of): one call per component call (each committed before the next is
    /// made), until none is left or the head failed and waits for its
    /// back-off.
    fn drain(&self, conversation: &str) -> Drained {
        // `<helpdesk>/<conversation>`: the helpdesk is the id's first word.
        let helpdesk = conversation.split('-').next().unwrap_or("outbound");
        let lane = format!("{helpdesk}/{conversation}");
        let mut held = None;
        let drained = self.drain_leased(conversation, &lane, &mut held);
        if let (Some(shared), Some(fence)) = (&self.shared, held) {
            shared.release(&fence);
        }
        drained
    }

    /// Drains a conversation; on a shared store each call is made under
    /// the lease on its lane (`held`: the last fence it was made under).
    fn drain_leased(
        &self,
        conversation: &str,
        lane: &str,
        held: &mut Option<glbridge_host::store::Fence>,
    ) -> Drained {
        loop {
            let made = match &self.shared {
                None => self.call(|s| s.drain(conversation)),
                Some(shared) => {
                    match shared.leased(self, lane, |s| s.drain(conversation), |_| Vec::new()) {
                        Ok(shared::Leased::Done(r, fence)) => {
                            *held = Some(fence);
                            Ok(r)
                        }
                        // Another replica is draining it: look again soon,
                        // in case it let go just before this was queued.
                        Ok(shared::Leased::Elsewhere) => {
                            return Drained::Done(Some(now_ns() + LANE_BUSY_RETRY_NS))
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            let r = match made {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(conversation, "draining the outbound queue: {e:#}");
                    return Drained::Failed;
                }
            };
            for _ in 0..r.done {
                self.count_outcome("outbound-call-made");
            }
            for why in &r.dropped {
                self.count_outcome("outbound-call-dropped");
                tracing::warn!(conversation, "a queued call was refused and dropped: {why}");
            }
            let made = r.done as usize + r.dropped.len();
            if r.left == 0 || made == 0 {
                return Drained::Done(r.retry_at.filter(|_| r.left > 0));
            }
            if r.retry_at.is_some() {
                self.count_outcome("outbound-call-deferred");
                tracing::debug!(
                    conversation,
                    left = r.left,
                    "a queued call failed; it is retried after a back-off"
                );
                return Drained::Done(r.retry_at);
            }
        }
    }

    /// Waits, holding no worker, until a pending Gleap call's turn is over.
    async fn settle(&self, turn: Turn, ticket: &Ticket<'_>) -> Result<Answer, anyhow::Error> {
        let mut pending = match turn {
            Turn::Answer(a) => return Ok(a),
            Turn::Pending(p) => p,
        };
        let subscription = self.wakeups.subscribe(&pending.conversation);
        let _parked = Parked::new(&self.metrics.gleap_waiting);
        // Let the connection look at its socket first: if the caller hung up
        // while its comments were forwarded, the request ends here and
        // `collect` never takes its replies out of the queue.
        tokio::task::yield_now().await;
        loop {
            // Registered before the look, so a webhook committed after the
            // look but before the wait still wakes this call.
            let notified = subscription.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                pending.deadline = self.clock.now().0;
            }
            match self.call(|s| s.gleap_collect(&pending))? {
                Turn::Answer(a) => {
                    self.queue_changed(a.queue_change);
                    return Ok(a);
                }
                Turn::Pending(p) => pending = p,
            }
            let mut wait = self.until(&pending);
            if self.shared.is_some() {
                // A wake-up from another replica may be lost on the way.
                wait = wait.min(FALLBACK_LOOK);
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(wait) => {}
                // Past the Gleap calls' share of connections: this, the
                // oldest, answers with what it has.
                () = ticket.answer_now() => {
                    self.metrics.gleap_answered_early.inc();
                    pending.deadline = self.clock.now().0;
                }
            }
        }
    }

    /// Time left until a pending call's `wake-at`.
    fn until(&self, pending: &Pending) -> Duration {
        let left = pending.wake_at.saturating_sub(self.clock.now().0);
        Duration::from_nanos(u64::try_from(left).unwrap_or(0))
    }
}

/// Counts a parked Gleap call for as long as it waits (also when its client
/// hangs up and the request is dropped).
struct Parked<'a>(&'a prometheus_client::metrics::gauge::Gauge);

impl<'a> Parked<'a> {
    fn new(gauge: &'a prometheus_client::metrics::gauge::Gauge) -> Self {
        gauge.inc();
        Parked(gauge)
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn gleap_action(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    const ROUTE: &str = "/gleap/action";
    let started = Instant::now();
    // Counted from the start: the call holds its connection all along.
    let (ticket, _) = app.parking.enter();
    let bytes = match app.body(ROUTE, &headers, body, MAX_GLEAP_BODY).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let auth = header_text(&headers, "authorization");
    let result = async {
        let turn = app.call(|s| s.gleap_action(auth.as_deref(), &bytes))?;
        app.settle(turn, &ticket).await
    }
    .await;
    app.respond(ROUTE, started, result)
}

async fn webhook(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    const ROUTE: &str = "/webhooks/gradient-labs";
    let started = Instant::now();
    let signature = header_text(&headers, "x-gradientlabs-signature");
    let token = header_text(&headers, "x-gradientlabs-token");
    let screen = || {
        app.metrics.webhooks_screened.inc();
        match app.call(|s| s.screen_webhook(signature.as_deref())) {
            Ok(None) => None,
            Ok(Some(refusal)) => Some(app.respond(ROUTE, started, Ok(refusal))),
            Err(e) => Some(app.respond(ROUTE, started, Err(e))),
        }
    };
    let read = screened_body(&app, ROUTE, &headers, body, MAX_WEBHOOK_BODY, screen).await;
    let bytes = match read {
        Ok(b) => b,
        Err(response) => return response,
    };
    let result = async {
        let mut tries = 0;
        loop {
            // Reads through the store's cache: on a shared store each one is
            // checked when the group commits (a stale one runs the call again).
            let (answer, mut pending) = app.call(|s| {
                Ok(s.cached_reads(|s| {
                    s.deferred(|s| s.webhook(signature.as_deref(), token.as_deref(), &bytes))
                }))
            })?;
            let answer = answer?;
            // Replicas sharing the store hear of it from the commit itself.
            if let Some(last) = pending.last_mut() {
                last.wake(answer.wake.iter().cloned());
            }
            match app.committer.commit(pending).await? {
                Ok(()) => return Ok(answer),
                // Nothing was kept: the call runs again on the state that won.
                Err(CommitError::Conflict(_)) if tries < COMMIT_RETRIES => {
                    tries += 1;
                    app.metrics.store_conflicts.inc();
                }
                Err(e) => return Err(anyhow::Error::from(e)),
            }
        }
    }
    .await;
    if let Ok(answer) = &result {
        app.queue_changed(answer.queue_change);
        // Committed: the parked Gleap calls of these conversations may answer now.
        for c in &answer.wake {
            app.wakeups.wake(c);
        }
        for c in &answer.work {
            app.drains.schedule(c);
        }
    }
    app.respond(ROUTE, started, result)
}

/// `POST /chatwoot/webhook`: answered once what the event means is queued
/// (committed); the calls it queued are made after, in the background.
async fn chatwoot_webhook(
    State(app): State<Arc<App>>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    const ROUTE: &str = "/chatwoot/webhook";
    let started = Instant::now();
    let timestamp = header_text(&headers, "x-chatwoot-timestamp");
    let signature = header_text(&headers, "x-chatwoot-signature");
    let url_token = query.get("token").cloned();
    let screen = || {
        app.metrics.webhooks_screened.inc();
        let refusal = app
            .call(|s| {
                s.chatwoot_screen(
                    timestamp.as_deref(),
                    signature.as_deref(),
                    url_token.as_deref(),
                )
            })
            .transpose()?;
        Some(inbound_response(
            &app,
            ROUTE,
            &CHATWOOT_OUTCOMES,
            started,
            refusal,
        ))
    };
    let bytes = match screened_body(&app, ROUTE, &headers, body, MAX_CHATWOOT_BODY, screen).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let result = app.call(|s| {
        s.chatwoot_event(
            timestamp.as_deref(),
            signature.as_deref(),
            url_token.as_deref(),
            &bytes,
        )
    });
    inbound_response(&app, ROUTE, &CHATWOOT_OUTCOMES, started, result)
}

/// `POST /zendesk/webhook`: answered once what the delivery's events mean
/// is queued (committed); the calls they queued are made after, in the
/// background. A wrong `X-API-Key` is refused without waiting for a body
/// that has not arrived.
async fn zendesk_webhook(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    const ROUTE: &str = "/zendesk/webhook";
    let started = Instant::now();
    let api_key = header_text(&headers, "x-api-key");
    let screen = || {
        app.metrics.webhooks_screened.inc();
        let refusal = app
            .call(|s| s.zendesk_screen(api_key.as_deref()))
            .transpose()?;
        Some(inbound_response(
            &app,
            ROUTE,
            &ZENDESK_OUTCOMES,
            started,
            refusal,
        ))
    };
    let bytes = match screened_body(&app, ROUTE, &headers, body, MAX_ZENDESK_BODY, screen).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let result = app.call(|s| s.zendesk_event(api_key.as_deref(), &bytes));
    inbound_response(&app, ROUTE, &ZENDESK_OUTCOMES, started, result)
}

/// The outcome names of a helpdesk's deliveries: `<helpdesk>-accepted`,
/// `-duplicate`, `-ignored`, `-unauthorized`, `-bad-request`.
type OutcomeNames = [&'static str; 5];
const CHATWOOT_OUTCOMES: OutcomeNames = [
    "chatwoot-accepted",
    "chatwoot-duplicate",
    "chatwoot-ignored",
    "chatwoot-unauthorized",
    "chatwoot-bad-request",
];
const ZENDESK_OUTCOMES: OutcomeNames = [
    "zendesk-accepted",
    "zendesk-duplicate",
    "zendesk-ignored",
    "zendesk-unauthorized",
    "zendesk-bad-request",
];

/// The response to a helpdesk's delivery (or its screening), counted.
fn inbound_response(
    app: &App,
    route: &'static str,
    names: &OutcomeNames,
    started: Instant,
    result: Result<glbridge_host::bindings::bridge_core::InboundAnswer>,
) -> Response {
    use glbridge_host::bindings::bridge_core::InboundOutcome as O;
    app.metrics
        .guest_call_seconds
        .get_or_create(&NameLabels { name: route })
        .observe(started.elapsed().as_secs_f64());
    let response = match result {
        Ok(answer) => {
            let outcome = match answer.outcome {
                O::Accepted => names[0],
                O::Duplicate => names[1],
                O::Ignored => names[2],
                O::Unauthorized => names[3],
                O::BadRequest => names[4],
                O::StoreError => "store-error",
            };
            app.count_outcome(outcome);
            tracing::debug!(route, status = answer.status, outcome, "handled");
            for c in &answer.work {
                app.drains.schedule(c);
            }
            json_response(answer.status, answer.body)
        }
        Err(e) => {
            let incident = INCIDENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            tracing::error!(route, incident, "{e:#}");
            internal_error(&e, incident)
        }
    };
    app.count_request(route, response.status());
    response
}

/// An inbound event's body. One that came with its headers (the usual
/// delivery) is taken at once, and its signature is checked with it in one
/// component call. One that is not all here yet has its headers screened
/// first (`screen`: the response to send at once, if any), so that a
/// missing, malformed or stale signature is refused without waiting for
/// the rest or holding memory for it.
async fn screened_body(
    app: &App,
    route: &'static str,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    screen: impl FnOnce() -> Option<Response>,
) -> Result<axum::body::Bytes, Response> {
    let read = app.body(route, headers, body, limit);
    tokio::pin!(read);
    let arrived = tokio::select! {
        biased;
        read = &mut read => Some(read),
        // One turn for the connection to hand over what it already holds.
        () = tokio::task::yield_now() => None,
    };
    match arrived {
        Some(read) => read,
        None => {
            if let Some(refusal) = screen() {
                return Err(refusal);
            }
            read.await
        }
    }
}

fn now_ns() -> i64 {
    SystemClock.now().0
}

/// Whether a call failed because its commit lost to another call.
fn is_conflict(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<HostError>(),
        Some(HostError::Commit(CommitError::Conflict(_)))
    ) || matches!(
        e.downcast_ref::<CommitError>(),
        Some(CommitError::Conflict(_))
    )
}

/// Whether a call failed because the store did not answer (nothing was
/// kept; the sender should try again).
fn is_unavailable(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<HostError>(),
        Some(HostError::Commit(CommitError::Store(_)))
    ) || matches!(e.downcast_ref::<CommitError>(), Some(CommitError::Store(_)))
        || e.downcast_ref::<glbridge_guest::env::StoreError>()
            .is_some()
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let store = match &app.shared {
        None => Ok(()),
        Some(shared) => {
            let store = shared.store.clone();
            tokio::task::spawn_blocking(move || store.check(Duration::from_secs(1)))
                .await
                .unwrap_or_else(|e| Err(glbridge_guest::env::StoreError(e.to_string())))
        }
    };
    app.metrics.store_ready.set(i64::from(store.is_ok()));
    let (status, body) = match store {
        Ok(()) => (
            StatusCode::OK,
            serde_json::json!({"status": "ok", "store": "ready", "version": env!("CARGO_PKG_VERSION")}),
        ),
        Err(e) => {
            tracing::warn!("/healthz: the store is not ready: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "unavailable", "store": "not ready", "version": env!("CARGO_PKG_VERSION")}),
            )
        }
    };
    app.count_request("/healthz", status);
    json_response(status.as_u16(), body.to_string())
}

async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let allowed = app.metrics_auth.as_ref().is_none_or(|expected| {
        headers
            .get(header::AUTHORIZATION)
            .is_some_and(|got| bool::from(got.as_bytes().ct_eq(expected.expose().as_bytes())))
    });
    let status = if allowed {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    app.count_request("/metrics", status);
    if !allowed {
        return (
            status,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "GET /metrics needs Authorization: Bearer <the --metrics-token>\n",
        )
            .into_response();
    }
    (
        StatusCode::OK,
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[test]
    fn a_500_says_what_failed_in_words_and_keeps_the_internals_for_the_log() {
        let trap = anyhow::Error::from(HostError::Trap(
            "wasm trap: interrupt\nwasm backtrace:\n    0: 0x1d2f - _ZN14glbridge_guest5gleap6bridge4turn17h8e3f".into(),
        ));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let (status, body) = runtime.block_on(text(internal_error(&trap, 7)));
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("component failed"), "{body}");
        assert!(body.contains("incident 7"), "{body}");
        for internal in ["wasm", "backtrace", "_ZN", "0x1d2f"] {
            assert!(!body.contains(internal), "{internal} in {body}");
        }
        let other = anyhow::anyhow!("disk I/O error at /var/lib/glbridge/state.db");
        let (_, body) = runtime.block_on(text(internal_error(&other, 8)));
        assert!(
            body.contains("internal error") && !body.contains("/var/lib"),
            "{body}"
        );
    }
}
