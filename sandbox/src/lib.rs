//! glbridge-sandbox: a local, offline stand-in for the Gradient Labs AI-agent
//! API.
//!
//! It speaks the API the way the real service does — paths, JSON, error
//! bodies, roles — and behaves like a simple, deterministic AI agent: it
//! answers from the published articles it was given (ranked with BM25),
//! hands off, finishes, calls actions, and delivers signed webhooks with
//! per-conversation sequence numbers and retries. Start it with
//! [`Sandbox::start`] (or `glbridge sandbox`).

pub mod agent;
pub mod api;
pub mod background;
pub mod catalog;
pub mod chatwoot;
mod connections;
pub mod delivery;
pub mod search;
pub mod seed;
pub mod state;
pub mod zendesk;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use glbridge_guest::model::knowledge::{Article, Topic, UsageStatus};
use glbridge_guest::model::management::HandOffTarget;
use glbridge_guest::Timestamp;
use rand::{Rng, SeedableRng};

pub use seed::Seed;
pub use state::Changed;
use state::{ArticleRecord, Snapshot, State};

/// How a sandbox runs.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where webhooks go; without one, assigning to the AI agent fails as the real API does.
    pub webhook_url: Option<String>,
    /// Webhook signing key.
    pub signing_key: String,
    /// Key with the Integration role.
    pub integration_key: String,
    /// Key with the Management role.
    pub management_key: String,
    /// SQLite file keeping the state across runs (in memory when `None`).
    pub store: Option<PathBuf>,
    /// Initial help centre, hand-off targets and actions.
    pub seed: Option<Seed>,
    /// Scales the whole webhook retry schedule (1 s = as documented).
    pub retry_base: Duration,
    /// Added before every API answer.
    pub latency: Duration,
    /// Fraction of API requests that fail (503 or 429).
    pub fail_rate: f64,
    /// How long a forced `timeout` fault holds the request.
    pub timeout_fault: Duration,
    /// Seeds the sandbox's randomness (fault injection, jitter, ids).
    pub random_seed: u64,
    /// Header-read timeout and connection cap.
    pub limits: background::ConnectionLimits,
    /// Longest pause between two pieces of a request body.
    pub body_read_timeout: Duration,
    /// Most request-body bytes held in memory at once, over all requests.
    pub max_buffered_body: usize,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("listen", &self.listen)
            .field("webhook_url", &self.webhook_url)
            .field("store", &self.store)
            .field("retry_base", &self.retry_base)
            .field("latency", &self.latency)
            .field("fail_rate", &self.fail_rate)
            .finish_non_exhaustive()
    }
}

/// A fresh random key with a readable prefix.
pub fn random_key(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::rng().random();
    format!("{prefix}{}", hex::encode(bytes))
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            webhook_url: None,
            signing_key: random_key("whsec_"),
            integration_key: random_key("sk_int_"),
            management_key: random_key("sk_mgmt_"),
            store: None,
            seed: None,
            retry_base: Duration::from_secs(1),
            latency: Duration::ZERO,
            fail_rate: 0.0,
            timeout_fault: Duration::from_secs(30),
            random_seed: rand::rng().random(),
            limits: background::ConnectionLimits::default(),
            body_read_timeout: Duration::from_secs(10),
            max_buffered_body: 64 * 1024 * 1024,
        }
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Listening failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The store could not be opened or read.
    #[error("store: {0}")]
    Store(String),
    /// The runtime could not start.
    #[error("runtime: {0}")]
    Runtime(String),
}

/// What every handler and delivery task shares.
pub struct Shared {
    /// The configuration.
    pub config: SandboxConfig,
    state: Mutex<State>,
    snapshot: Option<Mutex<Snapshot>>,
    deliveries: Mutex<Vec<delivery::DeliveryRecord>>,
    body_budget: background::BodyBudget,
    rng: Mutex<rand::rngs::StdRng>,
    http: ureq::Agent,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        let snapshot = match &config.store {
            Some(path) => Some(
                Snapshot::open(path)
                    .map_err(|e| SandboxError::Store(format!("{}: {e}", path.display())))?,
            ),
            None => None,
        };
        let mut state = match &snapshot {
            Some(s) => s.load().map_err(SandboxError::Store)?.unwrap_or_default(),
            None => State::default(),
        };
        if let Some(seed) = &config.seed {
            apply_seed(&mut state, seed, now());
            if let Some(s) = &snapshot {
                s.save_all(&state).map_err(SandboxError::Store)?;
            }
        }
        let http = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let body_budget = background::BodyBudget::new(config.max_buffered_body);
        Ok(Shared {
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(config.random_seed)),
            config,
            state: Mutex::new(state),
            snapshot: snapshot.map(Mutex::new),
            deliveries: Mutex::new(Vec::new()),
            body_budget,
            http,
        })
    }

    /// Runs `f` on the state, then saves what `changed` names.
    pub fn with_state<R>(&self, changed: Changed<'_>, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = lock(&self.state);
        let r = f(&mut state);
        if changed.shared || changed.conversation.is_some() {
            if let Some(snapshot) = &self.snapshot {
                if let Err(e) = lock(snapshot).save(&state, changed) {
                    tracing::error!("saving sandbox state: {e}");
                }
            }
        }
        r
    }

    /// A uniform number in `[0, 1)` from the sandbox's seeded stream.
    pub fn random(&self) -> f64 {
        lock(&self.rng).random()
    }

    /// Random hex for ids and trace ids.
    pub fn random_hex(&self, bytes: usize) -> String {
        let mut rng = lock(&self.rng);
        (0..bytes)
            .map(|_| format!("{:02x}", rng.random::<u8>()))
            .collect()
    }
}

