//! The Rust side of the Node parity check: the scenario in
//! `js/test/scenario.json` run through the embedded component by this
//! host, its outputs compared with `js/test/expected.json` — which the
//! Node side (`js/test/parity.test.mjs`, run by `npm test` in `.ci/run`) compares its
//! own outputs with too. Either side drifting fails its test.
//!
//! `GLBRIDGE_WRITE_EXPECTED=1 cargo test -p glbridge-tests --test node_parity`
//! writes `expected.json` anew (after a deliberate change).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::sync::Arc;

use glbridge_guest::http::{HttpRequest, HttpResponse, Method};
use glbridge_guest::testing::{FakeClock, MemoryStore, ScriptedTransport};
use glbridge_guest::webhook::WebhookError;
use glbridge_guest::{Config, RetryPolicy, Timestamp};
use glbridge_host::bindings::ordering;
use glbridge_host::{Bridge, BridgeOptions, Env, HostError, SequencerConfig, Session};
use serde_json::{json, Value};

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../js/test")
}

fn config(c: &Value) -> Config {
    let mut config = Config::new(
        c["base_url"].as_str().unwrap(),
        c["api_key"].as_str().unwrap(),
    );
    config.timeout_ms = c["timeout_ms"].as_u64().unwrap() as u32;
    config.max_body_bytes = c["max_body_bytes"].as_u64().unwrap() as u32;
    let r = &c["retry"];
    config.retry = RetryPolicy {
        max_attempts: r["max_attempts"].as_u64().unwrap() as u32,
        initial_backoff_ms: r["initial_backoff_ms"].as_u64().unwrap() as u32,
        max_backoff_ms: r["max_backoff_ms"].as_u64().unwrap() as u32,
        max_retry_after_ms: r["max_retry_after_ms"].as_u64().unwrap() as u32,
        jitter_seed: r["jitter_seed"].as_u64().unwrap(),
    };
    config
}

fn session(http: &Arc<ScriptedTransport>, clock: &Arc<FakeClock>) -> Session {
    static BRIDGE: std::sync::OnceLock<Bridge> = std::sync::OnceLock::new();
    let bridge = BRIDGE.get_or_init(|| Bridge::new(BridgeOptions::default()).unwrap());
    bridge.session(Env::new(
        http.clone(),
        clock.clone(),
        Arc::new(MemoryStore::default()),
    ))
}

/// A refusal, as both sides write it: the WIT variant's case and payload.
fn refusal(e: HostError) -> Value {
    match e {
        HostError::Webhook(WebhookError::MalformedHeader(s)) => {
            json!({"err": "malformed-header", "val": s})
        }
        HostError::Webhook(WebhookError::SignatureMismatch) => json!({"err": "signature-mismatch"}),
        HostError::Webhook(WebhookError::TimestampOutOfRange(n)) => {
            json!({"err": "timestamp-out-of-range", "val": n})
        }
        HostError::Webhook(WebhookError::InvalidEnvelope(s)) => {
            json!({"err": "invalid-envelope", "val": s})
        }
        other => panic!("not a webhook refusal: {other}"),
    }
}

fn request(r: &HttpRequest) -> Value {
    let method = match r.method {
        Method::Get => "get",
        Method::Post => "post",
        Method::Put => "put",
        Method::Delete => "delete",
    };
    json!({
        "method": method,
        "url": r.url,
        "headers": r.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "body": r.body.as_ref().map(|b| String::from_utf8(b.clone()).unwrap()),
        "timeout_ms": r.timeout_ms,
    })
}

fn released(r: &ordering::Released) -> Value {
    json!({
        "id": r.event.id,
        "sequence_number": r.event.sequence_number,
        "gap": r.gap.as_ref().map(|g| json!([g.first_missing, g.last_missing])),
        "late": r.late,
    })
}

fn secs(s: &Value) -> Timestamp {
    Timestamp::from_secs(s.as_i64().unwrap())
}

