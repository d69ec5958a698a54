//! Two `glbridge serve` processes on one real PostgreSQL (started here; the
//! tests fail if it cannot start): `kill -9` of either, ten times, while 8
//! senders post webhooks to both loses nothing acknowledged, duplicates
//! nothing and keeps the order; the tick's lease held by a replica that
//! was killed is taken over by the other once it expires.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glbridge_guest::webhook::sign;
use glbridge_host::store::postgres::TempServer;
use glbridge_host::{Backend, PostgresStore};
use serde_json::{json, Value};

const KEY: &str = "whsec_replicas_test";

struct Replica {
    name: &'static str,
    port: u16,
    url: String,
    log: std::path::PathBuf,
    child: Option<Child>,
}

impl Replica {
    fn new(name: &'static str, url: &str) -> Replica {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Replica {
            name,
            port,
            url: url.to_owned(),
            log: std::env::temp_dir().join(format!(
                "glbridge-replica-{name}-{}-{port}.log",
                std::process::id()
            )),
            child: None,
        }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_glbridge"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--store",
                &self.url,
                "--api-url",
                "http://127.0.0.1:9",
                "--api-key",
                "unused",
                "--webhook-signing-key",
                KEY,
                "--insecure-no-gleap-auth",
                "--lease-ttl",
                "2s",
                "--replica",
                self.name,
            ])
            .env_remove("GLBRIDGE_CONFIG")
            .env_remove("GLBRIDGE_STORE")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while ureq::get(&format!("http://127.0.0.1:{}/healthz", self.port))
            .call()
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "replica {} did not come up:\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "--- replica {} ---\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

fn event_id(conversation: usize, seq: u64) -> String {
    format!("wh-c{conversation}-{seq}")
}

fn webhook(conversation: usize, seq: u64) -> (String, String) {
    let body = json!({
        "id": event_id(conversation, seq),
        "type": "agent.message",
        "sequence_number": seq,
        "timestamp": "2026-01-01T00:00:00Z",
        "data": {"conversation": {"id": format!("c{conversation}"), "customer_id": "u"},
                 "body": format!("reply {seq} of conversation {conversation}")},
    })
    .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (sign(KEY, now, body.as_bytes()), body)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Posts one webhook: `Some(true)` acknowledged, `Some(false)` refused
/// with a 5xx, `None` no answer.
fn post(agent: &ureq::Agent, port: u16, conversation: usize, seq: u64) -> Option<bool> {
    let (signature, body) = webhook(conversation, seq);
    let r = agent
        .post(&format!("http://127.0.0.1:{port}/webhooks/gradient-labs"))
        .header("X-GradientLabs-Signature", &signature)
        .header("Content-Type", "application/json")
        .send(body.as_bytes())
        .ok()?;
    let status = r.status();
    assert!(
        status.is_success() || status.is_server_error(),
        "a good webhook got {status}"
    );
    Some(status.is_success())
}

/// The event ids queued for Gleap, per conversation, in outbox order.
fn outboxes(store: &PostgresStore) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in store.list_keys("gleap/out/").unwrap() {
        let (conversation, _) = key["gleap/out/".len()..].rsplit_once('/').unwrap();
        let item: Value = serde_json::from_slice(&store.get(&key).unwrap().unwrap()).unwrap();
        out.entry(conversation.to_owned())
            .or_default()
            .push(item["item"]["event_id"].as_str().unwrap().to_owned());
    }
    out
}

fn postgres() -> TempServer {
    TempServer::start().unwrap_or_else(|e| panic!("PostgreSQL did not start: {e}"))
}

#[test]
fn kill_9_of_either_replica_loses_nothing_acknowledged_and_keeps_the_order() {
    let pg = postgres();
    let url = pg.database().unwrap();
    let replicas = [Replica::new("a", &url), Replica::new("b", &url)];
    let ports = [replicas[0].port, replicas[1].port];
    let replicas: Vec<Mutex<Replica>> = replicas.into_iter().map(Mutex::new).collect();
    for r in &replicas {
        r.lock().unwrap().start();
    }
    const CONVERSATIONS: usize = 4;
    const PER: u64 = 150;
    let plan: Vec<(usize, u64)> = (1..=PER)
        .flat_map(|n| (0..CONVERSATIONS).map(move |c| (c, n)))
        .collect();
    let total = plan.len();
    let plan = Arc::new(Mutex::new(plan.into_iter().enumerate()));
    let acked = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let (plan, acked, gate) = (plan.clone(), acked.clone(), gate.clone());
            std::thread::spawn(move || {
                let agent = agent();
                loop {
                    let next = {
                        let mut plan = plan.lock().unwrap();
                        // The last quarter waits for the tenth kill.
                        if plan.len() <= total / 4 && !gate.load(Ordering::Relaxed) {
                            None
                        } else {
                            Some(plan.next())
                        }
                    };
                    let (i, (c, n)) = match next {
                        None => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                        Some(None) => return,
                        Some(Some(e)) => e,
                    };
                    // Each event to one replica, then (until acknowledged)
                    // to either, as the API redelivers.
                    let started = Instant::now();
                    let mut attempt = i;
                    while post(&agent, ports[attempt % 2], c, n) != Some(true) {
                        attempt += 1;
                        assert!(
                            started.elapsed() < Duration::from_secs(60),
                            "c{c}/{n} never acknowledged"
                        );
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    acked.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id());
    let mut kills = 0;
    while kills < 10 || acked.load(Ordering::Relaxed) < total / 2 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(100 + seed % 300));
        let mut r = replicas[kills % 2].lock().unwrap();
        r.kill9();
        kills += 1;
        r.start();
    }
    gate.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    assert_eq!(acked.load(Ordering::Relaxed), total);
    let store = PostgresStore::open(&url).unwrap();
    let boxes = outboxes(&store);
    assert_eq!(boxes.len(), CONVERSATIONS, "{boxes:?}");
    for c in 0..CONVERSATIONS {
        let got = &boxes[&format!("c{c}")];
        let want: Vec<String> = (1..=PER).map(|n| event_id(c, n)).collect();
        let unique: HashSet<&String> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "c{c} has duplicates");
        assert_eq!(got, &want, "c{c}: every acknowledged event, once, in order");
    }
}

#[test]
fn the_tick_lease_of_a_killed_replica_is_taken_over_when_it_expires() {
    let pg = postgres();
    let url = pg.database().unwrap();
    let mut a = Replica::new("a", &url);
    let mut b = Replica::new("b", &url);
    a.start();
    let store = PostgresStore::open(&url).unwrap();
    // A's tick holds the lease before B starts. (A probe that finds the
    // lane free lets it go at once, so that A can take it.)
    let started = Instant::now();
    while let Some(probe) = store
        .claim("tick", "probe", Duration::from_secs(1))
        .unwrap()
    {
        store.release(&probe).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a never ticked"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    b.start();
    // An event after a gap: held until its predecessor comes or the hold
    // ends, then released by the tick — of whichever replica holds its lease.
    assert_eq!(post(&agent(), b.port, 7, 2), Some(true));
    a.kill9();
    let killed = Instant::now();
    let released = loop {
        if let Some(ids) = outboxes(&store).get("c7") {
            break ids.clone();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the held event was never released"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(released, vec![event_id(7, 2)]);
    // It waited out the 10 s hold (the lease had long expired by then).
    assert!(
        killed.elapsed() >= Duration::from_secs(8),
        "{:?}",
        killed.elapsed()
    );
    let metrics = ureq::get(&format!("http://127.0.0.1:{}/metrics", b.port))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(metrics.contains("glbridge_store_ready 1"), "{metrics}");
}
