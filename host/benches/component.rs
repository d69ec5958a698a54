//! The component in wasmtime, each figure beside the same work done by the
//! guest library compiled natively, in the same run: only same-run ratios
//! count on a shared machine.
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use glbridge_guest::helpdesk::BridgeConfig;
use glbridge_guest::http::HttpResponse;
use glbridge_guest::Timestamp;
use glbridge_host::{
    Bridge, BridgeOptions, Env, FakeClock, InstanceAllocator, MemoryStore, ScriptedTransport,
    Session,
};
use std::hint::black_box;

const KEY: &str = "whsec_key";
const NOW: i64 = 1_700_000_000;

/// A signed `agent.message` webhook whose body is about `size` bytes.
fn webhook(size: usize) -> (Vec<u8>, String) {
    let sentence = "Sure — you can return any item within 30 days for a full refund. ";
    let text = sentence.repeat(size / sentence.len() + 1);
    let mut body = serde_json::json!({"id": "webhook_01", "type": "agent.message", "sequence_number": 5,
        "timestamp": "2024-01-01T00:00:00Z",
        "data": {"conversation": {"id": "c-1", "customer_id": "u-1", "metadata": {"plan": "pro"}}, "body": ""}});
    let overhead = body.to_string().len();
    let mut text: String = text.chars().take(size.saturating_sub(overhead)).collect();
    while overhead + text.len() > size {
        text.pop();
    }
    body["data"]["body"] = serde_json::Value::String(text);
    let body = body.to_string().into_bytes();
    let header = glbridge_guest::webhook::sign(KEY, NOW, &body);
    (body, header)
}

fn session(bridge: &Bridge) -> Session {
    bridge.session(Env::new(
        Arc::new(ScriptedTransport::default()),
        Arc::new(FakeClock::default()),
        Arc::new(MemoryStore::default()),
    ))
}

fn benches(c: &mut Criterion) {
    let bridge = Bridge::new(BridgeOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut s = session(&bridge);
    let now = Some(Timestamp::from_secs(NOW));

    for (name, size) in [("1 KiB", 1024), ("64 KiB", 64 * 1024)] {
        let (body, header) = webhook(size);
        let mut g = c.benchmark_group(format!("verify + parse {name} agent.message"));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("native", |b| {
            b.iter(|| {
                glbridge_guest::webhook::verify_and_parse(
                    KEY,
                    black_box(&header),
                    None,
                    black_box(&body),
                    NOW,
                    300,
                )
                .unwrap_or_else(|e| panic!("{e}"))
            })
        });
        g.bench_function("component", |b| {
            b.iter(|| {
                s.webhook_receive(KEY, black_box(&header), None, black_box(&body), now, None)
                    .unwrap_or_else(|e| panic!("{e}"))
            })
        });
        g.finish();
    }

    c.bench_function("component: trivial export call (protocol.version)", |b| {
        b.iter(|| s.version().unwrap_or_else(|e| panic!("{e}")))
    });

    // A new instance plus one small call, per allocator.
    let mut g = c.benchmark_group("component: new instance");
    for (name, allocator) in [
        ("on-demand", InstanceAllocator::OnDemand),
        ("pooling", InstanceAllocator::Pooling { instances: 64 }),
    ] {
        let bridge = Bridge::new(BridgeOptions {
            allocator,
            ..BridgeOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let mut probe = session(&bridge);
        probe.version().unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "memory per instance ({name}): {} KiB of linear memory",
            probe.memory_bytes() / 1024
        );
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| session(&bridge).version().unwrap_or_else(|e| panic!("{e}")))
        });
    }
    g.finish();

    // A whole Gleap turn: start, resource, message, then a queued reply taken
    // at once — scripted HTTP, memory store, fake clock.
    c.bench_function("component: gleap turn (scripted HTTP)", |b| {
        let mut n = 0u64;
        let mut client = glbridge_guest::Config::new("https://api.example.test", "sk");
        client.retry.max_attempts = 1;
        let mut config = BridgeConfig::new(client, KEY);
        config.gleap_mut().reply_wait_ms = 0;
        b.iter(|| {
            n += 1;
            let http = Arc::new(ScriptedTransport::new([
                Ok(HttpResponse::json(200, r#"{"id":"x","customer_id":"u","channel":"web","status":"active"}"#)),
                Ok(HttpResponse::json(200, "{}")),
                Ok(HttpResponse::json(200, r#"{"id":"m","body":"b","participant_id":"u","participant_type":"Customer"}"#)),
            ]));
            let mut s = bridge.session(Env::new(http, Arc::new(FakeClock::default()), Arc::new(MemoryStore::default())));
            s.open_bridge(&config).unwrap_or_else(|e| panic!("{e}"));
            let call = format!(r#"{{"conversation":{{"id":"{n}"}},"session":{{"userId":"u"}},"comments":[{{"id":"c{n}","comment":"Where is my order?"}}]}}"#);
            s.gleap_action(None, call.as_bytes())
        })
    });
}

criterion_group!(component, benches);
criterion_main!(component);
