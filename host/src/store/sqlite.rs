//! The SQLite backend: one file in WAL mode, written by one connection with
//! group commit — calls that commit at the same time share one SQLite
//! transaction, so a burst of webhooks costs one WAL append (and, with
//! [`Durability::PowerLoss`], one fsync) per group.
//!
//! * One connection reads and writes, because SQLite drops a connection's
//!   page cache whenever another connection has written; committed values are
//!   also kept in memory ([`ValueCache`]).
//! * Which keys may exist is kept in a Bloom filter ([`KeyFilter`]), so that the
//!   usual read of a key that does not exist yet (a new outbox item) does
//!   not take the connection at all.
//! * Checkpoints (copying the WAL back into the database file, with its
//!   fsync) run on a thread of their own with a second connection, so commits
//!   never wait for them: on this machine checkpointing inside the commit
//!   path cost a third of the webhook route's throughput (BENCHMARKS.md).
//!   Under a steady stream of commits such a checkpoint never reaches the
//!   end of the WAL, and SQLite starts the WAL over only once one has, so
//!   the WAL would grow without end (by ~100 MB/s under a stream of new
//!   webhooks here). Once it is large, the checkpointer leaves the last
//!   few frames to the committing connection, which copies them between
//!   two of its commits (nothing is appended meanwhile); its next commit
//!   starts the WAL over.
//! * The file is held by one process (an advisory lock on it), because the
//!   named locks that serialize calls per conversation
//!   ([`crate::store::Locks`]), the value cache and the key filter live in
//!   the process: a second process on the same file is refused at start.
//!   (Replicas share PostgreSQL instead.)

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use glbridge_guest::env::{Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::cache::ValueCache;
use super::keys::KeyFilter;
use super::{prefix_end, Backend, CommitError, Write};

/// Committed values kept in memory (the file is ours alone, so they stay true).
const CACHE_BYTES: usize = 64 * 1024 * 1024;

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

struct Queued {
    writes: Vec<Write>,
    result: Option<Result<(), CommitError>>,
}

/// The SQLite backend, held exclusively by this process while it is open.
pub struct SqliteStore {
    path: Option<std::path::PathBuf>,
    durability: Durability,
    conn: Mutex<Connection>,
    queue: Mutex<Vec<Arc<Mutex<Queued>>>>,
    /// Written (and filled on a miss) only while `conn` is held, so a read
    /// can never put back a value that a commit has just replaced.
    cache: ValueCache,
    /// Which keys may exist: most absent keys are answered without a read.
    /// Added to before a commit makes its keys visible.
    keys: KeyFilter,
    /// The advisory lock that keeps other processes out, while open.
    _owner: Option<std::fs::File>,
    /// Set by the checkpointer: the WAL is copied back but for a short
    /// tail, which the next group commit is to finish.
    finish_wal: Arc<AtomicBool>,
    /// Set (at start, then by the checkpointer) while the store's file
    /// system has less than [`LOW_DISK`] free: nothing is written ahead, and
    /// the WAL starts over every [`LOW_DISK_WAL_FRAMES`] rather than at
    /// [`WalBounds::restart_frames`].
    low_disk: Arc<AtomicBool>,
    checkpointer: Option<Checkpointer>,
    /// Set once the WAL has passed [`WalBounds::restart_frames`] and the
    /// checkpointer was woken for it; cleared when it holds fewer again.
    woke_checkpointer: AtomicBool,
    /// Writes the WAL's next pages ahead of SQLite (only the committer,
    /// with `conn` held, uses it).
    wal_ahead: Mutex<Option<WalAhead>>,
    /// The WAL's size bound.
    wal: WalBounds,
    /// Set after a commit that left the WAL past [`WalBounds::hard_frames`].
    over_bound: AtomicBool,
}

/// The default bound on the WAL file's size, bytes (`--wal-limit`): the
/// WAL starts over once it holds about half of it (the checkpointer hands
/// its tail to the committer, [`WalBounds::restart_frames`]), and the
/// committer copies it back itself before it can pass the bound
/// ([`WalBounds::hard_frames`]). When it starts over the file is cut back
/// to the bound, no further, so that its blocks are overwritten rather than
/// freed and allocated again (cutting a 1 GiB WAL back to 64 MiB stalled
/// the commit after it for ~100 ms). The file is removed when the store is
/// closed. A larger bound makes starting over rarer (each time stalls the
/// commits for a checkpoint of the tail) at the cost of disk, but its tail
/// is longer: 256 MiB had the lower p99 under a stream of new webhooks
/// (BENCHMARKS.md).
pub const DEFAULT_WAL_LIMIT: u64 = 256 * 1024 * 1024;

/// The smallest WAL bound accepted.
pub const MIN_WAL_LIMIT: u64 = 16 * 1024 * 1024;

/// The WAL's size bound and the frame counts that keep it.
#[derive(Debug, Clone, Copy)]
struct WalBounds {
    /// Bytes the WAL file may take.
    limit: u64,
    /// The checkpointer has the WAL start over once it holds this many
    /// frames.
    restart_frames: i64,
    /// Past this many frames the committer copies the WAL back itself.
    hard_frames: u64,
}

impl WalBounds {
    fn new(limit: u64) -> Self {
        let limit = limit.max(MIN_WAL_LIMIT);
        let frame = PAGE_SIZE + WAL_FRAME_HEADER;
        // Room above the hard mark for the zeros written ahead, the largest
        // group commit, and the commits made while the copy waits for the
        // checkpointer.
        let room = (WAL_AHEAD_HIGH + 4 * 1024 * 1024).max(limit / 8);
        WalBounds {
            limit,
            restart_frames: if cfg!(test) {
                64
            } else {
                i64::try_from(limit / 2 / frame).unwrap_or(i64::MAX)
            },
            hard_frames: limit.saturating_sub(room + WAL_HEADER) / frame,
        }
    }
}

/// Frames are a page plus this header.
const WAL_FRAME_HEADER: u64 = 24;
/// The WAL file starts with this header.
const WAL_HEADER: u64 = 32;
/// The database's page size (SQLite's default, which the store keeps).
const PAGE_SIZE: u64 = 4096;

/// The WAL file is kept written this far ahead of SQLite's last frame...
const WAL_AHEAD_LOW: u64 = 2 * 1024 * 1024;
/// ...by writing zeros up to this far ahead when it is not.
const WAL_AHEAD_HIGH: u64 = 4 * 1024 * 1024;

thread_local! {
    /// The frames in the WAL after this thread's last commit, as SQLite's
    /// WAL hook reports them (it runs on the committing thread, inside
    /// the commit).
    static WAL_FRAMES: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

fn record_wal_frames(
    _: &rusqlite::hooks::Wal,
    frames: std::os::raw::c_int,
) -> rusqlite::Result<()> {
    WAL_FRAMES.with(|c| c.set(u64::try_from(frames).ok()));
    Ok(())
}

/// Keeps the pages SQLite appends to the WAL next already written, with
/// zeros, so that its appends overwrite pages in the page cache.
///
/// SQLite writes each frame as two writes (its 24-byte header, then the
/// page), neither aligned to the file's blocks. Where such a write extends
/// the file, the kernel zero-fills the rest of each new block first: while
/// the WAL grew under a stream of new webhooks, that zero-filling took
/// 17.6 and 21.6 % of the whole service's CPU in two `perf` profiles, and
/// none once the WAL had started over and was written over. Writing a few
/// MiB of zeros ahead, in large aligned writes, costs a copy per page and
/// no zero-filling: CPU per new webhook went from 66–70 to 60–65 µs
/// (BENCHMARKS.md). SQLite still finds the end of its frames by their
/// salts and checksums, as it does after a WAL starts over. Done by the
/// committing connection with the writer lock held, so that it never
/// writes where SQLite is writing, and never past the WAL's size limit.
struct WalAhead {
    file: std::fs::File,
    /// The file is written (by SQLite or by us) up to here.
    written: u64,
    /// Where the frames of the last commit end (0 before the first).
    frames_end: u64,
    /// Never written past: the WAL's bound.
    limit: u64,
}

impl WalAhead {
    fn open(db: &Path, limit: u64) -> Option<WalAhead> {
        let mut name = db.as_os_str().to_owned();
        name.push("-wal");
        let file = std::fs::OpenOptions::new().write(true).open(name).ok()?;
        let written = file.metadata().ok()?.len();
        Some(WalAhead {
            file,
            written,
            frames_end: 0,
            limit,
        })
    }

    /// Gives back the zeros written past the last commit's frames (when the
    /// disk is short of space). Only the committing connection appends to
    /// the WAL, and it is between commits, so nothing past that point is a
    /// committed frame.
    /// A no-op (no system call) unless something was written past them,
    /// so that it costs nothing per commit while the disk stays low.
    fn release(&mut self) -> std::io::Result<()> {
        if self.frames_end <= WAL_HEADER || self.written <= self.frames_end {
            return Ok(());
        }
        if self.file.metadata()?.len() > self.frames_end {
            self.file.set_len(self.frames_end)?;
        }
        self.written = self.frames_end;
        Ok(())
    }

    /// After a commit that left `frames` frames in the WAL.
    fn keep_ahead(&mut self, frames: u64, low_disk: bool) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let end = WAL_HEADER + frames * (PAGE_SIZE + WAL_FRAME_HEADER);
        self.frames_end = end;
        if low_disk {
            return self.release();
        }
        if end + WAL_AHEAD_LOW <= self.written || self.written >= self.limit {
            return Ok(());
        }
        // Someone else may have written past what we know (SQLite, when it
        // outran us): never write below the file's end.
        self.written = self.written.max(self.file.metadata()?.len());
        let target = (end + WAL_AHEAD_HIGH).min(self.limit);
        static ZEROS: [u8; 256 * 1024] = [0; 256 * 1024];
        while self.written < target {
            // From the file's end to the next block boundary, then whole
            // chunks.
            let to_boundary = PAGE_SIZE - self.written % PAGE_SIZE;
            let n = if to_boundary < PAGE_SIZE {
                to_boundary
            } else {
                (target - self.written).min(ZEROS.len() as u64)
            };
            let n = usize::try_from(n).unwrap_or(ZEROS.len()).min(ZEROS.len());
            self.file.write_all_at(&ZEROS[..n], self.written)?;
            self.written += n as u64;
        }
        Ok(())
    }
}

/// How often the checkpointing thread looks at the WAL. A page that many
/// commits rewrite (an index leaf, a conversation's state) is copied back
/// once per checkpoint: every 250 ms cost 66–74 µs of CPU per new webhook
/// against 80 µs every 50 ms; every 1 s measured about 1 µs less per request
/// of the webhook route's mixed load in two alternating pairs of runs, and
/// more Chatwoot requests/s (BENCHMARKS.md). Unit tests look more often, so
/// that they wait less.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(if cfg!(test) { 250 } else { 1000 });

/// A checkpoint pass this short leaves a tail the committer copies (with
/// its two fsyncs) in about as long.
const SHORT_PASS: Duration = Duration::from_millis(3);

/// A checkpoint pass at least this long copied enough pages that the
/// checkpointer flushes them itself (see [`Checkpointer::start`]).
const FLUSH_AFTER: Duration = Duration::from_millis(8);

/// Most checkpoint passes in a row before the checkpointer waits again.
const MAX_PASSES: usize = 5;

/// Below this much free space on the store's file system the WAL starts
/// over every [`LOW_DISK_WAL_FRAMES`], so that it reuses its space instead
/// of growing towards its bound (which would fill a small disk and
/// then refuse every commit), and nothing is written ahead. Under the
/// heaviest stream measured the WAL grew ~200 MB between two checkpoints,
/// the interval at which free space is looked at.
const LOW_DISK: u64 = 256 * 1024 * 1024;

/// With less than [`LOW_DISK`] free, the committing connection copies the
/// WAL back itself (and it starts over) once it holds this many frames
/// (4 MiB), rather than waiting for the checkpointer: a second of new
/// webhooks can fill a small disk, and a WAL that has filled the disk can
/// no longer be copied back (the database has no room left to grow into).
const LOW_DISK_WAL_FRAMES: u64 = 1024;

/// Logs that the store's file system is (or is no longer) short of space.
fn say_low_disk(low: bool) {
    if low {
        tracing::warn!(
            "{} MiB or less free beside the store: the WAL starts over every {} MiB",
            LOW_DISK >> 20,
            (LOW_DISK_WAL_FRAMES * (PAGE_SIZE + WAL_FRAME_HEADER)) >> 20
        );
    } else {
        tracing::warn!(
            "more than {} MiB free beside the store again: the WAL grows as usual",
            LOW_DISK >> 20
        );
    }
}

/// Whether the file system holding `path` has less than [`LOW_DISK`] free
/// (no when that cannot be told).
fn disk_is_low(path: &Path) -> bool {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    rustix::fs::statvfs(dir)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize) < LOW_DISK)
        .unwrap_or(false)
}