/// Current time, truncated to microseconds as the API reports it.
pub fn now() -> Timestamp {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let micros = i64::try_from(t.as_micros()).unwrap_or(i64::MAX / 1000);
    Timestamp(micros.saturating_mul(1000))
}

fn apply_seed(state: &mut State, seed: &Seed, at: Timestamp) {
    for t in &seed.topics {
        state.topics.entry(t.id.clone()).or_insert_with(|| Topic {
            id: t.id.clone(),
            parent_id: t.parent_id.clone(),
            name: t.name.clone(),
            description: None,
            visibility: glbridge_guest::model::knowledge::Visibility::Public,
            status: glbridge_guest::model::knowledge::PublicationStatus::Published,
            data: None,
            created: at,
            last_edited: at,
        });
    }
    for a in &seed.articles {
        state.articles.insert(
            a.id.clone(),
            ArticleRecord {
                article: Article {
                    id: a.id.clone(),
                    title: a.title.clone(),
                    description: None,
                    body: a.body.clone(),
                    topic_id: a.topic_id.clone(),
                    author_id: None,
                    visibility: a.visibility,
                    status: a.status,
                    data: None,
                    created: at,
                    last_edited: at,
                },
                usage: UsageStatus::On,
                deleted: false,
            },
        );
    }
    for t in &seed.hand_off_targets {
        state.hand_off_targets.insert(
            t.id.clone(),
            HandOffTarget {
                id: t.id.clone(),
                name: t.name.clone(),
            },
        );
        if t.default {
            state.default_targets.insert("*".into(), t.id.clone());
        }
    }
    for rule in &seed.actions {
        state.actions.retain(|r| r.name != rule.name);
        state.actions.push(rule.clone());
    }
}

/// A running sandbox on its own runtime thread.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: background::Background,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Binds and serves in the background until [`Sandbox::stop`] or drop.
    pub fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let shared = Arc::new(Shared::new(config)?);
        let (runtime, listener, local) =
            runtime_and_listener("glbridge-sandbox", 2, shared.config.listen)?;
        let app = api::router(shared.clone());
        let limits = shared.config.limits.fit_descriptors();
        // Deliveries a stopped (or killed) sandbox left carry on.
        runtime.block_on(async { delivery::resume(&shared) });
        // Deliveries in flight stop with the runtime; they are kept in the
        // state (with a store file) and resumed by the next start.
        let server = background::Background::spawn(
            "glbridge-sandbox",
            runtime,
            listener,
            app,
            limits,
            std::future::pending(),
            Duration::from_millis(200),
        )
        .map_err(|e| SandboxError::Runtime(e.to_string()))?;
        Ok(Sandbox {
            addr: local,
            shared,
            server,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its configuration (keys included).
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// Every webhook attempt so far.
    pub fn deliveries(&self) -> Vec<delivery::DeliveryRecord> {
        lock(&self.shared.deliveries).clone()
    }

    /// Stops serving and waits for the server thread.
    pub fn stop(mut self) {
        self.server.stop();
    }
}

/// A runtime of `workers` threads named `name`, and a listener bound to
/// `addr` in it (with the address it got).
pub(crate) fn runtime_and_listener(
    name: &str,
    workers: usize,
    addr: SocketAddr,
) -> Result<(tokio::runtime::Runtime, tokio::net::TcpListener, SocketAddr), SandboxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .thread_name(name)
        .build()
        .map_err(|e| SandboxError::Runtime(e.to_string()))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|source| SandboxError::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| SandboxError::Listen { addr, source })?;
    Ok((runtime, listener, local))
}
