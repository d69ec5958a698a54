//! Each operation's exact request — method, path, percent-encoding, headers
//! and JSON body — as the official clients send it; error bodies as typed
//! errors; the exact retry schedule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use glbridge_guest::http::{HttpResponse, TransportError};
use glbridge_guest::testing::{FakeClock, ScriptedTransport};
use glbridge_guest::{ApiError, Client, Config, Error, RetryPolicy, Timestamp};
use serde_json::{json, Value};

const BASE: &str = "https://api.example.test/v0";

fn client(max_attempts: u32) -> Client {
    let mut config = Config::new(BASE, "sk_test_123");
    config.user_agent = Some("glbridge-test".into());
    config.retry = RetryPolicy {
        max_attempts,
        jitter_seed: 42,
        ..RetryPolicy::default()
    };
    Client::open(config).unwrap()
}

struct Case {
    op: &'static str,
    params: Value,
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    answer: &'static str,
}

fn conversation_json() -> &'static str {
    r#"{"id":"c-1","customer_id":"u-1","channel":"web","created":"2023-10-23T17:24:50.804952Z","updated":"2023-10-23T17:24:50.804952Z","status":"active"}"#
}

fn cases() -> Vec<Case> {
    let ts = "2023-10-23T17:24:50.804952Z";
    vec![
        Case {
            op: "conversations.start",
            params: json!({"id": "c+1=a.b", "customer_id": "u-1", "channel": "web", "assignee_type": "AI Agent",
                           "created": "2023-10-23T18:24:50.804952+01:00", "metadata": {"k": "v"}, "conversation_token": "tok"}),
            method: "POST",
            path: "/conversations",
            body: Some(
                json!({"id": "c+1=a.b", "customer_id": "u-1", "channel": "web", "assignee_type": "AI Agent",
                              "created": ts, "metadata": {"k": "v"}, "conversation_token": "tok"}),
            ),
            answer: conversation_json(),
        },
        Case {
            op: "conversations.read",
            params: json!({"conversation_id": "c+1=a.b"}),
            method: "GET",
            path: "/conversations/c%2B1%3Da.b/read",
            body: None,
            answer: conversation_json(),
        },
        Case {
            op: "conversations.read-legacy",
            params: json!({"conversation_id": "c-1"}),
            method: "GET",
            path: "/conversations/c-1",
            body: None,
            answer: conversation_json(),
        },
        Case {
            op: "conversations.add-message",
            params: json!({"conversation_id": "c-1", "id": "m-1", "body": "Hello", "participant_id": "u-1",
                           "participant_type": "Customer", "created": ts,
                           "attachments": [{"type": "image", "file_name": "a.png"}]}),
            method: "POST",
            path: "/conversations/c-1/messages",
            body: Some(
                json!({"id": "m-1", "body": "Hello", "participant_id": "u-1", "participant_type": "Customer",
                              "created": ts, "attachments": [{"type": "image", "file_name": "a.png"}]}),
            ),
            answer: r#"{"id":"m-1","body":"Hello","participant_id":"u-1","participant_type":"Customer","created":"2023-10-23T17:24:50.804952Z"}"#,
        },
        Case {
            op: "conversations.add-event",
            params: json!({"conversation_id": "c-1", "type": "internal-note", "participant_id": "a-1",
                           "participant_type": "Agent", "idempotency_key": "k-1", "body": "note"}),
            method: "POST",
            path: "/conversations/c-1/events",
            body: Some(
                json!({"type": "internal-note", "participant_id": "a-1", "participant_type": "Agent",
                              "idempotency_key": "k-1", "body": "note"}),
            ),
            answer: "",
        },
        Case {
            op: "conversations.assign",
            params: json!({"conversation_id": "c-1", "assignee_type": "AI Agent", "timestamp": ts}),
            method: "PUT",
            path: "/conversations/c-1/assignee",
            body: Some(json!({"assignee_type": "AI Agent", "timestamp": ts})),
            answer: "{}",
        },
        Case {
            op: "conversations.finish",
            params: json!({"conversation_id": "c-1", "reason_code": "customer-ended-chat", "reason": "done"}),
            method: "PUT",
            path: "/conversations/c-1/finish",
            body: Some(json!({"reason_code": "customer-ended-chat", "reason": "done"})),
            answer: "",
        },
        Case {
            op: "conversations.end",
            params: json!({"conversation_id": "c-1", "timestamp": ts}),
            method: "PUT",
            path: "/conversations/c-1/end",
            body: Some(json!({"timestamp": ts})),
            answer: "",
        },
        Case {
            op: "conversations.cancel",
            params: json!({"conversation_id": "c-1"}),
            method: "PUT",
            path: "/conversations/c-1/cancel",
            body: Some(json!({})),
            answer: "",
        },
        Case {
            op: "conversations.resume",
            params: json!({"conversation_id": "c-1", "assignee_type": "Agent", "assignee_id": "a-1", "reason": "back"}),
            method: "PUT",
            path: "/conversations/c-1/resume",
            body: Some(json!({"assignee_type": "Agent", "assignee_id": "a-1", "reason": "back"})),
            answer: "",
        },
        Case {
            op: "conversations.rate",
            params: json!({"conversation_id": "c-1", "type": "csat", "value": 4, "max_value": 5, "min_value": 1, "comments": "ok"}),
            method: "PUT",
            path: "/conversations/c-1/rate",
            body: Some(
                json!({"type": "csat", "value": 4, "max_value": 5, "min_value": 1, "comments": "ok"}),
            ),
            answer: "",
        },
        Case {
            op: "conversations.push-resource",
            params: json!({"conversation_id": "c-1", "name": "order-details", "document": {"id": "1234", "status": "shipped"}}),
            method: "PUT",
            path: "/conversations/c-1/resources/order-details",
            body: Some(json!({"id": "1234", "status": "shipped"})),
            answer: "",
        },
        Case {
            op: "knowledge.upsert-article",
            params: json!({"id": "article-123", "title": "Change address", "body": "Go to settings.", "topic_id": "t-1",
                           "visibility": "public", "status": "published", "created": ts, "last_edited": ts}),
            method: "POST",
            path: "/articles",
            body: Some(
                json!({"id": "article-123", "title": "Change address", "body": "Go to settings.", "topic_id": "t-1",
                              "visibility": "public", "status": "published", "created": ts, "last_edited": ts}),
            ),
            answer: "",
        },
        Case {
            op: "knowledge.delete-article",
            params: json!({"id": "article-123"}),
            method: "DELETE",
            path: "/articles/article-123",
            body: None,
            answer: "",
        },
        Case {
            op: "knowledge.set-article-usage",
            params: json!({"id": "article-123", "usage_status": "off"}),
            method: "POST",
            path: "/articles/article-123/usage-status",
            body: Some(json!({"usage_status": "off"})),
            answer: "",
        },
        Case {
            op: "knowledge.upsert-topic",
            params: json!({"id": "topic-a1", "parent_id": "topic-a", "name": "Accounts", "visibility": "users",
                           "status": "draft", "created": ts, "last_edited": ts}),
            method: "POST",
            path: "/topics",
            body: Some(
                json!({"id": "topic-a1", "parent_id": "topic-a", "name": "Accounts", "visibility": "users",
                              "status": "draft", "created": ts, "last_edited": ts}),
            ),
            answer: "",
        },
        Case {
            op: "management.upsert-hand-off-target",
            params: json!({"id": "accounts", "name": "Accounts"}),
            method: "POST",
            path: "/hand-off-targets",
            body: Some(json!({"id": "accounts", "name": "Accounts"})),
            answer: "",
        },
        Case {
            op: "management.list-hand-off-targets",
            params: json!({}),
            method: "GET",
            path: "/hand-off-targets",
            body: None,
            answer: r#"{"targets":[{"id":"accounts","name":"Accounts"}]}"#,
        },
        Case {
            op: "management.delete-hand-off-target",
            params: json!({"id": "accounts"}),
            method: "DELETE",
            path: "/hand-off-targets",
            body: Some(json!({"id": "accounts"})),
            answer: "",
        },
        Case {
            op: "management.set-default-hand-off-target",
            params: json!({"id": "accounts", "channel": "email"}),
            method: "PUT",
            path: "/hand-off-targets/default",
            body: Some(json!({"id": "accounts", "channel": "email"})),
            answer: "",
        },
        Case {
            op: "management.get-default-hand-off-target",
            params: json!({"channel": "web"}),
            method: "GET",
            path: "/hand-off-targets/default?channel=web",
            body: None,
            answer: r#"{"id":"accounts","channel":"web"}"#,
        },
        Case {
            op: "management.put-secret",
            params: json!({"name": "api_key", "value": "s3cret s4uce"}),
            method: "PUT",
            path: "/secrets/api_key",
            body: Some(json!({"value": "s3cret s4uce"})),
            answer: "",
        },
        Case {
            op: "management.list-secrets",
            params: json!({}),
            method: "GET",
            path: "/secrets",
            body: None,
            answer: r#"{"secrets":[{"name":"api_key","created":"2024-11-08T15:11:26.258766Z","updated":"2024-11-08T15:11:26.258766Z"}]}"#,
        },
        Case {
            op: "management.delete-secret",
            params: json!({"name": "api_key"}),
            method: "DELETE",
            path: "/secrets/api_key",
            body: None,
            answer: "",
        },
        Case {
            op: "management.put-resource-type",
            params: json!({"name": "user-profile", "display_name": "User Profile", "mode": "pull",
                           "pull_config": {"http": {"method": "GET", "url_template": "https://x.test/${conversation.customer_id}"}, "cache": "10m"}}),
            method: "PUT",
            path: "/resource-types/user-profile",
            body: Some(json!({"display_name": "User Profile", "mode": "pull",
                              "pull_config": {"http": {"method": "GET", "url_template": "https://x.test/${conversation.customer_id}"}, "cache": "10m"}})),
            answer: "",
        },
        Case {
            op: "management.get-resource-type",
            params: json!({"name": "user-profile"}),
            method: "GET",
            path: "/resource-types/user-profile",
            body: None,
            answer: r#"{"name":"user-profile","display_name":"User Profile","mode":"push"}"#,
        },
        Case {
            op: "management.list-resource-types",
            params: json!({}),
            method: "GET",
            path: "/resource-types",
            body: None,
            answer: r#"{"resource_types":[{"name":"user-profile","mode":"pull"}]}"#,
        },
        Case {
            op: "management.delete-resource-type",
            params: json!({"name": "user-profile"}),
            method: "DELETE",
            path: "/resource-types/user-profile",
            body: None,
            answer: "",
        },
        Case {
            op: "management.ip-addresses",
            params: json!({}),
            method: "GET",
            path: "/ip-addresses",
            body: None,
            answer: r#"{"api":["1.2.3.4"],"egress":["35.234.150.140/32"]}"#,
        },
    ]
}

