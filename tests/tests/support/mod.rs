//! Shared helpers for the workspace's integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod http1;
#[allow(unused_imports)] // not every test binary needs it
pub use http1::free_port;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A webhook as the receiver got it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request target (path and query).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Policy = dyn Fn(&Received) -> (u16, String) + Send + Sync;

/// A webhook receiver on loopback: answers each POST by `policy` and keeps
/// every request, answered or not.
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(policy: impl Fn(&Received) -> (u16, String) + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let policy: Arc<Policy> = Arc::new(policy);
        let log = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                let policy = policy.clone();
                std::thread::spawn(move || {
                    let Some(request) = http1::read_request(&stream) else {
                        return;
                    };
                    let received = Received {
                        target: request.target,
                        headers: request.headers,
                        body: request.body,
                    };
                    let (status, answer) = policy(&received);
                    log.lock().unwrap().push(received);
                    http1::write_response(
                        stream,
                        status,
                        &[("content-type", "application/json")],
                        &answer,
                    );
                });
            }
        });
        Receiver { url, got }
    }

    /// Everything received so far.
    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (bounded) until `done` holds for what has been received.
    pub fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let all = self.all();
            if done(&all) {
                return all;
            }
            assert!(
                started.elapsed() < limit,
                "timed out waiting for {what}; received: {:#?}",
                all.iter().map(Received::json).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Received webhooks about one conversation, by sequence number
    /// (deliveries are independent, so arrival order may differ).
    pub fn for_conversation(&self, id: &str) -> Vec<serde_json::Value> {
        let mut events: Vec<serde_json::Value> = self
            .all()
            .iter()
            .map(Received::json)
            .filter(|e| e["data"]["conversation"]["id"] == id)
            .collect();
        events.sort_by_key(|e| e["sequence_number"].as_u64());
        events
    }
}

/// Polls `f` until it returns `Some`, for at most `limit`.
pub fn eventually<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One request with an API key, outside the component (for checks of the
/// sandbox's own answers): the status and the JSON body (`null` if none).
pub fn raw_request(
    base_url: &str,
    method: glbridge_guest::http::Method,
    path: &str,
    key: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    use glbridge_guest::env::Transport;
    let mut headers = vec![("Authorization".to_owned(), format!("Bearer {key}"))];
    if body.is_some() {
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }
    let r = glbridge_host::UreqTransport::new()
        .send(&glbridge_guest::http::HttpRequest {
            method,
            url: format!("{base_url}{path}"),
            headers,
            body: body.map(|b| b.to_string().into_bytes()),
            timeout_ms: 5_000,
        })
        .unwrap();
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null),
    )
}
