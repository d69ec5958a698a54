//! The real component in the real host: its imports, the same scenario on
//! the plain library and in wasmtime, typed exports, webhooks, the
//! sequencer over SQLite, and recovery from traps and runaway calls.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use glbridge_guest::http::{HttpRequest, HttpResponse, TransportError};
use glbridge_guest::testing::{FakeClock, MemoryStore, ScriptedTransport};
use glbridge_guest::webhook::WebhookError;
use glbridge_guest::{Client, Config, RetryPolicy, Timestamp};
use glbridge_host::bindings::{conversations, ordering, types, webhooks};
use glbridge_host::{
    Bridge, BridgeOptions, ComponentSource, Env, HostError, SequencerConfig, SqliteStore,
};
use serde_json::{json, Value};

fn bridge() -> &'static Bridge {
    static BRIDGE: OnceLock<Bridge> = OnceLock::new();
    BRIDGE.get_or_init(|| Bridge::new(BridgeOptions::default()).unwrap())
}

fn env(
    http: &Arc<ScriptedTransport>,
    clock: &Arc<FakeClock>,
    store: Arc<dyn glbridge_host::Backend>,
) -> Env {
    Env::new(http.clone(), clock.clone(), store)
}

fn config() -> Config {
    let mut c = Config::new("http://127.0.0.1:1/api", "sk_test");
    c.retry = RetryPolicy {
        max_attempts: 3,
        jitter_seed: 9,
        ..RetryPolicy::default()
    };
    c
}

const CONVERSATION: &str = r#"{"id":"c-1","customer_id":"u-1","channel":"web","created":"2024-05-01T10:00:00Z","updated":"2024-05-01T10:00:01Z","status":"active","agent_is_active":true}"#;

fn script() -> Vec<Result<HttpResponse, TransportError>> {
    vec![
        Ok(HttpResponse::json(200, CONVERSATION)),
        Err(TransportError::Timeout),
        Ok(HttpResponse::json(
            503,
            r#"{"code":"unavailable","message":"busy"}"#,
        )),
        Ok(HttpResponse::json(
            200,
            r#"{"id":"m-1","body":"Where is my order?","participant_id":"u-1","participant_type":"Customer"}"#,
        )),
        Ok(HttpResponse::json(
            404,
            r#"{"code":"not_found","message":"no such conversation","details":{"trace_id":"tr-1"}}"#,
        )),
    ]
}

fn steps() -> Vec<(&'static str, Value)> {
    vec![
        (
            "conversations.start",
            json!({"id": "c-1", "customer_id": "u-1", "channel": "web", "assignee_type": "AI Agent"}),
        ),
        (
            "conversations.add-message",
            json!({"conversation_id": "c-1", "id": "m-1", "body": "Where is my order?", "participant_id": "u-1", "participant_type": "Customer"}),
        ),
        ("conversations.read", json!({"conversation_id": "missing"})),
    ]
}

/// What a run leaves behind: results, requests, sleeps.
type Trace = (Vec<Result<Value, String>>, Vec<HttpRequest>, Vec<u64>);

fn run_on_library() -> Trace {
    let http = ScriptedTransport::new(script());
    let clock = FakeClock::new(Timestamp::from_secs(1_714_557_600));
    let mut client = Client::open(config()).unwrap();
    let results = steps()
        .into_iter()
        .map(|(op, p)| {
            client
                .call(&http, &clock, op, &p.to_string())
                .map(|s| serde_json::from_str(&s).unwrap())
                .map_err(|e| serde_json::to_string(&e).unwrap())
        })
        .collect();
    (results, http.sent(), clock.sleeps())
}

fn run_on_component() -> Trace {
    let http = Arc::new(ScriptedTransport::new(script()));
    let clock = Arc::new(FakeClock::new(Timestamp::from_secs(1_714_557_600)));
    let mut session = bridge().session(env(&http, &clock, Arc::new(MemoryStore::default())));
    session.open_client(&config()).unwrap();
    let results = steps()
        .into_iter()
        .map(|(op, p)| {
            session.call(op, &p.to_string()).map_err(|e| match e {
                HostError::Api(e) => serde_json::to_string(&e).unwrap(),
                other => panic!("{other}"),
            })
        })
        .collect();
    (results, http.sent(), clock.sleeps())
}

