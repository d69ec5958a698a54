//! Restarts on the same store: the sandbox carries on with the webhooks it
//! had not delivered when it was killed, and `serve` with the embedded
//! sandbox finds its conversations again.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod process;

use std::time::{Duration, Instant};

use process::{agent, scratch, spawn, stop, support, wait_up};
use serde_json::{json, Value};

const INTEGRATION: &str = "sk_int_resume";

fn sandbox_args(port: u16, store: &std::path::Path, webhook_url: &str) -> Vec<String> {
    [
        "sandbox",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--store",
        store.to_str().unwrap(),
        "--webhook-url",
        webhook_url,
        "--retry-base",
        "20ms",
        "--integration-key",
        INTEGRATION,
        "--management-key",
        "sk_mgmt_resume",
        "--signing-key",
        "whsec_resume",
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn api(base: &str, path: &str, body: Value) -> (u16, Value) {
    let mut r = agent()
        .post(&format!("{base}{path}"))
        .header("Authorization", &format!("Bearer {INTEGRATION}"))
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap();
    let status = r.status().as_u16();
    let v = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap_or(Value::Null);
    (status, v)
}

#[test]
fn a_killed_sandbox_delivers_its_pending_webhooks_after_a_restart() {
    let dir = scratch("glbridge-resume-sandbox");
    let store = dir.join("sandbox.db");
    let port = support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    // First run: the receiver is down, so the agent's reply stays pending.
    let running = spawn(
        &strs(&sandbox_args(port, &store, "http://127.0.0.1:9/down")),
        &[],
    );
    wait_up(&format!("{base}/sandbox/deliveries"));
    let (status, c) = api(
        &base,
        "/conversations",
        json!({"id": "r1", "customer_id": "u", "channel": "web", "assignee_type": "AI Agent"}),
    );
    assert_eq!(status, 200, "{c}");
    let (status, m) = api(
        &base,
        "/conversations/r1/messages",
        json!({"id": "m1", "body": "Hello, can you help?", "participant_id": "u", "participant_type": "Customer"}),
    );
    assert_eq!(status, 200, "{m}");
    // A few attempts fail, then the sandbox is killed mid-schedule.
    let started = Instant::now();
    loop {
        let mut r = agent()
            .get(&format!("{base}/sandbox/deliveries"))
            .header("Authorization", &format!("Bearer {INTEGRATION}"))
            .call()
            .unwrap();
        let attempts: Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        if attempts.as_array().unwrap().len() >= 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no attempts");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut killed = running;
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    drop(killed);

    // Second run on the same store, with a receiver that answers.
    let receiver = support::Server::start(vec![(200, vec![], "{}".into()); 8]);
    let running = spawn(
        &strs(&sandbox_args(
            port,
            &store,
            &format!("{}/hook", receiver.url),
        )),
        &[],
    );
    let started = Instant::now();
    let delivered = loop {
        let seen = receiver.seen();
        if let Some(r) = seen.iter().find(|r| {
            let body = String::from_utf8_lossy(&r.body);
            body.contains("\"id\":\"r1\"") && body.contains("\"sequence_number\":1")
        }) {
            break r.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the pending webhook never came: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(delivered.header("x-gradientlabs-signature").is_some());
    let log = stop(running);
    assert!(log.contains("resuming"), "{log}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn serve_with_the_embedded_sandbox_finds_its_conversations_after_a_restart() {
    let dir = scratch("glbridge-resume-serve");
    let store = dir.join("glbridge.db");
    let port = support::free_port();
    let args = [
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--store",
        store.to_str().unwrap(),
        "--gleap-secret",
        "Bearer resume",
        "--reply-wait",
        "3s",
    ];
    let base = format!("http://127.0.0.1:{port}");
    let gleap = |comments: Value| {
        let body = json!({"conversation": {"id": "g1"}, "session": {"userId": "u1"}, "comments": comments});
        let mut r = agent()
            .post(&format!("{base}/gleap/action"))
            .header("Authorization", "Bearer resume")
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
            .unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_string().unwrap())
    };
    let comment = |id: &str, text: &str| json!({"id": id, "bot": false, "comment": text});
    let running = spawn(&args, &[]);
    wait_up(&format!("{base}/healthz"));
    let (status, first) = gleap(json!([comment("k1", "How do I return an item?")]));
    assert_eq!(status, 200, "{first}");
    stop(running);
    assert!(dir.join("glbridge.sandbox.db").exists());

    let running = spawn(&args, &[]);
    wait_up(&format!("{base}/healthz"));
    let (status, second) = gleap(json!([
        comment("k1", "How do I return an item?"),
        comment("k2", "And how long does a refund take?")
    ]));
    assert_eq!(status, 200, "the conversation is still known: {second}");
    stop(running);
    std::fs::remove_dir_all(&dir).ok();
}