/// The thread that checkpoints the WAL beside the committing connection.
struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(
        path: &Path,
        restart_frames: i64,
        finish_wal: Arc<AtomicBool>,
        low_disk: Arc<AtomicBool>,
    ) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path).map_err(err)?;
        // SQLite fsyncs the database file only when a checkpoint reaches
        // the WAL's end, so the committer's finishing pass would flush
        // every page the passes before it copied (the stall grew with the
        // bound: 66–71 ms at 256 MiB, 112–121 ms at 1 GiB). The
        // checkpointer flushes them itself after each long pass, off the
        // writer, through its own descriptor (same file, same page cache).
        let db = std::fs::File::open(path)
            .map_err(|e| StoreError(format!("opening the store for the checkpointer: {e}")))?;
        let path = path.to_path_buf();
        conn.busy_timeout(Duration::from_millis(100)).map_err(err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("glbridge-checkpoint".into())
            .spawn(move || {
                loop {
                    // Woken early to stop, or by the committer once the
                    // WAL is long enough to start over (spurious wake-ups
                    // just checkpoint sooner).
                    std::thread::park_timeout(CHECKPOINT_EVERY);
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    let low = disk_is_low(&path);
                    if low != low_disk.swap(low, Ordering::Relaxed) {
                        say_low_disk(low);
                    }
                    // PASSIVE never blocks the writer. Each pass copies (and
                    // fsyncs) what was appended during the one before, so
                    // passes get shorter; once one is short, what is left
                    // for the committer is a few milliseconds of commits.
                    for pass in 0..MAX_PASSES {
                        let started = std::time::Instant::now();
                        match checkpoint(&conn) {
                            Ok((log, copied)) => {
                                let start_over = log >= restart_frames || (low && copied < log);
                                // On a slow disk no pass may be short: the
                                // last one hands over what is left anyway.
                                // A short pass left few pages unflushed.
                                if start_over
                                    && (started.elapsed() <= SHORT_PASS || pass + 1 == MAX_PASSES)
                                {
                                    finish_wal.store(true, Ordering::Relaxed);
                                    break;
                                }
                                // SQLite flushed the pass only if no commit
                                // came while it ran (rare under a stream).
                                // A short pass left few pages, and a flush
                                // between passes lets commits pile up for
                                // the next one: only long passes are
                                // flushed here.
                                if copied > 0 && started.elapsed() >= FLUSH_AFTER {
                                    if let Err(e) = db.sync_data() {
                                        tracing::debug!("flushing the checkpointed pages: {e}");
                                    }
                                }
                                if !start_over {
                                    break;
                                }
                            }
                            Err(e) => {
                                tracing::debug!("checkpoint (pass {pass}): {e}");
                                break;
                            }
                        }
                    }
                }
            })
            .map_err(|e| StoreError(format!("starting the checkpointer: {e}")))?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

/// Copies the whole WAL back and has the next commit write it from its
/// start (a RESTART checkpoint), by the committing connection with the
/// writer held. A checkpoint the checkpointer is running makes it busy at
/// once (the busy handler is not asked): it tries again every 2 ms for up
/// to 400 ms — nothing is appended meanwhile, so that pass ends.
fn restart_wal(conn: &Connection) {
    let started = std::time::Instant::now();
    loop {
        match conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)) {
            Ok(0) => return,
            Ok(_) if started.elapsed() < Duration::from_millis(400) => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(_) => {
                tracing::debug!("the WAL at its bound could not be copied back yet (busy)");
                return;
            }
            Err(e) => {
                tracing::debug!("checkpoint of a WAL at its bound: {e}");
                return;
            }
        }
    }
}