#[test]
fn the_same_scenario_gives_the_same_trace_on_the_library_and_the_component() {
    let library = run_on_library();
    let component = run_on_component();
    assert_eq!(library, component);
    let (results, sent, sleeps) = component;
    assert_eq!(results[0].as_ref().unwrap()["status"], "active");
    assert_eq!(results[1].as_ref().unwrap()["id"], "m-1");
    let err: Value = serde_json::from_str(results[2].as_ref().unwrap_err()).unwrap();
    assert_eq!(
        err,
        json!({"kind": "api", "status": 404, "code": "not_found", "message": "no such conversation", "trace_id": "tr-1"})
    );
    assert_eq!(sent.len(), 5, "start, add-message x3 (two retries), read");
    assert_eq!(
        sent[3].url,
        "http://127.0.0.1:1/api/conversations/c-1/messages"
    );
    assert_eq!(sleeps.len(), 2);
}

#[test]
fn typed_exports_map_every_field() {
    let http = Arc::new(ScriptedTransport::new([
        Ok(HttpResponse::json(200, CONVERSATION)),
        Ok(HttpResponse::json(
            200,
            r#"{"targets":[{"id":"billing","name":"Billing"}]}"#,
        )),
        Ok(HttpResponse::json(
            400,
            r#"{"code":"failed_precondition","message":"finished"}"#,
        )),
    ]));
    let clock = Arc::new(FakeClock::default());
    let mut session = bridge().session(env(&http, &clock, Arc::new(MemoryStore::default())));
    session.open_client(&config()).unwrap();
    let params = conversations::StartParams {
        id: "c-1".into(),
        customer_id: "u-1".into(),
        channel: types::Channel::Email,
        assignee_id: None,
        assignee_type: Some(types::ParticipantType::AiAgent),
        created: Some(Timestamp::from_secs(1_714_557_600).0),
        metadata: Some(r#"{"plan":"pro"}"#.into()),
        resources: None,
        conversation_token: None,
        traffic_group_id: None,
        customer_support_platform_identifiers: None,
    };
    let conv = session
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_conversations()
                .call_start(s, c, &params)
        })
        .unwrap();
    assert_eq!(conv.status, conversations::Status::Active);
    assert_eq!(conv.agent_is_active, Some(true));
    assert_eq!(
        conv.created,
        Some(Timestamp::parse_rfc3339("2024-05-01T10:00:00Z").unwrap().0)
    );
    let body: Value = serde_json::from_slice(http.sent()[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"id": "c-1", "customer_id": "u-1", "channel": "email", "assignee_type": "AI Agent",
               "created": "2024-05-01T10:00:00Z", "metadata": {"plan": "pro"}})
    );
    let targets = session
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_management()
                .call_list_hand_off_targets(s, c)
        })
        .unwrap();
    assert_eq!(targets[0].name, "Billing");
    let err = session
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_conversations().call_finish(
                s,
                c,
                "c-1",
                &conversations::FinishParams {
                    timestamp: None,
                    reason: None,
                    reason_code: Some(conversations::FinishReason::CustomerUnresponsive),
                },
            )
        })
        .unwrap_err();
    assert!(
        matches!(err, HostError::Api(glbridge_guest::Error::Api(ref a)) if a.code == "failed_precondition"),
        "{err}"
    );
    let bad = session.with_client(|b, s, c| {
        b.gradient_labs_bridge_conversations().call_push_resource(
            s,
            c,
            "c-1",
            "orders",
            &"{not json".to_owned(),
        )
    });
    assert!(
        matches!(bad, Err(HostError::Api(glbridge_guest::Error::InvalidArgument { ref field, .. })) if field == "document")
    );
}

const KEY: &str = "FNHtU3KZpxF3GfKSZXCNkUkPnVSPQygbdNMLHuibkPY=";

