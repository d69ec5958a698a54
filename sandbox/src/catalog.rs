//! The operations beyond the seed documents — procedures, tools, notes,
//! resource types and sources, traffic groups, terminology, outbound
//! conversations, back-office tasks, memories, voice — routed, authorised and
//! validated from the same operation table the client builds its requests
//! from (`glbridge_guest::operation::SPECS`), so the sandbox and the client
//! cannot disagree on a path, a role or a required field.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodRouter};
use axum::{Json, Router};
use glbridge_guest::http::Method;
use glbridge_guest::model::conversations::Status;
use glbridge_guest::operation::spec::{Kind, Place};
use glbridge_guest::operation::{Operation, Role as OpRole, Spec, SPECS};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::api::{auth, ApiError, Role};
use crate::state::{ConversationRecord, State};
use crate::{now, Changed, Shared};

type Params = Map<String, Value>;
type Answer = Result<Response, ApiError>;

/// Documents the sandbox keeps for these operations, by kind and id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Catalog {
    /// Documents by kind (`tools`, `notes`, …), then id.
    pub kinds: BTreeMap<String, BTreeMap<String, Value>>,
    /// The last number handed out for a generated id.
    pub last_id: u64,
}

impl Default for Catalog {
    /// Procedures are written in the product, not through the API: the
    /// sandbox starts with three.
    fn default() -> Self {
        let mut c = Catalog {
            kinds: BTreeMap::new(),
            last_id: 0,
        };
        let at = "2026-01-05T09:00:00Z";
        let version = |n: u64, live: bool, name: &str| {
            json!({"version": n, "name": name, "description": format!("{name}, version {n}"),
                   "author": "user-ops", "created": at, "live": live,
                   "gated": false, "gated_config": null})
        };
        for (id, name, versions, status) in [
            (
                "refunds",
                "Refund a card payment",
                vec![version(1, true, "Refunds"), version(2, false, "Refunds")],
                "live",
            ),
            (
                "lost-card",
                "Replace a lost card",
                vec![version(1, true, "Lost card")],
                "live",
            ),
            (
                "address-change",
                "Change an address",
                vec![version(1, false, "Address change")],
                "draft",
            ),
        ] {
            c.put(
                "procedures",
                id,
                json!({"id": id, "name": name, "description": name, "status": status,
                       "author": {"email": "ops@example.com"}, "created": at, "updated": at,
                       "has_daily_limit": false, "max_daily_conversations": 0,
                       "versions": versions}),
            );
        }
        c
    }
}

impl Catalog {
    fn kind(&mut self, kind: &str) -> &mut BTreeMap<String, Value> {
        self.kinds.entry(kind.to_owned()).or_default()
    }

    /// The document `id` of `kind`, if any.
    pub fn get(&self, kind: &str, id: &str) -> Option<&Value> {
        self.kinds.get(kind).and_then(|k| k.get(id))
    }

    fn get_mut(&mut self, kind: &str, id: &str) -> Option<&mut Value> {
        self.kinds.get_mut(kind).and_then(|k| k.get_mut(id))
    }

    fn put(&mut self, kind: &str, id: &str, doc: Value) {
        self.kind(kind).insert(id.to_owned(), doc);
    }

    /// Every document of `kind`, in id order.
    pub fn all(&self, kind: &str) -> Vec<Value> {
        self.kinds
            .get(kind)
            .map(|k| k.values().cloned().collect())
            .unwrap_or_default()
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.last_id += 1;
        format!("{prefix}-{}", self.last_id)
    }

    /// The live version of a procedure, if it has one.
    pub fn live_version(&self, procedure: &str) -> Option<u64> {
        self.get("procedures", procedure)?
            .get("versions")?
            .as_array()?
            .iter()
            .find(|v| v["live"] == json!(true))
            .and_then(|v| v["version"].as_u64())
    }

    /// A resource type of the seed documents' form (`mode`, by name).
    pub fn legacy_resource_type(&mut self, name: &str, mode: &str, pull_config: Option<Value>) {
        let at = stamp();
        let created = self
            .get("resource_types", name)
            .and_then(|d| d.get("created").cloned());
        let doc = json!({"id": name, "name": name, "display_name": name, "description": "",
            "mode": mode, "pull_config": pull_config,
            "scope": "local", "refresh_strategy": if mode == "pull" { "dynamic" } else { "static" },
            "is_enabled": true, "created": created.unwrap_or(json!(at)), "updated": at});
        self.put("resource_types", name, doc);
    }

    /// A pushed resource makes its type known, if it was not.
    pub fn pushed_resource_type(&mut self, name: &str) {
        if self.get("resource_types", name).is_none() {
            self.legacy_resource_type(name, "push", None);
        }
    }

    /// Resource types kept by an earlier version (by name, typed).
    pub fn adopt(
        &mut self,
        old: BTreeMap<String, glbridge_guest::model::management::ResourceType>,
    ) {
        for (name, rt) in old {
            let mode = if rt.mode == glbridge_guest::model::management::ResourceMode::Pull {
                "pull"
            } else {
                "push"
            };
            self.legacy_resource_type(&name, mode, rt.pull_config);
            if let Some(doc) = self.get_mut("resource_types", &name) {
                if let Some(d) = rt.display_name {
                    doc["display_name"] = json!(d);
                }
                if let Some(d) = rt.description {
                    doc["description"] = json!(d);
                }
            }
        }
    }

