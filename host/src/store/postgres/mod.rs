//! The PostgreSQL backend, for several processes (replicas) sharing one
//! state: the same semantics as the SQLite store — `get`, `list_keys` by
//! prefix, and commits that apply a call's writes only if every key still
//! holds its base, all or nothing — with the group of a `commit_all` in one
//! transaction of two round trips. Beside the key-value table it keeps the
//! lane leases that fence outbound work ([`PostgresStore::claim`]), sends a
//! `NOTIFY` for each conversation a commit wakes, and listens for them on a
//! connection of its own ([`PostgresStore::listen`]).
//!
//! The [`Backend`] calls are synchronous: each runs on the store's own
//! small runtime and the calling thread waits for it, as it would for a
//! SQLite read.

mod listen;
mod plan;
mod schema;
mod temp;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use glbridge_guest::env::StoreError;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use super::cache::ValueCache;
use super::{prefix_end, Backend, Changes, CommitError, Fence, Write};

pub use listen::{Listener, Signal};
pub use temp::{TempServer, TempServerError};

/// The `NOTIFY` channel that carries wake-ups (payload: a conversation id).
pub const WAKE_CHANNEL: &str = "glbridge_wake";

/// Longest any one store operation may take before it counts as failed.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in the pool.
const POOL_SIZE: usize = 16;
/// Bytes of committed values kept in memory for cached reads.
const CACHE_BYTES: usize = 32 * 1024 * 1024;
/// Times a group is run again after a deadlock, a serialization failure or
/// a key inserted by another transaction meanwhile.
const GROUP_RETRIES: usize = 5;

const GET: &str = "SELECT value FROM glbridge_kv WHERE key = $1";
const LIST: &str = "SELECT key FROM glbridge_kv WHERE key >= $1 AND key < $2 ORDER BY key";
const LIST_ALL: &str = "SELECT key FROM glbridge_kv WHERE key >= $1 ORDER BY key";
/// The rows the group changes, locked in key order (so that two groups
/// never wait on each other in a circle over them) ...
const LOCK_ROWS: &str =
    "SELECT key, value FROM glbridge_kv WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE";
/// ... and those its calls only read, held still (other groups that only
/// read them go on).
const SHARE_ROWS: &str =
    "SELECT key, value FROM glbridge_kv WHERE key = ANY($1::text[]) ORDER BY key FOR SHARE";
/// The leases the group's calls depend on, held still until it commits.
const LOCK_LEASES: &str =
    "SELECT lane, lease_owner, epoch FROM glbridge_leases WHERE lane = ANY($1::text[]) FOR SHARE";
/// Every row change of a group, and its wake-ups, in one statement. New
/// keys are plain inserts: a key another transaction inserted meanwhile is
/// a unique violation, and the group runs again. Changed keys (their rows
/// locked) are written through the primary key's index as upserts — an
/// `UPDATE … FROM unnest(…)` join is planned as a scan of the whole table.
const APPLY: &str = "WITH
    ins AS (INSERT INTO glbridge_kv (key, value)
            SELECT k, v FROM unnest($1::text[], $2::bytea[]) AS t(k, v)),
    upd AS (INSERT INTO glbridge_kv (key, value)
            SELECT k, v FROM unnest($3::text[], $4::bytea[]) AS u(k, v)
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value),
    del AS (DELETE FROM glbridge_kv WHERE key = ANY($5::text[]))
    SELECT count(pg_notify('glbridge_wake', c)) FROM unnest($6::text[]) AS c";
/// Extends a lane's lease held by `$2`, or takes one that expired (a new
/// epoch); skips a lane another claim is changing right now.
const CLAIM: &str = "UPDATE glbridge_leases AS l
    SET lease_owner = $2,
        lease_until = clock_timestamp() + $3 * interval '1 millisecond',
        epoch = CASE WHEN l.lease_owner = $2 AND l.lease_until > clock_timestamp()
                     THEN l.epoch ELSE l.epoch + 1 END
    FROM (SELECT lane FROM glbridge_leases
          WHERE lane = $1 AND (lease_owner = $2 OR lease_until <= clock_timestamp())
          FOR UPDATE SKIP LOCKED) AS free
    WHERE l.lane = free.lane
    RETURNING l.epoch";
