//! The HTTP API, as the real service speaks it: paths, JSON, roles, errors.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use glbridge_guest::model::conversations::*;
use glbridge_guest::model::knowledge::{Article, Topic, UsageStatus};
use glbridge_guest::model::management::HandOffTarget;
use glbridge_guest::model::{Channel, ParticipantType};
use glbridge_guest::operation::{Check, Operation};
use glbridge_guest::Error as GuestError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::agent;
use crate::delivery;
use crate::state::{ArticleRecord, ConversationRecord, MessageRecord, SecretRecord};
use crate::{now, Changed, Shared};

type S = AxState<Arc<Shared>>;
type ApiResult = Result<Response, ApiError>;

/// An error answer: `{"code", "message", "details": {"trace_id"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_argument", message)
    }
    pub(crate) fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} {id:?} not found"),
        )
    }
    pub(crate) fn precondition(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "failed_precondition", message)
    }
}

impl From<GuestError> for ApiError {
    fn from(e: GuestError) -> Self {
        match e {
            GuestError::InvalidArgument { field, reason } => {
                ApiError::invalid(format!("{field}: {reason}"))
            }
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let trace: String = (0..16)
            .map(|_| format!("{:x}", rand::random::<u8>() % 16))
            .collect();
        let body =
            json!({"code": self.code, "message": self.message, "details": {"trace_id": trace}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
        }
        response
    }
}

/// The key a route needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Integration,
    Management,
    Either,
}

pub(crate) fn auth(shared: &Shared, headers: &HeaderMap, role: Role) -> Result<(), ApiError> {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "missing Authorization: Bearer <key>",
            )
        })?;
    let has = if key == shared.config.integration_key {
        Role::Integration
    } else if key == shared.config.management_key {
        Role::Management
    } else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "unknown API key",
        ));
    };
    if role != Role::Either && role != has {
        let needed = if role == Role::Integration {
            "Integration"
        } else {
            "Management"
        };
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_denied",
            format!("this endpoint needs a key with the {needed} role"),
        ));
    }
    Ok(())
}

/// Authorises, reads the JSON body and validates it as `operation` would
/// before sending: one check for the client and the sandbox alike.
fn input<T: DeserializeOwned + Serialize>(
    shared: &Shared,
    headers: &HeaderMap,
    role: Role,
    bytes: &Bytes,
    operation: &str,
    path: &[(&str, &str)],
) -> Result<T, ApiError> {
    auth(shared, headers, role)?;
    let params: T = body(bytes)?;
    Operation::named(operation, path, &params)?.validate()?;
    Ok(params)
}

/// A JSON body (an empty body reads as `{}`).
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::from(glbridge_guest::validate::serde_error(&e)))
}

fn ok(value: Value) -> ApiResult {
    Ok((StatusCode::OK, Json(value)).into_response())
}

fn empty() -> ApiResult {
    ok(json!({}))
}

/// The router with every route, behind the fault injector.
pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/conversations", post(start))
        .route("/conversations/{id}", get(read))
        .route("/conversations/{id}/read", get(read))
        .route("/conversations/{id}/messages", post(add_message))
        .route("/conversations/{id}/events", post(add_event))
        .route("/conversations/{id}/assignee", put(assign))
        .route("/conversations/{id}/finish", put(finish))
        .route("/conversations/{id}/end", put(finish))
        .route("/conversations/{id}/cancel", put(cancel))
        .route("/conversations/{id}/resume", put(resume))
        .route("/conversations/{id}/rate", put(rate))
        .route("/conversations/{id}/resources/{name}", put(push_resource))
        .route("/articles", post(upsert_article))
        .route("/articles/{id}", axum::routing::delete(delete_article))
        .route("/articles/{id}/usage-status", post(article_usage))
        .route("/topics", post(upsert_topic))
        .route(
            "/hand-off-targets",
            post(upsert_target).get(list_targets).delete(delete_target),
        )
        .route(
            "/hand-off-targets/default",
            put(set_default_target).get(get_default_target),
        )
        .route("/secrets", get(list_secrets))
        .route("/secrets/{name}", put(put_secret).delete(delete_secret))
        .route("/ip-addresses", get(ip_addresses));
    let api =
        crate::catalog::routes(api).layer(middleware::from_fn_with_state(shared.clone(), faults));
    Router::new()
        .merge(api)
        .route(
            "/sandbox/conversations/{id}/messages",
            get(sandbox_messages),
        )
        .route("/sandbox/deliveries", get(sandbox_deliveries))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        // A body that stalls is given up on (408), not waited for forever.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            shared.config.body_read_timeout,
        ))
        // Bodies in memory at once are bounded over all requests (503 past it).
        .layer(middleware::from_fn(shared.body_budget.layer(
            MAX_BODY,
            shared.config.body_read_timeout,
            || {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "too many request bodies in memory at once; try again",
                );
                e.retry_after = Some(1);
                e.into_response()
            },
        )))
        .with_state(shared)
}

