//! Webhook delivery: signed, sequenced, retried with back-off and jitter, in
//! the background so a slow receiver never blocks the API.

use std::sync::Arc;
use std::time::Duration;

use glbridge_guest::model::conversations::Status;
use glbridge_guest::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::agent::{self, Step};
use crate::state::{ConversationRecord, MessageRecord, State};
use crate::{lock, now, Changed, Shared};

/// Attempts for critical events (`agent.message`, `conversation.hand_off`,
/// `conversation.finished`) — 36 over about a day at the documented scale.
pub const CRITICAL_ATTEMPTS: u32 = 36;
/// Longest wait between critical attempts, in units of the retry base.
pub const CRITICAL_CAP: u32 = 4_600;
/// How long `action.execute` is retried, in units of the retry base.
pub const ACTION_WINDOW: u32 = 60;
/// Longest wait between action attempts, in units of the retry base.
pub const ACTION_CAP: u32 = 16;

/// One delivery attempt, as `GET /sandbox/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    /// Webhook id.
    pub webhook_id: String,
    /// Event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Conversation id.
    pub conversation_id: String,
    /// Sequence number.
    pub sequence_number: u64,
    /// 1-based attempt.
    pub attempt: u32,
    /// HTTP status, when the receiver answered.
    pub status: Option<u16>,
    /// Why the attempt failed without an answer.
    pub error: Option<String>,
    /// Whether this attempt succeeded (2xx).
    pub delivered: bool,
    /// When it was made.
    pub at: Timestamp,
}

/// Whether an event is retried for a day or for about a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// `agent.message`, `conversation.hand_off`, `conversation.finished`.
    Critical,
    /// `action.execute`.
    Action,
}

/// A webhook ready to go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    /// Webhook id.
    pub id: String,
    /// Event type.
    pub event_type: String,
    /// Conversation id.
    pub conversation_id: String,
    /// Sequence number.
    pub sequence_number: u64,
    /// Body bytes as signed.
    pub body: String,
    /// `X-GradientLabs-Token`.
    pub token: Option<String>,
    /// Retry class.
    pub kind: Kind,
}

/// A webhook on its way, as kept in the state until it is delivered or
/// given up on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The webhook.
    pub event: Outgoing,
    /// What the agent does once an `action.execute` is answered (or not).
    pub follow: Option<Step>,
    /// The customer message the agent is answering.
    pub answering: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the first attempt was made (or is due).
    pub first_at: Timestamp,
    /// When the next attempt is due.
    pub next_at: Timestamp,
}

/// The wait after failed attempt `attempt` (1-based), or `None` to give up.
/// Exponential back-off from the base, capped, with "equal jitter" (half
/// fixed, half random) so waits never collapse to zero.
pub fn backoff(
    base: Duration,
    kind: Kind,
    attempt: u32,
    elapsed: Duration,
    jitter: f64,
) -> Option<Duration> {
    let (cap, give_up) = match kind {
        Kind::Critical => (CRITICAL_CAP, attempt >= CRITICAL_ATTEMPTS),
        Kind::Action => (ACTION_CAP, false),
    };
    if give_up {
        return None;
    }
    let units = 2u32.saturating_pow(attempt.saturating_sub(1)).min(cap);
    let wait = base.mul_f64(f64::from(units) * (0.5 + jitter.clamp(0.0, 1.0) / 2.0));
    if kind == Kind::Action && elapsed + wait > base * ACTION_WINDOW {
        return None;
    }
    Some(wait)
}

/// Creates the webhook for `data` in `conversation` (taking the next
/// sequence number) without sending it.
pub fn create(
    state: &mut State,
    conversation: &mut ConversationRecord,
    event_type: &str,
    mut data: Value,
    id_suffix: &str,
) -> Outgoing {
    state.webhooks_created += 1;
    let sequence_number = conversation.next_sequence;
    conversation.next_sequence += 1;
    data["conversation"] = conversation.webhook_conversation();
    let id = format!("webhook_{:08}{id_suffix}", state.webhooks_created);
    let body = json!({
        "id": id,
        "type": event_type,
        "sequence_number": sequence_number,
        "timestamp": now(),
        "data": data,
    })
    .to_string();
    Outgoing {
        id,
        event_type: event_type.into(),
        conversation_id: conversation.id.clone(),
        sequence_number,
        body,
        token: conversation.token.clone(),
        kind: if event_type == "action.execute" {
            Kind::Action
        } else {
            Kind::Critical
        },
    }
}

