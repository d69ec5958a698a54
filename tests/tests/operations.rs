//! The operations beyond the seed documents — procedures, tools, notes,
//! resource types and sources, traffic groups, terminology, outbound
//! conversations, back-office tasks, memories, voice — end to end: through
//! the component (`client.call`) against the sandbox, with the roles and
//! validation the operation table declares, and state that behaves.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use glbridge_guest::http::Method;
use glbridge_guest::operation::spec::Place;
use glbridge_guest::operation::{Role, SPECS};
use glbridge_guest::{Config, RetryPolicy};
use glbridge_host::{
    Bridge, BridgeOptions, Env, HostError, MemoryStore, Session, SystemClock, UreqTransport,
};
use glbridge_sandbox::seed::{Seed, SeedArticle, SeedTarget};
use glbridge_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use support::{eventually, Receiver};

fn bridge() -> &'static Bridge {
    static B: OnceLock<Bridge> = OnceLock::new();
    B.get_or_init(|| Bridge::new(BridgeOptions::default()).unwrap())
}

fn sandbox(webhook_url: Option<String>) -> Sandbox {
    Sandbox::start(SandboxConfig {
        webhook_url,
        seed: Some(Seed {
            articles: vec![SeedArticle {
                id: "returns".into(),
                title: "Returns and refunds".into(),
                body: "You can return any item within 30 days for a full refund.".into(),
                topic_id: None,
                visibility: glbridge_guest::model::knowledge::Visibility::Public,
                status: glbridge_guest::model::knowledge::PublicationStatus::Published,
            }],
            topics: vec![],
            hand_off_targets: vec![SeedTarget {
                id: "support".into(),
                name: "Support team".into(),
                default: true,
            }],
            actions: vec![],
        }),
        signing_key: "whsec_test".into(),
        ..SandboxConfig::default()
    })
    .unwrap()
}

fn session(sb: &Sandbox, key: &str) -> Session {
    let mut s = bridge().session(Env::new(
        Arc::new(UreqTransport::new()),
        Arc::new(SystemClock),
        Arc::new(MemoryStore::default()),
    ));
    let mut config = Config::new(sb.url(), key);
    config.retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    config.timeout_ms = 5_000;
    s.open_client(&config).unwrap();
    s
}

/// Calls through the component; panics on an error.
fn call(s: &mut Session, op: &str, params: Value) -> Value {
    s.call(op, &params.to_string())
        .unwrap_or_else(|e| panic!("{op} {params}: {e}"))
}

/// Calls through the component; the API error's status and code.
fn refused(s: &mut Session, op: &str, params: Value) -> (u16, String) {
    match s.call(op, &params.to_string()) {
        Err(HostError::Api(glbridge_guest::Error::Api(a))) => (a.status, a.code),
        other => panic!("{op} {params}: expected an API error, got {other:?}"),
    }
}

