//! A one-request-at-a-time HTTP/1.1 server on loopback that answers from a
//! script and records what it received.
#![allow(dead_code)]

#[path = "../../../tests/tests/support/http1.rs"]
pub mod http1;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

#[allow(unused_imports)] // not every test binary needs it
pub use http1::free_port;
pub use http1::Request as Seen;

/// One scripted answer: status, extra headers, body.
pub type Answer = (u16, Vec<(&'static str, &'static str)>, String);

pub struct Server {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `answers`, one per connection, then stops.
    pub fn start(answers: Vec<Answer>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let handle = std::thread::spawn(move || {
            for (status, headers, body) in answers {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let Some(request) = http1::read_request(&stream) else {
                    return;
                };
                log.lock().unwrap().push(request);
                http1::write_response(stream, status, &headers, &body);
            }
        });
        Server {
            url,
            seen,
            handle: Some(handle),
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn join(mut self) {
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
    }
}

/// Forwards every request to `target` after `delay`, and its answer back:
/// a slow network between two peers, made deterministic.
pub fn delaying_proxy(target: String, delay: std::time::Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let target = target.clone();
            std::thread::spawn(move || {
                let Some(request) = http1::read_request(&stream) else {
                    return;
                };
                std::thread::sleep(delay);
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut forward = agent.post(&format!("{target}{}", request.target));
                for (k, v) in &request.headers {
                    if !["host", "content-length", "connection"]
                        .contains(&k.to_ascii_lowercase().as_str())
                    {
                        forward = forward.header(k, v);
                    }
                }
                let (status, body) = match forward.send(&request.body[..]) {
                    Ok(mut r) => (
                        r.status().as_u16(),
                        r.body_mut().read_to_string().unwrap_or_default(),
                    ),
                    Err(_) => (502, String::new()),
                };
                http1::write_response(
                    stream,
                    status,
                    &[("content-type", "application/json")],
                    &body,
                );
            });
        }
    });
    url
}
