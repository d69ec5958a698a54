//! The same work through the component in wasmtime: the cost of the
//! boundary, and of a whole Gleap turn with fake I/O.
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use glbridge_guest::gleap::bridge::BridgeConfig;
use glbridge_guest::http::HttpResponse;
use glbridge_host::{Bridge, BridgeOptions, Env, FakeClock, MemoryStore, ScriptedTransport};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let bridge = Bridge::new(BridgeOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let body = serde_json::json!({"id": "webhook_01", "type": "agent.message", "sequence_number": 5, "timestamp": "2024-01-01T00:00:00Z",
        "data": {"conversation": {"id": "c-1", "customer_id": "u-1"}, "body": "Sure — you can return any item within 30 days. ".repeat(20)}})
    .to_string();
    let http = Arc::new(ScriptedTransport::default());
    let clock = Arc::new(FakeClock::default());
    let mut session = bridge.session(Env::new(
        http.clone(),
        clock.clone(),
        Arc::new(MemoryStore::default()),
    ));
    let header = session
        .webhook_sign("whsec_key", 1_700_000_000, body.as_bytes())
        .unwrap_or_default();
    let now = Some(glbridge_guest::Timestamp::from_secs(1_700_000_000));
    c.bench_function("component: verify + parse webhook (1 KB)", |b| {
        b.iter(|| {
            session.webhook_receive(
                "whsec_key",
                black_box(&header),
                None,
                black_box(body.as_bytes()),
                now,
                None,
            )
        })
    });

    c.bench_function("component: new instance (InstancePre)", |b| {
        b.iter(|| {
            let mut s = bridge.session(Env::new(
                http.clone(),
                clock.clone(),
                Arc::new(MemoryStore::default()),
            ));
            s.webhook_sign("k", 1, b"{}")
        })
    });

    // A whole Gleap turn: start, resource, message, then a queued reply taken
    // at once — scripted HTTP, memory store, fake clock.
    c.bench_function("component: gleap turn (scripted HTTP)", |b| {
        let mut n = 0u64;
        let mut client = glbridge_guest::Config::new("https://api.example.test", "sk");
        client.retry.max_attempts = 1;
        let mut config = BridgeConfig::new(client, "whsec_key");
        config.reply_wait_ms = 0;
        b.iter(|| {
            n += 1;
            let http = Arc::new(ScriptedTransport::new([
                Ok(HttpResponse::json(200, r#"{"id":"x","customer_id":"u","channel":"web","status":"active"}"#)),
                Ok(HttpResponse::json(200, "{}")),
                Ok(HttpResponse::json(200, r#"{"id":"m","body":"b","participant_id":"u","participant_type":"Customer"}"#)),
            ]));
            let mut s = bridge.session(Env::new(http, clock.clone(), Arc::new(MemoryStore::default())));
            s.open_gleap(&config).unwrap_or_else(|e| panic!("{e}"));
            let call = format!(r#"{{"conversation":{{"id":"{n}"}},"session":{{"userId":"u"}},"comments":[{{"id":"c{n}","comment":"Where is my order?"}}]}}"#);
            s.gleap_action(None, call.as_bytes())
        })
    });
}

criterion_group!(component, benches);
criterion_main!(component);