    /// The terminology substitutions, applied to a reply the agent writes.
    pub fn substitute(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in self.all("substitutions") {
            if let (Some(blocked), Some(replacement)) =
                (s["blocked"].as_str(), s["replacement"].as_str())
            {
                if !blocked.is_empty() {
                    out = out.replace(blocked, replacement);
                }
            }
        }
        out
    }

    /// Live notes: title and text, for the agent to answer from.
    pub fn live_notes(&self) -> Vec<(String, String, String)> {
        self.all("notes")
            .into_iter()
            .filter(|n| n["status"] == "live")
            .map(|n| {
                let text = |k: &str| n[k].as_str().unwrap_or("").to_owned();
                let body = if text("body").is_empty() {
                    format!("See {}", text("url"))
                } else {
                    text("body")
                };
                (text("id"), text("title"), body)
            })
            .collect()
    }
}

/// The operations with hand-written handlers in `api.rs` (which validate
/// through the same table); every other one is served here.
const HAND_WRITTEN: &[&str] = &[
    "conversations.start",
    "conversations.read",
    "conversations.read-legacy",
    "conversations.add-message",
    "conversations.add-event",
    "conversations.assign",
    "conversations.finish",
    "conversations.end",
    "conversations.cancel",
    "conversations.resume",
    "conversations.rate",
    "conversations.push-resource",
    "knowledge.upsert-article",
    "knowledge.delete-article",
    "knowledge.set-article-usage",
    "knowledge.upsert-topic",
    "management.upsert-hand-off-target",
    "management.list-hand-off-targets",
    "management.delete-hand-off-target",
    "management.set-default-hand-off-target",
    "management.get-default-hand-off-target",
    "management.put-secret",
    "management.list-secrets",
    "management.delete-secret",
    "management.ip-addresses",
];

fn served(name: &str) -> bool {
    !HAND_WRITTEN.contains(&name)
}

/// The route of a spec's path in axum's syntax: its first parameter is
/// called `id` (as the hand-written routes at the same places call it).
fn route_path(spec: &Spec) -> String {
    let mut first = true;
    spec.path
        .split('/')
        .map(|s| match s.strip_prefix('{') {
            Some(_) if first => {
                first = false;
                "{id}".to_owned()
            }
            _ => s.to_owned(),
        })
        .fold(String::new(), |p, s| p + "/" + &s)
}

/// Adds every operation served here to `router`.
pub fn routes(mut router: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    // Several operations may share a method and path (the two dialects of
    // resource types): one handler per pair picks among them.
    let mut by_route: BTreeMap<(String, &'static str), Vec<&'static Spec>> = BTreeMap::new();
    for spec in SPECS.iter().copied().filter(|s| served(s.name)) {
        by_route
            .entry((route_path(spec), spec.method.as_str()))
            .or_default()
            .push(spec);
    }
    let mut by_path: BTreeMap<String, MethodRouter<Arc<Shared>>> = BTreeMap::new();
    for ((path, _), specs) in by_route {
        let method = specs[0].method;
        let handler = move |AxState(shared): AxState<Arc<Shared>>,
                            Path(path): Path<HashMap<String, String>>,
                            Query(query): Query<HashMap<String, String>>,
                            headers: HeaderMap,
                            bytes: Bytes| async move {
            serve(&specs, &shared, path, query, &headers, &bytes)
        };
        let route = match method {
            Method::Get => routing::get(handler),
            Method::Post => routing::post(handler),
            Method::Put => routing::put(handler),
            Method::Delete => routing::delete(handler),
        };
        let merged = match by_path.remove(&path) {
            Some(existing) => existing.merge(route),
            None => route,
        };
        by_path.insert(path, merged);
    }
    for (path, route) in by_path {
        router = router.route(&path, route);
    }
    router
}

fn role(spec: &Spec) -> Role {
    match spec.role {
        OpRole::Integration => Role::Integration,
        OpRole::Management => Role::Management,
        OpRole::Either => Role::Either,
    }
}

/// Authorises, gathers the parameters (path, query, body), validates them
/// as the client does, and runs the operation.
fn serve(
    specs: &[&'static Spec],
    shared: &Shared,
    path: HashMap<String, String>,
    query: HashMap<String, String>,
    headers: &HeaderMap,
    bytes: &Bytes,
) -> Answer {
    let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::invalid(format!("body: not JSON: {e}")))?
    };
    let spec = pick(specs, &body);
    auth(shared, headers, role(spec))?;
    let fields = spec.fields();
    let mut params = Params::new();
    match (spec.raw_body(), body) {
        (Some(field), body) => {
            params.insert(field.to_owned(), body);
        }
        (None, Value::Object(map)) => {
            // Like the real service, fields it does not know are ignored, and
            // an empty string or `null` is an absent optional field (the Go
            // client sends both).
            for (k, v) in map {
                let known = fields
                    .iter()
                    .find(|f| f.name == k && f.place == Place::Body);
                match known {
                    Some(f) if !f.required && (v.is_null() || v == "") => {}
                    Some(_) => {
                        params.insert(k, v);
                    }
                    None => {}
                }
            }
        }
        (None, Value::Null) => {}
        (None, _) => return Err(ApiError::invalid("body: must be a JSON object")),
    }
    for f in fields.iter().filter(|f| f.place == Place::Query) {
        if let Some(v) = query.get(f.name) {
            let value = match f.kind {
                Kind::Integer => v.parse::<i64>().map_or(json!(v), |n| json!(n)),
                Kind::Bool => v.parse::<bool>().map_or(json!(v), |b| json!(b)),
                _ => json!(v),
            };
            params.insert(f.name.to_owned(), value);
        }
    }
    let mut names = spec.path_params();
    if let Some(first) = names.next() {
        if let Some(v) = path.get("id") {
            params.insert(first.to_owned(), json!(v));
        }
    }
    for name in names {
        if let Some(v) = path.get(name) {
            params.insert(name.to_owned(), json!(v));
        }
    }
    Operation::from_json(spec.name, Value::Object(params.clone()))?.validate()?;
    run(spec.name, shared, &params)
}