#[test]
fn webhooks_verify_in_the_component() {
    let http = Arc::new(ScriptedTransport::default());
    let clock = Arc::new(FakeClock::new(Timestamp::from_secs(1_699_291_314)));
    let mut s = bridge().session(env(&http, &clock, Arc::new(MemoryStore::default())));
    let v1 = "05b3faa3377aea763b67a528813bcd7357581fa3f75dd7bf870a83986c6a425f";
    let body = br#"{"type":"foo.bar"}"#;
    assert_eq!(
        s.webhook_sign(KEY, 1_699_291_314, body).unwrap(),
        format!("t=1699291314,v1={v1}")
    );
    // `now` from the imported (fake) clock.
    s.webhook_verify(KEY, &format!("t=1699291314,v1={v1}"), body, None, None)
        .unwrap();
    clock.advance(301 * 1_000_000_000);
    assert!(matches!(
        s.webhook_verify(KEY, &format!("t=1699291314,v1={v1}"), body, None, None),
        Err(HostError::Webhook(WebhookError::TimestampOutOfRange(301)))
    ));
    // Authentic but not an envelope: a different error.
    assert!(matches!(
        s.webhook_receive(
            KEY,
            &format!("t=1699291314,v1={v1}"),
            None,
            body,
            Some(Timestamp::from_secs(1_699_291_314)),
            None
        ),
        Err(HostError::Webhook(WebhookError::InvalidEnvelope(_)))
    ));
    let event = br#"{"id":"wh_1","type":"conversation.hand_off","sequence_number":3,"timestamp":"2024-01-01T00:00:00Z","data":{"conversation":{"id":"c-9","customer_id":"u"},"target":"billing","reason_code":"customer-request","reason":"asked for a human"}}"#;
    let header = s.webhook_sign("k2", 1_700_000_000, event).unwrap();
    let rotated = format!("{header},v1={}", "ab".repeat(32));
    let e = s
        .webhook_receive(
            "k2",
            &rotated,
            Some("tok-1"),
            event,
            Some(Timestamp::from_secs(1_700_000_010)),
            None,
        )
        .unwrap();
    assert_eq!(e.token.as_deref(), Some("tok-1"));
    match &e.data {
        webhooks::EventData::HandOff(h) => assert_eq!(
            (h.target.as_deref(), h.reason_code.as_str()),
            (Some("billing"), "customer-request")
        ),
        other => panic!("{other:?}"),
    }
    let json = s.event_json(&e).unwrap();
    assert_eq!(json["type"], "conversation.hand_off");
    assert_eq!(json["sequence_number"], 3);
    assert_eq!(json["data"]["target"], "billing");
    assert!(matches!(
        s.webhook_receive(
            "wrong",
            &header,
            None,
            event,
            Some(Timestamp::from_secs(1_700_000_000)),
            None
        ),
        Err(HostError::Webhook(WebhookError::SignatureMismatch))
    ));
}

fn signed_event(s: &mut glbridge_host::Session, conv: &str, n: u64) -> webhooks::Event {
    let body = json!({"id": format!("wh-{conv}-{n}"), "type": "agent.message", "sequence_number": n,
                      "timestamp": "2024-01-01T00:00:00Z",
                      "data": {"conversation": {"id": conv, "customer_id": "u"}, "body": format!("part {n}")}})
    .to_string();
    let header = s.webhook_sign("k", 1_700_000_000, body.as_bytes()).unwrap();
    s.webhook_receive(
        "k",
        &header,
        None,
        body.as_bytes(),
        Some(Timestamp::from_secs(1_700_000_000)),
        None,
    )
    .unwrap()
}