#[test]
fn every_operation_sends_the_official_wire_format() {
    let mut all = cases();
    all.extend(newer_cases());
    let mut covered: Vec<&str> = all.iter().map(|c| c.op).collect();
    covered.sort_unstable();
    let mut names: Vec<&str> = glbridge_guest::operation::names().collect();
    names.sort_unstable();
    assert_eq!(covered, names, "one case per operation");
    for case in all {
        let http = ScriptedTransport::new([Ok(HttpResponse::json(200, case.answer))]);
        let clock = FakeClock::new(Timestamp(0));
        let mut c = client(1);
        let out = c.call(&http, &clock, case.op, &case.params.to_string());
        assert!(out.is_ok(), "{}: {out:?}", case.op);
        let sent = http.sent();
        assert_eq!(sent.len(), 1, "{}", case.op);
        let r = &sent[0];
        assert_eq!(r.method.as_str(), case.method, "{}", case.op);
        assert_eq!(r.url, format!("{BASE}{}", case.path), "{}", case.op);
        assert_eq!(
            r.header("authorization"),
            Some("Bearer sk_test_123"),
            "{}",
            case.op
        );
        assert_eq!(r.header("accept"), Some("application/json"), "{}", case.op);
        assert_eq!(r.header("user-agent"), Some("glbridge-test"), "{}", case.op);
        match &case.body {
            Some(expected) => {
                assert_eq!(
                    r.header("content-type"),
                    Some("application/json"),
                    "{}",
                    case.op
                );
                let body: Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
                assert_eq!(&body, expected, "{}", case.op);
            }
            None => {
                assert_eq!(r.header("content-type"), None, "{}", case.op);
                assert_eq!(r.body, None, "{}", case.op);
            }
        }
    }
}