/// What the component answers to one step of the scenario.
fn run(step: &Value, client: &Config) -> Value {
    let http = Arc::new(ScriptedTransport::default());
    let start = step
        .get("now_secs")
        .map_or(Timestamp::from_secs(1_750_000_000), secs);
    let clock = Arc::new(FakeClock::new(start));
    let mut s = session(&http, &clock);
    let text = |k: &str| step[k].as_str().unwrap();
    let token = step["token"].as_str();
    match text("kind") {
        "verify" => {
            let now = secs(&step["now_secs"]);
            match s.webhook_verify(
                text("key"),
                text("header"),
                text("body").as_bytes(),
                Some(now),
                None,
            ) {
                Ok(()) => json!({"ok": null}),
                Err(e) => refusal(e),
            }
        }
        "sign-and-receive" => {
            let now = step["now_secs"].as_i64().unwrap();
            let header = s
                .webhook_sign(text("key"), now, text("body").as_bytes())
                .unwrap();
            let event = s
                .webhook_receive(
                    text("key"),
                    &header,
                    token,
                    text("body").as_bytes(),
                    None,
                    None,
                )
                .unwrap();
            json!({"header": header, "event": s.event_json(&event).unwrap()})
        }
        "parse" => match s.webhook_parse(text("body").as_bytes(), token) {
            Ok(event) => json!({"event": s.event_json(&event).unwrap()}),
            Err(e) => refusal(e),
        },
        "build-request" => {
            let r = s
                .build_request(client, text("operation"), &step["params"].to_string())
                .unwrap();
            request(&r)
        }
        "call" => {
            let a = &step["answer"];
            http.push(Ok(HttpResponse::json(
                a["status"].as_u64().unwrap() as u16,
                a["body"].as_str().unwrap(),
            )));
            s.open_client(client).unwrap();
            let result = s
                .call(text("operation"), &step["params"].to_string())
                .unwrap();
            json!({"result": result, "sent": http.sent().iter().map(request).collect::<Vec<_>>()})
        }
        "sequence" => {
            let config = SequencerConfig {
                namespace: "parity".into(),
                max_hold_ns: step["max_hold_ms"].as_u64().unwrap() * 1_000_000,
                first_sequence_number: 1,
            };
            let mut offers = Vec::new();
            for body in step["events"].as_array().unwrap() {
                let event = s
                    .webhook_parse(body.as_str().unwrap().as_bytes(), None)
                    .unwrap();
                let o = s.sequencer_offer(&config, &event).unwrap();
                offers.push(json!({
                    "duplicate": o.duplicate,
                    "released": o.released.iter().map(released).collect::<Vec<_>>(),
                }));
            }
            clock.advance(step["poll_after_ms"].as_u64().unwrap() * 1_000_000);
            let polled = s.sequencer_poll(&config).unwrap();
            json!({"offers": offers, "poll": polled.iter().map(released).collect::<Vec<_>>()})
        }
        other => panic!("unknown step kind {other}"),
    }
}

#[test]
fn the_rust_host_gives_the_expected_outputs_node_must_give_too() {
    let dir = node_dir();
    let scenario: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("scenario.json")).unwrap()).unwrap();
    let client = config(&scenario["config"]);
    let outputs: Vec<Value> = scenario["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| json!({"name": step["name"], "output": run(step, &client)}))
        .collect();
    let expected_path = dir.join("expected.json");
    if std::env::var_os("GLBRIDGE_WRITE_EXPECTED").is_some() {
        let text = serde_json::to_string_pretty(&json!({"steps": outputs})).unwrap();
        std::fs::write(&expected_path, text + "\n").unwrap();
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(&expected_path)
            .expect("js/test/expected.json (GLBRIDGE_WRITE_EXPECTED=1 writes it)"),
    )
    .unwrap();
    let expected = expected["steps"].as_array().unwrap();
    assert_eq!(expected.len(), outputs.len(), "one output per step");
    for (got, want) in outputs.iter().zip(expected) {
        // Canonical text (keys sorted), as the Node side compares it.
        assert_eq!(
            got.to_string(),
            want.to_string(),
            "step {:?} drifted from expected.json",
            got["name"]
        );
    }
}