/// Largest request body the sandbox reads.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// `--latency`, `--fail-rate` and `X-Sandbox-Fail: 503|429|timeout|reset`.
async fn faults(AxState(shared): S, request: Request, next: Next) -> Response {
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let forced = request
        .headers()
        .get("x-sandbox-fail")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let fault = forced.or_else(|| {
        let rate = shared.config.fail_rate;
        (rate > 0.0 && shared.random() < rate)
            .then(|| if shared.random() < 0.5 { "503" } else { "429" }.to_owned())
    });
    match fault.as_deref() {
        None => next.run(request).await,
        Some("503") => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the sandbox is failing on purpose",
        )
        .into_response(),
        Some("429") => ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "resource_exhausted",
                "rate limited on purpose",
            )
        }
        .into_response(),
        Some("timeout") => {
            tokio::time::sleep(shared.config.timeout_fault).await;
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "deadline_exceeded",
                "held on purpose",
            )
            .into_response()
        }
        Some("reset") => {
            // Headers go out, then the body fails: the connection is cut mid-answer.
            let broken = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("reset on purpose"))
            });
            Response::new(Body::from_stream(broken))
        }
        Some(other) => ApiError::invalid(format!(
            "X-Sandbox-Fail must be 503, 429, timeout or reset, not {other:?}"
        ))
        .into_response(),
    }
}

// ---------------------------------------------------------------- conversations

fn conversation<'a>(
    state: &'a mut crate::state::State,
    id: &str,
) -> Result<&'a mut ConversationRecord, ApiError> {
    state
        .conversations
        .get_mut(id)
        .ok_or_else(|| ApiError::not_found("conversation", id))
}

fn open_conversation<'a>(
    state: &'a mut crate::state::State,
    id: &str,
) -> Result<&'a mut ConversationRecord, ApiError> {
    let c = conversation(state, id)?;
    if c.is_closed() {
        return Err(ApiError::precondition(format!(
            "conversation {id:?} is {}",
            json!(c.status).as_str().unwrap_or("closed")
        )));
    }
    Ok(c)
}

fn require_webhook(shared: &Shared) -> Result<(), ApiError> {
    if shared.config.webhook_url.is_none() {
        return Err(ApiError::precondition(
            "no webhook endpoint is configured, so the AI agent cannot reply",
        ));
    }
    Ok(())
}

/// Runs the agent on the latest customer message it has not handled yet.
fn run_agent(shared: &Arc<Shared>, conversation_id: &str) {
    let suffix = shared.random_hex(3);
    let outgoing = shared.with_state(Changed::conversation(conversation_id), |s| {
        let Some(conv) = s.conversations.get(conversation_id) else {
            return Vec::new();
        };
        if !conv.agent_active() {
            return Vec::new();
        }
        let Some(message) = conv
            .messages
            .iter()
            .rev()
            .find(|m| m.participant_type == "Customer")
            .cloned()
        else {
            return Vec::new();
        };
        if conv.handled.contains(&message.id) {
            return Vec::new();
        }
        let steps = agent::respond(s, conv, &message);
        if let Some(c) = s.conversations.get_mut(conversation_id) {
            let ids: Vec<String> = c
                .messages
                .iter()
                .filter(|m| m.participant_type == "Customer")
                .map(|m| m.id.clone())
                .collect();
            for id in ids {
                if !c.handled.contains(&id) {
                    c.handled.push(id);
                }
            }
        }
        delivery::apply(s, conversation_id, steps, Some(&message.id), &suffix)
    });
    delivery::dispatch(shared, outgoing);
}