/// A raw request outside the component.
fn send(sb: &Sandbox, method: Method, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
    support::raw_request(&sb.url(), method, path, key, body)
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn procedures_page_go_live_and_gate_and_start_outbound_work() {
    let sb = sandbox(None);
    let mut m = session(&sb, &sb.config().management_key.clone());
    let mut i = session(&sb, &sb.config().integration_key.clone());
    // Pages of two, walked by cursor or all at once.
    let first = call(&mut m, "procedures.list", json!({}));
    assert_eq!(ids(&first["procedures"]).len(), 2);
    let next = first["next"].as_str().unwrap().to_owned();
    let second = call(&mut m, "procedures.list", json!({ "cursor": next }));
    assert_eq!(second["next"], Value::Null);
    let all = call(&mut m, "procedures.list", json!({"all_pages": true}));
    assert_eq!(
        ids(&all["procedures"]),
        ["address-change", "lost-card", "refunds"]
    );
    let live = call(
        &mut m,
        "procedures.list",
        json!({"status": "live", "all_pages": true}),
    );
    assert_eq!(ids(&live["procedures"]), ["lost-card", "refunds"]);
    assert_eq!(
        call(&mut m, "procedures.read", json!({"id": "refunds"}))["status"],
        "live"
    );
    assert_eq!(
        refused(&mut m, "procedures.read", json!({"id": "nope"})),
        (404, "not_found".into())
    );

    // The live version is the one outbound conversations run.
    let start = |i: &mut Session| {
        let c = call(
            i,
            "outbound.start-chat",
            json!({"customer_id": "cu-1", "procedure_id": "refunds", "support_platform": "intercom"}),
        );
        let id = c["conversation_id"].as_str().unwrap().to_owned();
        call(i, "conversations.read", json!({ "conversation_id": id }))["metadata"]
            ["procedure_version"]
            .clone()
    };
    assert_eq!(start(&mut i), 1);
    call(
        &mut m,
        "procedures.set-live",
        json!({"id": "refunds", "version": 2}),
    );
    let versions = call(&mut m, "procedures.list-versions", json!({"id": "refunds"}));
    let live: Vec<&Value> = versions
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["live"] == true)
        .collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["version"], 2);
    assert_eq!(start(&mut i), 2);
    call(
        &mut m,
        "procedures.unset-live",
        json!({"id": "refunds", "version": 2}),
    );
    assert_eq!(
        call(&mut m, "procedures.read", json!({"id": "refunds"}))["status"],
        "draft"
    );
    assert_eq!(
        refused(
            &mut i,
            "outbound.start-chat",
            json!({"customer_id": "cu-1", "procedure_id": "refunds", "support_platform": "intercom"})
        ),
        (400, "failed_precondition".into())
    );
    assert_eq!(
        refused(
            &mut m,
            "procedures.unset-live",
            json!({"id": "refunds", "version": 2})
        ),
        (400, "failed_precondition".into())
    );
    assert_eq!(
        refused(
            &mut m,
            "procedures.set-live",
            json!({"id": "refunds", "version": 9})
        ),
        (404, "not_found".into())
    );
    // One gated version at a time, unless it is replaced.
    call(
        &mut m,
        "procedures.set-gated",
        json!({"id": "refunds", "version": 2, "max_daily_conversations": 5}),
    );
    assert_eq!(
        refused(
            &mut m,
            "procedures.set-gated",
            json!({"id": "refunds", "version": 1, "max_daily_conversations": 5})
        ),
        (400, "failed_precondition".into())
    );
    call(
        &mut m,
        "procedures.set-gated",
        json!({"id": "refunds", "version": 1, "max_daily_conversations": 7, "replace": true}),
    );
    let versions = call(&mut m, "procedures.list-versions", json!({"id": "refunds"}));
    assert_eq!(versions[0]["gated_config"]["max_daily_conversations"], 7);
    assert_eq!(versions[1]["gated"], false);
    call(
        &mut m,
        "procedures.unset-gated",
        json!({"id": "refunds", "version": 1}),
    );
    let limited = call(
        &mut m,
        "procedures.set-limit",
        json!({"id": "lost-card", "has_daily_limit": true, "max_daily_conversations": 40}),
    );
    assert_eq!(limited["max_daily_conversations"], 40);
    // The Go client leaves a false `has_daily_limit` out (omitempty).
    let unlimited = call(&mut m, "procedures.set-limit", json!({"id": "refunds"}));
    assert_eq!(unlimited["has_daily_limit"], false);

    // The generic outbound start and the e-mail one.
    let generic = call(
        &mut i,
        "outbound.start",
        json!({"customer_id": "cu-3", "customer_source": "zendesk",
        "procedure_id": "lost-card", "channel": "email", "subject": "Your card", "body": "Hello"}),
    );
    let read = call(
        &mut i,
        "conversations.read",
        json!({"conversation_id": generic["conversation_id"]}),
    );
    assert_eq!(
        (
            read["channel"].as_str(),
            read["metadata"]["subject"].as_str()
        ),
        (Some("email"), Some("Your card"))
    );
    let email = call(
        &mut i,
        "outbound.start-email",
        json!({"customer_id": "cu-3", "procedure_id": "lost-card",
        "support_platform": "zendesk", "subject": "Your card", "body": "Hello",
        "customer_support_platform_identifiers": [{"support_platform": "zendesk", "type": "zendesk_support_user", "value": "42"}]}),
    );
    let read = call(
        &mut i,
        "conversations.read",
        json!({"conversation_id": email["conversation_id"]}),
    );
    assert_eq!(read["metadata"]["procedure_id"], "lost-card");
    assert_eq!(
        refused(
            &mut i,
            "outbound.start-email",
            json!({"customer_id": "cu-3", "procedure_id": "nope", "support_platform": "zendesk"})
        ),
        (404, "not_found".into())
    );
    // A phone call's context; a task run by a live procedure.
    let call_id = call(
        &mut i,
        "outbound.start-phone",
        json!({"customer_id": "cu-2", "procedure_id": "lost-card",
        "to_phone_number": "+447700900123", "from_phone_number": "+442071838750"}),
    )["conversation_id"]
        .clone();
    let context = call(
        &mut i,
        "voice.latest-call-context",
        json!({"phone": "+447700900123", "lookback_seconds": 30}),
    );
    assert_eq!(context["last_executed_procedure"], "lost-card");
    assert!(context["summary"]
        .as_str()
        .unwrap()
        .contains(call_id.as_str().unwrap()));
    assert_eq!(
        refused(
            &mut i,
            "voice.latest-call-context",
            json!({"phone": "+447700900999"})
        ),
        (404, "not_found".into())
    );
    let task = call(
        &mut i,
        "back-office-tasks.create",
        json!({"id": "t-1", "procedure_id": "lost-card", "input": {"card": "1234"}}),
    );
    assert_eq!(task["status"], "completed");
    assert_eq!(task["result"]["custom"]["procedure_id"], "lost-card");
    assert_eq!(
        refused(
            &mut i,
            "back-office-tasks.create",
            json!({"id": "t-1", "procedure_id": "lost-card", "input": {}})
        ),
        (409, "already_exists".into())
    );
    assert_eq!(
        call(&mut i, "back-office-tasks.read", json!({"id": "t-1"}))["input"]["card"],
        "1234"
    );
    // Deleting needs the Management key.
    assert_eq!(
        refused(&mut i, "back-office-tasks.delete", json!({"id": "t-1"})),
        (403, "permission_denied".into())
    );
    call(&mut m, "back-office-tasks.delete", json!({"id": "t-1"}));
    assert_eq!(
        refused(&mut i, "back-office-tasks.read", json!({"id": "t-1"})),
        (404, "not_found".into())
    );
}