/// Of the operations at one method and path, the one this body speaks:
/// `PUT /resource-types/{x}` with a `mode` is the seed documents' upsert by
/// name, without one the official clients' update by id.
fn pick(specs: &[&'static Spec], body: &Value) -> &'static Spec {
    let legacy = body.get("mode").is_some();
    specs
        .iter()
        .copied()
        .find(|s| s.name != "management.put-resource-type" || legacy)
        .unwrap_or(specs[0])
}

fn ok(value: Value) -> Answer {
    Ok((StatusCode::OK, Json(value)).into_response())
}

fn accepted() -> Answer {
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}

fn text<'a>(p: &'a Params, k: &str) -> &'a str {
    p.get(k).and_then(Value::as_str).unwrap_or("")
}

fn missing(what: &str, id: &str) -> ApiError {
    ApiError::not_found(what, id)
}

fn exists(what: &str, id: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "already_exists",
        format!("{what} {id:?} already exists"),
    )
}

/// Merges the given fields of `p` into `doc`.
fn merge(doc: &mut Value, p: &Params, skip: &[&str]) {
    if let Value::Object(map) = doc {
        for (k, v) in p {
            if !skip.contains(&k.as_str()) {
                map.insert(k.clone(), v.clone());
            }
        }
    }
}

fn stamp() -> String {
    now().to_rfc3339()
}

/// Runs an operation on the state.
fn run(name: &str, shared: &Shared, p: &Params) -> Answer {
    let (area, op) = name.split_once('.').unwrap_or((name, ""));
    match area {
        "conversations" | "customers" | "outbound" | "voice" => conversations(op, name, shared, p),
        "back-office-tasks" => tasks(op, shared, p),
        "procedures" => procedures(op, shared, p),
        "tools" => tools(op, shared, p),
        "notes" => crud(op, shared, p, "notes", "note", "id"),
        "resource-types" | "management" => resource_types(name, shared, p),
        "resource-sources" => sources(op, shared, p),
        "traffic-groups" => traffic_groups(op, shared, p),
        "terminology" => crud(op, shared, p, "substitutions", "substitution", "id"),
        "knowledge" => topics(op, shared, p),
        _ => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "unimplemented",
            format!("{name} is not in the sandbox"),
        )),
    }
}

fn conversation<'a>(s: &'a mut State, id: &str) -> Result<&'a mut ConversationRecord, ApiError> {
    s.conversations
        .get_mut(id)
        .ok_or_else(|| missing("conversation", id))
}

fn conversations(op: &str, name: &str, shared: &Shared, p: &Params) -> Answer {
    let id = text(p, "conversation_id").to_owned();
    match name {
        "conversations.return-async-tool-result" => {
            shared.with_state(Changed::conversation(&id), |s| {
                let c = conversation(s, &id)?;
                c.events.push(json!({"type": "async-tool-result",
                    "async_tool_execution_id": p["async_tool_execution_id"], "payload": p["payload"]}));
                Ok::<_, ApiError>(())
            })?;
            ok(json!({}))
        }
        "conversations.delete" => {
            shared.with_state(Changed::conversation(&id), |s| {
                let c = conversation(s, &id)?;
                if matches!(c.status, Status::Active | Status::Observing) {
                    return Err(ApiError::precondition(format!(
                        "conversation {id:?} is {}: finish or cancel it before deleting it",
                        format!("{:?}", c.status).to_lowercase()
                    )));
                }
                s.conversations.remove(&id);
                Ok(())
            })?;
            accepted()
        }
        "conversations.upload-memories" => {
            shared.with_state(Changed::conversation(&id).and_shared(), |s| {
                conversation(s, &id)?;
                let key = format!("{id}/{}", text(p, "idempotency_key"));
                if let Some(done) = s.catalog.get("memory-uploads", &key) {
                    return ok(done.clone());
                }
                let upload = s.catalog.new_id("upload");
                let n = p["memories"].as_array().map_or(0, Vec::len);
                let answer = json!({"upload_id": upload, "memories_inserted": n});
                s.catalog.put("memory-uploads", &key, answer.clone());
                ok(answer)
            })
        }
        "customers.create-memories" => {
            let customer = text(p, "customer_id").to_owned();
            shared.with_state(Changed::SHARED, |s| {
                let mut all = s
                    .catalog
                    .get("customer-memories", &customer)
                    .cloned()
                    .unwrap_or_else(|| json!([]));
                if let (Value::Array(list), Some(new)) = (&mut all, p["memories"].as_array()) {
                    list.extend(new.iter().cloned());
                }
                s.catalog.put("customer-memories", &customer, all);
            });
            accepted()
        }
        _ if name.starts_with("outbound.") => outbound(op, shared, p),
        "voice.latest-call-context" => {
            let phone = text(p, "phone");
            let lookback = p
                .get("lookback_seconds")
                .and_then(Value::as_i64)
                .unwrap_or(60);
            let since = now()
                .0
                .saturating_sub(lookback.saturating_mul(1_000_000_000));
            let call = shared.with_state(Changed::NOTHING, |s| {
                s.conversations
                    .values()
                    .filter(|c| {
                        c.channel == "voice"
                            && c.created.0 >= since
                            && c.metadata.as_ref().and_then(|m| m.get("to_phone_number"))
                                == Some(&json!(phone))
                    })
                    .max_by_key(|c| c.created.0)
                    .map(|c| {
                        json!({"started_at": c.created.to_rfc3339(),
                               "summary": format!("Outbound call {} to {phone}", c.id),
                               "last_executed_procedure": c.metadata.as_ref().and_then(|m| m.get("procedure_id")),
                               "gradient_labs_url": format!("https://app.gradient-labs.ai/conversations/{}", c.id)})
                    })
            });
            match call {
                Some(c) => ok(c),
                None => Err(missing("voice call from", phone)),
            }
        }
        _ => Err(ApiError::invalid(format!(
            "{name}: not a conversation operation"
        ))),
    }
}