async fn start(AxState(shared): S, headers: HeaderMap, bytes: Bytes) -> ApiResult {
    auth(&shared, &headers, Role::Integration)?;
    let params: StartParams = body(&bytes)?;
    params.check()?;
    let to_agent = params.assignee_type == Some(ParticipantType::AiAgent);
    if to_agent {
        require_webhook(&shared)?;
    }
    let at = now();
    let conv = shared.with_state(Changed::conversation(&params.id), |s| {
        if let Some(existing) = s.conversations.get(&params.id) {
            // Creates are keyed by the caller's id: a repeat is an upsert, not a duplicate.
            return Ok(existing.to_json());
        }
        // A traffic group routes the conversation to its procedures.
        let routing = match &params.traffic_group_id {
            Some(group) => {
                let procedures =
                    crate::catalog::routed_procedures(&s.catalog, group).ok_or_else(|| {
                        ApiError::invalid(format!("traffic_group_id: no traffic group {group:?}"))
                    })?;
                Some(json!({"traffic_group_id": group, "procedures": procedures}))
            }
            None => None,
        };
        let resources = params
            .resources
            .as_ref()
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_lowercase(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let status = if to_agent {
            Status::Active
        } else {
            Status::Observing
        };
        let record = ConversationRecord {
            created: params.created.unwrap_or(at),
            assignee_type: params.assignee_type.map(|t| t.as_str().to_owned()),
            assignee_id: params.assignee_id.clone(),
            metadata: params.metadata.clone(),
            token: params.conversation_token.clone(),
            resources,
            routing,
            ..ConversationRecord::new(
                params.id.clone(),
                params.customer_id.clone(),
                params.channel.as_str().into(),
                at,
                status,
            )
        };
        let json = record.to_json();
        s.conversations.insert(record.id.clone(), record);
        Ok::<_, ApiError>(json)
    })?;
    ok(conv)
}

async fn read(AxState(shared): S, headers: HeaderMap, Path(id): Path<String>) -> ApiResult {
    auth(&shared, &headers, Role::Integration)?;
    let conv = shared.with_state(Changed::NOTHING, |s| {
        conversation(s, &id).map(|c| c.to_json())
    })?;
    ok(conv)
}

fn message_json(m: &MessageRecord) -> Value {
    json!({
        "id": m.id,
        "body": m.body,
        "participant_id": m.participant_id,
        "participant_type": m.participant_type,
        "created": m.created,
        "attachments": m.attachments,
    })
}

async fn add_message(
    AxState(shared): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    auth(&shared, &headers, Role::Integration)?;
    let params: MessageParams = body(&bytes)?;
    Operation::add_message(&id, &params).validate()?;
    let (message, fresh, answer) = shared.with_state(Changed::conversation(&id), |s| {
        let c = open_conversation(s, &id)?;
        if let Some(existing) = c.messages.iter().find(|m| m.id == params.id) {
            return Ok((message_json(existing), false, false));
        }
        let record = MessageRecord {
            id: params.id.clone(),
            body: params.body.clone(),
            participant_id: params.participant_id.clone(),
            participant_type: params.participant_type.as_str().into(),
            created: params.created.unwrap_or_else(now),
            attachments: params.attachments.clone(),
        };
        let json = message_json(&record);
        c.messages.push(record);
        c.updated = now();
        if let Some(token) = &params.conversation_token {
            c.token = Some(token.clone());
        }
        let answer = params.participant_type == ParticipantType::Customer && c.agent_active();
        Ok::<_, ApiError>((json, true, answer))
    })?;
    if fresh && answer {
        run_agent(&shared, &id);
    }
    ok(message)
}

async fn add_event(
    AxState(shared): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let params: EventParams = input(
        &shared,
        &headers,
        Role::Integration,
        &bytes,
        "conversations.add-event",
        &[("conversation_id", &id)],
    )?;
    shared.with_state(Changed::conversation(&id), |s| {
        let c = open_conversation(s, &id)?;
        if let Some(key) = &params.idempotency_key {
            if c.event_keys.contains(key) {
                return Ok(());
            }
            c.event_keys.push(key.clone());
        }
        c.events
            .push(serde_json::to_value(&params).unwrap_or(Value::Null));
        Ok::<_, ApiError>(())
    })?;
    empty()
}

async fn assign(
    AxState(shared): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let params: AssignParams = input(
        &shared,
        &headers,
        Role::Integration,
        &bytes,
        "conversations.assign",
        &[("conversation_id", &id)],
    )?;
    if params.assignee_type == ParticipantType::Customer {
        return Err(ApiError::invalid(
            "assignee_type: a conversation cannot be assigned to a customer",
        ));
    }
    reassign(&shared, &id, &params, false)
}

/// Assigns (or, for `resume`, re-opens and assigns) a conversation; the AI
/// agent answers at once when it becomes the assignee.
fn reassign(shared: &Arc<Shared>, id: &str, params: &AssignParams, reopen: bool) -> ApiResult {
    let to_agent = params.assignee_type == ParticipantType::AiAgent;
    if to_agent {
        require_webhook(shared)?;
    }
    shared.with_state(Changed::conversation(id), |s| {
        let c = if reopen {
            conversation(s, id)?
        } else {
            open_conversation(s, id)?
        };
        c.assignee_type = Some(params.assignee_type.as_str().into());
        c.assignee_id.clone_from(&params.assignee_id);
        c.status = if to_agent {
            Status::Active
        } else {
            Status::Observing
        };
        c.updated = now();
        Ok::<_, ApiError>(())
    })?;
    if to_agent {
        run_agent(shared, id);
    }
    empty()
}

async fn finish(
    AxState(shared): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    auth(&shared, &headers, Role::Integration)?;
    let _params: FinishParams = body(&bytes)?;
    glbridge_guest::validate::id("conversation_id", &id)?;
    close(&shared, &id, Status::Finished)
}

async fn cancel(
    AxState(shared): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    auth(&shared, &headers, Role::Integration)?;
    let _params: CancelParams = body(&bytes)?;
    glbridge_guest::validate::id("conversation_id", &id)?;
    close(&shared, &id, Status::Cancelled)
}

fn close(shared: &Shared, id: &str, status: Status) -> ApiResult {
    shared.with_state(Changed::conversation(id), |s| {
        let c = open_conversation(s, id)?;
        c.status = status;
        c.updated = now();
        Ok::<_, ApiError>(())
    })?;
    empty()
}

async fn resume(
    AxState(shared): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let params: ResumeParams = input(
        &shared,
        &headers,
        Role::Integration,
        &bytes,
        "conversations.resume",
        &[("conversation_id", &id)],
    )?;
    if let Some(Value::Object(resources)) = &params.resources {
        shared.with_state(Changed::conversation(&id), |s| {
            conversation(s, &id).map(|c| {
                for (name, doc) in resources {
                    c.resources.insert(name.to_lowercase(), doc.clone());
                }
            })
        })?;
    }
    reassign(&shared, &id, &params.assign, true)
}

async fn rate(
    AxState(shared): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let params: RatingParams = input(
        &shared,
        &headers,
        Role::Integration,
        &bytes,
        "conversations.rate",
        &[("conversation_id", &id)],
    )?;
    shared.with_state(Changed::conversation(&id), |s| {
        let c = conversation(s, &id)?;
        c.ratings
            .push(serde_json::to_value(&params).unwrap_or(Value::Null));
        Ok::<_, ApiError>(())
    })?;
    empty()
}

async fn push_resource(
    AxState(shared): S,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    auth(&shared, &headers, Role::Integration)?;
    let document: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid(format!("document: not JSON: {e}")))?;
    Operation::push_resource(&id, &name, &document).validate()?;
    let key = name.to_lowercase();
    shared.with_state(Changed::conversation(&id).and_shared(), |s| {
        open_conversation(s, &id)?
            .resources
            .insert(key.clone(), document);
        s.catalog.pushed_resource_type(&key);
        Ok::<_, ApiError>(())
    })?;
    empty()
}

