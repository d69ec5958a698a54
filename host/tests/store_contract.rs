//! One contract, three backends: the memory store, a SQLite file and a
//! real PostgreSQL server (started here; the test fails if it cannot
//! start). Then what only the shared store has: leases with fencing,
//! wake-ups carried by NOTIFY, and lock versions that make calls of two
//! processes conflict.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use glbridge_host::store::postgres::{Signal, TempServer};
use glbridge_host::store::{Backend, Changes, CommitError, Fence, Transaction, Write};
use glbridge_host::{MemoryStore, PostgresStore, SqliteStore};

fn w(key: &str, base: Option<&str>, value: Option<&str>) -> Write {
    Write {
        key: key.into(),
        base: base.map(|b| b.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
    }
}

fn get(store: &dyn Backend, key: &str) -> Option<String> {
    store
        .get(key)
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

/// What every backend must do.
fn contract(store: Arc<dyn Backend>) {
    // A commit applies when every base holds.
    store
        .commit(vec![w("a/1", None, Some("1")), w("a/2", None, Some("2"))])
        .unwrap();
    assert_eq!(get(&*store, "a/1").as_deref(), Some("1"));

    // A stale base is a conflict, and nothing of that commit is kept.
    assert_eq!(
        store.commit(vec![w("a/3", None, Some("3")), w("a/1", None, Some("x"))]),
        Err(CommitError::Conflict("a/1".into()))
    );
    assert_eq!(get(&*store, "a/3"), None, "all or nothing");
    assert_eq!(
        store.commit(vec![w("a/1", Some("0"), Some("x"))]),
        Err(CommitError::Conflict("a/1".into()))
    );
    assert_eq!(
        store.commit(vec![w("gone", Some("0"), None)]),
        Err(CommitError::Conflict("gone".into())),
        "deleting an absent key against a base"
    );

    // Deletes.
    store.commit(vec![w("a/2", Some("2"), None)]).unwrap();
    assert_eq!(get(&*store, "a/2"), None);

    // Prefixes: exactly the keys that start so, in byte order.
    for k in [
        "p/b",
        "p/a",
        "p/a/x",
        "p0",
        "p",
        "q/a",
        "p/\u{e9}",
        "p/\u{10ffff}",
    ] {
        store.commit(vec![w(k, None, Some("v"))]).unwrap();
    }
    assert_eq!(
        store.list_keys("p/").unwrap(),
        vec!["p/a", "p/a/x", "p/b", "p/\u{e9}", "p/\u{10ffff}"]
    );
    assert_eq!(store.list_keys("p/a").unwrap(), vec!["p/a", "p/a/x"]);
    assert!(store.list_keys("none/").unwrap().is_empty());
    let all = store.list_keys("").unwrap();
    assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
    assert!(all.contains(&"q/a".to_owned()) && all.contains(&"p0".to_owned()));

    // A group: each call all or nothing, in order, each seeing the calls
    // before it; a failed call leaves nothing, its neighbours commit.
    let results = store.commit_all(vec![
        vec![w("g/1", None, Some("1")), w("g/n", None, Some("a"))],
        vec![w("g/n", None, Some("b")), w("g/2", None, Some("2"))],
        vec![w("g/n", Some("a"), Some("c")), w("g/3", None, Some("3"))],
        vec![w("g/4", None, Some("4")), w("g/1", Some("0"), None)],
    ]);
    assert_eq!(
        results,
        vec![
            Ok(()),
            Err(CommitError::Conflict("g/n".into())),
            Ok(()),
            Err(CommitError::Conflict("g/1".into()))
        ]
    );
    assert_eq!(store.list_keys("g/").unwrap(), vec!["g/1", "g/3", "g/n"]);
    assert_eq!(get(&*store, "g/n").as_deref(), Some("c"));

    // A group whose every call fails leaves nothing.
    let results = store.commit_all(vec![
        vec![w("f/1", None, Some("1")), w("g/1", None, Some("x"))],
        vec![w("f/2", None, Some("2")), w("g/3", Some("9"), Some("x"))],
    ]);
    assert!(results.iter().all(Result::is_err), "{results:?}");
    assert!(store.list_keys("f/").unwrap().is_empty());

    // Many threads, one counter, compare-and-swap: no update lost.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut conflicts = 0;
                for _ in 0..50 {
                    loop {
                        let base = get(&*store, "counter");
                        let n: u32 = base.as_deref().map_or(0, |v| v.parse().unwrap());
                        let next = (n + 1).to_string();
                        match store.commit(vec![w("counter", base.as_deref(), Some(&next))]) {
                            Ok(()) => break,
                            Err(CommitError::Conflict(_)) => conflicts += 1,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(get(&*store, "counter").as_deref(), Some("200"));

    // Binary values come back byte for byte.
    let bytes: Vec<u8> = (0..=255).collect();
    store
        .commit(vec![Write {
            key: "bin".into(),
            base: None,
            value: Some(bytes.clone()),
        }])
        .unwrap();
    assert_eq!(store.get("bin").unwrap(), Some(bytes));
}

#[test]
fn the_memory_store_keeps_the_contract() {
    contract(Arc::new(MemoryStore::default()));
}

#[test]
fn the_sqlite_store_keeps_the_contract() {
    let dir = std::env::temp_dir().join(format!("glbridge-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.db");
    let _ = std::fs::remove_file(&path);
    contract(Arc::new(SqliteStore::open(&path).unwrap()));
    let _ = std::fs::remove_dir_all(&dir);
}

fn server() -> TempServer {
    TempServer::start().unwrap_or_else(|e| panic!("PostgreSQL did not start: {e}"))
}

/// Two processes' stores on one new database (the server lives as long as
/// the first of the three).
fn two_stores() -> (TempServer, PostgresStore, PostgresStore) {
    let pg = server();
    let url = pg.database().unwrap();
    let a = PostgresStore::open(&url).unwrap();
    let b = PostgresStore::open(&url).unwrap();
    (pg, a, b)
}

#[test]
fn the_postgres_store_keeps_the_contract_and_its_schema_is_versioned() {
    let pg = server();
    let url = pg.database().unwrap();
    let store = Arc::new(PostgresStore::open(&url).unwrap());
    assert!(store.shared());
    contract(store.clone());
    // A second process's view: the same state, the schema not made again.
    let other = PostgresStore::open(&url).unwrap();
    assert_eq!(get(&other, "counter").as_deref(), Some("200"));
    assert!(!format!("{other:?}").contains("password"));
}

#[test]
fn two_postgres_stores_conflict_and_group_across_processes() {
    let pg = server();
    let url = pg.database().unwrap();
    let a = Arc::new(PostgresStore::open(&url).unwrap());
    let b = Arc::new(PostgresStore::open(&url).unwrap());
    // Two "replicas" insert the same new key at once: exactly one wins.
    let wins: Vec<_> = (0..8)
        .map(|i| {
            let s: Arc<dyn Backend> = if i % 2 == 0 { a.clone() } else { b.clone() };
            std::thread::spawn(move || {
                let mine = format!("v{i}");
                s.commit_all(vec![vec![
                    w("race", None, Some(&mine)),
                    w(&format!("side/{i}"), None, Some("x")),
                ]])
                .pop()
                .unwrap()
                .is_ok()
            })
        })
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
    assert_eq!(
        a.list_keys("side/").unwrap().len(),
        1,
        "the losers kept nothing"
    );
}

#[test]
fn a_stale_cached_read_fails_its_commit_and_is_forgotten() {
    let (_pg, a, b) = two_stores();
    a.commit(vec![w("k", None, Some("1"))]).unwrap();
    assert_eq!(a.get_cached("k").unwrap(), Some(b"1".to_vec()));
    // Another process changes it: this one's cache is stale ...
    b.commit(vec![w("k", Some("1"), Some("2"))]).unwrap();
    assert_eq!(a.get_cached("k").unwrap(), Some(b"1".to_vec()), "stale");
    // ... so a commit that read it (an unchanged write) or wrote from it conflicts,
    assert_eq!(
        a.commit(vec![
            w("k", Some("1"), Some("1")),
            w("other", None, Some("x"))
        ]),
        Err(CommitError::Conflict("k".into()))
    );
    assert_eq!(a.get("other").unwrap(), None);
    // and the stale value is forgotten.
    assert_eq!(a.get_cached("k").unwrap(), Some(b"2".to_vec()));
}

#[test]
fn an_insert_taken_as_new_without_a_read_conflicts_once_then_sees_the_key() {
    let (_pg, a, b) = two_stores();
    // Another process (or this one before a restart) recorded an event.
    b.commit(vec![w("seen/e1", None, Some("1"))]).unwrap();
    // A webhook's call: reads through the cache, every read checked at commit.
    let run = || {
        let mut tx = Transaction::default();
        tx.validate_reads(true);
        tx.cached_reads(true);
        let fresh = tx
            .compare_and_swap(&a, "seen/e1", None, Some(b"1"))
            .unwrap();
        (fresh, tx.take().0)
    };
    // `a` knows nothing of the key, so the insert is taken as new without
    // asking the database (a read would have found it) ...
    let (fresh, writes) = run();
    assert!(fresh, "taken as new");
    assert_eq!(
        a.commit(writes),
        Err(CommitError::Conflict("seen/e1".into()))
    );
    // ... and the conflict taught `a` the truth: the call's next run sees
    // the key, and commits (its read checked).
    let (fresh, writes) = run();
    assert!(!fresh, "a duplicate the second time");
    assert_eq!(a.commit(writes), Ok(()));
    assert_eq!(get(&a, "seen/e1").as_deref(), Some("1"));
}

#[test]
fn a_lease_fences_its_holder_once_another_takes_the_lane_over() {
    let pg = server();
    let url = pg.database().unwrap();
    let store = PostgresStore::open(&url).unwrap();
    let ttl = Duration::from_millis(300);
    let first = store
        .claim("lane/1", "replica-a", ttl)
        .unwrap()
        .expect("free");
    assert_eq!(first.epoch, 1);
    assert_eq!(
        store.claim("lane/1", "replica-b", ttl).unwrap(),
        None,
        "held"
    );
    // The holder extends it: same epoch.
    let again = store.claim("lane/1", "replica-a", ttl).unwrap().unwrap();
    assert_eq!(again, first);
    let fenced = |fence: &Fence, key: &str| {
        store
            .commit_changes(vec![Changes {
                writes: vec![w(key, None, Some("done"))],
                wake: vec![],
                fences: vec![fence.clone()],
            }])
            .pop()
            .unwrap()
    };
    fenced(&first, "work/1").unwrap();

    // It expires; another replica takes the lane over (a new epoch) and
    // the first holder's late commit is refused.
    std::thread::sleep(Duration::from_millis(400));
    let second = store
        .claim("lane/1", "replica-b", ttl)
        .unwrap()
        .expect("expired");
    assert_eq!(second.epoch, 2);
    assert_eq!(
        fenced(&first, "work/2"),
        Err(CommitError::LeaseLost("lane/1".into()))
    );
    assert_eq!(store.get("work/2").unwrap(), None);
    fenced(&second, "work/3").unwrap();

    // Released: free at once for anyone, with a new epoch.
    store.release(&second).unwrap();
    let third = store.claim("lane/1", "replica-a", ttl).unwrap().unwrap();
    assert_eq!(third.epoch, 3);
}

#[test]
fn a_commit_wakes_listeners_in_every_process_and_a_reconnect_is_said() {
    let (pg, a, b) = two_stores();
    let heard = Arc::new(Mutex::new(Vec::<String>::new()));
    let _listener = {
        let heard = heard.clone();
        b.listen(move |s| {
            let s = match s {
                Signal::Wake(c) => c.to_owned(),
                Signal::Reconnected => "(reconnected)".into(),
                Signal::Lost => "(lost)".into(),
            };
            heard.lock().unwrap().push(s);
        })
    };
    let wait_for = |what: &str| {
        for _ in 0..200 {
            if heard.lock().unwrap().iter().any(|h| h == what) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("never heard {what}: {:?}", heard.lock().unwrap());
    };
    wait_for("(reconnected)");
    // One notification per conversation per group; only committed calls wake.
    let results = a.commit_changes(vec![
        Changes {
            writes: vec![w("k/1", None, Some("1"))],
            wake: vec!["conv-1".into(), "conv-2".into()],
            fences: vec![],
        },
        Changes {
            writes: vec![w("k/2", None, Some("2"))],
            wake: vec!["conv-1".into()],
            fences: vec![],
        },
        Changes {
            writes: vec![w("k/1", None, Some("x"))],
            wake: vec!["conv-3".into()],
            fences: vec![],
        },
    ]);
    assert!(results[2].is_err());
    wait_for("conv-2");
    std::thread::sleep(Duration::from_millis(200));
    {
        let heard = heard.lock().unwrap();
        assert_eq!(
            heard.iter().filter(|h| *h == "conv-1").count(),
            1,
            "{heard:?}"
        );
        assert!(!heard.contains(&"conv-3".to_owned()), "{heard:?}");
    }

    // The server goes away and comes back: the listener says it was lost,
    // reconnects by itself, and hears wake-ups again.
    heard.lock().unwrap().clear();
    pg.stop().unwrap();
    assert!(a.get("k/1").is_err(), "no database, no read");
    wait_for("(lost)");
    pg.resume().unwrap();
    wait_for("(reconnected)");
    a.commit_changes(vec![Changes {
        writes: vec![w("k/3", None, Some("3"))],
        wake: vec!["conv-4".into()],
        fences: vec![],
    }])
    .pop()
    .unwrap()
    .unwrap();
    wait_for("conv-4");
    assert_eq!(get(&a, "k/1").as_deref(), Some("1"), "the pool reconnected");
}