/// A procedure with a live version, or the reason it cannot be used.
fn live_procedure(s: &State, id: &str) -> Result<u64, ApiError> {
    if s.catalog.get("procedures", id).is_none() {
        return Err(missing("procedure", id));
    }
    s.catalog
        .live_version(id)
        .ok_or_else(|| ApiError::precondition(format!("procedure {id:?} has no live version")))
}

fn outbound(op: &str, shared: &Shared, p: &Params) -> Answer {
    let channel = match op {
        "start-chat" => "web",
        "start-phone" => "voice",
        "start-email" => "email",
        _ => p.get("channel").and_then(Value::as_str).unwrap_or("email"),
    }
    .to_owned();
    let procedure = text(p, "procedure_id").to_owned();
    let id = shared.with_state(Changed::SHARED, |s| {
        let version = live_procedure(s, &procedure)?;
        Ok::<_, ApiError>((s.catalog.new_id("outbound"), version))
    })?;
    let (id, version) = id;
    let at = now();
    let mut metadata =
        json!({"outbound": true, "procedure_id": procedure, "procedure_version": version});
    for k in [
        "support_platform",
        "to_phone_number",
        "from_phone_number",
        "subject",
    ] {
        if let Some(v) = p.get(k) {
            metadata[k] = v.clone();
        }
    }
    let record = ConversationRecord {
        assignee_type: Some("AI Agent".into()),
        metadata: Some(metadata),
        ..ConversationRecord::new(
            id.clone(),
            text(p, "customer_id").to_owned(),
            channel,
            at,
            Status::Active,
        )
    };
    shared.with_state(Changed::conversation(&id), |s| {
        s.conversations.insert(id.clone(), record)
    });
    ok(json!({ "conversation_id": id }))
}

fn tasks(op: &str, shared: &Shared, p: &Params) -> Answer {
    let id = text(p, "id").to_owned();
    match op {
        "create" => shared.with_state(Changed::SHARED, |s| {
            if s.catalog.get("tasks", &id).is_some() {
                return Err(exists("back-office task", &id));
            }
            let procedure = text(p, "procedure_id");
            let version = live_procedure(s, procedure)?;
            let at = stamp();
            // The sandbox's agent completes a task at once, reporting the
            // procedure version it ran.
            let task = json!({"id": id, "agent_id": p.get("agent_id").cloned().unwrap_or(json!("")),
                "status": "completed", "input": p["input"], "metadata": p.get("metadata"),
                "created": at, "updated": at, "completed": at,
                "result": {"result_type": "custom",
                           "custom": {"procedure_id": procedure, "procedure_version": version}}});
            s.catalog.put("tasks", &id, task.clone());
            ok(task)
        }),
        "read" => shared.with_state(Changed::NOTHING, |s| {
            s.catalog
                .get("tasks", &id)
                .cloned()
                .map_or_else(|| Err(missing("back-office task", &id)), ok)
        }),
        _ => shared.with_state(Changed::SHARED, |s| {
            s.catalog
                .kind("tasks")
                .remove(&id)
                .ok_or_else(|| missing("back-office task", &id))?;
            accepted()
        }),
    }
}

fn without_versions(doc: &Value) -> Value {
    let mut d = doc.clone();
    if let Value::Object(m) = &mut d {
        m.remove("versions");
    }
    d
}

/// Procedures answered per page of this many (small, so clients walk pages).
const PAGE: usize = 2;