#[test]
fn conversations_memories_async_results_and_deletion() {
    let sb = sandbox(None);
    let mut m = session(&sb, &sb.config().management_key.clone());
    let mut i = session(&sb, &sb.config().integration_key.clone());
    call(
        &mut i,
        "conversations.start",
        json!({"id": "c-1", "customer_id": "u-1", "channel": "web", "assignee_type": "Agent"}),
    );
    call(
        &mut i,
        "conversations.return-async-tool-result",
        json!({"conversation_id": "c-1", "async_tool_execution_id": "x-1", "payload": {"ok": true}}),
    );
    assert_eq!(
        refused(
            &mut i,
            "conversations.return-async-tool-result",
            json!({"conversation_id": "c-9", "async_tool_execution_id": "x-1", "payload": {}})
        ),
        (404, "not_found".into())
    );
    let up = |i: &mut Session| {
        call(
            i,
            "conversations.upload-memories",
            json!({"conversation_id": "c-1", "idempotency_key": "k-1", "memories": [{"a": 1}, {"b": 2}]}),
        )
    };
    let first = up(&mut i);
    assert_eq!(first["memories_inserted"], 2);
    assert_eq!(
        up(&mut i),
        first,
        "the same idempotency key answers the same upload"
    );
    assert_eq!(
        call(
            &mut i,
            "customers.create-memories",
            json!({"customer_id": "u-1", "memories": [{"external_id": "m-1", "created_at": "2026-11-01T00:00:00Z", "data": {}}]})
        ),
        Value::Null
    );
    // An active conversation cannot be deleted; a finished one can.
    call(
        &mut i,
        "conversations.assign",
        json!({"conversation_id": "c-1", "assignee_type": "Agent"}),
    );
    let (status, code) = refused(
        &mut m,
        "conversations.delete",
        json!({"conversation_id": "c-1"}),
    );
    assert_eq!((status, code.as_str()), (400, "failed_precondition"));
    call(
        &mut i,
        "conversations.finish",
        json!({"conversation_id": "c-1"}),
    );
    call(
        &mut m,
        "conversations.delete",
        json!({"conversation_id": "c-1"}),
    );
    assert_eq!(
        refused(
            &mut i,
            "conversations.read",
            json!({"conversation_id": "c-1"})
        ),
        (404, "not_found".into())
    );
}

#[test]
fn tools_run_from_their_mock_or_their_http_definition() {
    let sb = sandbox(None);
    let mut m = session(&sb, &sb.config().management_key.clone());
    let shop = Receiver::start(|r| {
        let order = r.json()["order"].as_str().unwrap_or("?").to_owned();
        (
            200,
            json!({"order": order, "status": "shipped"}).to_string(),
        )
    });
    let tool = call(
        &mut m,
        "tools.create",
        json!({"name": "order-status", "description": "Looks up an order",
        "parameters": [{"name": "order", "description": "Order number", "type": "string", "required": true}],
        "mock": {"result": "order {{order}} is on its way"}}),
    );
    let id = tool["id"].as_str().unwrap().to_owned();
    let run = |m: &mut Session, args: Value| {
        call(m, "tools.execute", json!({"id": id, "arguments": args}))
    };
    assert_eq!(
        run(&mut m, json!([{"name": "order", "value": "77"}]))["result"],
        "order 77 is on its way"
    );
    assert!(run(&mut m, json!([]))["error"]
        .as_str()
        .unwrap()
        .contains("order"));
    // A mock becomes a real tool, not the other way round.
    call(
        &mut m,
        "tools.update",
        json!({"id": id, "http": {"method": "POST", "url_template": shop.url,
        "body": {"encoding": "application/json", "json_template": "{\"order\": \"{{order}}\"}"}}}),
    );
    let answer = run(&mut m, json!([{"name": "order", "value": "78"}]));
    let result: Value = serde_json::from_str(answer["result"].as_str().unwrap()).unwrap();
    assert_eq!(result, json!({"order": "78", "status": "shipped"}));
    assert_eq!(
        refused(
            &mut m,
            "tools.update",
            json!({"id": id, "mock": {"result": "x"}})
        ),
        (400, "failed_precondition".into())
    );
    let read = call(&mut m, "tools.read", json!({"id": id}));
    assert_eq!(read["version"], 2);
    assert!(read.get("mock").is_none(), "{read}");
    assert_eq!(
        refused(&mut m, "tools.read", json!({"id": id, "version": 1})),
        (404, "not_found".into())
    );
    assert_eq!(
        ids(&call(&mut m, "tools.list", json!({}))),
        vec![id.clone()]
    );
    call(&mut m, "tools.delete", json!({"id": id}));
    assert_eq!(call(&mut m, "tools.list", json!({})), json!([]));
    // A webhook tool is a signed `action.execute` to the webhook URL.
    let hook = Receiver::start(|r| {
        let e = r.json();
        assert_eq!(e["type"], "action.execute");
        (
            200,
            json!({"balance": 12, "asked": e["data"]["params"]["account"]}).to_string(),
        )
    });
    let hooked = sandbox(Some(hook.url.clone()));
    let mut hm = session(&hooked, &hooked.config().management_key.clone());
    let tool = call(
        &mut hm,
        "tools.create",
        json!({"name": "balance", "description": "Reads a balance",
        "webhook": {"name": "balance"}}),
    );
    let answer = call(
        &mut hm,
        "tools.execute",
        json!({"id": tool["id"], "arguments": [{"name": "account", "value": "A-1"}]}),
    );
    assert_eq!(answer["result"], json!({"balance": 12, "asked": "A-1"}));
    let got = hook.all();
    assert_eq!(got.len(), 1);
    let signature = got[0]
        .header("x-gradientlabs-signature")
        .unwrap()
        .to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    glbridge_guest::webhook::verify(
        &hooked.config().signing_key,
        &signature,
        &got[0].body,
        now,
        300,
    )
    .unwrap();
    // An HTTP tool reaches loopback only.
    let far = call(
        &mut m,
        "tools.create",
        json!({"name": "far", "description": "d",
        "http": {"method": "GET", "url_template": "https://example.com/x"}}),
    );
    let answer = call(
        &mut m,
        "tools.execute",
        json!({"id": far["id"], "arguments": []}),
    );
    assert!(
        answer["error"].as_str().unwrap().contains("loopback"),
        "{answer}"
    );
}

