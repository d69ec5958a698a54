//! The SQLite backend: one file in WAL mode, read through a small pool of
//! connections and written with group commit — calls that commit at the same
//! time share one SQLite transaction, so a burst of webhooks costs one WAL
//! append (and, with [`Durability::PowerLoss`], one fsync) per batch.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use glbridge_guest::env::{Store, StoreError};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{prefix_end, Backend, CommitError, Write};

/// What a commit survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// WAL with `synchronous=NORMAL`: a committed call survives the process
    /// crashing or being killed; the last commits before a power loss or OS
    /// crash may be lost. The default.
    #[default]
    Process,
    /// WAL with `synchronous=FULL`: every commit is fsynced before the call
    /// is answered, so it survives power loss too.
    PowerLoss,
}

/// Most connections kept for reads.
const MAX_READERS: usize = 16;

struct Queued {
    writes: Vec<Write>,
    result: Option<Result<(), CommitError>>,
}

/// The SQLite backend. Several processes may share the file (SQLite's own
/// locking), though the named locks of [`crate::store::Locks`] are per process.
pub struct SqliteStore {
    path: Option<std::path::PathBuf>,
    durability: Durability,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    queue: Mutex<Vec<Arc<Mutex<Queued>>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

const GET: &str = "SELECT value FROM glbridge_kv WHERE key = ?1";
const PUT: &str = "INSERT INTO glbridge_kv (key, value) VALUES (?1, ?2)
                   ON CONFLICT(key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM glbridge_kv WHERE key = ?1";
const LIST: &str = "SELECT key FROM glbridge_kv WHERE key >= ?1 AND key < ?2 ORDER BY key";
const LIST_ALL: &str = "SELECT key FROM glbridge_kv WHERE key >= ?1 ORDER BY key";

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`, durable across a
    /// process crash ([`Durability::Process`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, Durability::default())
    }

    /// Opens the store at `path` with the given durability.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let writer = Connection::open(&path).map_err(err)?;
        Self::init(Some(path), writer, durability)
    }

    /// A private store in memory (for tests): one connection for everything.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(
            None,
            Connection::open_in_memory().map_err(err)?,
            Durability::Process,
        )
    }

    fn init(
        path: Option<std::path::PathBuf>,
        conn: Connection,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        let sync = match durability {
            Durability::Process => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync).map_err(err)?;
        tune(&conn)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS glbridge_kv (
                 key   TEXT PRIMARY KEY NOT NULL,
                 value BLOB NOT NULL
             ) WITHOUT ROWID;",
        )
        .map_err(err)?;
        Ok(SqliteStore {
            path,
            durability,
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            queue: Mutex::new(Vec::new()),
        })
    }

    /// What commits survive.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Runs `f` on a read connection (the writer's, for an in-memory store).
    fn read<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R, StoreError> {
        let Some(path) = &self.path else {
            return f(&lock(&self.writer)).map_err(err);
        };
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(err)?;
                c.busy_timeout(Duration::from_secs(5)).map_err(err)?;
                tune(&c)?;
                c
            }
        };
        let r = f(&conn).map_err(err);
        let mut readers = lock(&self.readers);
        if readers.len() < MAX_READERS {
            readers.push(conn);
        }
        r
    }

    /// Commits every queued write set in one SQLite transaction. Runs with
    /// the writer lock held; each set is validated against the state the
    /// sets before it left, and a set that conflicts is left out.
    fn commit_batch(conn: &mut Connection, batch: &[Arc<Mutex<Queued>>]) {
        let outcome = (|| -> rusqlite::Result<Vec<Result<(), CommitError>>> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut results = Vec::with_capacity(batch.len());
            {
                let mut get = tx.prepare_cached(GET)?;
                let mut put = tx.prepare_cached(PUT)?;
                let mut delete = tx.prepare_cached(DELETE)?;
                for queued in batch {
                    let q = lock(queued);
                    let mut conflict = None;
                    for w in &q.writes {
                        let current: Option<Vec<u8>> =
                            get.query_row(params![w.key], |r| r.get(0)).optional()?;
                        if current != w.base {
                            conflict = Some(w.key.clone());
                            break;
                        }
                    }
                    if let Some(key) = conflict {
                        results.push(Err(CommitError::Conflict(key)));
                        continue;
                    }
                    for w in &q.writes {
                        match &w.value {
                            Some(v) => put.execute(params![w.key, v])?,
                            None => delete.execute(params![w.key])?,
                        };
                    }
                    results.push(Ok(()));
                }
            }
            tx.commit()?;
            Ok(results)
        })();
        match outcome {
            Ok(results) => {
                for (queued, r) in batch.iter().zip(results) {
                    lock(queued).result = Some(r);
                }
            }
            Err(e) => {
                let e = err(e);
                for queued in batch {
                    lock(queued).result = Some(Err(CommitError::Store(e.clone())));
                }
            }
        }
    }
}

/// Page cache and memory map sized for a working set of tens of megabytes.
fn tune(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "cache_size", -32_768) // KiB: 32 MiB
        .map_err(err)?;
    conn.pragma_update(None, "mmap_size", 268_435_456)
        .map_err(err)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

impl Backend for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|c| {
            c.prepare_cached(GET)?
                .query_row(params![key], |r| r.get(0))
                .optional()
        })
    }

    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.read(|c| match prefix_end(prefix) {
            Some(end) => c
                .prepare_cached(LIST)?
                .query_map(params![prefix, end], |r| r.get(0))?
                .collect(),
            None => c
                .prepare_cached(LIST_ALL)?
                .query_map(params![prefix], |r| r.get(0))?
                .collect(),
        })
    }

    fn commit(&self, writes: Vec<Write>) -> Result<(), CommitError> {
        let mine = Arc::new(Mutex::new(Queued {
            writes,
            result: None,
        }));
        lock(&self.queue).push(mine.clone());
        // Whoever holds the writer commits everything queued so far: by the
        // time a caller gets the writer, a previous holder may have
        // committed its writes already (group commit, leader/follower).
        let mut conn = lock(&self.writer);
        if let Some(r) = lock(&mine).result.take() {
            return r;
        }
        let batch = std::mem::take(&mut *lock(&self.queue));
        Self::commit_batch(&mut conn, &batch);
        drop(conn);
        let r = lock(&mine).result.take();
        r.unwrap_or_else(|| Err(CommitError::Store(StoreError("commit lost".into()))))
    }
}

/// Plain (non-transactional) use, e.g. by the guest library natively: each
/// compare-and-swap is its own commit.
impl Store for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Backend::get(self, key)
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        if expected == new {
            return Ok(Backend::get(self, key)?.as_deref() == expected);
        }
        match self.commit(vec![Write {
            key: key.to_owned(),
            base: expected.map(<[u8]>::to_vec),
            value: new.map(<[u8]>::to_vec),
        }]) {
            Ok(()) => Ok(true),
            Err(CommitError::Conflict(_)) => Ok(false),
            Err(CommitError::Store(e)) => Err(e),
        }
    }

    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Backend::list_keys(self, prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn exercise(store: &dyn Store) {
        assert_eq!(store.get("a").unwrap(), None);
        assert!(store.compare_and_swap("a", None, Some(b"1")).unwrap());
        assert!(
            !store.compare_and_swap("a", None, Some(b"2")).unwrap(),
            "must be absent"
        );
        assert!(!store.compare_and_swap("a", Some(b"x"), Some(b"2")).unwrap());
        assert!(store.compare_and_swap("a", Some(b"1"), Some(b"2")).unwrap());
        assert_eq!(store.get("a").unwrap(), Some(b"2".to_vec()));
        assert!(store.compare_and_swap("a%/b", None, Some(b"3")).unwrap());
        assert!(store.compare_and_swap("ab", None, Some(b"4")).unwrap());
        assert!(store.compare_and_swap("b", None, Some(b"5")).unwrap());
        assert!(store
            .compare_and_swap("a\u{10FFFF}", None, Some(b"6"))
            .unwrap());
        assert_eq!(
            store.list_keys("a").unwrap(),
            vec!["a", "a%/b", "ab", "a\u{10FFFF}"]
        );
        assert_eq!(store.list_keys("a%").unwrap(), vec!["a%/b"]);
        assert_eq!(store.list_keys("").unwrap().len(), 5);
        assert!(store.compare_and_swap("a", Some(b"2"), None).unwrap());
        assert_eq!(store.get("a").unwrap(), None);
    }

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("glbridge-store-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("kv.db")
    }

    #[test]
    fn memory_and_sqlite_stores_agree() {
        exercise(&MemoryStore::default());
        exercise(&SqliteStore::open_in_memory().unwrap());
        let path = temp_db("agree");
        exercise(&SqliteStore::open(&path).unwrap());
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn sqlite_survives_reopening() {
        let path = temp_db("reopen");
        {
            let s = SqliteStore::open_with(&path, Durability::PowerLoss).unwrap();
            assert!(Store::compare_and_swap(&s, "k", None, Some(b"v")).unwrap());
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(Backend::get(&s, "k").unwrap(), Some(b"v".to_vec()));
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn concurrent_commits_are_batched_and_each_is_validated() {
        let path = temp_db("group");
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut won = 0;
                    for i in 0..50 {
                        // Everyone races for the shared key; own keys never conflict.
                        let own = Write {
                            key: format!("own/{t}/{i}"),
                            base: None,
                            value: Some(b"x".to_vec()),
                        };
                        store.commit(vec![own]).unwrap();
                        let shared = Write {
                            key: format!("shared/{i}"),
                            base: None,
                            value: Some(vec![t]),
                        };
                        if store.commit(vec![shared]).is_ok() {
                            won += 1;
                        }
                    }
                    won
                })
            })
            .collect();
        let won: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(won, 50, "each shared key is written exactly once");
        assert_eq!(Backend::list_keys(&*store, "own/").unwrap().len(), 400);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }
}