fn procedures(op: &str, shared: &Shared, p: &Params) -> Answer {
    let id = text(p, "id").to_owned();
    if op == "list" {
        let all: Vec<Value> = shared.with_state(Changed::NOTHING, |s| {
            s.catalog
                .all("procedures")
                .iter()
                .filter(|d| match p.get("status").and_then(Value::as_str) {
                    Some(status) => d["status"] == status,
                    None => true,
                })
                .map(without_versions)
                .collect()
        });
        let start: usize = match p.get("cursor").and_then(Value::as_str) {
            None => 0,
            Some(c) => c
                .strip_prefix("page-")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| ApiError::invalid("cursor: not a cursor this API gave"))?,
        };
        let page: Vec<Value> = all.iter().skip(start).take(PAGE).cloned().collect();
        let next = (start + PAGE < all.len()).then(|| format!("page-{}", start + PAGE));
        let prev = (start > 0).then(|| format!("page-{}", start.saturating_sub(PAGE)));
        return ok(json!({"procedures": page, "pagination": {"next": next, "prev": prev}}));
    }
    let changed = if op == "read" || op == "list-versions" {
        Changed::NOTHING
    } else {
        Changed::SHARED
    };
    shared.with_state(changed, |s| {
        let doc = s
            .catalog
            .get_mut("procedures", &id)
            .ok_or_else(|| missing("procedure", &id))?;
        let version = p.get("version").and_then(|v| match v {
            Value::String(t) => t.parse::<u64>().ok(),
            other => other.as_u64(),
        });
        let versions = doc["versions"]
            .as_array_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        procedure_op(op, doc, versions, version, p, &id)
    })
}

fn procedure_op(
    op: &str,
    doc: &mut Value,
    mut versions: Vec<Value>,
    version: Option<u64>,
    p: &Params,
    id: &str,
) -> Answer {
    let at = version.and_then(|n| versions.iter().position(|v| v["version"] == json!(n)));
    let outcome = match (op, at) {
        ("read", _) => ok(without_versions(doc)),
        ("list-versions", _) => ok(json!({ "versions": versions })),
        ("set-limit", _) => {
            // The Go client leaves `has_daily_limit` out when false (omitempty).
            doc["has_daily_limit"] = p.get("has_daily_limit").cloned().unwrap_or(json!(false));
            doc["max_daily_conversations"] = p
                .get("max_daily_conversations")
                .cloned()
                .unwrap_or(json!(0));
            doc["updated"] = json!(stamp());
            ok(without_versions(doc))
        }
        (_, None) => Err(missing(
            "version",
            &format!("{id}/{}", version.unwrap_or_default()),
        )),
        ("set-live", Some(at)) => {
            for (i, v) in versions.iter_mut().enumerate() {
                v["live"] = json!(i == at);
            }
            doc["status"] = json!("live");
            ok(json!({}))
        }
        ("unset-live", Some(at)) => {
            if versions[at]["live"] != json!(true) {
                Err(ApiError::precondition(format!(
                    "version {} is not live",
                    versions[at]["version"]
                )))
            } else {
                versions[at]["live"] = json!(false);
                doc["status"] = json!("draft");
                ok(json!({}))
            }
        }
        ("set-gated", Some(at)) => {
            let other = versions
                .iter()
                .enumerate()
                .any(|(i, v)| i != at && v["gated"] == json!(true));
            if other && p.get("replace") != Some(&json!(true)) {
                Err(ApiError::precondition(
                    "another version is gated: send replace=true to move the gate",
                ))
            } else {
                for (i, v) in versions.iter_mut().enumerate() {
                    v["gated"] = json!(i == at);
                    v["gated_config"] = if i == at {
                        json!({"max_daily_conversations": p["max_daily_conversations"]})
                    } else {
                        Value::Null
                    };
                }
                ok(json!({}))
            }
        }
        ("unset-gated", Some(at)) => {
            versions[at]["gated"] = json!(false);
            versions[at]["gated_config"] = Value::Null;
            ok(json!({}))
        }
        _ => Err(ApiError::invalid(format!("procedures.{op}: unknown"))),
    };
    doc["versions"] = Value::Array(versions);
    outcome
}

fn tools(op: &str, shared: &Shared, p: &Params) -> Answer {
    let id = text(p, "id").to_owned();
    match op {
        "list" => {
            ok(json!({"tools": shared.with_state(Changed::NOTHING, |s| s.catalog.all("tools"))}))
        }
        "create" => shared.with_state(Changed::SHARED, |s| {
            let id = if id.is_empty() {
                s.catalog.new_id("tool")
            } else {
                id.clone()
            };
            if s.catalog.get("tools", &id).is_some() {
                return Err(exists("tool", &id));
            }
            let mut doc = json!({"id": id, "version": 1});
            merge(&mut doc, p, &["id"]);
            s.catalog.put("tools", &id, doc.clone());
            ok(doc)
        }),
        "read" => shared.with_state(Changed::NOTHING, |s| {
            let doc = s
                .catalog
                .get("tools", &id)
                .ok_or_else(|| missing("tool", &id))?;
            match p.get("version").and_then(Value::as_u64) {
                Some(v) if Some(v) != doc["version"].as_u64() => {
                    Err(missing("tool version", &format!("{id}/{v}")))
                }
                _ => ok(doc.clone()),
            }
        }),
        "update" => shared.with_state(Changed::SHARED, |s| {
            let doc = s
                .catalog
                .get_mut("tools", &id)
                .ok_or_else(|| missing("tool", &id))?;
            let is = |v: Option<&Value>| v.is_some_and(|v| !v.is_null() && *v != json!(false));
            let real = (is(doc.get("http")) || is(doc.get("webhook"))) && !is(doc.get("mock"));
            if real && is(p.get("mock")) {
                return Err(ApiError::precondition(
                    "a real tool cannot be turned back into a mock",
                ));
            }
            // Giving a real definition without `mock` makes the tool real
            // (the Go client cannot send `mock: false`); leaving all three out
            // keeps the tool's kind.
            if (is(p.get("http")) || is(p.get("webhook"))) && !is(p.get("mock")) {
                if let Value::Object(m) = doc {
                    m.remove("mock");
                }
            }
            // One kind of real definition at a time.
            if let Value::Object(m) = doc {
                if is(p.get("http")) {
                    m.remove("webhook");
                } else if is(p.get("webhook")) {
                    m.remove("http");
                }
            }
            // A `null` (what the Go client sends for a field it leaves out)
            // changes nothing.
            let given: Params = p
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            merge(doc, &given, &["id"]);
            doc["version"] = json!(doc["version"].as_u64().unwrap_or(1) + 1);
            ok(doc.clone())
        }),
        "delete" => shared.with_state(Changed::SHARED, |s| {
            s.catalog
                .kind("tools")
                .remove(&id)
                .ok_or_else(|| missing("tool", &id))?;
            ok(json!({}))
        }),
        _ => {
            let tool = shared
                .with_state(Changed::NOTHING, |s| s.catalog.get("tools", &id).cloned())
                .ok_or_else(|| missing("tool", &id))?;
            execute(shared, &id, &tool, p)
        }
    }
}