#[test]
fn a_live_note_and_the_terminology_shape_the_agents_answers() {
    let receiver = Receiver::start(|_| (200, "{}".into()));
    let sb = sandbox(Some(receiver.url.clone()));
    let mut m = session(&sb, &sb.config().management_key.clone());
    let mut i = session(&sb, &sb.config().integration_key.clone());
    let ask = |i: &mut Session, conversation: &str, text: &str| -> String {
        call(
            i,
            "conversations.start",
            json!({"id": conversation, "customer_id": "u-1", "channel": "web", "assignee_type": "AI Agent"}),
        );
        call(
            i,
            "conversations.add-message",
            json!({"conversation_id": conversation, "id": format!("{conversation}-m1"),
            "body": text, "participant_id": "u-1", "participant_type": "Customer"}),
        );
        eventually(conversation, Duration::from_secs(20), || {
            receiver
                .for_conversation(conversation)
                .into_iter()
                .find_map(|e| match e["type"].as_str() {
                    Some("agent.message") => e["data"]["body"].as_str().map(str::to_owned),
                    Some("conversation.hand_off") => Some("(handed off)".to_owned()),
                    _ => None,
                })
        })
    };
    let note = json!({"id": "outage", "title": "Card payment outage", "body": "Card payments are failing until 3pm; your card will not be charged twice."});
    let made = call(&mut m, "notes.create", note.clone());
    assert_eq!(made["status"], "draft");
    assert_eq!(
        refused(&mut m, "notes.create", note),
        (409, "already_exists".into())
    );
    // A draft note is not used.
    assert_eq!(
        ask(&mut i, "c-draft", "Why are card payments failing?"),
        "(handed off)"
    );
    call(
        &mut m,
        "notes.set-status",
        json!({"id": "outage", "status": "live"}),
    );
    assert!(ask(&mut i, "c-live", "Why are card payments failing?").contains("until 3pm"));
    let updated = call(
        &mut m,
        "notes.update",
        json!({"id": "outage", "title": "Outage", "webpage_url": "https://status.example/"}),
    );
    assert_eq!(updated["url"], "https://status.example/");
    assert!(
        updated.get("body").is_none(),
        "a note is text or a web page: {updated}"
    );
    call(&mut m, "notes.delete", json!({"id": "outage"}));
    assert_eq!(
        refused(&mut m, "notes.delete", json!({"id": "outage"})),
        (404, "not_found".into())
    );
    // Terminology substitutions apply to what the agent writes.
    let sub = call(
        &mut m,
        "terminology.create",
        json!({"blocked": "refund", "replacement": "reimbursement"}),
    );
    assert!(ask(&mut i, "c-terms", "How do I return an item?").contains("full reimbursement"));
    assert_eq!(
        ids(&call(&mut m, "terminology.list", json!({}))),
        [sub["id"].as_str().unwrap()]
    );
    call(
        &mut m,
        "terminology.update",
        json!({"id": sub["id"], "replacement": "repayment"}),
    );
    assert_eq!(
        call(&mut m, "terminology.read", json!({"id": sub["id"]}))["replacement"],
        "repayment"
    );
    call(&mut m, "terminology.delete", json!({"id": sub["id"]}));
    assert_eq!(
        refused(&mut m, "terminology.read", json!({"id": sub["id"]})),
        (404, "not_found".into())
    );
}

