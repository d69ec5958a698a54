//! `glbridge serve` under overload: the agent's webhooks still get in while
//! thousands of Gleap calls wait on their connections, and `/healthz`
//! answers while slow clients hold more sockets than the process has
//! descriptors for.
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

use glbridge_guest::webhook::sign;
use process::{
    agent, closed_within, gleap_call, metric, scratch, serve_args, silent_api, spawn_with_nofile,
    stop, strs, support, wait_parked, wait_up,
};
use serde_json::json;

const KEY: &str = "whsec_overload";

/// One test at a time: each measures latency on a 2-core machine, and a
/// burst of 2,000 calls beside it would measure the other test.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One whole answer on `c` (head and `Content-Length` body), or what came
/// before the connection closed or `within` passed.
fn answer(c: &mut TcpStream, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                break;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        c.set_read_timeout(Some(left)).unwrap();
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Whether an answer has come on `c` (looking for at most 2 ms).
fn answered(c: &mut TcpStream) -> bool {
    c.set_read_timeout(Some(Duration::from_millis(2))).unwrap();
    let mut buf = [0u8; 1];
    matches!(c.peek(&mut buf), Ok(n) if n > 0)
}

/// The agent's reply to conversation `p<i>` as a signed webhook; how long
/// it took to be acknowledged.
fn reply(agent: &ureq::Agent, port: u16, i: usize, seq: u64) -> Duration {
    let body = json!({
        "id": format!("wh-p{i}-{seq}"), "type": "agent.message", "sequence_number": seq,
        "timestamp": "2026-01-01T00:00:00Z",
        "data": {"conversation": {"id": format!("gleap-p{i}"), "customer_id": format!("u{i}")},
                 "body": format!("Reply to p{i}.")},
    })
    .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let sent = Instant::now();
    let r = agent
        .post(&format!("http://127.0.0.1:{port}/webhooks/gradient-labs"))
        .header("X-GradientLabs-Signature", &sign(KEY, now, body.as_bytes()))
        .send(body.as_bytes())
        .unwrap();
    let took = sent.elapsed();
    assert_eq!(r.status(), 200, "webhook for p{i}");
    took
}

/// 100 webhooks from 4 senders, half of them replies to the parked calls
/// `wake`; their acknowledgement times, sorted.
fn webhooks_beside(port: u16, wake: &[usize]) -> Vec<Duration> {
    let others: Vec<usize> = (0..wake.len()).map(|k| 100_000 + k).collect();
    let all: Vec<usize> = wake.iter().copied().chain(others).collect();
    let mut took: Vec<Duration> = std::thread::scope(|s| {
        let senders: Vec<_> = all
            .chunks(all.len().div_ceil(4))
            .map(|chunk| {
                s.spawn(move || {
                    let agent = agent();
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(n, &i)| {
                            let took = reply(&agent, port, i, 1);
                            if took > Duration::from_millis(20) {
                                eprintln!("webhook {n} of its sender (p{i}): {took:?}");
                            }
                            took
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        senders
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    took.sort();
    eprintln!(
        "{} webhooks: p50 {:?}, p99 {:?}, max {:?}",
        took.len(),
        took[took.len() / 2],
        p99(&took),
        took.last().unwrap()
    );
    took
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() * 99).div_ceil(100) - 1]
}

#[test]
fn two_thousand_parked_gleap_calls_leave_room_for_webhooks_and_each_woken_call_answers() {
    let _alone = alone();
    const PARKED: usize = 2_000;
    let dir = scratch("glbridge-overload-parked");
    let (api, _api_runtime) = silent_api();
    let port = support::free_port();
    let mut args = serve_args(port, &dir.join("db"), KEY, &["--reply-wait", "120s"]);
    args[6] = api.clone();
    // No --max-connections: the cap follows the open-file limit.
    let running = spawn_with_nofile(4096, &strs(&args), &[]);
    wait_up(&format!("http://127.0.0.1:{port}/healthz"));

    let mut calls: Vec<TcpStream> = (0..PARKED).map(|i| gleap_call(port, i)).collect();
    wait_parked(port, PARKED, Duration::from_secs(180));

    let wake: Vec<usize> = (0..50).map(|k| k * 40 + 3).collect();
    let took = webhooks_beside(port, &wake);
    assert!(
        p99(&took) <= Duration::from_millis(50),
        "webhooks beside {PARKED} parked calls: p99 {:?}, max {:?}",
        p99(&took),
        took.last().unwrap()
    );
    for &i in &wake {
        let a = answer(&mut calls[i], Duration::from_secs(20));
        assert!(a.starts_with("HTTP/1.1 200"), "p{i}: {a}");
        assert!(a.contains(&format!("Reply to p{i}.")), "p{i}: {a}");
    }
    assert_eq!(
        metric(port, "glbridge_gleap_waiting"),
        (PARKED - wake.len()) as f64
    );
    assert_eq!(metric(port, "glbridge_gleap_answered_early_total"), 0.0);
    let log = stop(running);
    assert!(
        log.contains("at most 4032 connections at once, 3528 of them for Gleap calls"),
        "the cap follows ulimit -n 4096:\n{log}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn past_their_share_the_oldest_gleap_calls_answer_early_and_webhooks_still_get_in() {
    let _alone = alone();
    const CALLS: usize = 2_000;
    const CAP: usize = 1_024;
    const SHARE: usize = CAP - CAP / 8;
    let dir = scratch("glbridge-overload-share");
    let (api, _api_runtime) = silent_api();
    let port = support::free_port();
    let cap = CAP.to_string();
    let mut args = serve_args(
        port,
        &dir.join("db"),
        KEY,
        &["--reply-wait", "120s", "--max-connections", &cap],
    );
    args[6] = api.clone();
    let running = spawn_with_nofile(4096, &strs(&args), &[]);
    wait_up(&format!("http://127.0.0.1:{port}/healthz"));

    let mut calls: Vec<TcpStream> = (0..CALLS).map(|i| gleap_call(port, i)).collect();
    wait_parked(port, SHARE, Duration::from_secs(180));
    let started = Instant::now();
    while metric(port, "glbridge_gleap_answered_early_total") < (CALLS - SHARE) as f64 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} answered early, {} waiting",
            metric(port, "glbridge_gleap_answered_early_total"),
            metric(port, "glbridge_gleap_waiting")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The oldest ones answered early, with nothing yet to say.
    let early: Vec<usize> = (0..CALLS).filter(|&i| answered(&mut calls[i])).collect();
    assert_eq!(early.len(), CALLS - SHARE, "{early:?}");
    assert!(
        early.iter().all(|&i| i < CALLS - SHARE + 64),
        "not the oldest: {early:?}"
    );
    for &i in &early {
        let a = answer(&mut calls[i], Duration::from_secs(5));
        assert!(a.starts_with("HTTP/1.1 200"), "p{i}: {a}");
        assert!(!a.contains("Reply to"), "p{i}: {a}");
    }
    assert_eq!(metric(port, "glbridge_gleap_waiting"), SHARE as f64);

    // Replies to calls still waiting, and to one that answered early.
    let wake: Vec<usize> = (0..CALLS)
        .filter(|i| !early.contains(i))
        .step_by(17)
        .take(50)
        .collect();
    let took = webhooks_beside(port, &wake);
    assert!(
        p99(&took) <= Duration::from_millis(50),
        "webhooks beside {SHARE} parked calls at the cap: p99 {:?}, max {:?}",
        p99(&took),
        took.last().unwrap()
    );
    for &i in &wake {
        let a = answer(&mut calls[i], Duration::from_secs(20));
        assert!(a.contains(&format!("Reply to p{i}.")), "p{i}: {a}");
    }
    // An early answer loses nothing: the next call of its conversation
    // takes what came meanwhile.
    let first = early[0];
    reply(&agent(), port, first, 1);
    let mut again = gleap_call(port, first);
    let a = answer(&mut again, Duration::from_secs(20));
    assert!(a.contains(&format!("Reply to p{first}.")), "{a}");
    stop(running);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn healthz_answers_within_a_second_while_400_slow_clients_hold_sockets_under_ulimit_256() {
    let _alone = alone();
    let dir = scratch("glbridge-overload-slow");
    let port = support::free_port();
    // The default header timeout (10 s): the slow clients are not cut off
    // by it during the test.
    let args = serve_args(port, &dir.join("db"), KEY, &[]);
    let running = spawn_with_nofile(256, &strs(&args), &[]);
    let health = format!("http://127.0.0.1:{port}/healthz");
    wait_up(&health);

    let mut slow: Vec<TcpStream> = (0..400)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET /heal").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let answer = agent()
            .get(&health)
            .config()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .call()
            .expect("/healthz answers while 400 slow clients hold on");
        assert_eq!(answer.status(), 200);
        times.push(started.elapsed());
    }
    eprintln!("/healthz beside 400 slow clients: {times:?}");
    assert!(
        times.iter().all(|t| *t < Duration::from_secs(1)),
        "/healthz took {times:?}"
    );
    // So does a webhook (refused for its signature, but read and answered).
    let took = Instant::now();
    let r = agent()
        .post(&format!("http://127.0.0.1:{port}/webhooks/gradient-labs"))
        .header("X-GradientLabs-Signature", "t=1,v1=00")
        .send("{}")
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(took.elapsed() < Duration::from_secs(1));
    // The oldest slow clients were closed to make room.
    let mut closed = 0;
    for s in slow.iter_mut().take(50) {
        closed += usize::from(closed_within(s, Duration::from_millis(200)));
    }
    assert!(closed > 0, "no slow client was closed");
    let log = stop(running);
    assert!(
        !log.contains("Too many open files"),
        "never out of descriptors:\n{log}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
