//! Stores for the component's `store` import: in memory, and SQLite.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use glbridge_guest::env::{Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

pub use glbridge_guest::testing::MemoryStore;

/// A store in one SQLite file (WAL mode); several processes may share it,
/// since compare-and-swap runs in an immediate transaction.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = Connection::open(path.as_ref()).map_err(err)?;
        Self::init(conn)
    }

    /// A private store in memory (for tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(err)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS glbridge_kv (
                 key   TEXT PRIMARY KEY NOT NULL,
                 value BLOB NOT NULL
             ) WITHOUT ROWID;",
        )
        .map_err(err)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, rusqlite::Error>,
    ) -> Result<R, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut conn).map_err(err)
    }
}

impl Store for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT value FROM glbridge_kv WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT value FROM glbridge_kv WHERE key = ?1",
                    params![key],
                    |r| r.get(0),
                )
                .optional()?;
            if current.as_deref() != expected {
                return Ok(false);
            }
            match new {
                Some(v) => tx.execute(
                    "INSERT INTO glbridge_kv (key, value) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![key, v],
                )?,
                None => tx.execute("DELETE FROM glbridge_kv WHERE key = ?1", params![key])?,
            };
            tx.commit()?;
            Ok(true)
        })
    }

    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            // substr comparison avoids LIKE's wildcards in user-chosen ids.
            let mut stmt = c.prepare_cached(
                "SELECT key FROM glbridge_kv WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
            )?;
            let keys = stmt
                .query_map(params![prefix], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(keys)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(store.list_keys("a").unwrap(), vec!["a", "a%/b", "ab"]);
        assert_eq!(store.list_keys("a%").unwrap(), vec!["a%/b"]);
        assert!(store.compare_and_swap("a", Some(b"2"), None).unwrap());
        assert_eq!(store.get("a").unwrap(), None);
    }

    #[test]
    fn memory_and_sqlite_stores_agree() {
        exercise(&MemoryStore::default());
        exercise(&SqliteStore::open_in_memory().unwrap());
    }

    #[test]
    fn sqlite_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("glbridge-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kv.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            assert!(s.compare_and_swap("k", None, Some(b"v")).unwrap());
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.get("k").unwrap(), Some(b"v".to_vec()));
        std::fs::remove_dir_all(&dir).ok();
    }
}