#[test]
fn resource_types_in_both_dialects_sources_and_traffic_groups() {
    let sb = sandbox(None);
    let mut m = session(&sb, &sb.config().management_key.clone());
    let mut i = session(&sb, &sb.config().integration_key.clone());
    // The seed documents' dialect and the official clients' side by side.
    call(
        &mut m,
        "management.put-resource-type",
        json!({"name": "Profile", "mode": "pull", "pull_config": {"url": "http://127.0.0.1:9"}}),
    );
    let source = call(
        &mut m,
        "resource-sources.create",
        json!({"display_name": "Shop", "source_type": "http",
        "http_config": {"method": "GET", "url_template": "http://127.0.0.1:9/{{id}}"}}),
    );
    let sid = source["id"].as_str().unwrap().to_owned();
    assert_eq!(
        refused(
            &mut m,
            "resource-sources.create",
            json!({"display_name": "Shop", "source_type": "webhook", "webhook_config": {"name": "x"}})
        ),
        (409, "already_exists".into())
    );
    let made = call(
        &mut m,
        "resource-types.create",
        json!({"display_name": "Orders", "scope": "local",
        "refresh_strategy": "dynamic", "source_config": {"source_id": sid, "attributes": ["status"]}}),
    );
    let rid = made["id"].as_str().unwrap().to_owned();
    let listed = call(&mut m, "management.list-resource-types", json!({}));
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{listed}");
    assert!(names.contains(&"profile"));
    assert_eq!(
        call(
            &mut m,
            "management.get-resource-type",
            json!({"name": "profile"})
        )["mode"],
        "pull"
    );
    let updated = call(
        &mut m,
        "resource-types.update",
        json!({"id": rid, "is_enabled": false, "refresh_strategy": "static"}),
    );
    assert_eq!(
        (updated["is_enabled"].clone(), updated["mode"].clone()),
        (json!(false), json!("push"))
    );
    assert_eq!(
        call(&mut m, "resource-types.read", json!({"id": rid}))["display_name"],
        "Orders"
    );
    call(&mut m, "resource-types.delete", json!({"id": rid}));
    assert_eq!(
        refused(&mut m, "resource-types.read", json!({"id": rid})),
        (404, "not_found".into())
    );
    // A schema from examples, merged then replaced.
    let s = call(
        &mut m,
        "resource-sources.schema-by-examples",
        json!({"id": sid, "examples": [{"status": "shipped", "total": 12.5}]}),
    );
    assert_eq!(s["schema"]["attributes"].as_array().unwrap().len(), 2);
    let s = call(
        &mut m,
        "resource-sources.schema-by-examples",
        json!({"id": sid, "examples": [{"tags": ["a"]}]}),
    );
    assert_eq!(s["schema"]["attributes"].as_array().unwrap().len(), 3);
    let s = call(
        &mut m,
        "resource-sources.schema-by-examples",
        json!({"id": sid, "examples": [{"tags": ["a"]}], "schema_update_strategy": "replace"}),
    );
    assert_eq!(s["schema"]["attributes"][0]["cardinality"], "many");
    call(
        &mut m,
        "resource-sources.update",
        json!({"id": sid, "description": "The shop"}),
    );
    assert_eq!(
        call(&mut m, "resource-sources.read", json!({"id": sid}))["description"],
        "The shop"
    );
    assert_eq!(
        ids(&call(&mut m, "resource-sources.list", json!({}))),
        vec![sid.clone()]
    );
    call(&mut m, "resource-sources.delete", json!({"id": sid}));
    // Traffic groups route conversations to their procedures.
    let group = call(&mut m, "traffic-groups.create", json!({"name": "Beta"}));
    let gid = group["id"].as_str().unwrap().to_owned();
    call(
        &mut m,
        "traffic-groups.add-target",
        json!({"id": gid, "target_type": "procedure", "target_id": "refunds"}),
    );
    call(
        &mut m,
        "traffic-groups.add-target",
        json!({"id": gid, "target_type": "procedure", "target_id": "lost-card"}),
    );
    call(
        &mut m,
        "traffic-groups.add-exclusion",
        json!({"id": gid, "target_type": "procedure", "target_id": "lost-card"}),
    );
    assert_eq!(
        refused(
            &mut m,
            "traffic-groups.add-target",
            json!({"id": gid, "target_type": "procedure", "target_id": "nope"})
        ),
        (404, "not_found".into())
    );
    assert_eq!(
        refused(
            &mut m,
            "traffic-groups.add-target",
            json!({"id": gid, "target_type": "procedure", "target_id": "refunds"})
        ),
        (409, "already_exists".into())
    );
    let c = call(
        &mut i,
        "conversations.start",
        json!({"id": "c-tg", "customer_id": "u", "channel": "web", "traffic_group_id": gid}),
    );
    assert_eq!(c["metadata"], Value::Null);
    let (_, raw) = send(
        &sb,
        Method::Get,
        "/conversations/c-tg/read",
        &sb.config().integration_key.clone(),
        None,
    );
    assert_eq!(raw["procedures"], json!(["refunds"]), "{raw}");
    assert_eq!(
        refused(
            &mut i,
            "conversations.start",
            json!({"id": "c-tg2", "customer_id": "u", "channel": "web", "traffic_group_id": "tg-nope"})
        ),
        (400, "invalid_argument".into())
    );
    call(
        &mut m,
        "traffic-groups.remove-exclusion",
        json!({"id": gid, "target_id": "lost-card"}),
    );
    call(
        &mut m,
        "traffic-groups.remove-target",
        json!({"id": gid, "target_id": "refunds"}),
    );
    call(
        &mut m,
        "traffic-groups.update",
        json!({"id": gid, "name": "Gamma"}),
    );
    let groups = call(&mut m, "traffic-groups.list", json!({}));
    assert_eq!(groups[0]["name"], "Gamma");
    assert_eq!(
        groups[0]["targets"],
        json!([{"target_type": "procedure", "target_id": "lost-card"}])
    );
    call(&mut m, "traffic-groups.delete", json!({"id": gid}));
    assert_eq!(call(&mut m, "traffic-groups.list", json!({})), json!([]));
    // Topics are listed and read.
    call(
        &mut i,
        "knowledge.upsert-topic",
        json!({"id": "cards", "name": "Cards", "visibility": "public", "status": "published",
        "created": "2026-11-01T00:00:00Z", "last_edited": "2026-11-01T00:00:00Z"}),
    );
    let topics = call(&mut m, "knowledge.list-topics", json!({}));
    assert_eq!(topics[0]["external_id"], "cards");
    assert_eq!(
        call(&mut m, "knowledge.read-topic", json!({"id": "cards"}))["name"],
        "Cards"
    );
    assert_eq!(
        refused(&mut m, "knowledge.read-topic", json!({"id": "nope"})),
        (404, "not_found".into())
    );
}

/// A path for `spec` with every parameter filled in.
fn filled_path(template: &str) -> String {
    template
        .split('/')
        .map(|s| match s {
            "{version}" => "1".to_owned(),
            "{phone}" => "%2B447700900123".to_owned(),
            s if s.starts_with('{') => "x".to_owned(),
            s => s.to_owned(),
        })
        .fold(String::new(), |p, s| p + "/" + &s)
}

fn method(spec: &glbridge_guest::operation::Spec) -> Method {
    spec.method
}