#[test]
fn results_are_typed_json() {
    let http = ScriptedTransport::new([
        Ok(HttpResponse::json(200, conversation_json())),
        Ok(HttpResponse::json(
            200,
            r#"{"targets":[{"id":"a","name":"A"}]}"#,
        )),
        Ok(HttpResponse::json(202, "")),
    ]);
    let clock = FakeClock::default();
    let mut c = client(1);
    let conv: Value = serde_json::from_str(
        &c.call(
            &http,
            &clock,
            "conversations.read",
            r#"{"conversation_id":"c-1"}"#,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(conv["status"], "active");
    assert_eq!(conv["created"], "2023-10-23T17:24:50.804952Z");
    let targets = c
        .call(&http, &clock, "management.list-hand-off-targets", "")
        .unwrap();
    assert_eq!(targets, r#"[{"id":"a","name":"A"}]"#);
    assert_eq!(
        c.call(&http, &clock, "knowledge.delete-article", r#"{"id":"a"}"#)
            .unwrap(),
        "null"
    );
}

#[test]
fn error_bodies_become_typed_errors() {
    let http = ScriptedTransport::new([
        Ok(HttpResponse::json(
            404,
            r#"{"code":"not_found","message":"conversation not found","details":{"trace_id":"abc123"}}"#,
        )),
        Ok(HttpResponse::json(
            403,
            r#"{"code":"permission_denied","message":"wrong role"}"#,
        )),
        Ok(HttpResponse {
            status: 502,
            headers: vec![],
            body: b"Bad Gateway".to_vec(),
        }),
        Ok(HttpResponse::json(200, "not json")),
    ]);
    let clock = FakeClock::default();
    let mut c = client(1);
    let read = r#"{"conversation_id":"c-1"}"#;
    assert_eq!(
        c.call(&http, &clock, "conversations.read", read),
        Err(Error::Api(ApiError {
            status: 404,
            code: "not_found".into(),
            message: "conversation not found".into(),
            trace_id: Some("abc123".into())
        }))
    );
    let Err(Error::Api(e)) = c.call(&http, &clock, "conversations.read", read) else {
        panic!()
    };
    assert_eq!(
        (e.status, e.code.as_str(), e.trace_id),
        (403, "permission_denied", None)
    );
    let Err(Error::Api(e)) = c.call(&http, &clock, "conversations.read", read) else {
        panic!()
    };
    assert_eq!(
        (e.status, e.code.as_str(), e.message.as_str()),
        (502, "unavailable", "Bad Gateway")
    );
    assert!(matches!(
        c.call(&http, &clock, "conversations.read", read),
        Err(Error::InvalidResponse { .. })
    ));
}

#[test]
fn bad_input_is_refused_before_sending() {
    let http = ScriptedTransport::default();
    let clock = FakeClock::default();
    let mut c = client(1);
    let refused = [
        (
            "conversations.read",
            json!({"conversation_id": "a b"}),
            "conversation_id",
        ),
        ("conversations.read", json!({}), "conversation_id"),
        (
            "conversations.start",
            json!({"id": "c", "customer_id": "u", "channel": "fax"}),
            "channel",
        ),
        (
            "conversations.start",
            json!({"id": "c", "channel": "web"}),
            "customer_id",
        ),
        (
            "conversations.add-message",
            json!({"conversation_id": "c", "id": "m", "participant_id": "u", "participant_type": "Customer"}),
            "body",
        ),
        (
            "conversations.add-message",
            json!({"conversation_id": "c", "id": "m", "body": "x", "participant_id": "u", "participant_type": "AI Agent"}),
            "participant_type",
        ),
        (
            "conversations.push-resource",
            json!({"conversation_id": "c", "name": "big", "document": {"x": "y".repeat(1_000_000)}}),
            "document",
        ),
        (
            "conversations.push-resource",
            json!({"conversation_id": "c", "name": "bad/name", "document": {}}),
            "name",
        ),
        (
            "management.put-resource-type",
            json!({"name": "r", "mode": "pull"}),
            "pull_config",
        ),
        ("nope.nothing", json!({}), "operation"),
    ];
    for (op, params, field) in refused {
        match c.call(&http, &clock, op, &params.to_string()) {
            Err(Error::InvalidArgument { field: f, reason }) => {
                assert_eq!(f, field, "{op}: {reason}")
            }
            other => panic!("{op}: {other:?}"),
        }
    }
    assert!(http.sent().is_empty(), "nothing may be sent");
}

#[test]
fn bodies_over_the_configured_limit_are_refused() {
    let mut config = Config::new(BASE, "k");
    config.max_body_bytes = 100;
    let mut c = Client::open(config).unwrap();
    let http = ScriptedTransport::default();
    let params = json!({"conversation_id": "c", "id": "m", "body": "x".repeat(200), "participant_id": "u", "participant_type": "Customer"});
    let err = c
        .call(
            &http,
            &FakeClock::default(),
            "conversations.add-message",
            &params.to_string(),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { ref field, .. } if field == "body"),
        "{err}"
    );
    assert!(http.sent().is_empty());
}

#[test]
fn transient_failures_are_retried_on_an_exact_schedule() {
    let unavailable = || {
        Ok(HttpResponse::json(
            503,
            r#"{"code":"unavailable","message":"busy"}"#,
        ))
    };
    let mut limited = HttpResponse::json(429, r#"{"code":"resource_exhausted","message":"slow"}"#);
    limited.headers.push(("Retry-After".into(), "2".into()));
    let http = ScriptedTransport::new([
        Err(TransportError::Timeout),
        unavailable(),
        Ok(limited),
        Err(TransportError::Connection("reset".into())),
        Ok(HttpResponse::json(200, conversation_json())),
    ]);
    let clock = FakeClock::new(Timestamp::from_secs(1_700_000_000));
    let mut c = client(5);
    c.call(
        &http,
        &clock,
        "conversations.read",
        r#"{"conversation_id":"c-1"}"#,
    )
    .unwrap();
    assert_eq!(http.sent().len(), 5);
    // Full jitter under caps 200, 400, (Retry-After 2 s), 1600 ms, drawn
    // from the ChaCha8 stream seeded with 42: the same seed, the same waits.
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 4);
    assert_eq!(sleeps[2], 2_000_000_000, "Retry-After honoured");
    let caps = [200_000_000u64, 400_000_000, 0, 1_600_000_000];
    for (i, (s, cap)) in sleeps.iter().zip(caps).enumerate() {
        if i != 2 {
            assert!(*s <= cap, "sleep {i} = {s} over cap {cap}");
        }
    }
    let mut jitter = glbridge_guest::retry::Jitter::new(42);
    let expected: Vec<u64> = [200u64, 400, 0, 1600]
        .iter()
        .map(|cap| {
            let u = jitter.next_unit();
            if *cap == 0 {
                2_000_000_000
            } else {
                ((*cap as f64) * u) as u64 * 1_000_000
            }
        })
        .collect();
    assert_eq!(sleeps, expected);
    // And the same client configuration replays it exactly.
    let http2 = ScriptedTransport::new([
        Err(TransportError::Timeout),
        unavailable(),
        Ok({
            let mut r = HttpResponse::json(429, "{}");
            r.headers.push(("retry-after".into(), "2".into()));
            r
        }),
        Err(TransportError::Connection("reset".into())),
        Ok(HttpResponse::json(200, conversation_json())),
    ]);
    let clock2 = FakeClock::new(Timestamp(0));
    client(5)
        .call(
            &http2,
            &clock2,
            "conversations.read",
            r#"{"conversation_id":"c-1"}"#,
        )
        .unwrap();
    assert_eq!(clock2.sleeps(), sleeps);
}

#[test]
fn retries_stop_at_max_attempts_and_keep_the_last_error() {
    let http = ScriptedTransport::new((0..3).map(|_| {
        Ok(HttpResponse::json(
            503,
            r#"{"code":"unavailable","message":"down","details":{"trace_id":"t9"}}"#,
        ))
    }));
    let clock = FakeClock::default();
    let err = client(3)
        .call(
            &http,
            &clock,
            "conversations.read",
            r#"{"conversation_id":"c"}"#,
        )
        .unwrap_err();
    assert_eq!(http.sent().len(), 3);
    assert_eq!(clock.sleeps().len(), 2);
    assert!(
        matches!(err, Error::Api(ApiError { status: 503, ref trace_id, .. }) if trace_id.as_deref() == Some("t9"))
    );
}

#[test]
fn permanent_errors_and_unkeyed_events_are_never_retried() {
    let http = ScriptedTransport::new([
        Ok(HttpResponse::json(
            400,
            r#"{"code":"invalid_argument","message":"no"}"#,
        )),
        Ok(HttpResponse::json(
            500,
            r#"{"code":"failed_precondition","message":"finished"}"#,
        )),
        Err(TransportError::Timeout),
    ]);
    let clock = FakeClock::default();
    let mut c = client(5);
    assert!(c
        .call(
            &http,
            &clock,
            "conversations.read",
            r#"{"conversation_id":"c"}"#
        )
        .is_err());
    assert!(c
        .call(
            &http,
            &clock,
            "conversations.read",
            r#"{"conversation_id":"c"}"#
        )
        .is_err());
    let event = json!({"conversation_id": "c", "type": "typing", "participant_id": "u", "participant_type": "Customer"});
    assert!(matches!(
        c.call(&http, &clock, "conversations.add-event", &event.to_string()),
        Err(Error::Transport { .. })
    ));
    assert_eq!(http.sent().len(), 3);
    assert!(clock.sleeps().is_empty());
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let config = Config::new(BASE, "sk_live_supersecret");
    let client = Client::open(config.clone()).unwrap();
    assert!(!format!("{config:?}{client:?}").contains("supersecret"));
    let op =
        glbridge_guest::protocol::operation("conversations.read", r#"{"conversation_id":"c"}"#)
            .unwrap();
    let request = op.build(&config).unwrap();
    assert!(!format!("{request:?}").contains("supersecret"));
    assert_eq!(
        request.header("authorization"),
        Some("Bearer sk_live_supersecret")
    );
}

#[test]
fn bad_configurations_are_refused() {
    for (url, key, field) in [
        ("ftp://x", "k", "base_url"),
        ("https://", "k", "base_url"),
        ("https://x", " ", "api_key"),
    ] {
        match Client::open(Config::new(url, key)) {
            Err(Error::InvalidArgument { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{url}: {other:?}"),
        }
    }
}

fn case(
    op: &'static str,
    params: Value,
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    answer: &'static str,
) -> Case {
    Case {
        op,
        params,
        method,
        path,
        body,
        answer,
    }
}

/// The operations of the official clients beyond the seed documents, as
/// `../shared/API-OPERATIONS.md` gives them.
fn newer_cases() -> Vec<Case> {
    let ident =
        json!([{"support_platform": "zendesk", "type": "zendesk_support_user", "value": "42"}]);
    vec![
        case("conversations.return-async-tool-result",
            json!({"conversation_id": "c-1", "async_tool_execution_id": "x-1", "payload": {"ok": true}}),
            "PUT", "/conversations/c-1/return-async-tool-result",
            Some(json!({"async_tool_execution_id": "x-1", "payload": {"ok": true}})), ""),
        case("conversations.delete", json!({"conversation_id": "c-1"}), "DELETE",
            "/conversations/c-1", None, ""),
        case("conversations.upload-memories",
            json!({"conversation_id": "c-1", "idempotency_key": "k-1", "memories": [{"a": 1}],
                   "created_at_keys": ["at"]}),
            "POST", "/conversations/c-1/memories",
            Some(json!({"idempotency_key": "k-1", "memories": [{"a": 1}], "created_at_keys": ["at"]})),
            r#"{"upload_id":"u-1","memories_inserted":1}"#),
        case("customers.create-memories",
            json!({"customer_id": "cu-1", "memories": [{"external_id": "m-1", "created_at": "2026-01-01T00:00:00Z", "data": {}}]}),
            "POST", "/customers/cu-1/memories",
            Some(json!({"memories": [{"external_id": "m-1", "created_at": "2026-01-01T00:00:00Z", "data": {}}]})), ""),
        case("outbound.start",
            json!({"customer_id": "cu-1", "customer_source": "zendesk", "procedure_id": "p-1", "channel": "email"}),
            "POST", "/outbound/conversations",
            Some(json!({"customer_id": "cu-1", "customer_source": "zendesk", "procedure_id": "p-1", "channel": "email"})),
            r#"{"conversation_id":"oc-1"}"#),
        case("outbound.start-chat",
            json!({"customer_id": "cu-1", "procedure_id": "p-1", "support_platform": "intercom", "body": "Hi"}),
            "POST", "/outbound/conversations/chat",
            Some(json!({"customer_id": "cu-1", "procedure_id": "p-1", "support_platform": "intercom", "body": "Hi"})),
            r#"{"conversation_id":"oc-2"}"#),
        case("outbound.start-email",
            json!({"customer_id": "cu-1", "procedure_id": "p-1", "support_platform": "zendesk",
                   "customer_support_platform_identifiers": ident, "subject": "Your order", "body": "Hello"}),
            "POST", "/outbound/conversations/email",
            Some(json!({"customer_id": "cu-1", "procedure_id": "p-1", "support_platform": "zendesk",
                        "customer_support_platform_identifiers": ident, "subject": "Your order", "body": "Hello"})),
            r#"{"conversation_id":"oc-3"}"#),
        case("outbound.start-phone",
            json!({"customer_id": "cu-1", "procedure_id": "p-1", "to_phone_number": "+447700900123",
                   "from_phone_number": "+442071838750"}),
            "POST", "/outbound/conversations/phone",
            Some(json!({"customer_id": "cu-1", "procedure_id": "p-1", "to_phone_number": "+447700900123",
                        "from_phone_number": "+442071838750"})),
            r#"{"conversation_id":"oc-4"}"#),
        case("back-office-tasks.create",
            json!({"id": "t-1", "agent_id": "a-1", "procedure_id": "p-1", "input": {"order": 7},
                   "metadata": {"k": "v"}, "attachments": [{"file_name": "a.pdf", "base_64_contents": "AA=="}]}),
            "POST", "/back-office-tasks",
            Some(json!({"id": "t-1", "agent_id": "a-1", "procedure_id": "p-1", "input": {"order": 7},
                        "metadata": {"k": "v"}, "attachments": [{"file_name": "a.pdf", "base_64_contents": "AA=="}]})),
            r#"{"id":"t-1","status":"pending"}"#),
        case("back-office-tasks.read", json!({"id": "t-1"}), "GET", "/back-office-tasks/t-1/read",
            None, r#"{"id":"t-1","status":"completed"}"#),
        case("back-office-tasks.delete", json!({"id": "t-1"}), "DELETE", "/back-office-tasks/t-1",
            None, ""),
        case("voice.latest-call-context",
            json!({"phone": "+447700900123", "lookback_seconds": 120, "include_large_fields": true}),
            "GET", "/voice/latest-call-context/%2B447700900123?lookback_seconds=120&include_large_fields=true",
            None, r#"{"started_at":"2026-01-01T00:00:00Z","summary":"s"}"#),
        case("knowledge.list-topics", json!({"support_platform": "public-api"}), "GET",
            "/topics?support_platform=public-api", None, r#"{"topics":[{"external_id":"t-1"}]}"#),
        case("knowledge.read-topic", json!({"id": "t-1"}), "GET", "/topic/t-1", None,
            r#"{"external_id":"t-1","name":"Cards"}"#),
        case("procedures.list", json!({"cursor": "abc", "status": "live"}), "GET",
            "/procedures?cursor=abc&status=live", None,
            r#"{"procedures":[{"id":"p-1"}],"pagination":{"next":"def"}}"#),
        case("procedures.read", json!({"id": "p-1"}), "GET", "/procedure/p-1", None, r#"{"id":"p-1"}"#),
        case("procedures.set-limit",
            json!({"id": "p-1", "has_daily_limit": true, "max_daily_conversations": 50}),
            "POST", "/procedure/p-1/limit",
            Some(json!({"has_daily_limit": true, "max_daily_conversations": 50})), r#"{"id":"p-1"}"#),
        case("procedures.list-versions", json!({"id": "p-1"}), "GET", "/procedures/p-1/versions",
            None, r#"{"Versions":[{"Version":1,"Live":true}]}"#),
        case("procedures.set-live", json!({"id": "p-1", "version": 3}), "POST",
            "/procedures/p-1/versions/3/set-live", None, ""),
        case("procedures.unset-live", json!({"id": "p-1", "version": "3"}), "POST",
            "/procedures/p-1/versions/3/unset-live", None, ""),
        case("procedures.set-gated",
            json!({"id": "p-1", "version": 2, "max_daily_conversations": 10, "replace": true}),
            "POST", "/procedures/p-1/versions/2/set-gated",
            Some(json!({"max_daily_conversations": 10, "replace": true})), ""),
        case("procedures.unset-gated", json!({"id": "p-1", "version": 2}), "POST",
            "/procedures/p-1/versions/2/unset-gated", None, ""),
        case("tools.list", json!({}), "GET", "/tools", None, r#"{"tools":[{"id":"tool-1"}]}"#),
        case("tools.create",
            json!({"name": "lookup", "description": "Looks up an order",
                   "parameters": [{"name": "order", "description": "Order id", "type": "string", "required": true}],
                   "mock": {"result": "ok"}}),
            "POST", "/tools",
            Some(json!({"name": "lookup", "description": "Looks up an order",
                        "parameters": [{"name": "order", "description": "Order id", "type": "string", "required": true}],
                        "mock": {"result": "ok"}})),
            r#"{"id":"tool-1","name":"lookup"}"#),
        case("tools.read", json!({"id": "tool-1", "version": 2}), "GET", "/tools/tool-1?version=2",
            None, r#"{"id":"tool-1"}"#),
        case("tools.update",
            json!({"id": "tool-1", "description": "Looks up orders",
                   "http": {"method": "GET", "url_template": "https://shop.example/orders/{{order}}"}}),
            "PUT", "/tools/tool-1",
            Some(json!({"id": "tool-1", "description": "Looks up orders",
                        "http": {"method": "GET", "url_template": "https://shop.example/orders/{{order}}"}})),
            r#"{"id":"tool-1"}"#),
        case("tools.delete", json!({"id": "tool-1"}), "DELETE", "/tools/tool-1", None, ""),
        case("tools.execute",
            json!({"id": "tool-1", "arguments": [{"name": "order", "value": "7"}]}),
            "POST", "/tools/tool-1/execute",
            Some(json!({"id": "tool-1", "arguments": [{"name": "order", "value": "7"}]})),
            r#"{"id":"tool-1","result":"ok"}"#),
        case("notes.create", json!({"id": "n-1", "title": "Outage", "body": "Cards are down"}),
            "POST", "/notes", Some(json!({"id": "n-1", "title": "Outage", "body": "Cards are down"})),
            r#"{"id":"n-1","status":"draft"}"#),
        case("notes.update",
            json!({"id": "n-1", "title": "Outage", "webpage_url": "https://status.example/"}),
            "POST", "/notes/n-1", Some(json!({"title": "Outage", "webpage_url": "https://status.example/"})),
            r#"{"id":"n-1"}"#),
        case("notes.delete", json!({"id": "n-1"}), "DELETE", "/notes/n-1", None, ""),
        case("notes.set-status", json!({"id": "n-1", "status": "live"}), "POST", "/notes/n-1/status",
            Some(json!({"status": "live"})), ""),
        case("resource-types.create",
            json!({"display_name": "Orders", "scope": "local", "refresh_strategy": "dynamic",
                   "source_config": {"source_id": "s-1", "attributes": ["status"], "cache": "5m"}}),
            "POST", "/resource-types",
            Some(json!({"display_name": "Orders", "scope": "local", "refresh_strategy": "dynamic",
                        "source_config": {"source_id": "s-1", "attributes": ["status"], "cache": "5m"}})),
            r#"{"id":"rt-1","display_name":"Orders"}"#),
        case("resource-types.read", json!({"id": "rt-1"}), "GET", "/resource-types/rt-1", None,
            r#"{"id":"rt-1"}"#),
        case("resource-types.update", json!({"id": "rt-1", "is_enabled": false}), "PUT",
            "/resource-types/rt-1", Some(json!({"is_enabled": false})), r#"{"id":"rt-1"}"#),
        case("resource-types.delete", json!({"id": "rt-1"}), "DELETE", "/resource-types/rt-1", None, ""),
        case("resource-sources.list", json!({}), "GET", "/resource-sources", None,
            r#"{"resource_sources":[{"id":"s-1"}]}"#),
        case("resource-sources.create",
            json!({"display_name": "Shop", "source_type": "http",
                   "http_config": {"method": "GET", "url_template": "https://shop.example/{{id}}"}}),
            "POST", "/resource-sources",
            Some(json!({"display_name": "Shop", "source_type": "http",
                        "http_config": {"method": "GET", "url_template": "https://shop.example/{{id}}"}})),
            r#"{"id":"s-1"}"#),
        case("resource-sources.read", json!({"id": "s-1"}), "GET", "/resource-sources/s-1", None,
            r#"{"id":"s-1"}"#),
        case("resource-sources.update", json!({"id": "s-1", "description": "The shop"}), "PUT",
            "/resource-sources/s-1", Some(json!({"description": "The shop"})), r#"{"id":"s-1"}"#),
        case("resource-sources.delete", json!({"id": "s-1"}), "DELETE", "/resource-sources/s-1", None, ""),
        case("resource-sources.schema-by-examples",
            json!({"id": "s-1", "examples": [{"status": "shipped"}], "schema_update_strategy": "replace"}),
            "POST", "/resource-sources/s-1/schema-by-examples",
            Some(json!({"examples": [{"status": "shipped"}], "schema_update_strategy": "replace"})),
            r#"{"id":"s-1"}"#),
        case("traffic-groups.list", json!({}), "GET", "/traffic-groups", None,
            r#"{"traffic_groups":[{"id":"g-1","name":"Beta"}]}"#),
        case("traffic-groups.create", json!({"name": "Beta"}), "POST", "/traffic-groups",
            Some(json!({"name": "Beta"})), r#"{"id":"g-1","name":"Beta"}"#),
        case("traffic-groups.update", json!({"id": "g-1", "name": "Gamma"}), "PUT",
            "/traffic-groups/g-1", Some(json!({"name": "Gamma"})), r#"{"id":"g-1"}"#),
        case("traffic-groups.delete", json!({"id": "g-1"}), "DELETE", "/traffic-groups/g-1", None, ""),
        case("traffic-groups.add-target",
            json!({"id": "g-1", "target_type": "procedure", "target_id": "p-1"}), "POST",
            "/traffic-groups/g-1/targets", Some(json!({"target_type": "procedure", "target_id": "p-1"})),
            r#"{"target_type":"procedure","target_id":"p-1"}"#),
        case("traffic-groups.remove-target", json!({"id": "g-1", "target_id": "p-1"}), "DELETE",
            "/traffic-groups/g-1/targets/p-1", None, ""),
        case("traffic-groups.add-exclusion",
            json!({"id": "g-1", "target_type": "procedure", "target_id": "p-2"}), "POST",
            "/traffic-groups/g-1/exclusions", Some(json!({"target_type": "procedure", "target_id": "p-2"})),
            r#"{"target_type":"procedure","target_id":"p-2"}"#),
        case("traffic-groups.remove-exclusion", json!({"id": "g-1", "target_id": "p-2"}), "DELETE",
            "/traffic-groups/g-1/exclusions/p-2", None, ""),
        case("terminology.list", json!({}), "GET", "/terminology-substitutions", None,
            r#"[{"id":"ts-1"}]"#),
        case("terminology.create", json!({"blocked": "refund", "replacement": "reimbursement"}),
            "POST", "/terminology-substitutions",
            Some(json!({"blocked": "refund", "replacement": "reimbursement"})), r#"{"id":"ts-1"}"#),
        case("terminology.read", json!({"id": "ts-1"}), "GET", "/terminology-substitutions/ts-1",
            None, r#"{"id":"ts-1"}"#),
        case("terminology.update", json!({"id": "ts-1", "replacement": "repayment"}), "PUT",
            "/terminology-substitutions/ts-1", Some(json!({"replacement": "repayment"})),
            r#"{"id":"ts-1"}"#),
        case("terminology.delete", json!({"id": "ts-1"}), "DELETE",
            "/terminology-substitutions/ts-1", None, ""),
    ]
}

#[test]
fn answers_are_read_in_every_shape_the_clients_know() {
    let http = ScriptedTransport::new([
        // Node's casing and a bare array.
        Ok(HttpResponse::json(
            200,
            r#"{"Topics":[{"external_id":"t-1"}]}"#,
        )),
        Ok(HttpResponse::json(200, r#"[{"id":"ts-1"}]"#)),
        Ok(HttpResponse::json(
            200,
            r#"{"substitutions":[{"id":"ts-2"}]}"#,
        )),
        Ok(HttpResponse::json(200, r#"{"tools":null}"#)),
        // Node reads the limit's answer inside `procedure`.
        Ok(HttpResponse::json(
            200,
            r#"{"procedure":{"id":"p-1","has_daily_limit":true}}"#,
        )),
        Ok(HttpResponse::json(
            200,
            r#"{"Procedures":[{"id":"p-1"}],"Pagination":{"Next":""}}"#,
        )),
    ]);
    let clock = FakeClock::new(Timestamp(0));
    let mut c = client(1);
    let mut call = |op: &str, params: Value| -> Value {
        serde_json::from_str(&c.call(&http, &clock, op, &params.to_string()).unwrap()).unwrap()
    };
    assert_eq!(
        call("knowledge.list-topics", json!({})),
        json!([{"external_id": "t-1"}])
    );
    assert_eq!(call("terminology.list", json!({})), json!([{"id": "ts-1"}]));
    assert_eq!(call("terminology.list", json!({})), json!([{"id": "ts-2"}]));
    assert_eq!(call("tools.list", json!({})), json!([]));
    assert_eq!(
        call(
            "procedures.set-limit",
            json!({"id": "p-1", "has_daily_limit": true})
        ),
        json!({"id": "p-1", "has_daily_limit": true})
    );
    assert_eq!(
        call("procedures.list", json!({})),
        json!({"procedures": [{"id": "p-1"}], "next": null})
    );
}

#[test]
fn all_pages_walks_the_cursor_to_the_end() {
    let http = ScriptedTransport::new([
        Ok(HttpResponse::json(
            200,
            r#"{"procedures":[{"id":"p-1"}],"pagination":{"next":"c2"}}"#,
        )),
        Ok(HttpResponse::json(
            200,
            r#"{"procedures":[{"id":"p-2"}],"pagination":{"next":"c3"}}"#,
        )),
        Ok(HttpResponse::json(
            200,
            r#"{"procedures":[{"id":"p-3"}],"pagination":{}}"#,
        )),
    ]);
    let clock = FakeClock::new(Timestamp(0));
    let mut c = client(1);
    let out = c
        .call(
            &http,
            &clock,
            "procedures.list",
            r#"{"status":"live","all_pages":true}"#,
        )
        .unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        out,
        json!({"procedures": [{"id": "p-1"}, {"id": "p-2"}, {"id": "p-3"}], "next": null})
    );
    let urls: Vec<String> = http.sent().iter().map(|r| r.url.clone()).collect();
    assert_eq!(
        urls,
        [
            format!("{BASE}/procedures?status=live"),
            format!("{BASE}/procedures?cursor=c2&status=live"),
            format!("{BASE}/procedures?cursor=c3&status=live"),
        ]
    );
}

#[test]
fn the_newer_operations_check_their_parameters_before_sending() {
    let http = ScriptedTransport::new([]);
    let clock = FakeClock::new(Timestamp(0));
    let mut c = client(1);
    let refused = [
        ("tools.create", json!({"name": "x"}), "description"),
        (
            "tools.create",
            json!({"name": "x", "description": "d", "parameters": "no"}),
            "parameters",
        ),
        (
            "tools.create",
            json!({"name": "x", "description": "d", "webhook": {"name": "w"}, "http": {"method": "GET", "url_template": "u"}}),
            "webhook",
        ),
        (
            "tools.execute",
            json!({"id": "t", "arguments": [{"name": "a"}]}),
            "arguments",
        ),
        ("notes.create", json!({"id": "n", "title": "t"}), "body"),
        (
            "notes.create",
            json!({"id": "n", "title": "t", "body": "b", "webpage_url": "https://x"}),
            "webpage_url",
        ),
        (
            "notes.set-status",
            json!({"id": "n", "status": "deleted"}),
            "status",
        ),
        (
            "procedures.set-live",
            json!({"id": "p", "version": 0}),
            "version",
        ),
        (
            "procedures.set-live",
            json!({"id": "p", "version": "two"}),
            "version",
        ),
        ("procedures.list", json!({"status": "archived"}), "status"),
        (
            "procedures.set-limit",
            json!({"id": "p", "max_daily_conversations": "5", "has_daily_limit": true}),
            "max_daily_conversations",
        ),
        (
            "outbound.start-email",
            json!({"customer_id": "c", "procedure_id": "p", "support_platform": "zendesk", "subject": "s"}),
            "body",
        ),
        (
            "outbound.start-phone",
            json!({"customer_id": "c", "procedure_id": "p", "to_phone_number": "07700", "from_phone_number": "+442071838750"}),
            "to_phone_number",
        ),
        (
            "voice.latest-call-context",
            json!({"phone": "+447700900123", "lookback_seconds": 2}),
            "lookback_seconds",
        ),
        (
            "voice.latest-call-context",
            json!({"phone": "447700900123"}),
            "phone",
        ),
        (
            "conversations.upload-memories",
            json!({"conversation_id": "c", "idempotency_key": "k", "memories": []}),
            "memories",
        ),
        (
            "resource-types.create",
            json!({"display_name": "R", "scope": "everywhere", "refresh_strategy": "static"}),
            "scope",
        ),
        (
            "resource-sources.create",
            json!({"display_name": "S", "source_type": "http"}),
            "http_config",
        ),
        (
            "resource-sources.update",
            json!({"id": "s", "source_type": "webhook"}),
            "source_type",
        ),
        (
            "traffic-groups.add-target",
            json!({"id": "g", "target_type": "intent", "target_id": "p"}),
            "target_type",
        ),
        (
            "traffic-groups.remove-target",
            json!({"id": "g", "target_id": "a/b"}),
            "target_id",
        ),
        ("terminology.create", json!({"replacement": "x"}), "blocked"),
        (
            "conversations.resume",
            json!({"conversation_id": "c", "assignee_type": "Agent", "resources": {"bad/name": {}}}),
            "resources",
        ),
        ("tools.list", json!({"verbose": true}), "verbose"),
    ];
    for (op, params, field) in refused {
        match c.call(&http, &clock, op, &params.to_string()) {
            Err(Error::InvalidArgument { field: f, reason }) => {
                assert_eq!(f, field, "{op}: {reason}")
            }
            other => panic!("{op}: {other:?}"),
        }
    }
    assert!(http.sent().is_empty(), "nothing may be sent");
}