/// A lane nobody claimed before.
const CLAIM_NEW: &str = "INSERT INTO glbridge_leases (lane, lease_owner, lease_until, epoch)
    VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond', 1)
    ON CONFLICT (lane) DO NOTHING RETURNING epoch";
/// Lets a lane go before its lease ends (the row stays, so epochs only rise).
const RELEASE: &str = "UPDATE glbridge_leases SET lease_until = '-infinity'
    WHERE lane = $1 AND lease_owner = $2 AND epoch = $3";

/// A store in a PostgreSQL database, shared by every process that opens it.
pub struct PostgresStore {
    inner: Arc<Inner>,
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

struct Inner {
    pool: Pool,
    config: tokio_postgres::Config,
    /// Where it is, without the password (for logs).
    shown: String,
    /// Whether the last operation reached the database.
    ready: AtomicBool,
    /// Group retries after a deadlock or a concurrent insert.
    retries: AtomicU64,
    /// Values as this process last read or committed them: possibly stale
    /// (other processes commit too), so only for reads that are checked at
    /// commit ([`Backend::get_cached`]).
    cache: ValueCache,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("at", &self.inner.shown)
            .finish_non_exhaustive()
    }
}

/// Whether `location` names a PostgreSQL database (a `postgres://` or
/// `postgresql://` URL) rather than a file.
pub fn is_url(location: &str) -> bool {
    let lower = location.to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `url` as it may be shown: user, hosts, ports and database, never the password.
fn shown(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(h, p)| match h {
            tokio_postgres::config::Host::Tcp(h) => format!("{h}:{p}"),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    format!(
        "postgres://{}@{}/{}",
        config.get_user().unwrap_or(""),
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

fn db_error(what: &str, e: &tokio_postgres::Error) -> StoreError {
    StoreError(format!("PostgreSQL, {what}: {e}"))
}

/// Whether a failed group may simply run again.
fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::UNIQUE_VIOLATION
    )
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`,
    /// or any form libpq takes), creates or migrates the schema, and keeps a
    /// pool of connections (TCP keepalives on).
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError(format!("not a PostgreSQL URL: {e}")))?;
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .application_name("glbridge");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(3));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("glbridge-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError(format!("starting the PostgreSQL client: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(3)))
            .create_timeout(Some(Duration::from_secs(3)))
            .recycle_timeout(Some(Duration::from_secs(1)))
            .build()
            .map_err(|e| StoreError(format!("PostgreSQL pool: {e}")))?;
        let store = PostgresStore {
            inner: Arc::new(Inner {
                pool,
                shown: shown(&config),
                config,
                ready: AtomicBool::new(false),
                retries: AtomicU64::new(0),
                cache: ValueCache::new(CACHE_BYTES),
            }),
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        };
        let inner = store.inner.clone();
        store
            .run("opening", async move {
                let client = inner.client().await?;
                schema::migrate(&client).await
            })
            .map_err(|e| StoreError(format!("{}: {}", store.inner.shown, e.0)))?;
        Ok(store)
    }

    /// Where it is, without the password.
    pub fn location(&self) -> &str {
        &self.inner.shown
    }

    /// Whether the last operation reached the database.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }

    /// Asks the database whether it answers (within `timeout`).
    pub fn check(&self, timeout: Duration) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        self.run_within("checking", timeout, async move {
            let client = inner.client().await?;
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| db_error("checking", &e))?;
            Ok(())
        })
    }

    /// Groups run again after a deadlock or a key inserted concurrently.
    pub fn group_retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    /// Claims `lane` for `owner` for `ttl`, or extends `owner`'s claim; the
    /// fence to commit the lane's work under, or `None` while another
    /// owner holds it (or is claiming it right now).
    pub fn claim(
        &self,
        lane: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<Fence>, StoreError> {
        let inner = self.inner.clone();
        let (lane, owner) = (lane.to_owned(), owner.to_owned());
        let ttl_ms = ttl.as_millis().min(i64::MAX as u128) as f64;
        self.run("claiming a lease", async move {
            let client = inner.client().await?;
            let claim = client
                .prepare_cached(CLAIM)
                .await
                .map_err(|e| db_error("claiming a lease", &e))?;
            let rows = client
                .query(&claim, &[&lane, &owner, &ttl_ms])
                .await
                .map_err(|e| db_error("claiming a lease", &e))?;
            let epoch = match rows.first() {
                Some(row) => Some(row.get::<_, i64>(0)),
                None => {
                    let new = client
                        .prepare_cached(CLAIM_NEW)
                        .await
                        .map_err(|e| db_error("claiming a lease", &e))?;
                    client
                        .query(&new, &[&lane, &owner, &ttl_ms])
                        .await
                        .map_err(|e| db_error("claiming a lease", &e))?
                        .first()
                        .map(|row| row.get::<_, i64>(0))
                }
            };
            Ok(epoch.map(|epoch| Fence { lane, owner, epoch }))
        })
    }

    /// Lets `fence`'s lane go now, if it is still held under it.
    pub fn release(&self, fence: &Fence) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        let fence = fence.clone();
        self.run("releasing a lease", async move {
            let client = inner.client().await?;
            client
                .execute(RELEASE, &[&fence.lane, &fence.owner, &fence.epoch])
                .await
                .map_err(|e| db_error("releasing a lease", &e))?;
            Ok(())
        })
    }

    /// Listens for wake-ups on a connection of its own (not from the pool:
    /// a pooled connection would be handed to others between messages),
    /// reconnecting with back-off; `on` hears each conversation woken, and
    /// [`Signal::Reconnected`] whenever notifications may have been missed.
    pub fn listen(&self, on: impl Fn(Signal) + Send + Sync + 'static) -> Listener {
        listen::start(&self.handle, self.inner.config.clone(), Arc::new(on))
    }

    fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run_within(what, OPERATION_TIMEOUT, f)
    }

    /// Runs `f` on the store's runtime and waits for it here (from any
    /// thread, also one of another runtime's).
    fn run_within<T: Send + 'static>(
        &self,
        what: &'static str,
        timeout: Duration,
        f: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let inner = self.inner.clone();
        self.handle.spawn(async move {
            let r = match tokio::time::timeout(timeout, f).await {
                Ok(r) => r,
                Err(_) => Err(StoreError(format!(
                    "PostgreSQL, {what}: no answer within {} ms",
                    timeout.as_millis()
                ))),
            };
            inner.ready.store(r.is_ok(), Ordering::Relaxed);
            let _ = tx.send(r);
        });
        rx.recv()
            .unwrap_or_else(|_| Err(StoreError("the PostgreSQL client has stopped".into())))
    }
}

impl Inner {
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError(format!("PostgreSQL at {}: {e}", self.shown)))
    }

    /// Commits a group: locks its rows and leases, decides each call, then
    /// applies every row change and sends the wake-ups in one statement
    /// pipelined with the COMMIT.
    async fn commit_group(
        &self,
        sets: &[Changes],
    ) -> Result<(Vec<Result<(), CommitError>>, plan::Learned), tokio_postgres::Error> {
        // Keys some call changes, and keys calls only read (checked, kept).
        let keys: BTreeSet<&str> = sets
            .iter()
            .flat_map(|c| c.writes.iter().filter(|w| w.base != w.value))
            .map(|w| w.key.as_str())
            .collect();
        let read_only: Vec<&str> = sets
            .iter()
            .flat_map(|c| c.writes.iter().map(|w| w.key.as_str()))
            .filter(|k| !keys.contains(k))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let keys: Vec<&str> = keys.into_iter().collect();
        let lanes: Vec<&str> = sets
            .iter()
            .flat_map(|c| c.fences.iter().map(|f| f.lane.as_str()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let client = match self.pool.get().await {
            Ok(c) => c,
            Err(deadpool_postgres::PoolError::Backend(e)) => return Err(e),
            Err(e) => {
                let failed = sets
                    .iter()
                    .map(|_| {
                        Err(CommitError::Store(StoreError(format!(
                            "PostgreSQL at {}: {e}",
                            self.shown
                        ))))
                    })
                    .collect();
                return Ok((failed, Vec::new()));
            }
        };
        // Until the transaction has ended, dropping the connection (a
        // timeout, an error) closes it rather than handing it back to the
        // pool inside an open transaction; the server then rolls back.
        let open = Open(Some(client));
        let Some(client) = open.0.as_ref() else {
            unreachable!("just set")
        };
        let lock_rows = client.prepare_cached(LOCK_ROWS).await?;
        let share_rows = client.prepare_cached(SHARE_ROWS).await?;
        let lock_leases = client.prepare_cached(LOCK_LEASES).await?;
        let apply = client.prepare_cached(APPLY).await?;
        let key_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&keys];
        let read_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&read_only];
        let lane_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&lanes];
        let query_if = |stmt, params, skip: bool| async move {
            if skip {
                Ok(Vec::new())
            } else {
                client.query(stmt, params).await
            }
        };
        let locked = async {
            let (_, mut rows, read, leases) = tokio::try_join!(
                client.batch_execute("BEGIN"),
                query_if(&lock_rows, &key_params, keys.is_empty()),
                query_if(&share_rows, &read_params, read_only.is_empty()),
                query_if(&lock_leases, &lane_params, lanes.is_empty()),
            )?;
            rows.extend(read);
            Ok::<_, tokio_postgres::Error>((rows, leases))
        }
        .await;
        let (rows, leases) = match locked {
            Ok(r) => r,
            Err(e) => {
                if client.batch_execute("ROLLBACK").await.is_ok() {
                    open.ended();
                }
                return Err(e);
            }
        };
        let current: HashMap<String, Vec<u8>> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let held: HashMap<String, (String, i64)> = leases
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        let lost: Vec<Option<String>> = sets
            .iter()
            .map(|c| {
                c.fences
                    .iter()
                    .find(|f| held.get(&f.lane) != Some(&(f.owner.clone(), f.epoch)))
                    .map(|f| f.lane.clone())
            })
            .collect();
        let writes: Vec<&[Write]> = sets.iter().map(|c| c.writes.as_slice()).collect();
        let (results, changes, learned) = plan::plan(&writes, &lost, &current);
        let wake: Vec<&str> = sets
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .flat_map(|(c, _)| c.wake.iter().map(String::as_str))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if changes.is_empty() && wake.is_empty() {
            client.batch_execute("COMMIT").await?;
            open.ended();
            return Ok((results, learned));
        }
        let (ins_k, ins_v): (Vec<&str>, Vec<&[u8]>) = changes
            .inserts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .unzip();
        let (upd_k, upd_v): (Vec<&str>, Vec<&[u8]>) = changes
            .updates
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .unzip();
        let del_k: Vec<&str> = changes.deletes.iter().map(String::as_str).collect();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&ins_k, &ins_v, &upd_k, &upd_v, &del_k, &wake];
        let applied = tokio::try_join!(
            client.query(&apply, &params),
            // On an aborted transaction COMMIT rolls back (and says so).
            client.batch_execute("COMMIT"),
        );
        match applied {
            Ok(_) => {
                open.ended();
                Ok((results, learned))
            }
            Err(e) => {
                if client.batch_execute("ROLLBACK").await.is_ok() {
                    open.ended();
                }
                Err(e)
            }
        }
    }
}

impl Inner {
    /// Keeps what committed calls left in the cache, and what the group
    /// saw of the keys of calls that conflicted (`learned`), so that their
    /// next run starts from it; forgets the keys of calls that lost their
    /// lease (what they read may be stale).
    fn remember(
        &self,
        sets: &[Changes],
        results: &[Result<(), CommitError>],
        learned: &plan::Learned,
    ) {
        for (set, result) in sets.iter().zip(results) {
            for w in &set.writes {
                match result {
                    Ok(()) => self.cache.put_committed(&w.key, w.value.as_deref()),
                    Err(CommitError::Conflict(_)) => {} // in `learned`
                    Err(_) => self.cache.forget(&w.key),
                }
            }
        }
        for (key, value) in learned {
            self.cache.put(key, value.as_deref());
        }
    }
}

/// A pooled connection inside a transaction: closed if dropped before
/// [`Open::ended`].
struct Open(Option<deadpool_postgres::Object>);

impl Open {
    /// The transaction has ended: the connection may go back to the pool.
    fn ended(mut self) {
        drop(self.0.take());
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl Backend for PostgresStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let inner = self.inner.clone();
        let key = key.to_owned();
        self.run("reading", async move {
            let client = inner.client().await?;
            let get = client
                .prepare_cached(GET)
                .await
                .map_err(|e| db_error("reading", &e))?;
            let row = client
                .query_opt(&get, &[&key])
                .await
                .map_err(|e| db_error("reading", &e))?;
            let value: Option<Vec<u8>> = row.map(|r| r.get(0));
            inner.cache.put(&key, value.as_deref());
            Ok(value)
        })
    }

    fn get_cached(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.inner.cache.get(key) {
            Some(v) => Ok(v),
            None => self.get(key),
        }
    }

    /// What the cache holds, or absent without asking: a key a call
    /// inserts blindly is nearly always new (an outbox item, an event id),
    /// and the commit checks the guess — a key that was there fails the
    /// call as a conflict and is learnt ([`Inner::remember`]), so the call's
    /// next run sees it.
    fn base_for_insert(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.inner.cache.get(key).flatten())
    }

    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let inner = self.inner.clone();
        let prefix = prefix.to_owned();
        self.run("listing keys", async move {
            let client = inner.client().await?;
            let e = |e: tokio_postgres::Error| db_error("listing keys", &e);
            let rows = match prefix_end(&prefix) {
                Some(end) => {
                    let list = client.prepare_cached(LIST).await.map_err(e)?;
                    client.query(&list, &[&prefix, &end]).await.map_err(e)?
                }
                None => {
                    let list = client.prepare_cached(LIST_ALL).await.map_err(e)?;
                    client.query(&list, &[&prefix]).await.map_err(e)?
                }
            };
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn commit(&self, writes: Vec<Write>) -> Result<(), CommitError> {
        self.commit_changes(vec![writes.into()])
            .pop()
            .unwrap_or_else(|| Err(CommitError::Store(StoreError("commit lost".into()))))
    }

    fn commit_all(&self, sets: Vec<Vec<Write>>) -> Vec<Result<(), CommitError>> {
        self.commit_changes(sets.into_iter().map(Changes::from).collect())
    }

    fn shared(&self) -> bool {
        true
    }

    fn commit_changes(&self, sets: Vec<Changes>) -> Vec<Result<(), CommitError>> {
        let n = sets.len();
        let inner = self.inner.clone();
        let r = self.run("committing", async move {
            let mut tries = 0;
            loop {
                match inner.commit_group(&sets).await {
                    Ok((results, learned)) => {
                        inner.remember(&sets, &results, &learned);
                        return Ok(results);
                    }
                    Err(e) if retryable(&e) && tries < GROUP_RETRIES => {
                        tries += 1;
                        inner.retries.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        // Whether it was kept is unknown: read them anew.
                        for w in sets.iter().flat_map(|c| &c.writes) {
                            inner.cache.forget(&w.key);
                        }
                        return Err(db_error("committing", &e));
                    }
                }
            }
        });
        r.unwrap_or_else(|e| (0..n).map(|_| Err(CommitError::Store(e.clone()))).collect())
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Without waiting: the store may be dropped on another runtime's thread.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