#[test]
fn every_operation_needs_its_documented_role_and_its_required_fields() {
    let sb = sandbox(None);
    let (ik, mk) = (
        sb.config().integration_key.clone(),
        sb.config().management_key.clone(),
    );
    for spec in SPECS {
        let path = filled_path(spec.path);
        let wrong = match spec.role {
            Role::Integration => &mk,
            Role::Management => &ik,
            Role::Either => continue,
        };
        let (status, body) = send(&sb, method(spec), &path, wrong, Some(json!({})));
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("permission_denied")),
            "{} with the wrong key: {body}",
            spec.name
        );
    }
    // A body without a required field is refused, naming it. (A PUT of a
    // resource type without `mode` is the official clients' update, which
    // needs no field.)
    for spec in SPECS
        .iter()
        .filter(|s| s.name != "management.put-resource-type")
    {
        let Some(required) = spec
            .fields()
            .into_iter()
            .find(|f| f.required && f.place == Place::Body)
        else {
            continue;
        };
        // The sandbox takes the Integration key where the clients disagree.
        let key = if spec.role == Role::Management {
            &mk
        } else {
            &ik
        };
        let body = if spec.raw_body().is_some() {
            None
        } else {
            Some(json!({}))
        };
        let (status, answer) = send(&sb, method(spec), &filled_path(spec.path), key, body);
        assert_eq!(
            status, 400,
            "{} without {}: {answer}",
            spec.name, required.name
        );
        assert_eq!(answer["code"], "invalid_argument", "{}", spec.name);
        assert!(
            answer["message"].as_str().unwrap().contains(required.name),
            "{} should name {}: {answer}",
            spec.name,
            required.name
        );
    }
}

