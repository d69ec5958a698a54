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

#[allow(unused_imports)] // not every test binary needs it
pub use http1::delaying_proxy;
