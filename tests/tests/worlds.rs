//! The smaller worlds run in wasmtime as any other embedding would run them:
//! bindings generated from their own WIT world, only their own imports
//! linked (the verifier: `clock`; the client: `http` and `clock`), and the
//! answers equal to the `bridge` component's in the host crate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use glbridge_host::World;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

mod verifier {
    wasmtime::component::bindgen!({ path: "../wit", world: "verifier" });
}

mod client {
    wasmtime::component::bindgen!({ path: "../wit", world: "api-client" });
}

/// A fixed clock, and a record of the requests the client sent.
#[derive(Default)]
struct State {
    now_ns: i64,
    sent: Vec<String>,
}

impl verifier::gradient_labs::bridge::clock::Host for State {
    fn now(&mut self) -> i64 {
        self.now_ns
    }
    fn sleep(&mut self, ns: u64) {
        self.now_ns += ns as i64;
    }
}
impl verifier::gradient_labs::bridge::types::Host for State {}

impl client::gradient_labs::bridge::clock::Host for State {
    fn now(&mut self) -> i64 {
        self.now_ns
    }
    fn sleep(&mut self, ns: u64) {
        self.now_ns += ns as i64;
    }
}
impl client::gradient_labs::bridge::types::Host for State {}

impl client::gradient_labs::bridge::http::Host for State {
    fn send(
        &mut self,
        req: client::gradient_labs::bridge::http::Request,
    ) -> Result<
        client::gradient_labs::bridge::http::Response,
        client::gradient_labs::bridge::http::Error,
    > {
        self.sent.push(req.url.clone());
        let body = br#"{"id":"c-1","customer_id":"u-1","channel":"web","status":"active","created":"2026-12-01T10:00:00Z","updated":"2026-12-01T10:05:00Z"}"#;
        Ok(client::gradient_labs::bridge::http::Response {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_vec(),
        })
    }
}

const NOW_SECS: i64 = 1_750_000_000;

fn webhook() -> Vec<u8> {
    br#"{"id":"webhook_01","type":"agent.message","sequence_number":1,"timestamp":"2025-06-15T15:06:40Z","data":{"conversation":{"id":"c-1","customer_id":"u-1"},"body":"Your order ships today."}}"#.to_vec()
}

#[test]
fn the_verifier_world_verifies_and_refuses_with_only_a_clock() {
    let engine = Engine::default();
    let component = Component::new(&engine, World::Verifier.embedded()).unwrap();
    let mut linker = Linker::<State>::new(&engine);
    verifier::Verifier::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).unwrap();
    let mut store = Store::new(
        &engine,
        State {
            now_ns: NOW_SECS * 1_000_000_000,
            ..State::default()
        },
    );
    let v = verifier::Verifier::instantiate(&mut store, &component, &linker).unwrap();
    let hooks = v.gradient_labs_bridge_webhooks();
    let body = webhook();
    let header = hooks
        .call_sign(&mut store, "whsec_k", NOW_SECS, &body)
        .unwrap();
    // The same signature as the bridge component in the host crate gives.
    assert_eq!(
        header,
        glbridge_guest::webhook::sign("whsec_k", NOW_SECS, &body)
    );
    // The time comes from the clock import when not given.
    let event = hooks
        .call_verify_and_parse(&mut store, "whsec_k", &header, None, &body, None, None)
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.id.as_str(), event.conversation_id.as_deref()),
        ("webhook_01", Some("c-1"))
    );
    let mut tampered = body.clone();
    tampered[40] ^= 1;
    let refused = hooks
        .call_verify_and_parse(&mut store, "whsec_k", &header, None, &tampered, None, None)
        .unwrap();
    assert!(matches!(
        refused,
        Err(verifier::exports::gradient_labs::bridge::webhooks::WebhookError::SignatureMismatch)
    ));
    // An hour later by the clock, the same delivery is stale.
    store.data_mut().now_ns += 3_600 * 1_000_000_000;
    let stale = hooks
        .call_verify(&mut store, "whsec_k", &header, &body, None, None)
        .unwrap();
    assert!(matches!(
        stale,
        Err(
            verifier::exports::gradient_labs::bridge::webhooks::WebhookError::TimestampOutOfRange(
                _
            )
        )
    ));
}

#[test]
fn the_client_world_calls_typed_operations_over_http_without_a_store() {
    let engine = Engine::default();
    let component = Component::new(&engine, World::Client.embedded()).unwrap();
    let mut linker = Linker::<State>::new(&engine);
    client::ApiClient::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).unwrap();
    let mut store = Store::new(&engine, State::default());
    let c = client::ApiClient::instantiate(&mut store, &component, &linker).unwrap();
    let config = c
        .gradient_labs_bridge_protocol()
        .call_default_config(&mut store, "https://api.gradient-labs.ai", "sk_test")
        .unwrap();
    assert_eq!((config.timeout_ms, config.retry.max_attempts), (10_000, 4));
    let handle = c
        .gradient_labs_bridge_client()
        .client()
        .call_open(&mut store, &config)
        .unwrap()
        .unwrap();
    let conversation = c
        .gradient_labs_bridge_conversations()
        .call_read(&mut store, handle, "c-1")
        .unwrap()
        .unwrap();
    assert_eq!(conversation.id, "c-1");
    assert_eq!(
        store.data().sent,
        ["https://api.gradient-labs.ai/conversations/c-1/read"]
    );
    // Bad input keeps its typed error, and nothing is sent.
    let refused = c
        .gradient_labs_bridge_conversations()
        .call_read(&mut store, handle, "")
        .unwrap();
    assert!(
        matches!(
            refused,
            Err(client::gradient_labs::bridge::types::Error::InvalidArgument(ref a)) if a.field == "conversation_id"
        ),
        "{refused:?}"
    );
    assert_eq!(store.data().sent.len(), 1);
}