/// The typed WIT interfaces of the newer areas, through wasmtime, against
/// the sandbox: what `client.call` does with JSON, they do with records.
#[test]
fn the_typed_interfaces_of_every_area_work_through_wasmtime() {
    use glbridge_host::bindings::{
        notes, outbound, procedures, resources, terminology, tools, traffic_groups,
    };
    let hook = Receiver::start(|_| (200, json!({"ok": true}).to_string()));
    let sb = sandbox(Some(hook.url.clone()));
    let mut m = session(&sb, &sb.config().management_key.clone());
    let mut i = session(&sb, &sb.config().integration_key.clone());

    // Procedures: pages walked, versions, gate, limit.
    let all = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_procedures()
                .call_list_all(s, c, None)
        })
        .unwrap();
    assert_eq!(
        all.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["address-change", "lost-card", "refunds"]
    );
    assert_eq!(all[2].status, procedures::ProcedureStatus::Live);
    assert_eq!(all[2].author_email.as_deref(), Some("ops@example.com"));
    assert!(all[2].created.is_some());
    let page = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_procedures().call_list(
                s,
                c,
                None,
                Some(procedures::ProcedureStatus::Live),
            )
        })
        .unwrap();
    assert_eq!(page.procedures.len(), 2);
    m.with_client(|b, s, c| {
        b.gradient_labs_bridge_procedures()
            .call_set_gated(s, c, "refunds", 2, 9, false)
    })
    .unwrap();
    let versions = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_procedures()
                .call_list_versions(s, c, "refunds")
        })
        .unwrap();
    assert_eq!((versions[0].live, versions[1].gated), (true, true));
    assert_eq!(versions[1].gated_max_daily_conversations, Some(9));
    assert_eq!(versions[0].author.as_deref(), Some("user-ops"));
    let limited = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_procedures()
                .call_set_limit(s, c, "refunds", true, 3)
        })
        .unwrap();
    assert_eq!(
        (limited.has_daily_limit, limited.max_daily_conversations),
        (true, 3)
    );
    let missing =
        m.with_client(|b, s, c| b.gradient_labs_bridge_procedures().call_read(s, c, "nope"));
    assert!(matches!(missing, Err(HostError::Api(_))), "{missing:?}");

    // Tools: a webhook tool run through the webhook URL.
    let definition = tools::ToolDefinition {
        name: Some("balance".into()),
        description: Some("Reads a balance".into()),
        parameters: Some(vec![tools::ToolParameter {
            name: "account".into(),
            description: "The account".into(),
            kind: "string".into(),
            required: true,
            options: vec![],
        }]),
        webhook_name: Some("balance".into()),
        http: None,
        mock: None,
    };
    let tool = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_tools()
                .call_create(s, c, Some("balance"), &definition)
        })
        .unwrap();
    assert_eq!(
        (tool.id.as_str(), tool.webhook_name.as_deref(), tool.mock),
        ("balance", Some("balance"), false)
    );
    let result = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_tools().call_execute(
                s,
                c,
                "balance",
                &[tools::ToolArgument {
                    name: "account".into(),
                    value: "A-1".into(),
                }],
            )
        })
        .unwrap();
    assert_eq!(result.result.as_deref(), Some(r#"{"ok":true}"#));
    assert_eq!(
        m.with_client(|b, s, c| b.gradient_labs_bridge_tools().call_list(s, c))
            .unwrap()
            .len(),
        1
    );

    // Notes.
    let content = notes::NoteContent {
        title: "Outage".into(),
        body: Some("Cards are down.".into()),
        webpage_url: None,
        start_time: Some(1_800_000_000_000_000_000),
        end_time: None,
    };
    let note = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_notes()
                .call_create(s, c, "n-1", &content)
        })
        .unwrap();
    assert_eq!(
        (note.status, note.valid_from),
        (notes::NoteStatus::Draft, Some(1_800_000_000_000_000_000))
    );
    m.with_client(|b, s, c| {
        b.gradient_labs_bridge_notes()
            .call_set_status(s, c, "n-1", notes::NoteStatus::Live)
    })
    .unwrap();

    // Resources in the clients' form; the seed documents' form beside it.
    let source = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_resources().call_create_source(
                s,
                c,
                &resources::ResourceSourceParams {
                    display_name: Some("Shop".into()),
                    description: None,
                    source_type: Some("webhook".into()),
                    http_config: None,
                    webhook_name: Some("shop".into()),
                    attribute_descriptions: None,
                },
            )
        })
        .unwrap();
    assert_eq!(source.webhook_name.as_deref(), Some("shop"));
    let source = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_resources().call_schema_by_examples(
                s,
                c,
                &source.id,
                &[r#"{"status": "shipped", "at": "2026-11-27T10:00:00Z"}"#.to_owned()],
                false,
            )
        })
        .unwrap();
    let kinds: Vec<(&str, &str)> = source
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.kind.as_str()))
        .collect();
    assert_eq!(kinds, [("at", "timestamp"), ("status", "string")]);
    let made = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_resources().call_create_type(
                s,
                c,
                &resources::ResourceTypeParams {
                    display_name: Some("Orders".into()),
                    description: None,
                    scope: Some("global".into()),
                    refresh_strategy: Some("dynamic".into()),
                    source_config: Some(resources::SourceConfig {
                        source_id: source.id.clone(),
                        attributes: vec!["status".into()],
                        cache: Some("5m".into()),
                    }),
                    is_enabled: None,
                },
            )
        })
        .unwrap();
    assert_eq!(
        made.source_config.as_ref().unwrap().cache.as_deref(),
        Some("5m")
    );
    call(
        &mut m,
        "management.put-resource-type",
        json!({"name": "profile", "mode": "push"}),
    );
    let types = m
        .with_client(|b, s, c| b.gradient_labs_bridge_resources().call_list_types(s, c))
        .unwrap();
    assert_eq!(types.len(), 2);

    // Traffic groups and terminology.
    let group = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_traffic_groups()
                .call_create(s, c, "Beta")
        })
        .unwrap();
    m.with_client(|b, s, c| {
        b.gradient_labs_bridge_traffic_groups()
            .call_add_target(s, c, &group.id, "refunds")
    })
    .unwrap();
    let groups: Vec<traffic_groups::TrafficGroup> = m
        .with_client(|b, s, c| b.gradient_labs_bridge_traffic_groups().call_list(s, c))
        .unwrap();
    assert_eq!(groups[0].targets[0].target_id, "refunds");
    let sub = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_terminology().call_create(
                s,
                c,
                &terminology::SubstitutionParams {
                    blocked: Some("refund".into()),
                    blocked_description: None,
                    replacement: Some("reimbursement".into()),
                    resource_type_id: None,
                    resource_attribute_json_path: None,
                    resource_value_to_match: None,
                },
            )
        })
        .unwrap();
    assert_eq!(sub.params.replacement.as_deref(), Some("reimbursement"));

    // Outbound, a back-office task, a call's context.
    let conversation = i
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_outbound().call_start(
                s,
                c,
                &outbound::OutboundKind::Phone(("+447700900123".into(), "+442071838750".into())),
                &outbound::OutboundParams {
                    customer_id: "cu-1".into(),
                    procedure_id: "refunds".into(),
                    support_platform: None,
                    identifiers: vec![],
                    body: None,
                    subject: None,
                    resources: None,
                },
            )
        })
        .unwrap();
    let context = i
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_outbound().call_latest_call_context(
                s,
                c,
                "+447700900123",
                Some(30),
                false,
            )
        })
        .unwrap();
    assert!(context.summary.unwrap().contains(&conversation));
    let task = i
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_outbound().call_create_task(
                s,
                c,
                &outbound::TaskParams {
                    id: "t-1".into(),
                    agent_id: None,
                    procedure_id: "refunds".into(),
                    input: r#"{"order": 7}"#.into(),
                    created: None,
                    metadata: None,
                },
            )
        })
        .unwrap();
    assert_eq!(
        (task.status.as_str(), task.input.as_deref()),
        ("completed", Some(r#"{"order":7}"#))
    );

    // The newer conversation and topic calls.
    call(
        &mut i,
        "conversations.start",
        json!({"id": "c-1", "customer_id": "u", "channel": "web"}),
    );
    let upload = i
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_conversations().call_upload_memories(
                s,
                c,
                "c-1",
                "k-1",
                &[r#"{"a": 1}"#.to_owned()],
                &[],
            )
        })
        .unwrap();
    assert_eq!(upload.memories_inserted, 1);
    i.with_client(|b, s, c| {
        b.gradient_labs_bridge_conversations()
            .call_return_async_tool_result(s, c, "c-1", "x-1", &r#"{"ok": true}"#.to_owned())
    })
    .unwrap();
    let bad = i.with_client(|b, s, c| {
        b.gradient_labs_bridge_conversations()
            .call_return_async_tool_result(s, c, "c-1", "x-1", &"not json".to_owned())
    });
    assert!(
        matches!(
            bad,
            Err(HostError::Api(
                glbridge_guest::Error::InvalidArgument { .. }
            ))
        ),
        "{bad:?}"
    );
    call(
        &mut i,
        "knowledge.upsert-topic",
        json!({"id": "cards", "name": "Cards", "visibility": "public",
        "status": "published", "created": "2026-11-01T00:00:00Z", "last_edited": "2026-11-01T00:00:00Z"}),
    );
    let topics = m
        .with_client(|b, s, c| {
            b.gradient_labs_bridge_knowledge()
                .call_list_topics(s, c, None)
        })
        .unwrap();
    assert_eq!(
        (topics[0].external_id.as_str(), topics[0].name.as_str()),
        ("cards", "Cards")
    );
}

/// The shapes the official Go client sends and reads (its findings against
/// an earlier sandbox): empty strings and `null` for what it leaves out,
/// resource types created by POST and updated without `mode`, listed with
/// ids, topics listed and read.
#[test]
fn the_go_clients_request_shapes_are_accepted_as_they_are() {
    let sb = sandbox(None);
    let (ik, mk) = (
        sb.config().integration_key.clone(),
        sb.config().management_key.clone(),
    );
    let (status, made) = send(
        &sb,
        Method::Post,
        "/resource-types",
        &mk,
        Some(json!({
        "display_name": "Orders", "description": "", "scope": "local", "refresh_strategy": "static",
        "source_config": null, "is_enabled": true})),
    );
    assert_eq!(status, 200, "{made}");
    let id = made["id"].as_str().unwrap().to_owned();
    send(
        &sb,
        Method::Put,
        "/resource-types/profile",
        &mk,
        Some(json!({"mode": "push"})),
    );
    let (_, list) = send(&sb, Method::Get, "/resource-types", &mk, None);
    let items = list["resource_types"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|t| t["id"].is_string()), "{list}");
    let (status, updated) = send(
        &sb,
        Method::Put,
        &format!("/resource-types/{id}"),
        &mk,
        Some(json!({
        "display_name": "Orders v2", "description": "", "scope": "", "refresh_strategy": "", "source_config": null})),
    );
    assert_eq!(
        (status, updated["display_name"].as_str()),
        (200, Some("Orders v2")),
        "{updated}"
    );
    let (status, _) = send(
        &sb,
        Method::Delete,
        &format!("/resource-types/{id}"),
        &mk,
        None,
    );
    assert_eq!(status, 200);
    let (status, tool) = send(
        &sb,
        Method::Post,
        "/tools",
        &mk,
        Some(json!({
        "id": "", "name": "lookup", "description": "Looks up", "parameters": null,
        "webhook": null, "http": null, "mock": true})),
    );
    assert_eq!(status, 200, "{tool}");
    assert!(!tool["id"].as_str().unwrap().is_empty());
    let (_, run) = send(
        &sb,
        Method::Post,
        &format!("/tools/{}/execute", tool["id"].as_str().unwrap()),
        &mk,
        Some(json!({"id": tool["id"], "arguments": []})),
    );
    assert_eq!(run["result"], "mock result of lookup");
    send(
        &sb,
        Method::Post,
        "/topics",
        &ik,
        Some(json!({"id": "t-1", "parent_id": "", "name": "Cards",
        "description": "", "visibility": "public", "status": "published", "data": null,
        "created": "2026-11-27T00:00:00Z", "last_edited": "2026-11-27T00:00:00Z"})),
    );
    let (status, topics) = send(&sb, Method::Get, "/topics", &mk, None);
    assert_eq!(
        (status, topics["topics"][0]["external_id"].as_str()),
        (200, Some("t-1"))
    );
    let (status, topic) = send(&sb, Method::Get, "/topic/t-1", &mk, None);
    assert_eq!(
        (status, topic["parent_external_id"].clone()),
        (200, Value::Null)
    );
}

