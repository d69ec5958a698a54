//! What `glbridge` writes to its log: no secret at any level (the HTTP
//! client's wire dumps included), colour only on a terminal, JSON lines on
//! request; and the smaller edges of `serve` (a `/metrics` token, a
//! signature header that is not ASCII).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod process;

use process::{agent, scratch, spawn, stop, support, wait_up};
use std::time::{Duration, Instant};

const INTEGRATION_KEY: &str = "sk_int_TRACESECRETone";
const MANAGEMENT_KEY: &str = "sk_mgmt_TRACESECRETtwo";
const SIGNING_KEY: &str = "whsec_TRACESECRETthree";
const GLEAP_SECRET: &str = "Bearer TRACESECRETfour";
const GLEAP_REST_KEY: &str = "TRACESECRETfive";
const ACTION_HEADER: &str = "TRACESECRETsix";

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn at_trace_level_no_secret_reaches_the_log_and_a_pipe_gets_no_colour() {
    let dir = scratch("glbridge-logs");
    // Gleap's REST API, which gets the late reply with the REST key.
    let gleap = support::Server::start(vec![(200, vec![], "{}".into()); 4]);
    let (api_port, serve_port) = (support::free_port(), support::free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let serve_url = format!("http://127.0.0.1:{serve_port}");
    let trace = [("RUST_LOG", "trace")];
    let late = support::delaying_proxy(serve_url.clone(), Duration::from_millis(500));
    let sandbox = spawn(
        &[
            "sandbox",
            "--listen",
            &format!("127.0.0.1:{api_port}"),
            "--webhook-url",
            // Half a second late: the reply comes after the Gleap call was
            // answered (its reply wait is 1 ms), so it goes out through REST.
            &format!("{late}/webhooks/gradient-labs"),
            "--signing-key",
            SIGNING_KEY,
            "--integration-key",
            INTEGRATION_KEY,
            "--management-key",
            MANAGEMENT_KEY,
        ],
        &trace,
    );
    let config = dir.join("glbridge.toml");
    std::fs::write(
        &config,
        format!("[actions.order-status]\nurl = \"{api}/nowhere\"\nheaders = {{ X-Key = \"{ACTION_HEADER}\" }}\n"),
    )
    .unwrap();
    let serve = spawn(
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{serve_port}"),
            "--store",
            dir.join("state.db").to_str().unwrap(),
            "--api-url",
            &api,
            "--api-key",
            INTEGRATION_KEY,
            "--webhook-signing-key",
            SIGNING_KEY,
            "--gleap-secret",
            GLEAP_SECRET,
            "--gleap-api-key",
            GLEAP_REST_KEY,
            "--gleap-project-id",
            "project-1",
            "--gleap-api-url",
            &gleap.url,
            // The reply comes after the answer: it goes out through REST.
            "--reply-wait",
            "1ms",
            "--settle",
            "1ms",
        ],
        &trace,
    );
    wait_up(&format!("{api}/ip-addresses"));
    wait_up(&format!("{serve_url}/healthz"));
    let call = r#"{"conversation":{"id":"trace-1"},"session":{"userId":"u"},"comments":[{"id":"c1","comment":"How long does delivery take?"}]}"#;
    let answer = agent()
        .post(&format!("{serve_url}/gleap/action"))
        .header("Authorization", GLEAP_SECRET)
        .send(call.as_bytes())
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let started = Instant::now();
    while gleap.seen().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the late reply never reached Gleap's REST API"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pushed = &gleap.seen()[0];
    assert!(
        pushed
            .headers
            .iter()
            .any(|(_, v)| v.contains(GLEAP_REST_KEY)),
        "the push carried the REST key: {pushed:?}"
    );
    let log = format!("{}\n{}", stop(serve), stop(sandbox));
    assert!(
        log.lines().filter(|l| l.contains("TRACE")).count() > 10,
        "the log ran at trace level:\n{log}"
    );
    // Hex dumps group their digits: look for the secret's hex without spaces.
    let squeezed: String = log
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    for secret in [
        INTEGRATION_KEY,
        MANAGEMENT_KEY,
        SIGNING_KEY,
        GLEAP_SECRET,
        "TRACESECRET",
        GLEAP_REST_KEY,
        ACTION_HEADER,
    ] {
        let hits: Vec<&str> = log.lines().filter(|l| l.contains(secret)).collect();
        assert!(hits.is_empty(), "{secret} is in the log:\n{hits:#?}");
        assert!(
            !squeezed.contains(&hex(secret)),
            "{secret} is in the log as hex"
        );
    }
    assert!(!log.contains('\u{1b}'), "colour codes in a piped log");
    std::fs::remove_dir_all(dir).ok();
}