// ---------------------------------------------------------------- knowledge

async fn upsert_article(AxState(shared): S, headers: HeaderMap, bytes: Bytes) -> ApiResult {
    auth(&shared, &headers, Role::Integration)?;
    let article: Article = body(&bytes)?;
    article.check()?;
    shared.with_state(Changed::SHARED, |s| {
        let usage = s
            .articles
            .get(&article.id)
            .map(|a| a.usage)
            .unwrap_or(UsageStatus::On);
        s.articles.insert(
            article.id.clone(),
            ArticleRecord {
                article,
                usage,
                deleted: false,
            },
        );
    });
    empty()
}

async fn delete_article(
    AxState(shared): S,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    auth(&shared, &headers, Role::Integration)?;
    shared.with_state(Changed::SHARED, |s| match s.articles.get_mut(&id) {
        Some(a) => {
            a.deleted = true;
            Ok(())
        }
        None => Err(ApiError::not_found("article", &id)),
    })?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(Deserialize)]
struct UsageBody {
    usage_status: UsageStatus,
}

async fn article_usage(
    AxState(shared): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    auth(&shared, &headers, Role::Integration)?;
    let UsageBody { usage_status } = body(&bytes)?;
    shared.with_state(Changed::SHARED, |s| match s.articles.get_mut(&id) {
        Some(a) => {
            a.usage = usage_status;
            Ok(())
        }
        None => Err(ApiError::not_found("article", &id)),
    })?;
    empty()
}