/// Runs a tool: a mock answers its `result` (or a stand-in); an HTTP tool
/// is called, on loopback only, with `{{name}}` filled from the arguments; a
/// webhook tool is sent as a signed `action.execute` to the webhook URL.
fn execute(shared: &Shared, id: &str, tool: &Value, p: &Params) -> Answer {
    let args: BTreeMap<String, String> = p["arguments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            Some((
                a["name"].as_str()?.to_owned(),
                a["value"].as_str()?.to_owned(),
            ))
        })
        .collect();
    for param in tool["parameters"].as_array().into_iter().flatten() {
        let name = param["name"].as_str().unwrap_or("");
        if param["required"] == json!(true) && !args.contains_key(name) {
            return ok(json!({"id": id, "error": format!("argument {name:?} is required")}));
        }
    }
    let fill = |template: &str| {
        args.iter().fold(template.to_owned(), |t, (k, v)| {
            t.replace(&format!("{{{{{k}}}}}"), v)
        })
    };
    if let Some(mock) = tool
        .get("mock")
        .filter(|m| !m.is_null() && **m != json!(false))
    {
        // A canned `{result}`, or for the clients' `mock: true` a stand-in.
        let result = match mock {
            Value::Bool(true) => json!(format!(
                "mock result of {}",
                tool["name"].as_str().unwrap_or(id)
            )),
            other => other
                .get("result")
                .cloned()
                .unwrap_or_else(|| other.clone()),
        };
        let result = match result {
            Value::String(t) => Value::String(fill(&t)),
            other => other,
        };
        return ok(json!({"id": id, "result": result}));
    }
    if let Some(http) = tool.get("http").filter(|h| !h.is_null()) {
        let url = fill(http["url_template"].as_str().unwrap_or(""));
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| url.starts_with(p));
        if !loopback {
            return ok(
                json!({"id": id, "error": format!("the sandbox calls loopback URLs only, not {url}")}),
            );
        }
        let method = http["method"].as_str().unwrap_or("GET").to_uppercase();
        let agent = &shared.http;
        let body = http["body"]["json_template"].as_str().map(fill);
        let answer = match (method.as_str(), body) {
            ("GET", _) => agent.get(&url).call(),
            ("DELETE", _) => agent.delete(&url).call(),
            (_, body) => agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or_default()),
        };
        return match answer {
            Ok(mut r) if r.status().is_success() => {
                let text = r.body_mut().read_to_string().unwrap_or_default();
                ok(json!({"id": id, "result": text}))
            }
            Ok(r) => ok(
                json!({"id": id, "error": format!("the tool's endpoint answered {}", r.status())}),
            ),
            Err(e) => ok(json!({"id": id, "error": format!("calling the tool: {e}")})),
        };
    }
    if let Some(webhook) = tool.get("webhook").filter(|w| !w.is_null()) {
        let Some(url) = shared.config.webhook_url.clone() else {
            return ok(json!({"id": id, "error": "no webhook URL is configured"}));
        };
        let n = shared.with_state(Changed::NOTHING, |s| {
            s.webhooks_created += 1;
            s.webhooks_created
        });
        let event_id = format!("webhook_{n:08}_tool");
        let event = crate::delivery::Outgoing {
            id: event_id.clone(),
            event_type: "action.execute".into(),
            conversation_id: String::new(),
            sequence_number: 0,
            body: json!({"id": event_id, "type": "action.execute", "sequence_number": 0,
                "timestamp": now(),
                "data": {"action": webhook["name"], "params": args, "tool_id": id}})
            .to_string(),
            token: None,
            kind: crate::delivery::Kind::Action,
        };
        return match crate::delivery::send(shared, &url, &event) {
            Ok((status, body)) if (200..300).contains(&status) => {
                let result = serde_json::from_slice::<Value>(&body)
                    .unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
                ok(json!({"id": id, "result": result}))
            }
            Ok((status, _)) => {
                ok(json!({"id": id, "error": format!("the webhook answered {status}")}))
            }
            Err(e) => ok(json!({"id": id, "error": format!("calling the webhook: {e}")})),
        };
    }
    ok(json!({"id": id, "error": "the tool has no mock, http or webhook definition"}))
}