/// Applies the agent's steps to the conversation: records its messages,
/// changes status, and creates the webhooks in order. Returns what to send;
/// an action's follow-up is handled when its answer arrives.
pub fn apply(
    state: &mut State,
    conversation_id: &str,
    steps: Vec<Step>,
    answering: Option<&str>,
    suffix: &str,
) -> Vec<(Outgoing, Option<agent::Step>)> {
    let Some(mut conv) = state.conversations.remove(conversation_id) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for step in steps {
        let at = now();
        match step {
            Step::Reply {
                body,
                holding,
                intent,
            } => {
                let n = conv.messages.len() + 1;
                conv.messages.push(MessageRecord {
                    id: format!("ai-{n}"),
                    body: body.clone(),
                    participant_id: "ai-agent".into(),
                    participant_type: "AI Agent".into(),
                    created: at,
                    attachments: vec![],
                });
                if !holding {
                    conv.agent_answered = true;
                }
                if intent.is_some() {
                    conv.latest_intent.clone_from(&intent);
                }
                let mut data =
                    json!({"body": body, "is_holding": holding, "total": 1, "sequence": 1});
                if let Some(i) = &intent {
                    data["intent"] = Value::String(i.clone());
                }
                if let Some(m) = answering {
                    data["last_customer_message_id"] = Value::String(m.into());
                }
                out.push((
                    create(state, &mut conv, "agent.message", data, suffix),
                    None,
                ));
            }
            Step::HandOff {
                target,
                reason_code,
                reason,
            } => {
                conv.status = Status::Observing;
                conv.assignee_type = None;
                conv.assignee_id = None;
                let mut data = json!({"reason_code": reason_code, "reason": reason});
                if let Some(t) = target {
                    data["target"] = Value::String(t);
                }
                if let Some(i) = &conv.latest_intent {
                    data["intent"] = Value::String(i.clone());
                }
                out.push((
                    create(state, &mut conv, "conversation.hand_off", data, suffix),
                    None,
                ));
            }
            Step::Finish { reason_code } => {
                conv.status = Status::Finished;
                let data = json!({"reason_code": reason_code});
                out.push((
                    create(state, &mut conv, "conversation.finished", data, suffix),
                    None,
                ));
            }
            Step::Action { rule, params } => {
                let data = json!({"action": rule.name, "params": params});
                let follow = Step::Action { rule, params };
                out.push((
                    create(state, &mut conv, "action.execute", data, suffix),
                    Some(follow),
                ));
            }
        }
        conv.updated = at;
    }
    state.conversations.insert(conv.id.clone(), conv);
    let at = now();
    for (event, follow) in &out {
        state.pending_deliveries.insert(
            event.id.clone(),
            Pending {
                event: event.clone(),
                follow: follow.clone(),
                answering: answering.map(str::to_owned),
                attempts: 0,
                first_at: at,
                next_at: at,
            },
        );
    }
    out
}

/// Sends everything `apply` produced, each in its own task.
pub fn dispatch(shared: &Arc<Shared>, outgoing: Vec<(Outgoing, Option<Step>)>) {
    for (event, _) in outgoing {
        spawn(shared, event.id);
    }
}

/// Carries on with the deliveries a stopped sandbox left (on start).
pub fn resume(shared: &Arc<Shared>) {
    let ids: Vec<String> = shared.with_state(Changed::NOTHING, |s| {
        s.pending_deliveries.keys().cloned().collect()
    });
    if !ids.is_empty() {
        tracing::info!("resuming {} webhook deliveries", ids.len());
    }
    for id in ids {
        spawn(shared, id);
    }
}

/// Delivers the pending webhook `id` in a task of its own, then does what
/// follows from the answer.
fn spawn(shared: &Arc<Shared>, id: String) {
    let shared = shared.clone();
    tokio::spawn(async move {
        let Some(pending) =
            shared.with_state(Changed::NOTHING, |s| s.pending_deliveries.get(&id).cloned())
        else {
            return;
        };
        let answer = deliver(&shared, &pending).await;
        let event = &pending.event;
        match (pending.follow, answer) {
            (Some(Step::Action { rule, .. }), answer) => {
                let step = match answer {
                    Some(answer) => Step::Reply {
                        body: agent::action_reply(&rule, &answer),
                        holding: false,
                        intent: Some(rule.name.clone()),
                    },
                    None => Step::HandOff {
                        target: shared.with_state(Changed::NOTHING, |s| {
                            s.conversations
                                .get(&event.conversation_id)
                                .and_then(|c| s.default_target(&c.channel))
                        }),
                        reason_code: "action-failed".into(),
                        reason: format!("The action {:?} could not be completed.", rule.name),
                    },
                };
                follow_up(
                    &shared,
                    &id,
                    &event.conversation_id,
                    vec![step],
                    pending.answering,
                );
            }
            (_, None) => {
                // A critical event that could not be delivered for a day.
                shared.with_state(Changed::conversation(&event.conversation_id), |s| {
                    s.pending_deliveries.remove(&id);
                    if let Some(c) = s.conversations.get_mut(&event.conversation_id) {
                        c.status = Status::Failed;
                        c.updated = now();
                    }
                });
            }
            (_, Some(_)) => {
                shared.with_state(Changed::conversation(&event.conversation_id), |s| {
                    s.pending_deliveries.remove(&id)
                });
            }
        }
    });
}

