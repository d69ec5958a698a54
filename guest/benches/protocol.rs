//! The guest library natively: what one webhook and one request cost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glbridge_guest::testing::MemoryStore;
use glbridge_guest::webhook::sequencer::Sequencer;
use glbridge_guest::webhook::{parse, sign, verify};
use glbridge_guest::{Config, Timestamp};
use std::hint::black_box;

fn webhook_body() -> Vec<u8> {
    let text = "Sure — you can return any item within 30 days for a full refund. ".repeat(12);
    serde_json::json!({"id": "webhook_01", "type": "agent.message", "sequence_number": 5, "timestamp": "2024-01-01T00:00:00Z",
                       "data": {"conversation": {"id": "c-1", "customer_id": "u-1", "metadata": {"plan": "pro"}}, "body": text}})
    .to_string()
    .into_bytes()
}

fn benches(c: &mut Criterion) {
    let body = webhook_body();
    let header = sign("whsec_key", 1_700_000_000, &body);
    let mut g = c.benchmark_group("webhook");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("verify (1 KB body)", |b| {
        b.iter(|| {
            verify(
                "whsec_key",
                black_box(&header),
                black_box(&body),
                1_700_000_000,
                300,
            )
        })
    });
    g.bench_function("parse (1 KB body)", |b| {
        b.iter(|| parse(black_box(&body), None))
    });
    g.finish();

    let config = Config::new("https://api.gradient-labs.ai", "sk_test");
    let params = r#"{"conversation_id":"c-1","id":"m-1","body":"Where is my order?","participant_id":"u-1","participant_type":"Customer"}"#;
    c.bench_function("build add-message request", |b| {
        b.iter(|| {
            glbridge_guest::protocol::operation("conversations.add-message", black_box(params))
                .and_then(|op| op.build(&config))
        })
    });

    let event = parse(&body, None).unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("sequencer offer, in order (memory store)", |b| {
        let store = MemoryStore::default();
        let seq = Sequencer::new("bench", 10_000_000_000, 1);
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let mut e = event.clone();
            e.sequence_number = n;
            e.id = n.to_string();
            seq.offer(&store, e, Timestamp(0))
        })
    });
}

criterion_group!(protocol, benches);
criterion_main!(protocol);
