//! `glbridge serve` against slow, greedy and hung-up clients: header and
//! body timeouts, the connection cap under a low descriptor limit, the
//! buffered-body budget, and a stop while a body is half sent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod process;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use process::{agent, closed_within};
use process::{
    peak_rss, scratch, serve_args, spawn, spawn_with_nofile, stop, strs, support, wait_up,
};

const KEY: &str = "whsec_limits";

/// A well-formed, fresh signature header (its MAC is wrong: the body is
/// read, then refused).
fn fresh_signature() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!("t={now},v1={}", "ab".repeat(32))
}

/// Sends a webhook's head announcing `length` bytes.
fn webhook_head(port: u16, length: usize, signature: Option<&str>) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!(
        "POST /webhooks/gradient-labs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
    );
    if let Some(sig) = signature {
        head.push_str(&format!("X-GradientLabs-Signature: {sig}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s
}

/// The status of the answer on `s` (reads until the status line is in).
fn status_of(s: &mut TcpStream) -> Option<u16> {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&got);
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn slow_clients_are_cut_off_and_never_exhaust_the_descriptors() {
    let dir = scratch("glbridge-limits-slow");
    let port = support::free_port();
    let args = serve_args(
        port,
        &dir.join("db"),
        KEY,
        &["--header-read-timeout", "1s", "--body-read-timeout", "2s"],
    );
    let running = spawn_with_nofile(256, &strs(&args), &[]);
    let health = format!("http://127.0.0.1:{port}/healthz");
    wait_up(&health);

    // 300 clients that send one byte of a header and then nothing: more
    // than the process has descriptors for.
    let mut slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"P").unwrap();
            s
        })
        .collect();
    // Slow bodies too: a head, then a byte now and then.
    let mut trickles: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = webhook_head(port, 1_000, Some(&fresh_signature()));
            s.write_all(b"{").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    // The service still answers: the slow ones are cut off after the
    // header timeout and the backlog drains.
    let started = Instant::now();
    let answer = agent()
        .get(&health)
        .config()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .call()
        .expect("/healthz answers while 300 slow clients hold on");
    assert_eq!(answer.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "/healthz took {:?}",
        started.elapsed()
    );
    for s in &mut slow {
        assert!(
            closed_within(s, Duration::from_secs(10)),
            "a client sending no header is disconnected"
        );
    }
    for s in &mut trickles {
        let _ = s.write_all(b" ");
        let status = status_of(s);
        assert_eq!(status, Some(408), "a body that does not arrive gets 408");
    }
    let log = stop(running);
    assert!(
        !log.contains("Too many open files"),
        "never out of descriptors:\n{log}"
    );
    assert!(
        log.contains("at most 192 connections at once"),
        "the cap was fitted to ulimit -n 256:\n{log}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bodies_in_memory_stay_within_the_budget() {
    let dir = scratch("glbridge-limits-memory");
    let port = support::free_port();
    let args = serve_args(
        port,
        &dir.join("db"),
        KEY,
        &["--max-buffered-body", "16MiB", "--body-read-timeout", "60s"],
    );
    let running = spawn(&strs(&args), &[]);
    wait_up(&format!("http://127.0.0.1:{port}/healthz"));
    let pid = running.child.id();
    let before = peak_rss(pid);
    const BODY: usize = 4_000_000;

    // 250 unsigned uploads of 4 MB: refused on their header, never read.
    let unsigned: Vec<_> = (0..250)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = webhook_head(port, BODY, None);
                let _ = s.write_all(&vec![b' '; BODY]);
                status_of(&mut s)
            })
        })
        .collect();
    for t in unsigned {
        let status = t.join().unwrap();
        assert!(
            status.is_none() || status == Some(401),
            "unsigned: {status:?}"
        );
    }
    // 60 uploads of 4 MB with a well-formed header: read (16 MiB at a
    // time at most), then refused on their MAC.
    let signed: Vec<_> = (0..60)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = webhook_head(port, BODY, Some(&fresh_signature()));
                s.write_all(&vec![b' '; BODY]).unwrap();
                status_of(&mut s)
            })
        })
        .collect();
    for t in signed {
        assert_eq!(t.join().unwrap(), Some(401), "read, then refused");
    }
    let peak = peak_rss(pid);
    let grown = peak.saturating_sub(before);
    // Unbounded, 60 bodies of 4 MB in flight would be 240 MB (and 250
    // unsigned ones a gigabyte).
    assert!(
        grown < 100 * 1024 * 1024,
        "peak RSS grew by {} MiB (from {} MiB)",
        grown >> 20,
        before >> 20
    );
    eprintln!(
        "peak RSS {} MiB, {} MiB before the uploads",
        peak >> 20,
        before >> 20
    );
    stop(running);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_stop_does_not_wait_for_a_body_that_never_ends() {
    let dir = scratch("glbridge-limits-stop");
    let port = support::free_port();
    let args = serve_args(port, &dir.join("db"), KEY, &["--body-read-timeout", "10m"]);
    let running = spawn(&strs(&args), &[]);
    wait_up(&format!("http://127.0.0.1:{port}/healthz"));
    let mut s = webhook_head(port, 1_000_000, Some(&fresh_signature()));
    s.write_all(&[b' '; 1000]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    stop(running);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped in {:?} with a body half sent",
        started.elapsed()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_small_webhook_with_a_bad_signature_header_is_refused_before_its_body() {
    let dir = scratch("glbridge-limits-screen");
    let port = support::free_port();
    let args = serve_args(port, &dir.join("db"), KEY, &["--body-read-timeout", "60s"]);
    let running = spawn(&strs(&args), &[]);
    wait_up(&format!("http://127.0.0.1:{port}/healthz"));
    let stale = format!("t=1000000000,v1={}", "ab".repeat(32));
    for signature in [None, Some("t=oops"), Some(stale.as_str())] {
        // 1 KiB announced, not a byte of it sent: the answer comes anyway.
        let started = Instant::now();
        let mut s = webhook_head(port, 1024, signature);
        assert_eq!(status_of(&mut s), Some(401), "{signature:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{signature:?} took {:?}",
            started.elapsed()
        );
    }
    // A well-formed header is not enough to be answered early: the body is
    // waited for, read, and its MAC checked.
    let mut s = webhook_head(port, 1024, Some(&fresh_signature()));
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(&[b' '; 1024]).unwrap();
    assert_eq!(status_of(&mut s), Some(401), "read, then refused");
    // A webhook sent whole is checked in one call, without the screening.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "POST /webhooks/gradient-labs HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\nX-GradientLabs-Signature: {}\r\n\r\n",
        fresh_signature()
    );
    s.write_all(&[head.as_bytes(), &[b' '; 1024]].concat())
        .unwrap();
    assert_eq!(status_of(&mut s), Some(401));
    let metrics = agent()
        .get(&format!("http://127.0.0.1:{port}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("glbridge_webhooks_screened_total 4\n"),
        "three bad headers and one slow body were screened: {metrics}"
    );
    stop(running);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_chatwoot_event_with_a_bad_signature_header_is_refused_before_its_body() {
    let dir = scratch("glbridge-limits-chatwoot-screen");
    let port = support::free_port();
    let args = serve_args(
        port,
        &dir.join("db"),
        KEY,
        &[
            "--body-read-timeout",
            "60s",
            "--chatwoot-url",
            "http://127.0.0.1:9",
            "--chatwoot-bot-token",
            "unused",
            "--chatwoot-secret",
            "cw_screen",
        ],
    );
    let running = spawn(&strs(&args), &[]);
    wait_up(&format!("http://127.0.0.1:{port}/healthz"));
    let head = |headers: &str| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let head = format!(
            "POST /chatwoot/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n{headers}\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        s
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let well_formed = format!("sha256={}", "ab".repeat(32));
    for headers in [
        String::new(),
        format!("X-Chatwoot-Timestamp: {now}\r\nX-Chatwoot-Signature: oops\r\n"),
        format!("X-Chatwoot-Timestamp: 1000000000\r\nX-Chatwoot-Signature: {well_formed}\r\n"),
    ] {
        // 1 KiB announced, not a byte of it sent: the answer comes anyway.
        let started = Instant::now();
        let mut s = head(&headers);
        assert_eq!(status_of(&mut s), Some(401), "{headers:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{headers:?} took {:?}",
            started.elapsed()
        );
    }
    // Well-formed, fresh headers are waited on: the body is read, then its
    // MAC checked.
    let mut s = head(&format!(
        "X-Chatwoot-Timestamp: {now}\r\nX-Chatwoot-Signature: {well_formed}\r\n"
    ));
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(&[b' '; 1024]).unwrap();
    assert_eq!(status_of(&mut s), Some(401), "read, then refused");
    let metrics = agent()
        .get(&format!("http://127.0.0.1:{port}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("glbridge_webhooks_screened_total 4\n"),
        "three bad headers and one slow body were screened: {metrics}"
    );
    stop(running);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_zendesk_delivery_with_a_wrong_api_key_is_refused_before_its_body() {
    let dir = scratch("glbridge-limits-zendesk-screen");
    let port = support::free_port();
    let args = serve_args(
        port,
        &dir.join("db"),
        KEY,
        &[
            "--body-read-timeout",
            "60s",
            "--zendesk-url",
            "http://127.0.0.1:9/sc",
            "--zendesk-app-id",
            "app1",
            "--zendesk-key-id",
            "key_1",
            "--zendesk-key-secret",
            "unused",
            "--zendesk-webhook-secret",
            "zd_screen_secret",
            "--zendesk-bot-name",
            "glbridge",
        ],
    );
    let running = spawn(&strs(&args), &[]);
    wait_up(&format!("http://127.0.0.1:{port}/healthz"));
    let head = |key: Option<&str>| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let key = key
            .map(|k| format!("X-API-Key: {k}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST /zendesk/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n{key}\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        s
    };
    for key in [None, Some("zd_screen_secreT"), Some("")] {
        // 1 KiB announced, not a byte of it sent: the answer comes anyway.
        let started = Instant::now();
        let mut s = head(key);
        assert_eq!(status_of(&mut s), Some(401), "{key:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{key:?} took {:?}",
            started.elapsed()
        );
    }
    // The right key: the body is waited for and read (not JSON: 400).
    let mut s = head(Some("zd_screen_secret"));
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(&[b' '; 1024]).unwrap();
    assert_eq!(status_of(&mut s), Some(400), "read, then refused");
    stop(running);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_sandbox_keeps_its_bodies_in_memory_within_its_budget() {
    let port = support::free_port();
    let running = spawn(
        &[
            "sandbox",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--integration-key",
            "ik",
            "--max-buffered-body",
            "16MiB",
            "--body-read-timeout",
            "60s",
        ],
        &[],
    );
    wait_up(&format!("http://127.0.0.1:{port}/ip-addresses"));
    let pid = running.child.id();
    let before = peak_rss(pid);
    const BODY: usize = 4_000_000;
    // 60 uploads of 4 MB at once, each held open a moment before its last
    // byte: unbounded, 240 MB would be in memory together.
    let uploads: Vec<_> = (0..60)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let head = format!(
                    "POST /conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ik\r\nContent-Type: application/json\r\nContent-Length: {BODY}\r\n\r\n"
                );
                s.write_all(head.as_bytes()).unwrap();
                s.write_all(&vec![b' '; BODY - 1]).unwrap();
                std::thread::sleep(Duration::from_millis(200));
                s.write_all(b" ").unwrap();
                status_of(&mut s)
            })
        })
        .collect();
    for t in uploads {
        let status = t.join().unwrap();
        assert_eq!(status, Some(400), "read, then refused as not JSON");
    }
    let grown = peak_rss(pid).saturating_sub(before);
    assert!(
        grown < 100 * 1024 * 1024,
        "peak RSS grew by {} MiB",
        grown >> 20
    );
    eprintln!("sandbox peak RSS grew by {} MiB", grown >> 20);
    stop(running);
}