/// A PASSIVE checkpoint on `conn`: the frames in the WAL, and how many of
/// them are now copied back.
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

impl Checkpointer {
    /// Has the checkpointer look at the WAL now.
    fn wake(&self) {
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
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

/// The schema, by `user_version`. Rows live in rowid order, so a new key —
/// most writes are new outbox items of about 1 KiB — is appended at the end
/// of the table and only its small index entry lands mid-tree.
const MIGRATIONS: &[&str] = &[
    // 1: the first layout, keyed by the key itself.
    "CREATE TABLE IF NOT EXISTS glbridge_kv (
         key   TEXT PRIMARY KEY NOT NULL,
         value BLOB NOT NULL
     ) WITHOUT ROWID;",
    // 2: rows in insertion order, with an index on the key.
    "CREATE TABLE glbridge_kv2 (
         id    INTEGER PRIMARY KEY,
         key   TEXT NOT NULL UNIQUE,
         value BLOB NOT NULL
     );
     INSERT INTO glbridge_kv2 (key, value) SELECT key, value FROM glbridge_kv ORDER BY key;
     DROP TABLE glbridge_kv;
     ALTER TABLE glbridge_kv2 RENAME TO glbridge_kv;",
];

/// Brings the schema up to date, one versioned step at a time.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    for (n, step) in MIGRATIONS.iter().enumerate().skip(version) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {step}; PRAGMA user_version = {}; COMMIT;",
            n + 1
        ))
        .map_err(err)?;
    }
    Ok(())
}