/// What the agent does after an action's answer; the delivered action
/// leaves the pending ones in the same state change.
fn follow_up(
    shared: &Arc<Shared>,
    delivered: &str,
    conversation_id: &str,
    steps: Vec<Step>,
    answering: Option<String>,
) {
    let suffix = shared.random_hex(3);
    let outgoing = shared.with_state(Changed::conversation(conversation_id), |s| {
        s.pending_deliveries.remove(delivered);
        let still_active = s
            .conversations
            .get(conversation_id)
            .is_some_and(|c| c.agent_active());
        if still_active {
            apply(s, conversation_id, steps, answering.as_deref(), &suffix)
        } else {
            Vec::new()
        }
    });
    dispatch(shared, outgoing);
}

/// Delivers one webhook until it succeeds or its schedule gives up; returns
/// the receiver's JSON answer (`null` when it was not JSON). Each attempt
/// and the time of the next are saved with the state.
async fn deliver(shared: &Arc<Shared>, pending: &Pending) -> Option<Value> {
    let url = shared.config.webhook_url.clone()?;
    let event = &pending.event;
    let mut attempt = pending.attempts + 1;
    let mut next_at = pending.next_at;
    loop {
        let wait = next_at.0.saturating_sub(now().0);
        if wait > 0 {
            tokio::time::sleep(Duration::from_nanos(wait as u64)).await;
        }
        let result = {
            let shared = shared.clone();
            let event = event.clone();
            let url = url.clone();
            tokio::task::spawn_blocking(move || send(&shared, &url, &event)).await
        };
        let (status, error, body) = match result {
            Ok(Ok((status, body))) => (Some(status), None, Some(body)),
            Ok(Err(e)) => (None, Some(e), None),
            Err(e) => (None, Some(e.to_string()), None),
        };
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        lock(&shared.deliveries).push(DeliveryRecord {
            webhook_id: event.id.clone(),
            event_type: event.event_type.clone(),
            conversation_id: event.conversation_id.clone(),
            sequence_number: event.sequence_number,
            attempt,
            status,
            error,
            delivered,
            at: now(),
        });
        if delivered {
            let body = body.unwrap_or_default();
            return Some(serde_json::from_slice(&body).unwrap_or(Value::Null));
        }
        let elapsed = Duration::from_nanos(now().0.saturating_sub(pending.first_at.0) as u64);
        let wait = backoff(
            shared.config.retry_base,
            event.kind,
            attempt,
            elapsed,
            shared.random(),
        )?;
        next_at = Timestamp(now().0.saturating_add(wait.as_nanos() as i64));
        shared.with_state(Changed::conversation(&event.conversation_id), |s| {
            if let Some(p) = s.pending_deliveries.get_mut(&event.id) {
                p.attempts = attempt;
                p.next_at = next_at;
            }
        });
        attempt += 1;
    }
}

/// One signed POST (re-signed each attempt, so `t` is always fresh).
pub(crate) fn send(shared: &Shared, url: &str, event: &Outgoing) -> Result<(u16, Vec<u8>), String> {
    let t = now().secs();
    let signature =
        glbridge_guest::webhook::sign(&shared.config.signing_key, t, event.body.as_bytes());
    let mut request = shared
        .http
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "GradientLabs/1.0")
        .header("X-GradientLabs-Signature", &signature);
    if let Some(token) = &event.token {
        request = request.header("X-GradientLabs-Token", token);
    }
    let mut response = request
        .send(event.body.as_bytes())
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_vec()
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_schedule_spans_about_a_day_in_36_attempts() {
        let base = Duration::from_secs(1);
        let mut total = Duration::ZERO;
        let mut attempts = 1;
        while let Some(w) = backoff(base, Kind::Critical, attempts, total, 0.5) {
            total += w;
            attempts += 1;
        }
        assert_eq!(attempts, CRITICAL_ATTEMPTS);
        let hours = total.as_secs_f64() / 3600.0;
        assert!((20.0..28.0).contains(&hours), "{hours} h");
    }

    #[test]
    fn actions_give_up_after_about_a_minute_and_the_base_scales_everything() {
        let base = Duration::from_secs(1);
        let mut total = Duration::ZERO;
        let mut attempt = 1;
        while let Some(w) = backoff(base, Kind::Action, attempt, total, 1.0) {
            total += w;
            attempt += 1;
        }
        assert!(
            total <= Duration::from_secs(60) && total >= Duration::from_secs(30),
            "{total:?}"
        );
        let fast = backoff(
            Duration::from_millis(1),
            Kind::Critical,
            3,
            Duration::ZERO,
            0.0,
        )
        .unwrap();
        assert_eq!(fast, Duration::from_micros(2000));
    }
}