async fn upsert_topic(AxState(shared): S, headers: HeaderMap, bytes: Bytes) -> ApiResult {
    auth(&shared, &headers, Role::Integration)?;
    let topic: Topic = body(&bytes)?;
    topic.check()?;
    shared.with_state(Changed::SHARED, |s| {
        s.topics.insert(topic.id.clone(), topic)
    });
    empty()
}

// ---------------------------------------------------------------- management

async fn upsert_target(AxState(shared): S, headers: HeaderMap, bytes: Bytes) -> ApiResult {
    auth(&shared, &headers, Role::Management)?;
    let target: HandOffTarget = body(&bytes)?;
    target.check()?;
    shared.with_state(Changed::SHARED, |s| {
        s.hand_off_targets.insert(target.id.clone(), target)
    });
    empty()
}

async fn list_targets(AxState(shared): S, headers: HeaderMap) -> ApiResult {
    auth(&shared, &headers, Role::Management)?;
    let targets: Vec<HandOffTarget> = shared.with_state(Changed::NOTHING, |s| {
        s.hand_off_targets.values().cloned().collect()
    });
    ok(json!({ "targets": targets }))
}

#[derive(Deserialize)]
struct IdBody {
    #[serde(default)]
    id: String,
}

async fn delete_target(
    AxState(shared): S,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> ApiResult {
    auth(&shared, &headers, Role::Management)?;
    let IdBody { id } = body(&bytes)?;
    let id = if id.is_empty() {
        query.get("id").cloned().unwrap_or_default()
    } else {
        id
    };
    glbridge_guest::validate::id("id", &id)?;
    shared.with_state(Changed::SHARED, |s| {
        s.hand_off_targets
            .remove(&id)
            .ok_or_else(|| ApiError::not_found("hand-off target", &id))?;
        s.default_targets.retain(|_, t| *t != id);
        Ok::<_, ApiError>(())
    })?;
    empty()
}

#[derive(Deserialize)]
struct DefaultBody {
    id: String,
    channel: Channel,
}

async fn set_default_target(AxState(shared): S, headers: HeaderMap, bytes: Bytes) -> ApiResult {
    auth(&shared, &headers, Role::Management)?;
    let DefaultBody { id, channel } = body(&bytes)?;
    glbridge_guest::validate::id("id", &id)?;
    shared.with_state(Changed::SHARED, |s| {
        if !s.hand_off_targets.contains_key(&id) {
            return Err(ApiError::not_found("hand-off target", &id));
        }
        s.default_targets.insert(channel.as_str().into(), id);
        Ok(())
    })?;
    empty()
}

#[derive(Deserialize)]
struct ChannelQuery {
    channel: Option<String>,
}

async fn get_default_target(
    AxState(shared): S,
    headers: HeaderMap,
    Query(q): Query<ChannelQuery>,
) -> ApiResult {
    auth(&shared, &headers, Role::Management)?;
    let channel: Channel =
        serde_json::from_value(Value::String(q.channel.clone().unwrap_or_default()))
            .map_err(|_| ApiError::invalid("channel: must be web, email or voice"))?;
    let target = shared.with_state(Changed::NOTHING, |s| s.default_target(channel.as_str()));
    match target {
        Some(id) => ok(json!({"id": id, "channel": channel})),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no default hand-off target for {}", channel.as_str()),
        )),
    }
}