#[test]
fn the_sequencer_orders_and_dedupes_through_sqlite_across_sessions() {
    let dir = tempdir("seq");
    let db = dir.join("state.db");
    let http = Arc::new(ScriptedTransport::default());
    let clock = Arc::new(FakeClock::new(Timestamp::from_secs(1_700_000_000)));
    let cfg = SequencerConfig {
        namespace: "wh".into(),
        max_hold_ns: 5_000_000_000,
        first_sequence_number: 1,
    };
    let numbers = |r: &[ordering::Released]| {
        r.iter()
            .map(|r| r.event.sequence_number)
            .collect::<Vec<_>>()
    };
    {
        let mut s = bridge().session(env(
            &http,
            &clock,
            Arc::new(SqliteStore::open(&db).unwrap()),
        ));
        let e3 = signed_event(&mut s, "c", 3);
        let e2 = signed_event(&mut s, "c", 2);
        assert!(s.sequencer_offer(&cfg, &e3).unwrap().released.is_empty());
        assert!(s.sequencer_offer(&cfg, &e2).unwrap().released.is_empty());
    }
    // A new session over the same file (a restart) still holds 2 and 3.
    let mut s = bridge().session(env(
        &http,
        &clock,
        Arc::new(SqliteStore::open(&db).unwrap()),
    ));
    let e1 = signed_event(&mut s, "c", 1);
    let out = s.sequencer_offer(&cfg, &e1).unwrap();
    assert_eq!(numbers(&out.released), vec![1, 2, 3]);
    assert!(s.sequencer_offer(&cfg, &e1).unwrap().duplicate);
    // A gap: 5 waits for 4, then goes anyway once the hold has passed.
    let e5 = signed_event(&mut s, "c", 5);
    assert!(s.sequencer_offer(&cfg, &e5).unwrap().released.is_empty());
    clock.advance(4_000_000_000);
    assert!(s.sequencer_poll(&cfg).unwrap().is_empty());
    clock.advance(1_000_000_000);
    let out = s.sequencer_poll(&cfg).unwrap();
    assert_eq!(numbers(&out), vec![5]);
    let gap = out[0].gap.unwrap();
    assert_eq!((gap.first_missing, gap.last_missing), (4, 4));
    let e4 = signed_event(&mut s, "c", 4);
    let late = s.sequencer_offer(&cfg, &e4).unwrap();
    assert!(late.released[0].late);
    assert!(s.sequencer_offer(&cfg, &e4).unwrap().duplicate);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_trap_leaves_the_host_usable() {
    let tight = Bridge::new(BridgeOptions {
        memory_limit_bytes: 8 * 1024 * 1024,
        ..Default::default()
    })
    .unwrap();
    let huge = HttpResponse {
        status: 200,
        headers: vec![],
        body: vec![b' '; 16 * 1024 * 1024],
    };
    let http = Arc::new(ScriptedTransport::new([
        Ok(huge),
        Ok(HttpResponse::json(200, CONVERSATION)),
    ]));
    let clock = Arc::new(FakeClock::default());
    let mut s = tight.session(env(&http, &clock, Arc::new(MemoryStore::default())));
    s.open_client(&config()).unwrap();
    let err = s
        .call("conversations.read", r#"{"conversation_id":"c-1"}"#)
        .unwrap_err();
    assert!(matches!(err, HostError::Trap(_)), "{err}");
    // The next call gets a fresh instance, with the client re-opened.
    let ok = s
        .call("conversations.read", r#"{"conversation_id":"c-1"}"#)
        .unwrap();
    assert_eq!(ok["id"], "c-1");
}

#[test]
fn a_runaway_call_is_interrupted_and_the_host_stays_usable() {
    let bounded = Bridge::new(BridgeOptions {
        guest_time_limit: Duration::from_millis(50),
        memory_limit_bytes: 512 * 1024 * 1024,
        ..Default::default()
    })
    .unwrap();
    let http = Arc::new(ScriptedTransport::default());
    let clock = Arc::new(FakeClock::default());
    let mut s = bounded.session(env(&http, &clock, Arc::new(MemoryStore::default())));
    // Hashing 128 MiB takes far longer than the 50 ms budget; a small call
    // takes far less, even on a loaded machine.
    let big = vec![7u8; 128 * 1024 * 1024];
    let err = s.webhook_sign("k", 1, &big).unwrap_err();
    assert!(
        matches!(err, HostError::Trap(ref m) if m.contains("interrupt")),
        "{err}"
    );
    assert!(s
        .webhook_sign("k", 1, b"{}")
        .unwrap()
        .starts_with("t=1,v1="));
}

#[test]
fn time_spent_in_imports_does_not_count_against_the_guest() {
    let bounded = Bridge::new(BridgeOptions {
        guest_time_limit: Duration::from_millis(200),
        ..Default::default()
    })
    .unwrap();
    struct Slow;
    impl glbridge_guest::env::Transport for Slow {
        fn send(&self, _: &HttpRequest) -> Result<HttpResponse, TransportError> {
            std::thread::sleep(Duration::from_millis(400));
            Ok(HttpResponse::json(200, CONVERSATION))
        }
    }
    let clock = Arc::new(FakeClock::default());
    let mut s = bounded.session(Env::new(
        Arc::new(Slow),
        clock,
        Arc::new(MemoryStore::default()),
    ));
    s.open_client(&config()).unwrap();
    assert_eq!(
        s.call("conversations.read", r#"{"conversation_id":"c-1"}"#)
            .unwrap()["id"],
        "c-1"
    );
}

#[test]
fn the_component_imports_only_our_interfaces() {
    use wasmparser::{Parser, Payload};
    let mut component_imports = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(glbridge_host::EMBEDDED_COMPONENT) {
        match payload.unwrap() {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    component_imports.push(import.unwrap().name.name.to_owned());
                }
            }
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import.unwrap();
                    assert!(
                        !import.module.contains("wasi"),
                        "core import {}::{}",
                        import.module,
                        import.name
                    );
                }
            }
            _ => {}
        }
    }
    component_imports.sort();
    assert_eq!(
        component_imports,
        vec![
            "gradient-labs:bridge/clock@0.1.0",
            "gradient-labs:bridge/http@0.1.0",
            "gradient-labs:bridge/store@0.1.0",
            "gradient-labs:bridge/types@0.1.0",
        ]
    );
    assert!(component_imports.iter().all(|i| !i.starts_with("wasi:")));
}