/// `serve` with the embedded sandbox, its log as JSON, a `/metrics` token.
#[test]
fn json_log_lines_a_metrics_token_and_a_non_ascii_signature() {
    let dir = scratch("glbridge-logs-json");
    let port = support::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let serve = spawn(
        &[
            "--log-format",
            "json",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--store",
            dir.join("state.db").to_str().unwrap(),
            "--insecure-no-gleap-auth",
            "--metrics-token",
            "TRACESECRETmetrics",
        ],
        &[("RUST_LOG", "debug")],
    );
    wait_up(&format!("{url}/healthz"));
    let metrics = |auth: Option<&str>| {
        let mut req = agent().get(&format!("{url}/metrics"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let mut res = req.call().unwrap();
        (
            res.status().as_u16(),
            res.body_mut().read_to_string().unwrap(),
        )
    };
    assert_eq!(metrics(None).0, 401);
    assert_eq!(metrics(Some("Bearer wrong")).0, 401);
    let (status, text) = metrics(Some("Bearer TRACESECRETmetrics"));
    assert_eq!(status, 200);
    assert!(text.contains("glbridge_http_requests_total"), "{text}");

    // A signature header with a byte that is not ASCII is malformed, not missing.
    let mut res = agent()
        .post(&format!("{url}/webhooks/gradient-labs"))
        .header(
            "X-GradientLabs-Signature",
            ureq::http::HeaderValue::from_bytes(b"t=1,v1=\xe9").unwrap(),
        )
        .send(&b"{}"[..])
        .unwrap();
    let body = res.body_mut().read_to_string().unwrap();
    assert_eq!(res.status().as_u16(), 401, "{body}");
    assert!(body.contains("malformed"), "{body}");
    assert!(!body.contains("missing"), "{body}");

    let log = stop(serve);
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let json_lines = lines
        .iter()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["level"].is_string())
        })
        .count();
    assert!(json_lines > 3, "JSON log lines:\n{log}");
    let stray: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with('{') && serde_json::from_str::<serde_json::Value>(l).is_err())
        .collect();
    assert!(stray.is_empty(), "broken JSON lines: {stray:?}");
    assert!(
        !log.contains("TRACESECRET"),
        "the metrics token leaked:\n{log}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// A webhook whose signature header is missing, malformed or stale is
/// answered 401 before its body is read: the client announces 4 MiB, sends
/// none of it, and still gets its answer.
#[test]
fn webhooks_with_a_bad_signature_header_are_refused_before_their_body() {
    use std::io::{Read, Write};
    let dir = scratch("glbridge-screen");
    let port = support::free_port();
    let serve = spawn(
        &[
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--store",
            dir.join("state.db").to_str().unwrap(),
            "--insecure-no-gleap-auth",
        ],
        &[],
    );
    wait_up(&format!("http://127.0.0.1:{port}/healthz"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let v1 = "0".repeat(64);
    for (name, header) in [
        ("missing", None),
        ("malformed", Some("v1=abc".to_owned())),
        ("stale", Some(format!("t={},v1={v1}", now - 3600))),
    ] {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let signature = header
            .map(|h| format!("X-GradientLabs-Signature: {h}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "POST /webhooks/gradient-labs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{signature}Content-Length: 4194304\r\n\r\n{{"
        )
        .unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("\r\n\r\n{") {
            let n = stream
                .read(&mut buf)
                .unwrap_or_else(|e| panic!("{name}: no answer without the body: {e}"));
            assert!(n > 0, "{name}: closed without an answer");
            answer.extend_from_slice(&buf[..n]);
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 401"), "{name}: {answer}");
    }
    // A well-formed, current header gets as far as reading the body.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    write!(
        stream,
        "POST /webhooks/gradient-labs HTTP/1.1\r\nHost: x\r\nX-GradientLabs-Signature: t={now},v1={v1}\r\nContent-Length: 10\r\n\r\n{{"
    )
    .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        stream.read(&mut buf).is_err(),
        "waits for the rest of the body"
    );
    drop(stream);
    stop(serve);
    std::fs::remove_dir_all(dir).ok();
}