/// The official clients' last two wire findings (Go v0.3.9): a version's
/// `author` is a string, as Go, Python and Node all read it; `UpdateTool`
/// sends only what changes (`null` for the rest, no `mock: false`), and may
/// leave the tool's kind as it is; a mocked tool keeps its real definition.
#[test]
fn procedure_versions_and_partial_tool_updates_have_the_official_clients_shapes() {
    let sb = sandbox(None);
    let mk = sb.config().management_key.clone();
    let (status, list) = send(&sb, Method::Get, "/procedures/refunds/versions", &mk, None);
    assert_eq!(status, 200, "{list}");
    for v in list["versions"].as_array().unwrap() {
        assert!(v["author"].is_string(), "{v}");
    }

    // CreateTool(&Tool{…, Webhook: …, Mock: true}): a mocked webhook tool.
    let params = json!([{"name": "order", "description": "", "type": "string"}]);
    let (status, made) = send(
        &sb,
        Method::Post,
        "/tools",
        &mk,
        Some(json!({
        "id": "", "name": "lookup", "description": "Looks up", "parameters": params,
        "webhook": {"name": "lookup"}, "mock": true})),
    );
    assert_eq!(status, 200, "{made}");
    let id = made["id"].as_str().unwrap().to_owned();
    let path = format!("/tools/{id}");
    // UpdateTool(&UpdateToolParams{ID, Description}): nothing about its kind.
    let (status, updated) = send(
        &sb,
        Method::Put,
        &path,
        &mk,
        Some(json!({
        "id": id, "description": "Looks an order up", "parameters": null})),
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["description"], "Looks an order up");
    assert_eq!(
        updated["parameters"], params,
        "a null leaves the parameters"
    );
    assert_eq!(
        (updated["mock"].clone(), updated["webhook"]["name"].clone()),
        (json!(true), json!("lookup"))
    );
    let (_, run) = send(
        &sb,
        Method::Post,
        &format!("{path}/execute"),
        &mk,
        Some(json!({"id": id, "arguments": [{"name": "order", "value": "o-1"}]})),
    );
    assert!(
        run["result"].is_string(),
        "still answered by its mock: {run}"
    );
    // Giving the webhook without `mock` makes it real; it cannot go back.
    let (status, real) = send(
        &sb,
        Method::Put,
        &path,
        &mk,
        Some(json!({
        "id": id, "description": "Looks an order up", "parameters": params,
        "webhook": {"name": "lookup"}})),
    );
    assert_eq!((status, real.get("mock")), (200, None), "{real}");
    let (status, back) = send(
        &sb,
        Method::Put,
        &path,
        &mk,
        Some(json!({
        "id": id, "description": "", "parameters": null, "mock": true})),
    );
    assert_eq!(status, 400, "{back}");
    assert!(back.to_string().contains("cannot be turned back"), "{back}");
    // Two real kinds at once are refused.
    let (status, both) = send(
        &sb,
        Method::Put,
        &path,
        &mk,
        Some(json!({
        "id": id, "webhook": {"name": "lookup"},
        "http": {"method": "GET", "url_template": "http://127.0.0.1:1/"}})),
    );
    assert_eq!(status, 400, "{both}");
}