/// Create, read, update, delete and set-status of documents with an id.
fn crud(op: &str, shared: &Shared, p: &Params, kind: &str, what: &str, key: &str) -> Answer {
    let id = text(p, key).to_owned();
    match op {
        "list" => ok(json!({ kind: shared.with_state(Changed::NOTHING, |s| s.catalog.all(kind)) })),
        "create" => shared.with_state(Changed::SHARED, |s| {
            let id = if id.is_empty() {
                s.catalog.new_id(&what.replace(' ', "-"))
            } else {
                id.clone()
            };
            if s.catalog.get(kind, &id).is_some() {
                return Err(exists(what, &id));
            }
            let at = stamp();
            let mut doc = json!({"id": id, "created": at, "updated": at});
            if kind == "notes" {
                doc["gradient_labs_id"] = json!(s.catalog.new_id("gl-note"));
                doc["status"] = json!("draft");
                doc["last_modified_by"] = json!("api");
            }
            merge(&mut doc, p, &[key]);
            note_fields(&mut doc);
            s.catalog.put(kind, &id, doc.clone());
            ok(doc)
        }),
        "read" => shared.with_state(Changed::NOTHING, |s| {
            s.catalog
                .get(kind, &id)
                .cloned()
                .map_or_else(|| Err(missing(what, &id)), ok)
        }),
        "update" | "set-status" => shared.with_state(Changed::SHARED, |s| {
            let doc = s
                .catalog
                .get_mut(kind, &id)
                .ok_or_else(|| missing(what, &id))?;
            if op == "update" && kind == "notes" {
                // A note is either text or a web page.
                if let Value::Object(m) = doc {
                    m.remove("body");
                    m.remove("url");
                }
            }
            merge(doc, p, &[key]);
            note_fields(doc);
            doc["updated"] = json!(stamp());
            if op == "set-status" {
                return ok(json!({}));
            }
            ok(doc.clone())
        }),
        _ => shared.with_state(Changed::SHARED, |s| {
            s.catalog
                .kind(kind)
                .remove(&id)
                .ok_or_else(|| missing(what, &id))?;
            ok(json!({}))
        }),
    }
}

/// Notes answer `url`, `valid_from` and `valid_to` for what is sent as
/// `webpage_url`, `start_time` and `end_time`.
fn note_fields(doc: &mut Value) {
    if let Value::Object(m) = doc {
        for (sent, kept) in [
            ("webpage_url", "url"),
            ("start_time", "valid_from"),
            ("end_time", "valid_to"),
        ] {
            if let Some(v) = m.remove(sent) {
                m.insert(kept.into(), v);
            }
        }
    }
}

/// Resource types in both dialects: by name (`mode`, `pull_config`, the
/// seed documents) and by id (`scope`, `refresh_strategy`,
/// `source_config`, the official clients). One store; each item answers
/// both shapes (a dynamic type is pulled, a static one pushed).
fn resource_types(name: &str, shared: &Shared, p: &Params) -> Answer {
    let key = text(p, "id").to_owned();
    let key = if key.is_empty() {
        text(p, "name").to_lowercase()
    } else {
        key
    };
    match name {
        "management.list-resource-types" => ok(
            json!({"resource_types": shared.with_state(Changed::NOTHING, |s| {
                s.catalog.all("resource_types").into_iter().map(|mut t| {
                    if let Value::Object(m) = &mut t { m.remove("pull_config"); }
                    t
                }).collect::<Vec<_>>()
            })}),
        ),
        "management.put-resource-type" => shared.with_state(Changed::SHARED, |s| {
            s.catalog
                .legacy_resource_type(&key, text(p, "mode"), p.get("pull_config").cloned());
            if let Some(doc) = s.catalog.get_mut("resource_types", &key) {
                for k in ["display_name", "description"] {
                    if let Some(v) = p.get(k) {
                        doc[k] = v.clone();
                    }
                }
            }
            ok(json!({}))
        }),
        "resource-types.create" => shared.with_state(Changed::SHARED, |s| {
            let id = s.catalog.new_id("rt");
            let at = stamp();
            let mut doc = json!({"id": id, "is_enabled": true, "created": at, "updated": at,
                                 "description": ""});
            merge(&mut doc, p, &[]);
            dialects(&mut doc);
            s.catalog.put("resource_types", &id, doc.clone());
            ok(doc)
        }),
        "resource-types.update" => shared.with_state(Changed::SHARED, |s| {
            let doc = s
                .catalog
                .get_mut("resource_types", &key)
                .ok_or_else(|| missing("resource type", &key))?;
            merge(doc, p, &["id"]);
            dialects(doc);
            doc["updated"] = json!(stamp());
            ok(doc.clone())
        }),
        "management.get-resource-type" | "resource-types.read" => {
            shared.with_state(Changed::NOTHING, |s| {
                s.catalog
                    .get("resource_types", &key)
                    .cloned()
                    .map_or_else(|| Err(missing("resource type", &key)), ok)
            })
        }
        _ => shared.with_state(Changed::SHARED, |s| {
            s.catalog
                .kind("resource_types")
                .remove(&key)
                .ok_or_else(|| missing("resource type", &key))?;
            ok(json!({}))
        }),
    }
}

/// Keeps `mode` in step with `refresh_strategy`, and `name` with the id.
fn dialects(doc: &mut Value) {
    let pull = doc["refresh_strategy"] == "dynamic";
    doc["mode"] = json!(if pull { "pull" } else { "push" });
    if doc.get("name").is_none_or(Value::is_null) {
        doc["name"] = doc["id"].clone();
    }
}

