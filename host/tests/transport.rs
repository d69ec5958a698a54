//! The real HTTP transport over loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use glbridge_guest::env::Transport;
use glbridge_guest::http::{HttpRequest, Method, TransportError};
use glbridge_host::UreqTransport;

fn request(method: Method, url: String, body: Option<&str>) -> HttpRequest {
    let mut headers = vec![
        ("Authorization".into(), "Bearer k".into()),
        ("Accept".into(), "application/json".into()),
    ];
    if body.is_some() {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    HttpRequest {
        method,
        url,
        headers,
        body: body.map(|b| b.as_bytes().to_vec()),
        timeout_ms: 5_000,
    }
}

#[test]
fn sends_methods_headers_and_bodies_and_returns_any_status() {
    let server = support::Server::start(vec![
        (
            200,
            vec![("content-type", "application/json")],
            r#"{"ok":true}"#.into(),
        ),
        (404, vec![], r#"{"code":"not_found"}"#.into()),
        (202, vec![("retry-after", "3")], String::new()),
    ]);
    let t = UreqTransport::new();
    let r = t
        .send(&request(
            Method::Post,
            format!("{}/conversations", server.url),
            Some(r#"{"id":"c"}"#),
        ))
        .unwrap();
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, br#"{"ok":true}"#.as_slice())
    );
    let r = t
        .send(&request(
            Method::Get,
            format!("{}/conversations/c%2B1/read", server.url),
            None,
        ))
        .unwrap();
    assert_eq!(r.status, 404, "errors are answers, not transport failures");
    let r = t
        .send(&request(
            Method::Delete,
            format!("{}/hand-off-targets", server.url),
            Some(r#"{"id":"t"}"#),
        ))
        .unwrap();
    assert_eq!((r.status, r.header("Retry-After")), (202, Some("3")));
    let seen = server.seen();
    server.join();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("POST", "/conversations")
    );
    assert_eq!(seen[0].body, br#"{"id":"c"}"#);
    assert_eq!(seen[0].header("authorization"), Some("Bearer k"));
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(
        (seen[1].method.as_str(), seen[1].target.as_str()),
        ("GET", "/conversations/c%2B1/read")
    );
    assert!(seen[1].body.is_empty());
    assert_eq!(seen[1].header("content-type"), None);
    assert_eq!(
        (seen[2].method.as_str(), seen[2].body.as_slice()),
        ("DELETE", br#"{"id":"t"}"#.as_slice())
    );
}

#[test]
fn refused_connections_and_timeouts_are_transport_errors() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", closed.local_addr().unwrap());
    drop(closed);
    let t = UreqTransport::new();
    assert!(matches!(
        t.send(&request(Method::Get, url, None)),
        Err(TransportError::Connection(_))
    ));
    // A server that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut r = request(
        Method::Get,
        format!("http://{}/x", silent.local_addr().unwrap()),
        None,
    );
    r.timeout_ms = 200;
    assert_eq!(t.send(&r), Err(TransportError::Timeout));
    assert!(matches!(
        t.send(&request(Method::Get, "not a url".into(), None)),
        Err(TransportError::InvalidUrl(_))
    ));
}