#[test]
fn a_component_from_a_file_loads_too() {
    let dir = tempdir("file");
    let path = dir.join("glbridge.wasm");
    std::fs::write(&path, glbridge_host::EMBEDDED_COMPONENT).unwrap();
    let from_file = Bridge::new(BridgeOptions {
        component: ComponentSource::File(path),
        ..Default::default()
    })
    .unwrap();
    let http = Arc::new(ScriptedTransport::default());
    let clock = Arc::new(FakeClock::default());
    let mut s = from_file.session(env(&http, &clock, Arc::new(MemoryStore::default())));
    assert_eq!(
        s.operations().unwrap().len(),
        glbridge_guest::operation::names().count()
    );
    let junk = Bridge::new(BridgeOptions {
        component: ComponentSource::Bytes(b"not wasm".to_vec()),
        ..Default::default()
    });
    assert!(matches!(junk, Err(HostError::Load(_))));
    std::fs::remove_dir_all(dir).ok();
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "glbridge-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn compiled_components_are_cached_and_a_corrupt_cache_is_ignored() {
    let dir = tempdir("cache");
    let options = BridgeOptions {
        cache_dir: Some(dir.clone()),
        ..Default::default()
    };
    Bridge::new(options.clone()).unwrap();
    let cached: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    std::fs::write(&cached[0], b"not a compiled component").unwrap();
    let bridge = Bridge::new(options).unwrap();
    let http = Arc::new(ScriptedTransport::default());
    let clock = Arc::new(FakeClock::default());
    let mut s = bridge.session(env(&http, &clock, Arc::new(MemoryStore::default())));
    assert!(s
        .webhook_sign("k", 1, b"{}")
        .unwrap()
        .starts_with("t=1,v1="));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_host_api_never_prints_a_secret_through_debug() {
    let http = Arc::new(ScriptedTransport::default());
    let clock = Arc::new(FakeClock::new(Timestamp::from_secs(1_750_000_000)));
    let env = env(&http, &clock, Arc::new(MemoryStore::default()));
    let mut config = Config::new("http://127.0.0.1:1/api", "sk_live_do_not_print");
    config.retry.max_attempts = 1;
    let mut gleap =
        glbridge_guest::helpdesk::BridgeConfig::new(config.clone(), "whsec_do_not_print");
    gleap.gleap_mut().gleap_secret = Some(glbridge_guest::client::Secret::new(
        "Bearer gleap_do_not_print",
    ));
    let mut s = bridge().session(env.clone());
    s.open_client(&config).unwrap();
    s.open_bridge(&gleap).unwrap();
    let request = s
        .build_request(
            &config,
            "conversations.read",
            r#"{"conversation_id": "c-1"}"#,
        )
        .unwrap();
    assert_eq!(
        request.header("authorization"),
        Some("Bearer sk_live_do_not_print"),
        "the request itself carries the key"
    );
    http.push(Err(TransportError::Connection("refused".into())));
    let failed = s
        .call("conversations.read", r#"{"conversation_id": "c-1"}"#)
        .unwrap_err();
    let text = format!(
        "{request:?} {s:?} {env:?} {:?} {config:?} {gleap:?} {failed:?} {failed}",
        bridge()
    );
    for secret in [
        "sk_live_do_not_print",
        "whsec_do_not_print",
        "gleap_do_not_print",
    ] {
        assert!(!text.contains(secret), "{secret} printed in: {text}");
    }
}

/// What the component may weigh, bytes: its size when last measured
/// (1,343,940 with the whole API typed: the operation table took it from
/// 969,795 to 1,054,184, and the typed interfaces of procedures, tools,
/// notes, resources, traffic groups, terminology, outbound and the newer
/// conversation and topic calls added 289,756 — about 211 KB of it their
/// exports' lifting and lowering; BENCHMARKS.md. Then 1,440,323 with a
/// third helpdesk: of the guest's wasm before encoding, the helpdesk-neutral
/// core and its WIT interface added 16,626 bytes and the Zendesk adapter
/// with its interface 67,523) and about 3 % of room. The goal is 400 KB
/// (issue 24's worlds); until then this keeps it from growing unnoticed.
const SIZE_BUDGET: usize = 1_485_000;

#[test]
fn the_component_stays_within_its_size_budget() {
    let size = glbridge_host::EMBEDDED_COMPONENT.len();
    assert!(
        size <= SIZE_BUDGET,
        "the component is {size} bytes, over its budget of {SIZE_BUDGET}: \
         find what grew (twiggy top) before raising the budget"
    );
}

/// The smaller worlds' budgets, bytes (`glbridge component --world`): the
/// verifier is held to issue 24's 250 KB; the client to its size when
/// measured with about 3 % of room.
const VERIFIER_BUDGET: usize = 250_000;
const CLIENT_BUDGET: usize = 1_000_000;

#[test]
fn each_world_stays_within_its_size_budget() {
    use glbridge_host::World;
    for (world, budget) in [
        (World::Verifier, VERIFIER_BUDGET),
        (World::Client, CLIENT_BUDGET),
        (World::Bridge, SIZE_BUDGET),
    ] {
        let size = world.embedded().len();
        assert!(
            size <= budget,
            "the {world} component is {size} bytes, over its budget of {budget}: \
             find what grew (twiggy top) before raising the budget"
        );
    }
}

/// Each world is a component of its own world and of no other: it imports
/// only its interfaces (nothing from WASI) and exports all of its own.
#[test]
fn each_world_imports_and_exports_what_its_wit_world_says() {
    use glbridge_host::World;
    for world in World::ALL {
        world.check(world.embedded()).unwrap();
        for other in World::ALL.into_iter().filter(|o| *o != world) {
            let refused = other.check(world.embedded());
            assert!(refused.is_err(), "{world} passed as {other}");
        }
    }
    let imports = |w: World| {
        let engine = wasmtime::Engine::default();
        let c = wasmtime::component::Component::new(&engine, w.embedded()).unwrap();
        let ty = c.component_type();
        let names: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_owned()).collect();
        names
    };
    assert_eq!(
        imports(World::Verifier),
        [
            "gradient-labs:bridge/types@0.1.0",
            "gradient-labs:bridge/clock@0.1.0"
        ]
    );
    for w in World::ALL {
        assert!(
            imports(w)
                .iter()
                .all(|n| n.starts_with("gradient-labs:bridge/")),
            "{w}: {:?}",
            imports(w)
        );
    }
    let garbage = World::Verifier.check(b"not a component");
    assert!(matches!(garbage, Err(HostError::Load(_))), "{garbage:?}");
}