const GET: &str = "SELECT value FROM glbridge_kv WHERE key = ?1";
const PUT: &str = "INSERT INTO glbridge_kv (key, value) VALUES (?1, ?2)
                   ON CONFLICT(key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM glbridge_kv WHERE key = ?1";
const LIST: &str = "SELECT key FROM glbridge_kv WHERE key >= ?1 AND key < ?2 ORDER BY key";
const ALL_KEYS: &str = "SELECT key FROM glbridge_kv";
const LIST_ALL: &str = "SELECT key FROM glbridge_kv WHERE key >= ?1 ORDER BY key";

/// Every key the store holds (for the key filter).
fn all_keys(conn: &Connection) -> Result<Vec<String>, StoreError> {
    conn.prepare_cached(ALL_KEYS)
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(err)
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`, durable across a
    /// process crash ([`Durability::Process`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, Durability::default())
    }

    /// Opens the store at `path` with the given durability.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, StoreError> {
        Self::open_with_wal_limit(path, durability, DEFAULT_WAL_LIMIT)
    }

    /// Opens the store at `path` with the given durability, its WAL file
    /// kept within `wal_limit` bytes (at least [`MIN_WAL_LIMIT`]; see
    /// [`DEFAULT_WAL_LIMIT`]).
    pub fn open_with_wal_limit(
        path: impl AsRef<Path>,
        durability: Durability,
        wal_limit: u64,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let writer = Connection::open(&path).map_err(err)?;
        let owner = std::fs::File::open(&path)
            .map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        owner.try_lock().map_err(|_| {
            StoreError(format!(
                "{} is in use by another process (one glbridge process per store file)",
                path.display()
            ))
        })?;
        let mut store = Self::init(Some(path.clone()), writer, durability, wal_limit)?;
        store._owner = Some(owner);
        if disk_is_low(&path) {
            say_low_disk(true);
            store.low_disk.store(true, Ordering::Relaxed);
        }
        store.checkpointer = Some(Checkpointer::start(
            &path,
            store.wal.restart_frames,
            store.finish_wal.clone(),
            store.low_disk.clone(),
        )?);
        Ok(store)
    }

    /// A private store in memory (for tests): one connection for everything.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(
            None,
            Connection::open_in_memory().map_err(err)?,
            Durability::Process,
            DEFAULT_WAL_LIMIT,
        )
    }

    fn init(
        path: Option<std::path::PathBuf>,
        conn: Connection,
        durability: Durability,
        wal_limit: u64,
    ) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_millis(200)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        let sync = match durability {
            Durability::Process => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync).map_err(err)?;
        // Big enough for the working set (the outbox of the live
        // conversations and their state): reads should not reach the file.
        // SQLite walks the cache after every write transaction, which group
        // commit makes rare.
        conn.pragma_update(None, "cache_size", -16_384) // KiB: 16 MiB
            .map_err(err)?;
        conn.set_prepared_statement_cache_capacity(32);
        // The checkpointing thread does this, off the commit path; a WAL that
        // grew under a burst is cut back to this size when it starts over.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(err)?;
        let wal = WalBounds::new(wal_limit);
        conn.pragma_update(
            None,
            "journal_size_limit",
            i64::try_from(wal.limit).unwrap_or(i64::MAX),
        )
        .map_err(err)?;
        migrate(&conn)?;
        if path.is_some() {
            conn.wal_hook(Some(record_wal_frames));
        }
        let keys = KeyFilter::new(all_keys(&conn)?.iter().map(String::as_str));
        Ok(SqliteStore {
            path,
            durability,
            conn: Mutex::new(conn),
            queue: Mutex::new(Vec::new()),
            cache: ValueCache::new(CACHE_BYTES),
            keys,
            _owner: None,
            finish_wal: Arc::new(AtomicBool::new(false)),
            low_disk: Arc::new(AtomicBool::new(false)),
            checkpointer: None,
            woke_checkpointer: AtomicBool::new(false),
            wal_ahead: Mutex::new(None),
            wal,
            over_bound: AtomicBool::new(false),
        })
    }

    /// What commits survive.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Runs `f` on the connection.
    fn read<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R, StoreError> {
        f(&lock(&self.conn)).map_err(err)
    }

    /// Writes the WAL's next pages ahead of SQLite after a commit (see
    /// [`WalAhead`]); a failure only costs speed.
    fn keep_wal_ahead(&self) {
        let Some(frames) = WAL_FRAMES.with(std::cell::Cell::take) else {
            return;
        };
        let Some(db) = &self.path else {
            return;
        };
        let low_disk = self.low_disk.load(Ordering::Relaxed);
        // The checkpointer starts its passes as soon as the WAL is long
        // enough to start over, not at its next look: under a heavy stream
        // (~57,000 frames a second measured here) a second's wait let the
        // WAL reach its bound, and the committer then copied it all back
        // with the writer held (150–370 ms, twice a second).
        let long = frames >= u64::try_from(self.wal.restart_frames).unwrap_or(u64::MAX);
        let woken = self.woke_checkpointer.swap(long, Ordering::Relaxed);
        if long && !woken {
            if let Some(c) = &self.checkpointer {
                c.wake();
            }
        }
        if frames >= self.wal.hard_frames {
            // The checkpointer did not keep up: this connection copies the
            // WAL back after this commit, waiting for the checkpointer if
            // it must, so that the WAL starts over within its bound.
            self.over_bound.store(true, Ordering::Relaxed);
        } else if low_disk && frames >= LOW_DISK_WAL_FRAMES {
            self.finish_wal.store(true, Ordering::Relaxed);
        }
        let mut ahead = lock(&self.wal_ahead);
        if ahead.is_none() {
            *ahead = WalAhead::open(db, self.wal.limit);
        }
        if let Some(a) = ahead.as_mut() {
            if let Err(e) = a.keep_ahead(frames, low_disk) {
                tracing::debug!("writing the WAL ahead: {e}");
                *ahead = None;
            }
        }
    }

    /// Writes the batch in one transaction: each set's result, or the
    /// error that rolled the whole transaction back.
    fn write_batch(
        &self,
        conn: &mut Connection,
        batch: &[Arc<Mutex<Queued>>],
    ) -> rusqlite::Result<Vec<Result<(), CommitError>>> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(batch.len());
        let mut written: std::collections::HashSet<String> = std::collections::HashSet::new();
        {
            let mut get = tx.prepare_cached(GET)?;
            let mut put = tx.prepare_cached(PUT)?;
            let mut delete = tx.prepare_cached(DELETE)?;
            for queued in batch {
                let q = lock(queued);
                let mut conflict = None;
                for w in &q.writes {
                    // Sets earlier in this batch are not in the cache
                    // yet: the database, inside this transaction, is
                    // the truth for keys they wrote.
                    let earlier = written.contains(w.key.as_str());
                    let current: Option<Vec<u8>> = match self.cache.get(&w.key) {
                        Some(v) if !earlier => v,
                        _ if !earlier && !self.keys.may_contain(&w.key) => None,
                        _ => get.query_row(params![w.key], |r| r.get(0)).optional()?,
                    };
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
                    written.insert(w.key.clone());
                }
                results.push(Ok(()));
            }
        }
        // Before the keys become visible: a reader that finds a key
        // absent from the filter must be right.
        self.keys.add(written.iter().map(String::as_str));
        tx.commit()?;
        Ok(results)
    }

    /// Gives back the zeros written ahead of the WAL (see [`WalAhead::release`]).
    fn release_wal_ahead(&self) {
        if let Some(a) = lock(&self.wal_ahead).as_mut() {
            if let Err(e) = a.release() {
                tracing::debug!("giving back the WAL's space written ahead: {e}");
            }
        }
    }

    /// Commits every queued write set in one SQLite transaction. Runs with
    /// the writer lock held; each set is validated against the state the
    /// sets before it left, and a set that conflicts is left out.
    /// On a full disk it frees what WAL space it can and tries once more.
    fn commit_batch(&self, conn: &mut Connection, batch: &[Arc<Mutex<Queued>>]) {
        let mut outcome = self.write_batch(conn, batch);
        if matches!(&outcome, Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
        {
            // Room may be found without anyone's help: the zeros written
            // ahead of the WAL go first (room for the database to take the
            // WAL's pages), then the WAL itself, copied back and cut to
            // nothing. Then try once more; if the disk is still full, these
            // calls fail and their webhooks are delivered again.
            tracing::warn!("the disk holding the store is full: freeing WAL space and retrying");
            self.release_wal_ahead();
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                tracing::debug!("checkpoint on a full disk: {e}");
            }
            *lock(&self.wal_ahead) = None; // the file may be shorter now
            outcome = self.write_batch(conn, batch);
        }
        match outcome {
            Ok(results) => {
                for (queued, r) in batch.iter().zip(results) {
                    let mut q = lock(queued);
                    if r.is_ok() {
                        for w in &q.writes {
                            self.cache.put_committed(&w.key, w.value.as_deref());
                        }
                    }
                    q.result = Some(r);
                }
                self.keep_wal_ahead();
                if self.over_bound.swap(false, Ordering::Relaxed) {
                    self.finish_wal.store(false, Ordering::Relaxed);
                    // RESTART: everything copied back, and the next commit
                    // writes the WAL from its start.
                    restart_wal(conn);
                } else if self.finish_wal.swap(false, Ordering::Relaxed) {
                    // The writer is this connection: nothing is appended
                    // while it copies the tail, so it reaches the end.
                    if let Err(e) = checkpoint(conn) {
                        tracing::debug!("checkpoint of the WAL's tail: {e}");
                    }
                }
                if self.keys.is_full() {
                    // Deleted keys drop out; the filter is sized anew.
                    match all_keys(conn) {
                        Ok(keys) => self.keys.rebuild(keys.iter().map(String::as_str)),
                        Err(e) => tracing::warn!("rebuilding the key filter: {e}"),
                    }
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

impl Backend for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.cache.get(key) {
            return Ok(v);
        }
        if !self.keys.may_contain(key) {
            return Ok(None);
        }
        let conn = lock(&self.conn);
        if let Some(v) = self.cache.get(key) {
            return Ok(v); // filled while we waited for the connection
        }
        let v: Option<Vec<u8>> = conn
            .prepare_cached(GET)
            .and_then(|mut s| s.query_row(params![key], |r| r.get(0)).optional())
            .map_err(err)?;
        self.cache.put(key, v.as_deref());
        Ok(v)
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
        self.commit_all(vec![writes])
            .pop()
            .unwrap_or_else(|| Err(CommitError::Store(StoreError("commit lost".into()))))
    }

    fn commit_all(&self, sets: Vec<Vec<Write>>) -> Vec<Result<(), CommitError>> {
        let mine: Vec<Arc<Mutex<Queued>>> = sets
            .into_iter()
            .map(|writes| {
                Arc::new(Mutex::new(Queued {
                    writes,
                    result: None,
                }))
            })
            .collect();
        lock(&self.queue).extend(mine.iter().cloned());
        // Whoever holds the connection commits everything queued so far: by
        // the time a caller gets it, a previous holder may have committed
        // its writes already (group commit, leader/follower).
        let mut conn = lock(&self.conn);
        if mine.iter().any(|q| lock(q).result.is_none()) {
            let batch = std::mem::take(&mut *lock(&self.queue));
            self.commit_batch(&mut conn, &batch);
        }
        drop(conn);
        mine.iter()
            .map(|q| {
                lock(q)
                    .result
                    .take()
                    .unwrap_or_else(|| Err(CommitError::Store(StoreError("commit lost".into()))))
            })
            .collect()
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
            Err(e @ CommitError::LeaseLost(_)) => Err(StoreError(e.to_string())),
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

    /// Frames at the start of a WAL file that carry its header's salt: the
    /// ones SQLite's recovery would read.
    fn valid_wal_frames(wal: &[u8]) -> u64 {
        let frame = (PAGE_SIZE + WAL_FRAME_HEADER) as usize;
        let salt = &wal[16..24];
        let mut n = 0;
        let mut at = WAL_HEADER as usize;
        while at + frame <= wal.len() && &wal[at + 8..at + 16] == salt {
            n += 1;
            at += frame;
        }
        n
    }

    #[test]
    fn the_wal_is_written_ahead_and_a_copy_taken_between_commits_opens_with_all_of_them() {
        let path = temp_db("ahead");
        let wal = path.with_extension("db-wal");
        let copy = temp_db("ahead-copy");
        let store = SqliteStore::open(&path).unwrap();
        for i in 0..400u32 {
            let w = Write {
                key: format!("k/{i:04}"),
                base: None,
                value: Some(i.to_be_bytes().repeat(700)),
            };
            store.commit(vec![w]).unwrap();
            let bytes = std::fs::read(&wal).unwrap();
            let end = WAL_HEADER + valid_wal_frames(&bytes) * (PAGE_SIZE + WAL_FRAME_HEADER);
            let len = bytes.len() as u64;
            assert!(len <= DEFAULT_WAL_LIMIT, "the WAL file outgrew its limit");
            if i == 4 {
                // Long before the WAL can start over (and its file be
                // written over): only writing ahead makes it this long.
                assert!(
                    len >= end + WAL_AHEAD_LOW,
                    "the WAL file ({len} bytes) is not written ahead of its frames (to {end})"
                );
            }
            if i % 97 == 0 {
                // What a crash now would leave: the database and its WAL,
                // zeros after the last frame included (the index in -shm is
                // rebuilt from the WAL).
                std::fs::copy(&path, &copy).unwrap();
                std::fs::copy(&wal, copy.with_extension("db-wal")).unwrap();
                std::fs::remove_file(copy.with_extension("db-shm")).ok();
                let reopened = SqliteStore::open(&copy).unwrap();
                let keys = Backend::list_keys(&reopened, "k/").unwrap();
                assert_eq!(keys.len(), i as usize + 1, "commits lost in the copy");
                let last = Backend::get(&reopened, &format!("k/{i:04}")).unwrap();
                assert_eq!(last, Some(i.to_be_bytes().repeat(700)));
                drop(reopened);
                for f in ["db", "db-wal", "db-shm"] {
                    std::fs::remove_file(copy.with_extension(f)).ok();
                }
            }
        }
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(Backend::list_keys(&store, "k/").unwrap().len(), 400);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
        std::fs::remove_dir_all(copy.parent().unwrap()).ok();
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
    fn a_store_in_the_first_layout_is_migrated_with_its_data() {
        let path = temp_db("migrate");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.execute("INSERT INTO glbridge_kv VALUES ('k', x'01')", [])
                .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(Backend::get(&s, "k").unwrap(), Some(vec![1]));
        let version: usize = lock(&s.conn)
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        drop(s);
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(
            Backend::get(&s, "k").unwrap(),
            Some(vec![1]),
            "and reopened"
        );
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn a_second_owner_of_the_same_file_is_refused_until_the_first_closes() {
        let path = temp_db("exclusive");
        let first = SqliteStore::open(&path).unwrap();
        let second = SqliteStore::open(&path).unwrap_err();
        assert!(second.0.contains("in use by another process"), "{second}");
        drop(first);
        SqliteStore::open(&path).unwrap();
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn the_wal_is_checkpointed_beside_the_writer_and_stays_small() {
        let path = temp_db("checkpoint");
        let store = SqliteStore::open(&path).unwrap();
        let wal_size = || {
            std::fs::metadata(path.with_extension("db-wal"))
                .unwrap()
                .len()
        };
        // Writes `n` more values of 1,000 bytes, then waits until they are
        // all back in the main file (the checkpointer runs every 250 ms; on
        // a busy machine it may take a few rounds) and the WAL has started
        // over; the size of the WAL file then.
        let mut written = 0;
        let mut round = |n: usize| {
            for _ in 0..n {
                let w = Write {
                    key: format!("k/{written}"),
                    base: None,
                    value: Some(vec![7; 1000]),
                };
                store.commit(vec![w]).unwrap();
                written += 1;
            }
            let started = std::time::Instant::now();
            let mut db = 0;
            while db <= written as u64 * 1_000 && started.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(CHECKPOINT_EVERY);
                db = std::fs::metadata(&path).unwrap().len();
            }
            // The next checkpoint finds nothing left to copy; a commit after
            // it rewinds the WAL (a few rounds, for a busy machine).
            for i in 0..3 {
                std::thread::sleep(2 * CHECKPOINT_EVERY);
                let last = Write {
                    key: format!("last/{written}/{i}"),
                    base: None,
                    value: Some(vec![1]),
                };
                store.commit(vec![last]).unwrap();
            }
            (db, wal_size())
        };
        let (db, first) = round(2_000);
        assert!(db > 2_000_000, "checkpointed into the file: {db} bytes");
        assert!(first <= DEFAULT_WAL_LIMIT, "WAL of {first} bytes");
        // The same again: the WAL is written over from its start, not
        // appended to.
        let (db, second) = round(2_000);
        assert!(db > 4_000_000, "checkpointed into the file: {db} bytes");
        assert!(
            second < first + first / 2,
            "the WAL grew from {first} to {second} bytes"
        );
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(Backend::list_keys(&store, "k/").unwrap().len(), 4_000);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn the_wal_file_never_outgrows_its_bound_under_a_burst() {
        let path = temp_db("wal-bound");
        let limit = MIN_WAL_LIMIT;
        let store = SqliteStore::open_with_wal_limit(&path, Durability::Process, limit).unwrap();
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let mut largest = 0;
        // 48 MiB of new values, far faster than the checkpointer looks.
        for i in 0..768u32 {
            let w = Write {
                key: format!("big/{i:05}"),
                base: None,
                value: Some(i.to_be_bytes().repeat(16 * 1024)),
            };
            store.commit(vec![w]).unwrap();
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        assert!(
            largest <= limit,
            "the WAL file reached {largest} bytes, over {limit}"
        );
        assert!(
            largest > limit / 4,
            "the burst never filled the WAL ({largest} bytes)"
        );
        assert_eq!(Backend::list_keys(&store, "big/").unwrap().len(), 768);
    }

    #[test]
    fn a_steady_stream_of_commits_still_lets_the_wal_start_over() {
        let path = temp_db("stream");
        let store = SqliteStore::open(&path).unwrap();
        // The WAL header's checkpoint sequence number (big-endian, bytes
        // 12..16) goes up each time the WAL starts over.
        let wal = path.with_extension("db-wal");
        let generation = || {
            use std::io::Read;
            let mut header = [0; 16];
            std::fs::File::open(&wal)
                .unwrap()
                .read_exact(&mut header)
                .unwrap();
            u32::from_be_bytes(header[12..16].try_into().unwrap())
        };
        let mut n = 0;
        let mut commit = || {
            let w = Write {
                key: format!("k/{n}"),
                base: None,
                value: Some(vec![7; 2000]),
            };
            store.commit(vec![w]).unwrap();
            n += 1;
        };
        commit();
        let first = generation();
        // Commits back to back for a few checkpoint rounds: a checkpoint
        // beside them never finds the WAL fully copied back by itself.
        let started = std::time::Instant::now();
        while started.elapsed() < 8 * CHECKPOINT_EVERY {
            commit();
        }
        let last = generation();
        assert!(
            last > first,
            "the WAL never started over in {n} commits (generation {first})"
        );
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(Backend::list_keys(&store, "k/").unwrap().len(), n);
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