#[derive(Deserialize)]
struct SecretBody {
    #[serde(default)]
    value: String,
}

async fn put_secret(
    AxState(shared): S,
    headers: HeaderMap,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    auth(&shared, &headers, Role::Management)?;
    let SecretBody { value } = body(&bytes)?;
    Operation::named(
        "management.put-secret",
        &[("name", &name)],
        &serde_json::json!({ "value": value }),
    )?
    .validate()?;
    let at = now();
    let created = shared.with_state(Changed::SHARED, |s| {
        let created = s.secrets.get(&name).map(|r| r.created).unwrap_or(at);
        s.secrets.insert(
            name.clone(),
            SecretRecord {
                value,
                created,
                updated: at,
            },
        );
        created
    });
    // The secret as the clients read it back (never its value).
    ok(json!({"name": name, "created": created, "updated": at}))
}

async fn list_secrets(AxState(shared): S, headers: HeaderMap) -> ApiResult {
    auth(&shared, &headers, Role::Management)?;
    let secrets: Vec<Value> = shared.with_state(Changed::NOTHING, |s| {
        s.secrets
            .iter()
            .map(|(name, r)| json!({"name": name, "created": r.created, "updated": r.updated}))
            .collect()
    });
    ok(json!({ "secrets": secrets }))
}

async fn delete_secret(
    AxState(shared): S,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult {
    auth(&shared, &headers, Role::Management)?;
    shared.with_state(Changed::SHARED, |s| {
        s.secrets
            .remove(&name)
            .map(|_| ())
            .ok_or_else(|| ApiError::not_found("secret", &name))
    })?;
    empty()
}

async fn ip_addresses(AxState(shared): S, headers: HeaderMap) -> ApiResult {
    auth(&shared, &headers, Role::Either)?;
    ok(json!({"api": ["127.0.0.1"], "egress": ["127.0.0.1/32"]}))
}

// ---------------------------------------------------------------- seeing inside

async fn sandbox_messages(
    AxState(shared): S,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    auth(&shared, &headers, Role::Integration)?;
    let messages = shared.with_state(Changed::NOTHING, |s| {
        conversation(s, &id).map(|c| c.messages.iter().map(message_json).collect::<Vec<_>>())
    })?;
    ok(Value::Array(messages))
}

async fn sandbox_deliveries(AxState(shared): S, headers: HeaderMap) -> ApiResult {
    auth(&shared, &headers, Role::Either)?;
    let all = crate::lock(&shared.deliveries).clone();
    ok(serde_json::to_value(all).unwrap_or(Value::Null))
}