fn attribute_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "complex",
        Value::String(s) if glbridge_guest::Timestamp::parse_rfc3339(s).is_ok() => "timestamp",
        _ => "string",
    }
}

fn sources(op: &str, shared: &Shared, p: &Params) -> Answer {
    let id = text(p, "id").to_owned();
    match op {
        "schema-by-examples" => shared.with_state(Changed::SHARED, |s| {
            let doc = s
                .catalog
                .get_mut("resource_sources", &id)
                .ok_or_else(|| missing("resource source", &id))?;
            let mut attributes: BTreeMap<String, Value> = BTreeMap::new();
            if p.get("schema_update_strategy").and_then(Value::as_str) != Some("replace") {
                for a in doc["schema"]["attributes"].as_array().into_iter().flatten() {
                    if let Some(path) = a["path"].as_str() {
                        attributes.insert(path.to_owned(), a.clone());
                    }
                }
            }
            for example in p["examples"].as_array().into_iter().flatten() {
                for (k, v) in example.as_object().into_iter().flatten() {
                    attributes.insert(
                        format!("$.{k}"),
                        json!({"path": format!("$.{k}"), "name": k, "type": attribute_type(v),
                               "cardinality": if v.is_array() { "many" } else { "one" },
                               "is_top_level": true, "description": ""}),
                    );
                }
            }
            let raw = p["examples"].clone();
            doc["schema"] = json!({"raw": raw.to_string(), "attributes": attributes.into_values().collect::<Vec<_>>()});
            doc["updated"] = json!(stamp());
            ok(doc.clone())
        }),
        _ => {
            let taken = op == "create"
                && shared.with_state(Changed::NOTHING, |s| {
                    s.catalog
                        .all("resource_sources")
                        .iter()
                        .any(|d| d["display_name"] == p["display_name"])
                });
            if taken {
                return Err(exists("resource source named", text(p, "display_name")));
            }
            crud(op, shared, p, "resource_sources", "resource source", "id")
        }
    }
}

fn traffic_groups(op: &str, shared: &Shared, p: &Params) -> Answer {
    let id = text(p, "id").to_owned();
    let (list, what) = match op {
        "add-target" | "remove-target" => ("targets", "target"),
        "add-exclusion" | "remove-exclusion" => ("excluded_targets", "exclusion"),
        other => return crud_groups(other, shared, p),
    };
    shared.with_state(Changed::SHARED, |s| {
        let target = text(p, "target_id").to_owned();
        if op.starts_with("add") && s.catalog.get("procedures", &target).is_none() {
            return Err(missing("procedure", &target));
        }
        let group = s
            .catalog
            .get_mut("traffic_groups", &id)
            .ok_or_else(|| missing("traffic group", &id))?;
        let entries = group[list]
            .as_array_mut()
            .ok_or_else(|| missing("traffic group", &id))?;
        let at = entries.iter().position(|t| t["target_id"] == json!(target));
        match (op.starts_with("add"), at) {
            (true, Some(_)) => Err(exists(what, &target)),
            (true, None) => {
                let entry = json!({"target_type": "procedure", "target_id": target});
                entries.push(entry.clone());
                ok(entry)
            }
            (false, Some(at)) => {
                entries.remove(at);
                ok(json!({}))
            }
            (false, None) => Err(missing(what, &target)),
        }
    })
}

fn crud_groups(op: &str, shared: &Shared, p: &Params) -> Answer {
    if op == "create" {
        return shared.with_state(Changed::SHARED, |s| {
            let id = s.catalog.new_id("tg");
            let doc = json!({"id": id, "name": p["name"], "targets": [], "excluded_targets": []});
            s.catalog.put("traffic_groups", &id, doc.clone());
            ok(doc)
        });
    }
    crud(op, shared, p, "traffic_groups", "traffic group", "id")
}

/// The procedures a conversation in a traffic group may run: its targets
/// that are not excluded.
pub fn routed_procedures(catalog: &Catalog, group: &str) -> Option<Vec<String>> {
    let g = catalog.get("traffic_groups", group)?;
    let ids = |k: &str| -> Vec<String> {
        g[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["target_id"].as_str().map(str::to_owned))
            .collect()
    };
    let excluded = ids("excluded_targets");
    Some(
        ids("targets")
            .into_iter()
            .filter(|t| !excluded.contains(t))
            .collect(),
    )
}

fn topics(op: &str, shared: &Shared, p: &Params) -> Answer {
    let topic = |t: &glbridge_guest::model::knowledge::Topic| {
        json!({"source": "public-api", "external_id": t.id, "name": t.name,
               "description": t.description, "visibility": t.visibility,
               "parent_external_id": t.parent_id, "created": t.created.to_rfc3339(),
               "last_edited": t.last_edited.to_rfc3339(), "last_seen": t.last_edited.to_rfc3339(),
               "data": t.data})
    };
    let id = text(p, "id");
    shared.with_state(Changed::NOTHING, |s| match op {
        "list-topics" => ok(json!({"topics": s.topics.values().map(topic).collect::<Vec<_>>()})),
        _ => s
            .topics
            .get(id)
            .map(topic)
            .map_or_else(|| Err(missing("topic", id)), ok),
    })
}
